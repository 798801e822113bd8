//! Comparing this build's version with the fleet's minimum app version.
//!
//! Versions are SemVer 2.0.0 (what Cargo and the Tauri configuration write, and what the
//! dispatch server accepts for `--app-minimum-version`), compared by SemVer precedence with
//! the `semver` crate: `1.2.0-beta.1` < `1.2.0-beta.2` < `1.2.0` < `1.10.0`, and build
//! metadata (`+git.abc`) is ignored.
//!
//! A text that is not SemVer (`1.2`, `v1.2.3`, `latest`, empty) ranks **below every SemVer
//! version**. So a phone whose own version cannot be read is told to update whenever a
//! minimum is set, and a minimum that cannot be read (a server too old to check it) asks
//! nothing of anyone: a typo on the server never locks out every courier of a fleet.

use std::cmp::Ordering;

use semver::Version;

/// Whether `version` is below `minimum` (see the module docs for the rules).
pub fn version_below(version: &str, minimum: &str) -> bool {
    compare(version, minimum) == Ordering::Less
}

/// SemVer precedence, with any text that is not SemVer below every version that is.
fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => a.cmp_precedence(&b),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn parse(v: &str) -> Option<Version> {
    Version::parse(v.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::version_below;

    #[test]
    fn versions_compare_by_number_not_by_text() {
        assert!(version_below("0.9.0", "0.10.0"));
        assert!(version_below("1.9.9", "2.0.0"));
        assert!(!version_below("0.10.0", "0.9.0"));
        assert!(!version_below("1.2.0", "1.2.0"));
        assert!(!version_below(" 1.2.0\n", "1.2.0"));
    }

    #[test]
    fn a_pre_release_is_below_its_release_and_above_the_one_before() {
        assert!(version_below("1.2.0-beta", "1.2.0"));
        assert!(version_below("1.2.0-beta.2", "1.2.0-beta.11"));
        assert!(version_below("1.2.0-alpha", "1.2.0-beta"));
        assert!(!version_below("2.0.0-beta", "1.9.9"));
        assert!(!version_below("1.2.0", "1.2.0-rc.1"));
    }

    #[test]
    fn build_metadata_does_not_count() {
        assert!(!version_below("1.2.0+git.abc", "1.2.0"));
        assert!(!version_below("1.2.0", "1.2.0+build.9"));
        assert!(version_below("1.1.9+build.99", "1.2.0"));
    }

    #[test]
    fn a_build_whose_version_is_not_semver_must_update_whenever_a_minimum_is_set() {
        for odd in ["1.2", "v1.2.3", "latest", "", "1.2.3.4", "01.2.3"] {
            assert!(version_below(odd, "0.0.1"), "{odd:?}");
        }
    }

    #[test]
    fn a_minimum_that_is_not_semver_asks_nothing() {
        for odd in ["1.2", "v9.0.0", "newest", "", "99"] {
            assert!(!version_below("0.1.0", odd), "{odd:?}");
            assert!(!version_below("0.0.0-alpha", odd), "{odd:?}");
        }
        assert!(
            !version_below("junk", "junk too"),
            "neither is SemVer: equal, not below"
        );
    }
}
