//! Server-rendered HTML (no JavaScript): the customer's page, the fleet page, the
//! development outbox and the label sheet.

mod fleet_door;
mod fleet_releases;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use doorstep_protocol::wire::EnrollmentLink;
use doorstep_protocol::{CourierId, StopId};
use subtle::ConstantTimeEq;

use crate::config::Mode;
use crate::http::AppState;
use crate::http::{ApiError, StrictQuery, db, demo_only};
use crate::store::{Store, StoreError};

pub(crate) use crate::render::html::esc;
use crate::render::qr::qr_svg;

/// A page in English.
pub(crate) fn page(title: &str, body: &str) -> Html<String> {
    Html(crate::render::html::page(title, body))
}

/// [`page`] in the language `lang`.
pub(crate) fn page_in(lang: &str, title: &str, body: &str) -> Html<String> {
    Html(crate::render::html::page_in(lang, title, body))
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/fleet") }),
        )
        .route("/c/{public_ref}", get(customer_page))
        .route("/fleet", get(fleet_page))
        .route("/fleet/enroll", post(fleet_enroll))
        .route("/fleet/devices/{id}/accept-chain", post(fleet_accept_chain))
        .route("/fleet/devices/{id}/revoke", post(fleet_revoke))
        .route(
            "/fleet/stops/{id}/new-code",
            post(fleet_new_code).layer(axum::middleware::map_response(error_pages)),
        )
        .merge(crate::http::pages::fleet_releases::routes())
        .merge(crate::http::pages::fleet_door::routes())
        .route("/dev/outbox", get(dev_outbox_page))
        .route("/dev/labels", get(labels_page))
        // Last, so that it covers every route above.
        .layer(axum::middleware::from_fn(fleet_headers))
}

/// Headers of every `/fleet` answer (pages, form posts, the sign-in 401): no browser or
/// proxy may keep a copy (the pages show enrollment codes and customers' names), no
/// other site may show them in a frame (where a click could be stolen for the enrollment
/// or revoke buttons), and no fleet address is sent to another site as `Referer` (the
/// upload form's address carries the CSRF token).
async fn fleet_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    let fleet = path == "/fleet" || path.starts_with("/fleet/");
    let mut response = next.run(req).await;
    if fleet {
        let h = response.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    response
}

async fn customer_page(State(state): State<AppState>, Path(public_ref): Path<String>) -> Response {
    if public_ref.len() > 64 {
        return not_found();
    }
    let now = state.now();
    let stop = match db(&state, move |s| s.customer_stop(&public_ref, now)).await {
        Ok(s) => s,
        Err(_) => return not_found(),
    };
    let parcels: String = stop
        .parcels
        .iter()
        .map(|(b, d)| {
            format!(
                "<li><strong>{}</strong> {}</li>",
                esc(b),
                esc(d.as_deref().unwrap_or(""))
            )
        })
        .collect();
    let words = stop.language.customer_page();
    let for_whom = words
        .for_whom
        .replace("{name}", &esc(&stop.recipient_name))
        .replace("{address}", &esc(&stop.address))
        .replace("{date}", &esc(&stop.delivery_date));
    let mut body = format!(
        "<h1>{title}</h1><p>{for_whom}</p><ul>{parcels}</ul>",
        title = words.title
    );
    if stop.code_required {
        body.push_str(&format!("<p class=warn>{}</p>", words.give_only_to_courier));
        match &stop.token {
            Some(token) => body.push_str(&format!(
                "<figure>{}<figcaption>{}</figcaption></figure>\
                 <details><summary>{}</summary><code data-token>{}</code></details>",
                qr_svg(token, 260),
                words.show_to_courier,
                words.qr_text,
                esc(token)
            )),
            None => body.push_str(&format!("<p>{}</p>", words.expired)),
        }
    } else {
        body.push_str(&format!("<p>{}</p>", words.no_code));
    }
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page_in(stop.language.as_str(), words.title, &body),
    )
        .into_response()
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn format_time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        page("Not found", "<h1>Not found</h1>"),
    )
        .into_response()
}

/// The `user:password` text of HTTP Basic credentials (RFC 7617: standard base64 alphabet;
/// padding optional, as some clients leave it out); `None` if it is not base64 of UTF-8.
fn basic_credentials(encoded: &str) -> Option<String> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const BASIC: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    String::from_utf8(BASIC.decode(encoded.trim()).ok()?).ok()
}

/// The fleet page is open in demo mode; in production it needs the admin token as the
/// HTTP Basic password (any user name) or as a Bearer token.
///
/// Answers who signed in, for the audit log: the HTTP Basic user name the fleet manager gave
/// (the password is the admin token), or how they signed in when there is no name.
pub(crate) fn fleet_auth(state: &AppState, headers: &HeaderMap) -> Result<String, Box<Response>> {
    if state.config.mode == Mode::Demo {
        return Ok("fleet page (demo mode)".into());
    }
    let (user, given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            if scheme.eq_ignore_ascii_case("basic") {
                let raw = basic_credentials(rest)?;
                let (user, password) = raw.split_once(':')?;
                let user = user.trim();
                let named = !user.is_empty() && user.len() <= 100;
                Some((named.then(|| user.to_string()), password.to_string()))
            } else if scheme.eq_ignore_ascii_case("bearer") {
                Some((None, rest.trim().to_string()))
            } else {
                None
            }
        })
        .unwrap_or_default();
    let real = state.store.secrets().admin_token();
    if !given.is_empty() && bool::from(given.as_bytes().ct_eq(real.as_bytes())) {
        return Ok(match user {
            Some(u) => format!("fleet page: {u}"),
            None => "fleet page (admin token)".into(),
        });
    }
    Err(Box::new(
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"Doorstep fleet\"")],
            page(
                "Sign in",
                "<h1>Sign in with the admin token as password</h1>",
            ),
        )
            .into_response(),
    ))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetQuery {
    date: Option<String>,
}

async fn fleet_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    StrictQuery(q): StrictQuery<FleetQuery>,
) -> Response {
    if let Err(r) = fleet_auth(&state, &headers) {
        return *r;
    }
    let date = q
        .date
        .filter(|d| crate::domain::zone::is_date(d))
        .unwrap_or_else(|| state.config.time_zone.date_of(state.now()));
    let d2 = date.clone();
    let summary = match db(&state, move |s| s.fleet_summary(&d2)).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let d3 = date.clone();
    let events = db(&state, move |s| s.deliveries(Some(&d3)))
        .await
        .unwrap_or_default();
    let counts: String = summary
        .by_status
        .iter()
        .map(|(s, n)| format!("<tr><td>{}</td><td>{n}</td></tr>", esc(s)))
        .collect();
    let exceptions: String = summary
        .exceptions
        .iter()
        .map(|(b, s, r)| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(b),
                esc(s),
                esc(r)
            )
        })
        .collect();
    let rows: String = events
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.event_id,
                esc(&e.kind),
                esc(&e.status),
                e.reject_code
                    .and_then(|c| serde_json::to_value(c).ok())
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                e.parcel_ids.len()
            )
        })
        .collect();
    let csrf = esc(&csrf_token(&state));
    let devices: String = summary
        .devices
        .iter()
        .map(|d| {
            let courier = d.courier_id.to_string();
            let courier = summary
                .couriers
                .iter()
                .find(|(id, _)| *id == courier)
                .map_or("?", |(_, name)| name.as_str());
            // Two clicks, as a confirmation without JavaScript.
            let action = if d.revoked {
                String::new()
            } else {
                format!(
                    "<details><summary>Revoke…</summary>\
                     <form method=post action=\"/fleet/devices/{id}/revoke\">\
                     <input type=hidden name=csrf value=\"{csrf}\">\
                     <button>Revoke this phone (its token stops working at once)</button></form></details>",
                    id = d.device_id
                )
            };
            format!(
                "<tr data-device=\"{}\"><td>{}<br><small>{}</small></td><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
                d.device_id,
                esc(courier),
                d.device_id,
                esc(&d.app_version),
                d.platform,
                d.last_seen_at
                    .map(format_time)
                    .unwrap_or_else(|| "never".into()),
                if d.revoked { "revoked" } else { "active" }
            )
        })
        .collect();
    let couriers: String = summary
        .couriers
        .iter()
        .map(|(id, name)| format!("<option value=\"{}\">{}</option>", esc(id), esc(name)))
        .collect();
    let mut body = format!(
        "<h1>{fleet} — {date}</h1>\
         <h2>Parcels</h2><table><tr><th>status</th><th>count</th></tr>{counts}</table>\
         <h2>Exceptions and disputes</h2><table><tr><th>barcode</th><th>status</th><th>recipient</th></tr>{exceptions}</table>\
         <h2>Delivery records</h2><table><tr><th>event</th><th>kind</th><th>status</th><th>reject</th><th>parcels</th></tr>{rows}</table>\
         <h2 id=devices>Devices</h2><table><tr><th>courier and device</th><th>app</th><th>platform</th><th>last seen</th><th>state</th><th></th></tr>{devices}</table>\
         <h2>Enroll a phone</h2><form method=post action=/fleet/enroll>\
         <input type=hidden name=csrf value=\"{csrf}\"><select name=courier_id>{couriers}</select> \
         <button>Show enrollment QR</button></form>{demo}",
        fleet = esc(&state.config.fleet_name),
        date = esc(&date),
        demo = if state.config.mode == Mode::Demo {
            format!(
                "<h2>Demo</h2><p><a href=/dev/outbox>Development outbox</a> · \
                 <a href=\"/dev/labels?date={d}\">Labels</a> · <a href=/v1/openapi.json>API</a></p>",
                d = esc(&date)
            )
        } else {
            String::new()
        },
    );
    // Sections added by other areas, each an async fn of this module returning HTML.
    // [sections]
    body.push_str(
        &crate::http::pages::fleet_releases::section(&state, &summary.devices, &summary.couriers)
            .await,
    );
    body.push_str(&crate::http::pages::fleet_door::section(&state, &date).await);
    body.push_str(&locked_stops_section(&state).await);
    body.push_str(&unsent_messages_section(&state).await);
    body.push_str(&chain_section(&state).await);
    page("Fleet", &body).into_response()
}

async fn fleet_enroll(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = signed_form(&state, &headers, &body) {
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
    let body = format!(
        "<h1>Enroll a phone</h1><p>Scan with the Doorstep app, or type the code <strong>{}</strong>. \
         It works once, for {} minutes.</p>{}<p><a href=/fleet>Back</a></p>",
        esc(&code),
        state.config.enrollment_ttl_secs / 60,
        qr_svg(&uri, 280)
    );
    ([(header::CACHE_CONTROL, "no-store")], page("Enroll", &body)).into_response()
}

/// The fleet page's CSRF token, carried by every fleet form as the hidden field `csrf` (the
/// release upload, a multipart form, carries it in its address: see
/// `crate::http::pages::fleet_releases`).
///
/// A keyed hash (under the server's code key) of the admin token: another site cannot
/// read or guess it, so a page there cannot make a signed-in fleet manager's browser post a
/// fleet form; it needs no session store; and it changes when the admin token is rotated.
pub(crate) fn csrf_token(state: &AppState) -> String {
    let secrets = state.store.secrets();
    hex::encode(secrets.mac(&[b"doorstep fleet csrf v1", secrets.admin_token().as_bytes()]))
}

/// Whether an `application/x-www-form-urlencoded` body (or the upload form's query string)
/// carries the right `csrf` field (the first one; compared in constant time).
fn csrf_ok(state: &AppState, form: &[u8]) -> bool {
    let given = form_value(form, "csrf").unwrap_or_default();
    let real = csrf_token(state);
    !given.is_empty() && bool::from(given.as_bytes().ct_eq(real.as_bytes()))
}

/// The first value of `name` in an `application/x-www-form-urlencoded` body, decoded.
pub(crate) fn form_value(form: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(form).find_map(|(k, v)| (k == name).then(|| v.into_owned()))
}

/// A fleet form's gate: who signed in (for the audit log), when `csrf_source` (the form, or the
/// upload form's query string) carries the page's CSRF token; else the sign-in page or the
/// refusal.
pub(crate) fn signed_form(
    state: &AppState,
    headers: &HeaderMap,
    csrf_source: &[u8],
) -> Result<String, Box<Response>> {
    let actor = fleet_auth(state, headers)?;
    if !csrf_ok(state, csrf_source) {
        return Err(Box::new(csrf_refused()));
    }
    Ok(actor)
}

/// The answer to a fleet form post without the right CSRF token (403 `forbidden`).
fn csrf_refused() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        doorstep_protocol::wire::ErrorCode::Forbidden,
        "this form did not come from the fleet page, or the page is out of date (the admin \
         token was rotated); reload the fleet page and send the form again",
    )
    .into_response()
}

/// The fleet page's list of messages that will never be sent: given up after the last
/// try, voided (their code was replaced or expired first) or held back by the
/// per-recipient limit. The fleet manager sees who missed a code and why; bodies are
/// wiped, so none is shown.
async fn unsent_messages_section(state: &AppState) -> String {
    let rows = match db(state, |s| s.unsent_messages(100)).await {
        Ok(r) => r,
        Err(_) => {
            return "<h2>Messages not sent</h2><p>Could not be read; see the server log.</p>"
                .into();
        }
    };
    if rows.is_empty() {
        return "<h2>Messages not sent</h2><p>None.</p>".into();
    }
    let rows: String = rows
        .iter()
        .map(|m| {
            let what = match m.reason.as_str() {
                "gave_up" => "given up",
                "void" => "void",
                "rate_limited" => "held back",
                other => other,
            };
            format!(
                "<tr data-outbox-id={id}><td>{when}</td><td>{what}</td><td>{channel}</td><td>{to}</td>\
                 <td>{subject}</td><td>{tries}</td><td>{why}</td></tr>",
                id = m.id,
                when = format_time(m.dropped_at.div_euclid(1000)),
                channel = esc(&m.channel),
                to = esc(&m.recipient),
                subject = esc(&m.subject),
                tries = m.attempts,
                why = esc(m.last_error.as_deref().unwrap_or("")),
            )
        })
        .collect();
    format!(
        "<h2>Messages not sent</h2><p>Newest first. Their bodies are wiped; a customer who \
         still needs a code gets a new one by a resend from the courier's app or the admin \
         API's new-code call.</p>\
         <table><tr><th>when</th><th>state</th><th>channel</th><th>recipient</th><th>subject</th>\
         <th>tries</th><th>why</th></tr>{rows}</table>"
    )
}

async fn dev_outbox_page(State(state): State<AppState>) -> Response {
    if let Err(e) = demo_only(&state) {
        return e.into_response();
    }
    let msgs = match db(&state, |s| s.dev_messages()).await {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let items: String = msgs
        .iter()
        .map(|m| {
            format!(
                "<article><h3>{} to {} — {}</h3><pre>{}</pre></article>",
                esc(&m.channel),
                esc(&m.recipient),
                esc(&m.subject),
                esc(&m.body)
            )
        })
        .collect();
    page(
        "Development outbox",
        &format!("<h1>Development outbox (demo mode)</h1><p>What would have been sent, newest first.</p>{items}"),
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
async fn chain_section(state: &AppState) -> String {
    let (breaks, review, audit) = match db(state, |s| {
        Ok((s.chain_breaks()?, s.records_for_review()?, s.audit_log(20)?))
    })
    .await
    {
        Ok(v) => v,
        Err(_) => {
            return "<h2>Record chains</h2><p>Could not be read; see the server log.</p>".into();
        }
    };
    let csrf = esc(&csrf_token(state));
    let rows: String = breaks
        .iter()
        .map(|b| {
            let action = if b.accepted {
                "accepted — waiting for the phone's next sync".to_string()
            } else {
                format!(
                    "<form method=post action=\"/fleet/devices/{id}/accept-chain\"><input type=hidden name=csrf value=\"{csrf}\">\
                     <button>Accept the phone's chain (records come in for review)</button></form>\
                     <form method=post action=\"/fleet/devices/{id}/revoke\"><input type=hidden name=csrf value=\"{csrf}\">\
                     <button>Revoke the phone</button></form>",
                    id = esc(&b.device_id)
                )
            };
            format!(
                "<tr><td>{}<br><small>{}</small></td><td>{}</td><td>{}<br><small>{}</small></td><td>{}</td><td>{action}</td></tr>",
                esc(&b.courier_name),
                esc(&b.device_id),
                format_time(b.since_ms / 1000),
                esc(&b.first_event),
                esc(&b.reason),
                b.held_events
            )
        })
        .collect();
    let breaks_html = if breaks.is_empty() {
        "<p>Every phone's record chain is intact.</p>".to_string()
    } else {
        format!(
            "<table><tr><th>phone</th><th>since</th><th>first record that broke the chain, and why</th>\
             <th>records held</th><th>action</th></tr>{rows}</table>"
        )
    };
    let review_rows: String = review
        .iter()
        .map(|d| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                d.event_id,
                d.device_id,
                esc(&d.kind),
                esc(&d.status),
                d.parcel_ids.len()
            )
        })
        .collect();
    let review_html = if review.is_empty() {
        String::new()
    } else {
        format!(
            "<h3>Records to review</h3><p>Accepted after a phone's chain was re-anchored.</p>\
             <table><tr><th>record</th><th>phone</th><th>kind</th><th>status</th><th>parcels</th></tr>{review_rows}</table>"
        )
    };
    let audit_rows: String = audit
        .iter()
        .map(|a| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                format_time(a.at_ms / 1000),
                esc(&a.actor),
                esc(&a.action),
                esc(&a.subject),
                esc(&a.detail)
            )
        })
        .collect();
    let audit_html = if audit.is_empty() {
        String::new()
    } else {
        format!(
            "<h3>Audit log</h3><table><tr><th>when</th><th>who</th><th>what</th><th>subject</th><th>detail</th></tr>{audit_rows}</table>"
        )
    };
    format!("<h2>Record chains</h2>{breaks_html}{review_html}{audit_html}")
}

/// A fleet-page form that acts on one thing by its id (accept a phone's chain, revoke a phone,
/// a new code for a locked stop): signed in, CSRF token right, id well formed; `action` runs
/// with who signed in, for the audit log, then the page is shown again at `back`. The outbox
/// is woken, as an action may have queued a message (a new code to the customer).
pub(crate) async fn fleet_action<I: std::str::FromStr + Send + 'static>(
    state: AppState,
    id: String,
    headers: HeaderMap,
    body: Bytes,
    what: &str,
    back: &str,
    action: fn(&Store, I, &str, i64) -> Result<(), StoreError>,
) -> Response {
    let actor = match signed_form(&state, &headers, &body) {
        Ok(actor) => actor,
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<I>() else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            doorstep_protocol::wire::ErrorCode::NotFound,
            format!("{what} not found; reload the fleet page"),
        )
        .into_response();
    };
    let now = state.now();
    match db(&state, move |s| action(s, id, &actor, now)).await {
        Ok(()) => {
            state.outbox_wake.notify_one();
            axum::response::Redirect::to(back).into_response()
        }
        Err(e) => e.into_response(),
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
        "device",
        "/fleet",
        Store::accept_chain,
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
        "device",
        "/fleet",
        Store::revoke_device_by,
    )
    .await
}

/// Stops locked by wrong codes with parcels still to deliver, each with a "New code" button
/// (the admin API's `POST /v1/admin/stops/{id}/new-code`, audited with who signed in).
async fn locked_stops_section(state: &AppState) -> String {
    let stops = match db(state, |s| s.locked_stops(100)).await {
        Ok(s) => s,
        Err(_) => {
            return "<h2 id=locked-stops>Locked stops</h2><p>Could not be read; see the server log.</p>"
                .into();
        }
    };
    if stops.is_empty() {
        return "<h2 id=locked-stops>Locked stops</h2><p>None: no stop is locked by wrong codes.</p>"
            .into();
    }
    let csrf = esc(&csrf_token(state));
    let rows: String = stops
        .iter()
        .map(|s| {
            format!(
                "<tr data-stop=\"{id}\"><td>{date}</td><td>{name}</td><td>{address}</td><td>{courier}</td>\
                 <td>{failed} of {max}</td><td>{open}</td><td><form method=post action=\"/fleet/stops/{id}/new-code\">\
                 <input type=hidden name=csrf value=\"{csrf}\"><button>New code</button></form></td></tr>",
                id = s.stop_id,
                date = esc(&s.delivery_date),
                name = esc(&s.recipient_name),
                address = esc(&s.address),
                courier = esc(s.courier_name.as_deref().unwrap_or("—")),
                failed = s.failed_attempts,
                max = s.max_attempts,
                open = s.open_parcels,
            )
        })
        .collect();
    format!(
        "<h2 id=locked-stops>Locked stops</h2><p>Every attempt at the delivery code was used. \
         &ldquo;New code&rdquo; sends the customer a new code (the old one stops working) and \
         gives the courier the attempts again. Call the customer first if the guesses were \
         not theirs.</p>\
         <table><tr><th>day</th><th>recipient</th><th>address</th><th>courier</th>\
         <th>wrong codes</th><th>parcels to deliver</th><th></th></tr>{rows}</table>"
    )
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
        "stop",
        "/fleet#locked-stops",
        reset,
    )
    .await
}

/// Turns the error answer of a fleet form (the API's JSON `{code, message}`, or an extractor's
/// plain-text rejection) into a page with the message and a Back link, keeping its status and
/// headers (`Retry-After`, ...): a browser shows the fleet manager words, not JSON. Pages
/// (the sign-in 401) and successes pass as they are.
pub(crate) async fn error_pages(response: Response) -> Response {
    let status = response.status();
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || html {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let (code, message) = match serde_json::from_slice::<doorstep_protocol::wire::ErrorBody>(&bytes)
    {
        Ok(e) => (
            serde_json::to_value(e.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            e.message,
        ),
        Err(_) => (String::new(), String::from_utf8_lossy(&bytes).into_owned()),
    };
    let mut out = page(
        "Not done",
        &format!(
            "<h1>{title}</h1><p class=warn role=alert data-error-code=\"{code}\">{message}</p>\
             <p><a href=/fleet>Back to the fleet page</a></p>",
            title = if status.is_server_error() {
                "The server could not do that"
            } else {
                "Not done"
            },
            code = esc(&code),
            message = esc(&message),
        ),
    )
    .into_response();
    *out.status_mut() = status;
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64_with_or_without_padding() {
        assert_eq!(
            basic_credentials("ZmxlZXQ6czNjcmV0").as_deref(),
            Some("fleet:s3cret")
        );
        assert_eq!(basic_credentials(" YTpiYw== ").as_deref(), Some("a:bc"));
        assert_eq!(basic_credentials("YTpiYw").as_deref(), Some("a:bc"));
        assert_eq!(basic_credentials("YTpi*w=="), None, "not base64");
        assert_eq!(basic_credentials("/w=="), None, "not UTF-8");
    }

    #[test]
    fn form_values_are_percent_decoded_and_the_first_one_counts() {
        let form: &[u8] = b"csrf=ab&minimum=1.4.0%2Bbuild.7&note=a+b&minimum=2.0.0&bad=%zz%4";
        assert_eq!(
            form_value(form, "minimum").as_deref(),
            Some("1.4.0+build.7")
        );
        assert_eq!(form_value(form, "note").as_deref(), Some("a b"));
        assert_eq!(form_value(form, "bad").as_deref(), Some("%zz%4"));
        assert_eq!(form_value(b"empty=", "empty").as_deref(), Some(""));
        assert_eq!(form_value(form, "missing"), None);
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }
}
