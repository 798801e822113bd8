//! A small map of a handover, drawn as SVG with no tiles and no outside host: the stop's
//! address and where the phone was, to scale, with the distance and a scale bar.

use maud::{Markup, html};

use crate::domain::geo::{distance_m, distance_text};

/// Metres per degree of latitude.
const M_PER_DEG: f64 = 111_195.0;

/// The map of `stop` (the address) and `handover` (the phone), each (lat, lon); `far` marks
/// the handover as further than the fleet's threshold. 320 × 200 pixels.
pub fn handover_map(stop: (f64, f64), handover: (f64, f64), far: bool) -> Markup {
    let (width, height, pad) = (320.0_f64, 200.0_f64, 30.0_f64);
    // Local flat projection around the stop (east, north in metres): fine at a street's scale.
    let east = |p: (f64, f64)| (p.1 - stop.1) * M_PER_DEG * stop.0.to_radians().cos();
    let north = |p: (f64, f64)| (p.0 - stop.0) * M_PER_DEG;
    let (hx, hy) = (east(handover), north(handover));
    let d = distance_m(stop, handover);
    // Both points in view, the stop in the middle; at least 50 m across.
    let half_span = hx.abs().max(hy.abs() * width / height).max(25.0) * 1.15;
    let scale = (width / 2.0 - pad) / half_span;
    let (cx, cy) = (width / 2.0, height / 2.0);
    let (px, py) = (cx + hx * scale, cy - hy * scale);
    // A scale bar of a round length about a quarter of the width.
    let target = (width / 4.0) / scale;
    let bar_m = [
        10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6,
    ]
    .into_iter()
    .rfind(|m| *m <= target)
    .unwrap_or(10.0);
    let bar = bar_m * scale;
    let colour = if far { "#b00020" } else { "#1b5e20" };
    let label = format!(
        "The phone was {} from the stop's address{}",
        distance_text(d),
        if far { ", further than expected" } else { "" }
    );
    html! {
        svg class="map" xmlns="http://www.w3.org/2000/svg" width=(width) height=(height)
            viewBox={ "0 0 " (width) " " (height) } role="img" aria-label=(label) {
            rect width=(width) height=(height) fill="#eef2f5" {}
            line x1=(cx) y1=(cy) x2=(format!("{px:.1}")) y2=(format!("{py:.1}"))
                stroke=(colour) stroke-width="2" stroke-dasharray="5 4" {}
            circle cx=(cx) cy=(cy) r="7" fill="#0d47a1" {}
            text x=(cx + 10.0) y=(cy - 10.0) font-size="12" fill="#0d47a1" { "address" }
            circle cx=(format!("{px:.1}")) cy=(format!("{py:.1}")) r="6" fill=(colour) {}
            text x=(format!("{:.1}", (px + 9.0).min(width - 60.0))) y=(format!("{:.1}", (py + 16.0).min(height - 22.0)))
                font-size="12" fill=(colour) { "phone, " (distance_text(d)) }
            line x1="10" y1=(height - 10.0) x2=(format!("{:.1}", 10.0 + bar)) y2=(height - 10.0)
                stroke="#333" stroke-width="3" {}
            text x="10" y=(height - 15.0) font-size="11" fill="#333" { (distance_text(bar_m)) }
            text x=(width - 14.0) y="18" font-size="12" fill="#333" text-anchor="middle" { "N" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_says_the_distance_and_flags_a_far_handover() {
        let near = handover_map((52.0, 4.0), (52.0003, 4.0), false).into_string();
        assert!(
            near.contains("aria-label=\"The phone was 33 m from the stop's address\""),
            "{near}"
        );
        assert!(near.contains("#1b5e20"));
        let far = handover_map((52.0, 4.0), (52.01, 4.0), true).into_string();
        assert!(
            far.contains("1.1 km from the stop's address, further than expected"),
            "{far}"
        );
        assert!(far.contains("#b00020"));
        // The phone's point stays inside the picture.
        let cy: f64 = far
            .split("r=\"6\"")
            .next()
            .unwrap()
            .rsplit("cy=\"")
            .next()
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.0..=200.0).contains(&cy), "{cy}");
    }
}
