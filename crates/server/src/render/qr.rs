//! QR codes, drawn as inline SVG for pages and as text for the terminal.

/// A QR code as an inline SVG.
pub fn qr_svg(text: &str, size: u32) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(size, size)
            .quiet_zone(true)
            .build(),
        Err(_) => String::from("<p>(QR code unavailable)</p>"),
    }
}

/// A QR code for the terminal (two rows per character).
pub fn qr_terminal(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        Err(_) => String::from("(QR code unavailable)"),
    }
}
