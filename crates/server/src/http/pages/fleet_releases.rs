//! The fleet page's release channel: per platform the minimum version, the current
//! release and every release with its rollout controls; the upload forms; how many devices run
//! each version; the devices that have not updated; the install QR of the Android build.
//!
//! No JavaScript: every control is a form that carries the fleet page's CSRF token and answers
//! with a redirect back to `/fleet`, or with a page that gives the server's message and a Back
//! link (status 4xx, [`error_pages`]). The rules are [`crate::domain::releases`]'; the upload
//! is [`publish_form`], the same as the API's, so a file the API refuses is refused here too.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Extension, Router};
use doorstep_protocol::wire::{
    DeviceView, ErrorCode, Platform, ReleaseChange, ReleaseChannel, ReleaseView,
};
use maud::{Markup, display, html};
use semver::Version;

use crate::domain::accounts::Action;
use crate::domain::releases::{
    self as rules, Release, parse_platform, parse_version, platform_name,
};
use crate::http::AppState;
use crate::http::ReleasePublisher;
use crate::http::middleware::limits::RequestDeadline;
use crate::http::pages::forms::{
    Console, csrf_field, error_pages, form_value, format_time, signed_form, signed_upload,
};
use crate::http::release_upload::publish_form;
use crate::http::{ApiError, db};
use crate::render::html::qr;

/// The forms' routes. Their error answers become pages ([`error_pages`]).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        // No body limit of the router's own: `publish_form` bounds every field as it reads
        // it (the file by `--max-release-mb`, text by 2,000 bytes, no unknown or repeated
        // field), as the API's upload does.
        .route(
            "/fleet/releases",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/fleet/releases/{platform}/minimum", post(set_minimum))
        .route("/fleet/releases/{platform}/{version}", post(change))
        .layer(axum::middleware::map_response(error_pages))
}

/// Platforms in the order the page lists them, with their names for people.
const PLATFORMS: [(Platform, &str); 5] = [
    (Platform::Android, "Android"),
    (Platform::Ios, "iOS"),
    (Platform::Linux, "Linux"),
    (Platform::Macos, "macOS"),
    (Platform::Windows, "Windows"),
];

fn platform_title(p: Platform) -> &'static str {
    PLATFORMS
        .iter()
        .find(|(q, _)| *q == p)
        .map_or("?", |(_, t)| t)
}

/// What the sections show, read once per page: each platform's channel (the admin API's
/// `GET /v1/admin/releases`) with its releases and minimum for the rules (who is offered what).
struct Channels {
    views: Vec<ReleaseChannel>,
    rules: Vec<(Platform, Vec<Release>, Option<Version>)>,
}

/// The fleet page's "App releases" section, with the device versions and the devices that
/// have not updated. `devices` and `couriers` (id, name) are the page's own lists.
pub(crate) async fn section(
    state: &AppState,
    console: &Console,
    devices: &[DeviceView],
    couriers: &[(String, String)],
) -> Markup {
    let public_url = state.config.public_url.clone();
    let read = db(state, move |s| s.release_book(&public_url)).await;
    let Ok(book) = read else {
        return html! {
            h2 id="releases" { "App releases" }
            p { "Could not be read; see the server log." }
        };
    };
    let mut channels = Channels {
        views: Vec::with_capacity(book.len()),
        rules: Vec::with_capacity(book.len()),
    };
    for (view, releases, minimum) in book {
        channels.rules.push((view.platform, releases, minimum));
        channels.views.push(view);
    }
    // The forms only for a role that may use them.
    let csrf = console
        .may(Action::Releases)
        .then_some(console.csrf.as_str());
    html! {
        h2 id="releases" { "App releases" }
        p {
            "What the fleet's phones are offered. A staged rollout offers a release to a share \
             of the devices, chosen by a stable hash of each device's id, so raising it only \
             adds devices. Paused: offered to no more devices. Withdrawn: devices are offered \
             the previous release again. Devices below the minimum must update before they \
             record deliveries (they still send the ones they have)."
        }
        @if channels.views.is_empty() {
            p { "No release is published yet." }
        }
        @for channel in &channels.views {
            (channel_html(channel, csrf))
        }
        @if let Some(csrf) = csrf {
            (upload_forms(csrf))
        }
        (install_qr(state, &channels))
        (versions_html(&channels, devices))
        (not_updated_html(&channels, devices, couriers))
    }
}

/// One platform: its minimum (a form), its current release and its releases with controls.
fn channel_html(c: &ReleaseChannel, csrf: Option<&str>) -> Markup {
    let name = platform_name(c.platform);
    let minimum = c.minimum.as_deref().unwrap_or("");
    let minimum_action = format!("/fleet/releases/{name}/minimum");
    html! {
        section id={ "releases-" (name) } data-platform=(name) {
            h3 { (platform_title(c.platform)) }
            p {
                "Current release: "
                strong data-current { (c.current.as_deref().unwrap_or("none")) }
                " (what a device in every rollout is offered). Minimum version: "
                strong data-minimum { (if minimum.is_empty() { "none" } else { minimum }) }
                "."
            }
            @if let Some(csrf) = csrf {
                form method="post" action=(minimum_action) {
                    (csrf_field(csrf))
                    label {
                        "Minimum version "
                        input name="minimum" value=(minimum) placeholder="e.g. 1.4.0" required maxlength="40";
                    }
                    " "
                    button { "Set the minimum" }
                }
                @if !minimum.is_empty() {
                    form method="post" action=(minimum_action) {
                        (csrf_field(csrf))
                        input type="hidden" name="minimum" value="";
                        button { "Clear the minimum" }
                    }
                }
            }
            table {
                tr {
                    th { "version" } th { "build" } th { "SHA-256" } th { "size" } th { "rollout" }
                    th { "state" } th { "devices on it" } th { "published" } th { "change" }
                }
                @for r in &c.releases {
                    (release_row(r, csrf))
                }
            }
        }
    }
}

/// A release's row: what it is, who published it, and the forms that change it.
fn release_row(r: &ReleaseView, csrf: Option<&str>) -> Markup {
    let action = format!(
        "/fleet/releases/{}/{}",
        platform_name(r.platform),
        r.version
    );
    let state = if r.withdrawn {
        "withdrawn"
    } else if r.paused {
        "paused"
    } else {
        "offered"
    };
    // Only raises: a lower rollout is refused (devices once offered stay offered).
    let raises = [10u8, 25, 50, 100]
        .into_iter()
        .filter(|p| *p > r.rollout_percent);
    html! {
        tr data-release=(r.version) {
            td { strong { (r.version) } }
            td {
                @if r.sha256.is_some() {
                    a href=(r.url) { "file" }
                } @else {
                    a href=(r.url) rel="noreferrer" { (r.url) }
                }
            }
            td {
                @match &r.sha256 {
                    Some(sha) => code title=(sha) { (&sha[..sha.len().min(12)]) "…" },
                    None => "—",
                }
            }
            td { (r.size.map_or_else(|| "—".to_string(), size_text)) }
            td data-rollout { (r.rollout_percent) " %" }
            td data-state { (state) }
            td data-devices { (r.devices) }
            td { (r.published_by) br; small { (format_time(r.published_at.div_euclid(1000))) } }
            td {
                @if let Some(csrf) = csrf {
                    @if r.rollout_percent < 100 {
                        form method="post" action=(action) {
                            (csrf_field(csrf))
                            "Raise to "
                            @for p in raises {
                                button name="rollout_percent" value=(p) { (p) " %" }
                                " "
                            }
                        }
                        form method="post" action=(action) {
                            (csrf_field(csrf))
                            input type="number" name="rollout_percent" min=(r.rollout_percent + 1)
                                max="100" required aria-label="rollout percent" class="short";
                            " "
                            button { "Raise" }
                        }
                    }
                    form method="post" action=(action) {
                        (csrf_field(csrf))
                        button name="paused" value=(!r.paused) { (if r.paused { "Resume" } else { "Pause" }) }
                        " "
                        button name="withdrawn" value=(!r.withdrawn) {
                            (if r.withdrawn { "Restore" } else { "Withdraw" })
                        }
                    }
                }
            }
        }
    }
}

/// Bytes for people: `812 B`, `40.2 KB`, `61.5 MB`.
fn size_text(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KB {
        format!("{bytes} B")
    } else if b < KB * KB {
        format!("{:.1} KB", b / KB)
    } else {
        format!("{:.1} MB", b / (KB * KB))
    }
}

/// The two ways to publish: a file (APK, AppImage, `.deb`) or a store / TestFlight link.
///
/// The upload is `multipart/form-data`, which [`publish_form`] reads field by field and
/// refuses any field it does not know; so its CSRF token travels in the form's address
/// (`/fleet/releases?csrf=…`) and is checked before the body is read. That is as safe as
/// the hidden field: the token is a keyed hash of the admin token (per server and admin
/// token, never given to another site), the fleet page that holds it cannot be read or
/// framed by another site, and the fleet pages send no `Referer` to other sites.
///
/// Two forms, not one with both inputs, because a browser sends an empty file input as an
/// empty file, which the API rightly refuses.
fn upload_forms(csrf: &str) -> Markup {
    let options = |platforms: &[Platform]| {
        html! {
            @for p in platforms {
                option value=(platform_name(*p)) { (platform_title(*p)) }
            }
        }
    };
    let common = html! {
        label { "Version " input name="version" required maxlength="40" placeholder="e.g. 1.4.0"; }
        " "
        label {
            "Rollout "
            input type="number" name="rollout_percent" min="0" max="100" value="100"
                class="short";
            " %"
        }
        " "
    };
    html! {
        h3 { "Publish a release" }
        form id="publish-file" method="post" action={ "/fleet/releases?csrf=" (csrf) }
            enctype="multipart/form-data" {
            label { "Platform " select name="platform" { (options(&[Platform::Android, Platform::Linux])) } }
            " "
            (common)
            label {
                "Build "
                input type="file" name="file" required
                    accept=".apk,.AppImage,.deb,application/vnd.android.package-archive";
            }
            " "
            button { "Upload and publish" }
        }
        form id="publish-link" method="post" action={ "/fleet/releases?csrf=" (csrf) }
            enctype="multipart/form-data" {
            label {
                "Platform "
                select name="platform" {
                    (options(&[
                        Platform::Ios,
                        Platform::Android,
                        Platform::Linux,
                        Platform::Macos,
                        Platform::Windows,
                    ]))
                }
            }
            " "
            (common)
            label { "Link " input type="url" name="url" required placeholder="https://…"; }
            " "
            button { "Publish the link" }
        }
        p {
            small {
                "The version must be SemVer and above every release of the platform. An \
                 Android build is an APK; a Linux build an AppImage or a .deb; iOS, macOS and \
                 Windows builds are store or TestFlight links."
            }
        }
    }
}

/// The QR a new Android phone scans to install the fleet's build (`/install/android`, which
/// leads to the newest release at 100 %, so a new courier never starts on a canary).
fn install_qr(state: &AppState, channels: &Channels) -> Markup {
    let Some((_, releases, minimum)) = channels
        .rules
        .iter()
        .find(|(p, r, _)| *p == Platform::Android && !r.is_empty())
    else {
        return html! {};
    };
    let url = format!(
        "{}/install/android",
        state.config.public_url.trim_end_matches('/')
    );
    html! {
        section id="install-android" {
            h3 { "Install on a new Android phone" }
            @match rules::for_new_device(releases, minimum.as_ref()) {
                Some(r) => figure {
                    (qr(&url, 220))
                    figcaption {
                        "Scan with the phone's camera: it downloads Android "
                        (display(&r.version))
                        ". "
                        code data-install-url { (url) }
                    }
                },
                None => p {
                    "No Android release is offered to every device yet (rolled out to 100 %, \
                     not paused, not withdrawn), so "
                    code { (url) }
                    " has nothing to install."
                },
            }
        }
    }
}

/// How a reported app version sorts: SemVer first (newest first), then text.
type VersionOrder = (bool, Option<std::cmp::Reverse<Version>>, String);

fn version_order(v: &str) -> VersionOrder {
    match Version::parse(v.trim()) {
        Ok(parsed) => (false, Some(std::cmp::Reverse(parsed)), String::new()),
        Err(_) => (true, None, v.to_string()),
    }
}

/// Devices (not revoked) per platform and reported version, releases or not.
fn versions_html(channels: &Channels, devices: &[DeviceView]) -> Markup {
    // (platform's place, version's order) -> (platform, version, devices)
    let mut counts: BTreeMap<(usize, VersionOrder), (Platform, String, u32)> = BTreeMap::new();
    for d in devices.iter().filter(|d| !d.revoked) {
        let order = PLATFORMS
            .iter()
            .position(|(p, _)| *p == d.platform)
            .unwrap_or(PLATFORMS.len());
        counts
            .entry((order, version_order(&d.app_version)))
            .or_insert_with(|| (d.platform, d.app_version.clone(), 0))
            .2 += 1;
    }
    if counts.is_empty() {
        return html! {
            h3 id="device-versions" { "Versions on devices" }
            p { "No enrolled device." }
        };
    }
    html! {
        h3 id="device-versions" { "Versions on devices" }
        p {
            "The app version each phone last reported (at enrollment, on each manifest and sync)."
        }
        table {
            tr { th { "platform" } th { "version" } th { "devices" } th { "release" } }
            @for (platform, version, n) in counts.values() {
                tr data-platform=(platform_name(*platform)) data-version=(version) {
                    td { (platform_title(*platform)) }
                    td { (version) }
                    td data-count { (n) }
                    td { (release_of(channels, *platform, version)) }
                }
            }
        }
    }
}

/// What a reported version is in its platform's channel.
fn release_of(channels: &Channels, platform: Platform, version: &str) -> &'static str {
    let Some(channel) = channels.views.iter().find(|c| c.platform == platform) else {
        return "not a release";
    };
    let Ok(v) = Version::parse(version.trim()) else {
        return "not a version";
    };
    let same = |s: &str| Version::parse(s).is_ok_and(|s| s == v);
    if channel.current.as_deref().is_some_and(same) {
        return "current release";
    }
    match channel.releases.iter().find(|r| same(&r.version)) {
        Some(r) if r.withdrawn => "withdrawn release",
        Some(_) => "release",
        None => "not a release",
    }
}

/// Devices (not revoked) whose version is below their platform's current release; a version
/// that is not SemVer counts as not updated. With what each is offered now: a device outside
/// a staged rollout is not offered the current release yet.
fn not_updated_html(
    channels: &Channels,
    devices: &[DeviceView],
    couriers: &[(String, String)],
) -> Markup {
    // (courier's name, device, its platform's current release, what it is offered)
    let mut late: Vec<(&str, &DeviceView, Version, String)> = Vec::new();
    for d in devices.iter().filter(|d| !d.revoked) {
        let Some(channel) = channels.views.iter().find(|c| c.platform == d.platform) else {
            continue;
        };
        let Some(current) = channel
            .current
            .as_deref()
            .and_then(|c| Version::parse(c).ok())
        else {
            continue;
        };
        if Version::parse(d.app_version.trim()).is_ok_and(|v| v >= current) {
            continue;
        }
        let device = d.device_id.to_string();
        let offered = channels
            .rules
            .iter()
            .find(|(p, _, _)| *p == d.platform)
            .and_then(|(_, releases, minimum)| {
                rules::offered(releases, minimum.as_ref(), |r| r.offered_to(&device))
            })
            .map_or_else(|| "nothing".to_string(), |r| r.version.to_string());
        let courier = couriers
            .iter()
            .find(|(id, _)| *id == d.courier_id.to_string())
            .map_or("?", |(_, name)| name.as_str());
        late.push((courier, d, current, offered));
    }
    if late.is_empty() {
        return html! {
            h3 id="not-updated" { "Devices not updated" }
            p { "Every device runs its platform's current release (or a newer one)." }
        };
    }
    late.sort_by_cached_key(|(courier, d, _, _)| (courier.to_lowercase(), d.device_id.to_string()));
    html! {
        h3 id="not-updated" { "Devices not updated" }
        p {
            "Below their platform's current release. “Offered” is what the device is offered \
             now: outside a staged rollout it is an older release until the rollout reaches it."
        }
        table {
            tr {
                th { "courier" } th { "device" } th { "platform" } th { "version" }
                th { "current" } th { "offered" } th { "last seen" }
            }
            @for (courier, d, current, offered) in &late {
                tr data-device=(display(&d.device_id)) {
                    td { (courier) }
                    td { small { (display(&d.device_id)) } }
                    td { (platform_title(d.platform)) }
                    td data-version { (d.app_version) }
                    td { (display(current)) }
                    td { (offered) }
                    td { (d.last_seen_at.map(format_time).unwrap_or_else(|| "never".into())) }
                }
            }
        }
    }
}

/// `POST /fleet/releases?csrf=…`: publishes the uploaded build or link (the API's checks).
async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Extension(deadline): Extension<RequestDeadline>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let actor = match signed_upload(&state, &headers, query.as_deref(), Action::Releases).await {
        Ok(console) => console.user.actor(),
        Err(refused) => return *refused,
    };
    answer(
        publish_form(
            &state,
            ReleasePublisher {
                actor,
                token: false,
            },
            &deadline,
            form,
        )
        .await
        .map(|view| view.platform),
    )
}

/// `POST /fleet/releases/{platform}/{version}`: raise the rollout (`rollout_percent`), pause or
/// resume (`paused=true|false`), withdraw or restore (`withdrawn=true|false`).
async fn change(
    State(state): State<AppState>,
    Path((platform, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let actor = match signed_form(&state, &headers, &body, Action::Releases).await {
        Ok(console) => console.user.actor(),
        Err(refused) => return *refused,
    };
    answer(change_release(&state, actor, &platform, &version, &body).await)
}

async fn change_release(
    state: &AppState,
    actor: String,
    platform: &str,
    version: &str,
    form: &[u8],
) -> Result<Platform, ApiError> {
    let platform = parse_platform(platform).map_err(unprocessable)?;
    let version = parse_version(version).map_err(unprocessable)?;
    let rollout_percent = match form_value(form, "rollout_percent") {
        None => None,
        Some(p) => Some(p.trim().parse::<u8>().map_err(|_| {
            unprocessable(format!(
                "the rollout {p:?} is not a whole number from 0 to 100"
            ))
        })?),
    };
    let change = ReleaseChange {
        rollout_percent,
        paused: flag(form, "paused")?,
        withdrawn: flag(form, "withdrawn")?,
    };
    if change == ReleaseChange::default() {
        return Err(unprocessable(
            "choose a change: a higher rollout, pause or resume, withdraw or restore".into(),
        ));
    }
    let public_url = state.config.public_url.clone();
    let now = state.now();
    db(state, move |s| {
        s.change_release(platform, &version, &change, &public_url, &actor, now)
    })
    .await?;
    Ok(platform)
}

/// `POST /fleet/releases/{platform}/minimum`: sets the minimum version (`minimum`), or clears
/// it when the field is empty.
async fn set_minimum(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let actor = match signed_form(&state, &headers, &body, Action::Releases).await {
        Ok(console) => console.user.actor(),
        Err(refused) => return *refused,
    };
    answer(set_minimum_version(&state, actor, &platform, &body).await)
}

async fn set_minimum_version(
    state: &AppState,
    actor: String,
    platform: &str,
    form: &[u8],
) -> Result<Platform, ApiError> {
    let platform = parse_platform(platform).map_err(unprocessable)?;
    let minimum = match form_value(form, "minimum") {
        None => {
            return Err(unprocessable(
                "the form has no minimum (a version, or empty to clear it)".into(),
            ));
        }
        Some(m) if m.trim().is_empty() => None,
        Some(m) => Some(parse_version(&m).map_err(unprocessable)?),
    };
    let now = state.now();
    db(state, move |s| {
        s.set_minimum_version(platform, minimum.as_ref(), &actor, now)
    })
    .await?;
    Ok(platform)
}

/// Back to the fleet page at the platform's releases, or the error (a page, by
/// [`error_pages`]).
fn answer(done: Result<Platform, ApiError>) -> Response {
    match done {
        Ok(platform) => Redirect::to(&format!(
            "/fleet/phones#releases-{}",
            platform_name(platform)
        ))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

fn unprocessable(message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::ValidationFailed,
        message,
    )
}

/// An optional `true` / `false` field.
fn flag(form: &[u8], name: &str) -> Result<Option<bool>, ApiError> {
    match form_value(form, name).as_deref().map(str::trim) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(unprocessable(format!(
            "{name} is true or false, not {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_newest_first_and_text_last() {
        let mut v = vec!["1.9.3", "dev", "1.10.0", "1.10.0-rc.1", "0.1.0"];
        v.sort_by_key(|s| version_order(s));
        assert_eq!(v, ["1.10.0", "1.10.0-rc.1", "1.9.3", "0.1.0", "dev"]);
    }

    #[test]
    fn sizes_read_as_bytes_kilobytes_or_megabytes() {
        assert_eq!(size_text(812), "812 B");
        assert_eq!(size_text(41_165), "40.2 KB");
        assert_eq!(size_text(64_487_424), "61.5 MB");
    }
}
