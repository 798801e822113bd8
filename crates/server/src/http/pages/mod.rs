//! Server-rendered HTML: the customer's page, the fleet console, the development outbox and the
//! label sheet. Every page works without JavaScript; only the Today map (and the numbers'
//! charts) need it.
//!
//! The console's phones page and its inbox are composed here from sections, some of them in the
//! sub-pages ([`fleet_releases`], [`fleet_door`]); Today and its map ([`today`]), the accounts
//! and sign-in ([`accounts`]), the proofs of delivery ([`proofs`]) and CSV in and out
//! ([`imports`]) are pages of their own; what they all share (who is signed in, CSRF, form
//! fields, error pages) is in [`forms`], below them.

mod accounts;
mod customer;
mod fleet_door;
mod fleet_releases;
mod forms;
mod imports;
mod numbers;
mod proofs;
mod today;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use doorstep_protocol::wire::EnrollmentLink;
use doorstep_protocol::{CourierId, StopId};
use maud::{Markup, display, html};

use crate::domain::accounts::Action;
use crate::http::AppState;
use crate::http::pages::forms::{
    Console, IdForm, age_text, console, csrf_field, error_pages, fleet_action, form_value,
    format_time, page, signed_form,
};
use crate::http::{ApiError, StrictQuery, db, demo_only};
use crate::render::html::qr;
use crate::store::{FleetSummary, Store, StoreError};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/fleet") }),
        )
        .route("/fleet/phones", get(phones_page))
        .route("/fleet/inbox", get(inbox_page))
        .route("/fleet/enroll", post(fleet_enroll))
        .route("/fleet/devices/{id}/accept-chain", post(fleet_accept_chain))
        .route("/fleet/devices/{id}/revoke", post(fleet_revoke))
        .route(
            "/fleet/stops/{id}/new-code",
            post(fleet_new_code).layer(axum::middleware::map_response(error_pages)),
        )
        .merge(customer::routes())
        .merge(today::routes())
        .merge(accounts::routes())
        .merge(proofs::routes())
        .merge(imports::routes())
        .merge(numbers::routes())
        .merge(fleet_releases::routes())
        .merge(fleet_door::routes())
        .route("/dev/outbox", get(dev_outbox_page))
        .route("/dev/labels", get(labels_page))
        // Last, so that it covers every route above.
        .layer(axum::middleware::from_fn(fleet_headers))
}

/// The Content-Security-Policy of every page: scripts, styles, workers and requests from this
/// server only (no inline script or style anywhere), images from here or `data:` (the map's
/// control icons are `data:` images in MapLibre's style sheet; an image runs nothing), no
/// plugins, forms post here only, and no other site may frame a page.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers of every page (the customer's page and the development pages too): the
/// [`CONTENT_SECURITY_POLICY`]. And of every `/fleet` answer (pages, form posts, the sign-in
/// 401): no browser or proxy may keep a copy (the pages show enrollment codes and customers'
/// names), no other site may show them in a frame (where a click could be stolen for the
/// enrollment or revoke buttons), and no fleet address is sent to another site as `Referer`
/// (the upload form's address carries the CSRF token).
async fn fleet_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    let fleet = path == "/fleet" || path.starts_with("/fleet/");
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    if fleet {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    response
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetQuery {
    date: Option<String>,
}

/// `GET /fleet/phones`: the phones (courier, app, last contact, the records still on them,
/// Revoke), enrollment, and the app's releases.
async fn phones_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match console(&state, &headers, Action::View, Some("/fleet/phones")).await {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let date = state.config.time_zone.date_of(state.now());
    let summary = match db(&state, move |s| s.fleet_summary(&date)).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let releases =
        fleet_releases::section(&state, &console, &summary.devices, &summary.couriers).await;
    let body = html! {
        (accounts::signed_in_bar(&console))
        h1 { "Phones" }
        (devices_section(
            &summary,
            console.may(Action::RevokePhone).then_some(console.csrf.as_str()),
            state.now() / 1000,
        ))
        @if console.may(Action::EnrollPhone) {
            h2 { "Enroll a phone" }
            form method="post" action="/fleet/enroll" {
                (csrf_field(&console.csrf))
                select name="courier_id" aria-label="courier" {
                    @for (id, name) in &summary.couriers {
                        option value=(id) { (name) }
                    }
                }
                " "
                button { "Show enrollment QR" }
            }
        }
        (releases)
    };
    page("Phones", body).into_response()
}

/// `GET /fleet/inbox`: everything that waits for a person, each with its action (shown to a
/// role that may take it): locked stops, parcels in dispute, broken record chains and records
/// to review, parcels not on a route and corrections, messages given up, and handovers far from
/// their address in the last week.
async fn inbox_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match console(&state, &headers, Action::View, Some("/fleet/inbox")).await {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let date = state.config.time_zone.date_of(state.now());
    let since = state.now() - 7 * 86_400_000;
    let far_m = state.config.far_handover_m;
    let (disputed, far, devices, couriers) = match db(&state, move |s| {
        Ok((
            s.disputed_parcels(100)?,
            s.far_handovers(since, far_m)?,
            s.devices()?,
            s.couriers()?,
        ))
    })
    .await
    {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    // Phones holding records made more than two hours ago: a phone out of signal, or broken.
    let now_secs = state.now() / 1000;
    let holding: Vec<_> = devices
        .iter()
        .filter(|d| {
            !d.revoked
                && d.unsent_records.unwrap_or(0) > 0
                && d.oldest_unsent_at.is_some_and(|t| now_secs - t > 2 * 3600)
        })
        .collect();
    let locked = locked_stops_section(&state, &console).await;
    let door = fleet_door::section(&state, &console, &date).await;
    let unsent = unsent_messages_section(&state).await;
    let chains = chain_section(&state, &console).await;
    let body = html! {
        (accounts::signed_in_bar(&console))
        h1 { "Inbox" }
        p {
            "What waits for a person. "
            a href="#locked-stops" { "Locked stops" } " · "
            a href="#disputed" { "In dispute (" (disputed.len()) ")" } " · "
            a href="#far" { "Far from the address (" (far.len()) ")" } " · "
            a href="#holding" { "Phones holding records (" (holding.len()) ")" } " · "
            a href="#unexpected" { "Not on the route" } " · "
            a href="#corrections" { "Corrections" } " · "
            a href="#chains" { "Record chains" }
        }
        (locked)
        h2 id="disputed" { "Parcels in dispute" }
        @if disputed.is_empty() {
            p { "None." }
        } @else {
            p { "A handover the server refused because a step was missing (a photo, a signature, the ID check). Open the proof to decide with the customer." }
            table {
                tr { th { "barcode" } th { "recipient" } th { "day" } th { "courier" } }
                @for d in &disputed {
                    tr data-disputed=(d.parcel_id) {
                        td { a href={ "/fleet/parcels/" (d.parcel_id) } { (d.barcode) } }
                        td { (d.recipient_name) }
                        td { (d.delivery_date) }
                        td { (d.courier.as_deref().unwrap_or("—")) }
                    }
                }
            }
        }
        h2 id="far" { "Handovers far from the address (last 7 days)" }
        @if far.is_empty() {
            p { "None further than " (crate::domain::geo::distance_text(far_m)) "." }
        } @else {
            table {
                tr { th { "barcode" } th { "address" } th { "courier" } th { "distance" } th { "received" } }
                @for f in &far {
                    tr data-far=(f.event_id) {
                        td { a href={ "/fleet/parcels/" (f.parcel_id) } { (f.barcode) } }
                        td { (f.address) }
                        td { (f.courier) }
                        td { (crate::domain::geo::distance_text(f.distance_m)) }
                        td { (format_time(f.received_at_ms / 1000)) }
                    }
                }
            }
        }
        h2 id="holding" { "Phones holding records for more than two hours" }
        @if holding.is_empty() {
            p { "None: every phone sent its records, or has held them for less than two hours." }
        } @else {
            p { "Proofs of delivery that exist only on the phone. Call the courier: the app sends them as soon as it has a signal." }
            table {
                tr { th { "phone" } th { "records waiting" } th { "last seen" } th { "last sync" } }
                @for d in &holding {
                    tr data-holding=(display(&d.device_id)) {
                        td { (courier_name(&couriers, &d.courier_id)) br; small { (display(&d.device_id)) } }
                        td { (backlog_text(d, now_secs)) }
                        td { (d.last_seen_at.map(format_time).unwrap_or_else(|| "never".into())) }
                        td { (d.last_sync_at.map(format_time).unwrap_or_else(|| "never".into())) }
                    }
                }
            }
        }
        (door)
        (unsent)
        div id="chains" { (chains) }
    };
    page("Inbox", body).into_response()
}

/// "3, the oldest 2 h 10 min old", "none", or "not reported" (an app too old to say).
fn backlog_text(d: &doorstep_protocol::wire::DeviceView, now_secs: i64) -> String {
    match (d.unsent_records, d.oldest_unsent_at) {
        (None, _) => "not reported".into(),
        (Some(0), _) => "none".into(),
        (Some(n), Some(oldest)) => format!("{n}, the oldest {} old", age_text(now_secs - oldest)),
        (Some(n), None) => n.to_string(),
    }
}

/// The name of courier `id` in `couriers` (id, name), or "?".
fn courier_name<'c>(couriers: &'c [(String, String)], id: &CourierId) -> &'c str {
    let id = id.to_string();
    couriers
        .iter()
        .find(|(c, _)| *c == id)
        .map_or("?", |(_, name)| name.as_str())
}

/// The phones, each with its courier, app, last contact, the records still on it and a
/// two-click revoke.
fn devices_section(summary: &FleetSummary, csrf: Option<&str>, now_secs: i64) -> Markup {
    let courier_name = |id: &CourierId| courier_name(&summary.couriers, id);
    html! {
        h2 id="devices" { "Devices" }
        table {
            tr {
                th { "courier and device" } th { "app" } th { "platform" } th { "last seen" }
                th { "last sync" } th { "records waiting on the phone" } th { "state" } th { "action" }
            }
            @for d in &summary.devices {
                tr data-device=(display(&d.device_id)) {
                    td { (courier_name(&d.courier_id)) br; small { (display(&d.device_id)) } }
                    td { (d.app_version) }
                    td { (display(format_args!("{:?}", d.platform))) }
                    td { (d.last_seen_at.map(format_time).unwrap_or_else(|| "never".into())) }
                    td { (d.last_sync_at.map(format_time).unwrap_or_else(|| "never".into())) }
                    td data-unsent=(d.unsent_records.map(|n| n.to_string()).unwrap_or_default()) {
                        (backlog_text(d, now_secs))
                    }
                    td { (if d.revoked { "revoked" } else { "active" }) }
                    td {
                        // Two clicks, as a confirmation without JavaScript.
                        @if let (false, Some(csrf)) = (d.revoked, csrf) {
                            details {
                                summary { "Revoke…" }
                                form method="post" action={ "/fleet/devices/" (display(&d.device_id)) "/revoke" } {
                                    (csrf_field(csrf))
                                    button { "Revoke this phone (its token stops working at once)" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn fleet_enroll(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = signed_form(&state, &headers, &body, Action::EnrollPhone).await {
        return *r;
    }
    let courier = form_value(&body, "courier_id").and_then(|v| v.parse::<CourierId>().ok());
    let Some(courier) = courier else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            doorstep_protocol::wire::ErrorCode::BadRequest,
            "choose a courier",
        )
        .into_response();
    };
    let now = state.now();
    let ttl = state.config.enrollment_ttl_secs * 1000;
    let (code, _) = match db(&state, move |s| s.create_enrollment(courier, ttl, now)).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let uri = EnrollmentLink {
        server_url: state.config.public_url.clone(),
        code: code.clone(),
    }
    .to_uri();
    let body = html! {
        h1 { "Enroll a phone" }
        p {
            "Scan with the Doorstep app, or type the code " strong { (code) } ". It works once, for "
            (state.config.enrollment_ttl_secs / 60) " minutes."
        }
        (qr(&uri, 280))
        p { a href="/fleet" { "Back" } }
    };
    ([(header::CACHE_CONTROL, "no-store")], page("Enroll", body)).into_response()
}

/// The fleet page's list of messages that will never be sent: given up after the last
/// try, voided (their code was replaced or expired first) or held back by the
/// per-recipient limit. The fleet manager sees who missed a code and why; bodies are
/// wiped, so none is shown.
async fn unsent_messages_section(state: &AppState) -> Markup {
    let rows = match db(state, |s| s.unsent_messages(100)).await {
        Ok(r) => r,
        Err(_) => {
            return html! {
                h2 { "Messages not sent" }
                p { "Could not be read; see the server log." }
            };
        }
    };
    if rows.is_empty() {
        return html! { h2 { "Messages not sent" } p { "None." } };
    }
    html! {
        h2 { "Messages not sent" }
        p {
            "Newest first. Their bodies are wiped; a customer who still needs a code gets a new \
             one by a resend from the courier's app or the admin API's new-code call."
        }
        table {
            tr {
                th { "when" } th { "state" } th { "channel" } th { "recipient" } th { "subject" }
                th { "tries" } th { "why" }
            }
            @for m in &rows {
                tr data-outbox-id=(m.id) {
                    td { (format_time(m.dropped_at.div_euclid(1000))) }
                    td {
                        (match m.reason.as_str() {
                            "gave_up" => "given up",
                            "void" => "void",
                            "rate_limited" => "held back",
                            other => other,
                        })
                    }
                    td { (m.channel) }
                    td { (m.recipient) }
                    td { (m.subject) }
                    td { (m.attempts) }
                    td { (m.last_error.as_deref().unwrap_or("")) }
                }
            }
        }
    }
}

async fn dev_outbox_page(State(state): State<AppState>) -> Response {
    if let Err(e) = demo_only(&state) {
        return e.into_response();
    }
    let msgs = match db(&state, |s| s.dev_messages()).await {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    page(
        "Development outbox",
        html! {
            h1 { "Development outbox (demo mode)" }
            p { "What would have been sent, newest first." }
            @for m in &msgs {
                article {
                    h3 { (m.channel) " to " (m.recipient) " — " (m.subject) }
                    pre { (m.body) }
                }
            }
        },
    )
    .into_response()
}

async fn labels_page(
    State(state): State<AppState>,
    StrictQuery(q): StrictQuery<FleetQuery>,
) -> Response {
    if let Err(e) = demo_only(&state) {
        return e.into_response();
    }
    let date = q
        .date
        .unwrap_or_else(|| state.config.time_zone.date_of(state.now()));
    match db(&state, move |s| s.labels(&date)).await {
        Ok(l) => Html(crate::render::labels::sheet_html(&l)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Broken record chains with what the fleet manager can do about them, the records marked
/// for review, and the audit log.
async fn chain_section(state: &AppState, console: &Console) -> Markup {
    let (breaks, review, audit) = match db(state, |s| {
        Ok((s.chain_breaks()?, s.records_for_review()?, s.audit_log(20)?))
    })
    .await
    {
        Ok(v) => v,
        Err(_) => {
            return html! {
                h2 { "Record chains" }
                p { "Could not be read; see the server log." }
            };
        }
    };
    let (accept, revoke) = (
        console.may(Action::AcceptChain),
        console.may(Action::RevokePhone),
    );
    let csrf = &console.csrf;
    html! {
        h2 { "Record chains" }
        @if breaks.is_empty() {
            p { "Every phone's record chain is intact." }
        } @else {
            table {
                tr {
                    th { "phone" } th { "since" } th { "first record that broke the chain, and why" }
                    th { "records held" } th { "action" }
                }
                @for b in &breaks {
                    tr {
                        td { (b.courier_name) br; small { (b.device_id) } }
                        td { (format_time(b.since_ms / 1000)) }
                        td { (b.first_event) br; small { (b.reason) } }
                        td { (b.held_events) }
                        td {
                            @if b.accepted {
                                "accepted — waiting for the phone's next sync"
                            } @else {
                                @if accept {
                                    form method="post" action={ "/fleet/devices/" (b.device_id) "/accept-chain" } {
                                        (csrf_field(csrf))
                                        button { "Accept the phone's chain (records come in for review)" }
                                    }
                                }
                                @if revoke {
                                    form method="post" action={ "/fleet/devices/" (b.device_id) "/revoke" } {
                                        (csrf_field(csrf))
                                        button { "Revoke the phone" }
                                    }
                                }
                                @if !accept && !revoke { "waiting for an owner or an admin" }
                            }
                        }
                    }
                }
            }
        }
        @if !review.is_empty() {
            h3 { "Records to review" }
            p { "Accepted after a phone's chain was re-anchored." }
            table {
                tr { th { "record" } th { "phone" } th { "kind" } th { "status" } th { "parcels" } }
                @for d in &review {
                    tr {
                        td { (display(&d.event_id)) }
                        td { (display(&d.device_id)) }
                        td { (d.kind) }
                        td { (d.status) }
                        td { (d.parcel_ids.len()) }
                    }
                }
            }
        }
        @if !audit.is_empty() {
            h3 { "Audit log" }
            table {
                tr { th { "when" } th { "who" } th { "what" } th { "subject" } th { "detail" } }
                @for a in &audit {
                    tr {
                        td { (format_time(a.at_ms / 1000)) }
                        td { (a.actor) }
                        td { (a.action) }
                        td { (a.subject) }
                        td { (a.detail) }
                    }
                }
            }
        }
    }
}

async fn fleet_accept_chain(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fleet_action(
        state,
        id,
        headers,
        body,
        IdForm {
            what: "device",
            back: "/fleet/inbox#chains",
            may: Action::AcceptChain,
            action: Store::accept_chain,
        },
    )
    .await
}

async fn fleet_revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fleet_action(
        state,
        id,
        headers,
        body,
        IdForm {
            what: "device",
            back: "/fleet/phones#devices",
            may: Action::RevokePhone,
            action: Store::revoke_device_by,
        },
    )
    .await
}

/// Stops locked by wrong codes with parcels still to deliver, each with a "New code" button
/// (the admin API's `POST /v1/admin/stops/{id}/new-code`, audited with who signed in).
async fn locked_stops_section(state: &AppState, console: &Console) -> Markup {
    let stops = match db(state, |s| s.locked_stops(100)).await {
        Ok(s) => s,
        Err(_) => {
            return html! {
                h2 id="locked-stops" { "Locked stops" }
                p { "Could not be read; see the server log." }
            };
        }
    };
    if stops.is_empty() {
        return html! {
            h2 id="locked-stops" { "Locked stops" }
            p { "None: no stop is locked by wrong codes." }
        };
    }
    let csrf = console
        .may(Action::NewCode)
        .then_some(console.csrf.as_str());
    html! {
        h2 id="locked-stops" { "Locked stops" }
        p {
            "Every attempt at the delivery code was used. “New code” sends the customer a new \
             code (the old one stops working) and gives the courier the attempts again. Call \
             the customer first if the guesses were not theirs."
        }
        table {
            tr {
                th { "day" } th { "recipient" } th { "address" } th { "courier" }
                th { "wrong codes" } th { "parcels to deliver" } th {}
            }
            @for s in &stops {
                tr data-stop=(display(&s.stop_id)) {
                    td { (s.delivery_date) }
                    td { (s.recipient_name) }
                    td { (s.address) }
                    td { (s.courier_name.as_deref().unwrap_or("—")) }
                    td { (s.failed_attempts) " of " (s.max_attempts) }
                    td { (s.open_parcels) }
                    td {
                        @if let Some(csrf) = csrf {
                            form method="post" action={ "/fleet/stops/" (display(&s.stop_id)) "/new-code" } {
                                (csrf_field(csrf))
                                button { "New code" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /fleet/stops/{id}/new-code`: a new code for a locked stop, sent to the customer.
async fn fleet_new_code(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fn reset(s: &Store, stop: StopId, actor: &str, now: i64) -> Result<(), StoreError> {
        s.reset_code(stop, actor, now).map(|_| ())
    }
    fleet_action(
        state,
        id,
        headers,
        body,
        IdForm {
            what: "stop",
            back: "/fleet/inbox#locked-stops",
            may: Action::NewCode,
            action: reset,
        },
    )
    .await
}
