//! The HTML every page shares: the document around a page's body, and escaping.

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A page in English.
pub fn page(title: &str, body: &str) -> String {
    page_in("en", title, body)
}

/// [`page`] in the language `lang` (its `lang` attribute).
pub fn page_in(lang: &str, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang={lang}><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">\
         <title>{t}</title><style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#111}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ccc;padding:.3rem;text-align:left;vertical-align:top}}\
         .warn{{background:#fff3cd;padding:.8rem;border-radius:.4rem}}.label{{display:inline-block;border:1px dashed #999;margin:.4rem;padding:.6rem;width:34rem;page-break-inside:avoid}}\
         pre{{white-space:pre-wrap;background:#f5f5f5;padding:.5rem}}</style></head><body>{body}</body></html>",
        t = esc(title)
    )
}
