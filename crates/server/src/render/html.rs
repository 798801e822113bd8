//! The HTML every page shares: the document around a page's body, and the QR code as markup.
//!
//! Pages are `maud` templates: every value spliced into one is escaped unless it is wrapped in
//! `PreEscaped`, which only markup this crate draws itself (the QR and barcode SVGs, the style
//! sheet below) may be.

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The style sheet of every page.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#111}\
    table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.3rem;text-align:left;vertical-align:top}\
    .warn{background:#fff3cd;padding:.8rem;border-radius:.4rem}.label{display:inline-block;border:1px dashed #999;margin:.4rem;padding:.6rem;width:34rem;page-break-inside:avoid}\
    pre{white-space:pre-wrap;background:#f5f5f5;padding:.5rem}\
    .facts th{width:12rem;font-weight:600}.record{border:1px solid #ccc;border-radius:.4rem;padding:.2rem .8rem;margin:1rem 0;page-break-inside:avoid}\
    .flag{color:#b00020}.evidence{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figure img{border:1px solid #ccc;max-width:100%;height:auto}\
    @media print{.no-print,nav,form{display:none}body{max-width:none;margin:0}a{color:inherit;text-decoration:none}}";

/// A page in English.
pub fn page(title: &str, body: Markup) -> Markup {
    page_in("en", title, body)
}

/// [`page`] in the language `lang` (its `lang` attribute).
pub fn page_in(lang: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) }
                // A constant of this file; a style element's text is not entity-decoded, so
                // it goes as it is.
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
}

/// `text` as a QR code, an inline SVG `size` units wide.
pub fn qr(text: &str, size: u32) -> Markup {
    // Safe unescaped: the SVG is drawn by the qrcode crate from modules (rects and paths), and
    // `text` is encoded in the modules, never written into the markup.
    PreEscaped(crate::render::qr::qr_svg(text, size))
}
