//! The HTML every page shares: the document around a page's body, and the QR code as markup.
//!
//! Pages are `maud` templates: every value spliced into one is escaped unless it is wrapped in
//! `PreEscaped`, which only markup this crate draws itself (the QR and barcode SVGs) may be.

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// A page in English.
pub fn page(title: &str, body: Markup) -> Markup {
    page_in("en", title, body)
}

/// [`page`] in the language `lang` (its `lang` attribute).
pub fn page_in(lang: &str, title: &str, body: Markup) -> Markup {
    document(lang, title, &[], &[], body)
}

/// [`page`] with more style sheets and scripts (paths on this server, loaded after the
/// page's own style sheet; the scripts deferred, in this order, so they run once the page is
/// there and one may use another).
pub fn page_with(title: &str, styles: &[&str], scripts: &[&str], body: Markup) -> Markup {
    document("en", title, styles, scripts, body)
}

/// [`page_with`] in the language `lang`.
pub fn page_in_with(
    lang: &str,
    title: &str,
    styles: &[&str],
    scripts: &[&str],
    body: Markup,
) -> Markup {
    document(lang, title, styles, scripts, body)
}

/// The document around a page's body. Its one style sheet, `/assets/console.css`, is a file
/// (no style in the page), so the pages run under `Content-Security-Policy: default-src 'self'`.
fn document(lang: &str, title: &str, styles: &[&str], scripts: &[&str], body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) }
                link rel="icon" href="/assets/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/assets/console.css";
                @for href in styles {
                    link rel="stylesheet" href=(href);
                }
                @for src in scripts {
                    script src=(src) defer {}
                }
            }
            body { main { (body) } }
        }
    }
}

/// `text` as a QR code, an inline SVG `size` units wide.
pub fn qr(text: &str, size: u32) -> Markup {
    // Safe unescaped: the SVG is drawn by the qrcode crate from modules (rects and paths), and
    // `text` is encoded in the modules, never written into the markup.
    PreEscaped(crate::render::qr::qr_svg(text, size))
}
