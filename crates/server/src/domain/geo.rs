//! Distances on the Earth, for flagging a handover far from its address.

/// The mean Earth radius (IUGG), metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// The great-circle distance in metres between two points given as (latitude, longitude) in
/// degrees (haversine: within 0.5 % of the ellipsoid's at any distance).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// "40 m", "1.3 km": a distance as a person reads it.
pub fn distance_text(m: f64) -> String {
    if m < 1000.0 {
        format!("{:.0} m", m)
    } else {
        format!("{:.1} km", m / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_match_known_ones() {
        assert_eq!(distance_m((52.37, 4.89), (52.37, 4.89)), 0.0);
        // Amsterdam Centraal to Dam square: about 850 m.
        let d = distance_m((52.3791, 4.9003), (52.3731, 4.8926));
        assert!((d - 848.0).abs() < 10.0, "{d}");
        // One degree of latitude: about 111.2 km.
        let d = distance_m((0.0, 0.0), (1.0, 0.0));
        assert!((d - 111_195.0).abs() < 5.0, "{d}");
        assert_eq!(distance_text(249.6), "250 m");
        assert_eq!(distance_text(1349.0), "1.3 km");
    }
}
