//! The fleet's app releases as the phone sees them: whether this build must update or may, and
//! which download links the app is willing to open.
//!
//! The policy ([`AppVersionPolicy`]) comes from the dispatch server with every manifest and sync
//! answer. Below its `minimum` the app must update: it records no new handover, but it still
//! sends the deliveries it has recorded and still refreshes the manifest, so a delivery is never
//! stuck behind an update and a fleet that lowers its minimum unblocks its phones.
//!
//! The download is opened outside the app (the browser hands an APK to Android's installer; iOS
//! opens the App Store or TestFlight). The link comes from the server, so before the app opens it
//! [`update_url_allowed`] holds it to a closed scope: the enrolled server's own origin, or an
//! `https` page of the app stores. The webview never gets a general permission to open URLs.

use doorstep_protocol::wire::AppVersionPolicy;
use url::{Host, Url};

use crate::error::CourierError;
use crate::version::version_below;
use crate::view::UpdateInfo;

/// Hosts of the app stores whose `https` links the app opens: Google Play, the App Store (both
/// of its host names) and TestFlight. Exact names: no subdomains, no look-alikes.
pub const STORE_HOSTS: &[&str] = &[
    "play.google.com",
    "apps.apple.com",
    "itunes.apple.com",
    "testflight.apple.com",
];

/// Whether a build of `app_version` is below the fleet's minimum: then it starts no new
/// handover until it is updated.
pub fn update_required(app_version: &str, policy: &AppVersionPolicy) -> bool {
    version_below(app_version, &policy.minimum)
}

/// What the policy means for a build of `app_version`: `required` below the minimum;
/// `available` when the release offered to this device is newer and nothing is required.
pub fn update_info(app_version: &str, policy: AppVersionPolicy) -> UpdateInfo {
    let required = update_required(app_version, &policy);
    let available = !required && version_below(app_version, &policy.latest);
    UpdateInfo {
        required,
        available,
        minimum: policy.minimum,
        latest: policy.latest,
        update_url: policy.update_url,
    }
}

/// The update link `url`, parsed, if the app may open it; otherwise
/// [`CourierError::UpdateUrlRefused`] saying why. Allowed are:
///
/// - a URL on the enrolled server's own origin (same scheme, host and port as
///   `enrolled_server_url`): the release file the fleet's server hosts. An `http` server (a
///   demo or a LAN server) therefore allows `http` links to itself and nothing else;
/// - an `https` link on the default port to one of [`STORE_HOSTS`].
///
/// Refused, whatever the host: anything but `http`/`https` (`javascript:`, `intent:`, `file:`,
/// `data:`), and any link that carries a user name or password (`https://apps.apple.com@evil.example/`
/// names the host `evil.example`; a store or the fleet's server never needs credentials in a link).
pub fn update_url_allowed(url: &str, enrolled_server_url: &str) -> Result<Url, CourierError> {
    let refuse = |why: &str| CourierError::UpdateUrlRefused(why.to_string());
    let link =
        Url::parse(url.trim()).map_err(|_| refuse("the update link is not a web address"))?;
    if !matches!(link.scheme(), "https" | "http") {
        return Err(refuse("the update link is not a web page"));
    }
    if !link.username().is_empty() || link.password().is_some() {
        return Err(refuse("the update link carries a user name or password"));
    }
    let server = Url::parse(enrolled_server_url.trim()).ok();
    if server.is_some_and(|s| s.origin() == link.origin()) {
        return Ok(link);
    }
    let store = link.scheme() == "https"
        && link.port().is_none()
        && matches!(link.host(), Some(Host::Domain(host)) if STORE_HOSTS.contains(&host));
    if store {
        return Ok(link);
    }
    Err(refuse(
        "the update link leads neither to the fleet's server nor to an app store",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::AppErrorCode;

    const SERVER: &str = "https://dispatch.example.com";

    fn allowed(url: &str) -> bool {
        update_url_allowed(url, SERVER).is_ok()
    }

    fn policy(minimum: &str, latest: &str) -> AppVersionPolicy {
        AppVersionPolicy {
            minimum: minimum.into(),
            latest: latest.into(),
            update_url: Some(format!("{SERVER}/v1/releases/files/ab")),
            sha256: Some("ab".into()),
        }
    }

    #[test]
    fn below_the_minimum_an_update_is_required_and_not_merely_available() {
        let info = update_info("1.0.0", policy("1.2.0", "1.4.0"));
        assert!(info.required);
        assert!(!info.available);
        assert_eq!(info.minimum, "1.2.0");
        assert_eq!(info.latest, "1.4.0");
        assert_eq!(
            info.update_url.as_deref(),
            Some("https://dispatch.example.com/v1/releases/files/ab")
        );
    }

    #[test]
    fn a_newer_release_in_the_rollout_is_available_without_being_required() {
        let info = update_info("1.2.0", policy("1.2.0", "1.4.0"));
        assert!(!info.required);
        assert!(info.available);
    }

    #[test]
    fn the_release_this_build_runs_or_an_older_one_offers_nothing() {
        for latest in ["1.4.0", "1.3.9", "1.4.0-rc.1"] {
            let info = update_info("1.4.0", policy("0.0.0", latest));
            assert!(!info.required && !info.available, "{latest}");
        }
    }

    #[test]
    fn no_minimum_and_no_release_ask_nothing() {
        let info = update_info("0.1.0", policy("0.0.0", ""));
        assert!(!info.required && !info.available);
    }

    #[test]
    fn the_enrolled_servers_own_files_may_be_opened() {
        let url = update_url_allowed(
            "https://dispatch.example.com/v1/releases/files/0a1b2c",
            SERVER,
        )
        .unwrap();
        assert_eq!(url.path(), "/v1/releases/files/0a1b2c");
        assert!(allowed("https://dispatch.example.com:443/doorstep.apk"));
        assert!(allowed("https://DISPATCH.example.com/doorstep.apk"));
        // The server as enrolled may carry a path or a trailing slash.
        assert!(
            update_url_allowed(
                "https://dispatch.example.com/x.apk",
                "https://dispatch.example.com/"
            )
            .is_ok()
        );
    }

    #[test]
    fn a_demo_server_on_http_may_offer_its_own_file_over_http() {
        let demo = "http://10.0.2.2:8080";
        assert!(update_url_allowed("http://10.0.2.2:8080/v1/releases/files/ab", demo).is_ok());
        assert!(update_url_allowed("http://10.0.2.2:8081/v1/releases/files/ab", demo).is_err());
        assert!(update_url_allowed("https://10.0.2.2:8080/v1/releases/files/ab", demo).is_err());
    }

    #[test]
    fn the_store_pages_may_be_opened_over_https() {
        for url in [
            "https://play.google.com/store/apps/details?id=org.doorstep.courier",
            "https://apps.apple.com/app/id123456789",
            "https://itunes.apple.com/app/id123456789",
            "https://testflight.apple.com/join/AbCdEf12",
            "https://apps.apple.com:443/app/id1",
        ] {
            assert!(allowed(url), "{url}");
        }
    }

    #[test]
    fn other_hosts_and_look_alikes_are_refused() {
        for url in [
            "https://evil.example/doorstep.apk",
            "https://dispatch.example.com.evil.example/doorstep.apk",
            "https://evil.example/?https://dispatch.example.com/",
            "https://example.com/doorstep.apk",
            "https://sub.dispatch.example.com/doorstep.apk",
            "https://play.google.com.evil.example/store",
            "https://evilplay.google.com/store",
            "https://maps.google.com/",
            "https://apple.com/app",
            "https://apps.apple.com./app/id1",
            "https://xn--pple-43d.com/app",
            "https://93.184.216.34/doorstep.apk",
            "https://[::1]/doorstep.apk",
        ] {
            assert!(!allowed(url), "{url}");
        }
    }

    #[test]
    fn a_downgrade_to_http_is_refused() {
        assert!(!allowed("http://dispatch.example.com/v1/releases/files/ab"));
        assert!(!allowed("http://play.google.com/store/apps/details?id=x"));
        assert!(!allowed("http://apps.apple.com/app/id1"));
    }

    #[test]
    fn another_port_is_another_origin() {
        assert!(!allowed("https://dispatch.example.com:8443/doorstep.apk"));
        assert!(!allowed("https://apps.apple.com:8443/app/id1"));
        assert!(!allowed("https://play.google.com:80/store"));
    }

    #[test]
    fn user_names_and_passwords_in_the_link_are_refused() {
        for url in [
            "https://apps.apple.com@evil.example/app",
            "https://dispatch.example.com@evil.example/doorstep.apk",
            "https://user:pass@dispatch.example.com/doorstep.apk",
            "https://user@apps.apple.com/app/id1",
            "https://:secret@play.google.com/store",
        ] {
            let err = update_url_allowed(url, SERVER).unwrap_err();
            assert_eq!(err.code(), AppErrorCode::UpdateUrlRefused, "{url}");
        }
    }

    #[test]
    fn links_that_are_not_web_pages_are_refused() {
        for url in [
            "javascript:alert(1)",
            "JavaScript:alert(document.cookie)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///sdcard/Download/doorstep.apk",
            "intent://scan/#Intent;scheme=zxing;end",
            "market://details?id=org.doorstep.courier",
            "itms-services://?action=download-manifest&url=https://evil.example/m.plist",
            "ftp://dispatch.example.com/doorstep.apk",
            "//evil.example/doorstep.apk",
            "/v1/releases/files/ab",
            "",
            "not a url",
        ] {
            let err = update_url_allowed(url, SERVER).unwrap_err();
            assert_eq!(err.code(), AppErrorCode::UpdateUrlRefused, "{url:?}");
        }
    }

    #[test]
    fn an_unreadable_enrolled_server_still_allows_the_stores_and_nothing_else() {
        assert!(update_url_allowed("https://apps.apple.com/app/id1", "").is_ok());
        assert!(update_url_allowed("https://dispatch.example.com/x.apk", "").is_err());
    }

    #[test]
    fn the_refusal_says_why_in_words() {
        let err = update_url_allowed("https://evil.example/x.apk", SERVER).unwrap_err();
        assert!(err.to_string().contains("app store"), "{err}");
    }
}
