//! Proof of delivery in the console: find a parcel (barcode, recipient, courier), open its
//! proof — timeline, records with their evidence (photos, signature, ID check, where it
//! happened on a small map, flagged when far from the address), the phone's chain — print it
//! for a dispute, or take it as JSON or CSV. Every page needs a signed-in user (any role).

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};

use crate::domain::accounts::Action;
use crate::domain::geo::distance_text;
use crate::http::pages::accounts::signed_in_bar;
use crate::http::pages::forms::{Console, console, csv_download, error_pages, format_time, page};
use crate::http::{ApiError, AppState, db};
use crate::render::map::handover_map;
use crate::store::{ProofOfDelivery, ProofRecord, StoreError};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/fleet/parcels", get(search))
        .route("/fleet/parcels/{id}", get(proof_page))
        .route("/fleet/parcels/{id}/proof.json", get(proof_json))
        .route("/fleet/parcels/{id}/proof.csv", get(proof_csv))
        .route("/fleet/photos/{sha256}", get(photo))
        .layer(axum::middleware::map_response(error_pages))
}

#[derive(serde::Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

/// The search form, as the console's pages show it.
pub(crate) fn search_form(q: &str) -> Markup {
    html! {
        form method="get" action="/fleet/parcels" role="search" class="no-print" {
            label { "Find a parcel " input type="search" name="q" value=(q) maxlength="100"
                placeholder="barcode, recipient or courier"; }
            " " button { "Find" }
        }
    }
}

async fn signed(state: &AppState, headers: &HeaderMap, back: &str) -> Result<Console, Response> {
    console(state, headers, Action::View, Some(back))
        .await
        .map_err(|r| *r)
}

/// The signed-in user and the proof of delivery of parcel `id` (its page is where a sign-in
/// comes back to); else the sign-in or "parcel not found".
async fn signed_proof(
    state: &AppState,
    headers: &HeaderMap,
    id: String,
) -> Result<(Console, ProofOfDelivery), Response> {
    let console = signed(state, headers, &format!("/fleet/parcels/{id}")).await?;
    let not_found = || ApiError::from(StoreError::NotFound("parcel")).into_response();
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(not_found());
    }
    match db(state, move |s| s.proof_of_delivery(&id)).await {
        Ok(Some(p)) => Ok((console, p)),
        Ok(None) => Err(not_found()),
        Err(e) => Err(e.into_response()),
    }
}

/// `GET /fleet/parcels?q=…`.
async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> Response {
    let q =
        q.q.unwrap_or_default()
            .chars()
            .take(100)
            .collect::<String>();
    let back = format!(
        "/fleet/parcels?q={}",
        form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
    );
    let console = match signed(&state, &headers, &back).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let hits = if q.trim().is_empty() {
        Vec::new()
    } else {
        let q2 = q.clone();
        match db(&state, move |s| s.search_parcels(&q2, 100)).await {
            Ok(h) => h,
            Err(e) => return e.into_response(),
        }
    };
    page(
        "Find a parcel",
        html! {
            (signed_in_bar(&console))
            p { a href="/fleet" { "Back to the console" } }
            h1 { "Find a parcel" }
            (search_form(&q))
            @if !q.trim().is_empty() {
                @if hits.is_empty() {
                    p role="status" { "No parcel matches “" (q) "”." }
                } @else {
                    p role="status" { (hits.len()) " parcels" @if hits.len() == 100 { " (the first 100; search for more of it)" } }
                    table {
                        tr { th { "barcode" } th { "recipient" } th { "day" } th { "courier" } th { "status" } }
                        @for h in &hits {
                            tr {
                                td { a href={ "/fleet/parcels/" (h.parcel_id) } { (h.barcode) } }
                                td { (h.recipient_name) }
                                td { (h.delivery_date) }
                                td { (h.courier.as_deref().unwrap_or("—")) }
                                td { (h.status) }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

/// `GET /fleet/parcels/{id}`: the proof of delivery, printable.
async fn proof_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (console, pod) = match signed_proof(&state, &headers, id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let far_m = state.config.far_handover_m;
    page(
        &format!("Proof of delivery {}", pod.barcode),
        html! {
            div class="no-print" {
                (signed_in_bar(&console))
                p {
                    a href="/fleet" { "Back to the console" } " · "
                    a href={ "/fleet/parcels/" (pod.parcel_id) "/proof.json" } { "JSON" } " · "
                    a href={ "/fleet/parcels/" (pod.parcel_id) "/proof.csv" } { "CSV" }
                    " · print this page for a dispute (the menus are left out)"
                }
                (search_form(""))
            }
            h1 { "Proof of delivery — " (pod.barcode) }
            table class="facts" {
                tr { th { "status" } td data-status { (pod.status) } }
                tr { th { "recipient" } td { (pod.recipient_name) } }
                tr { th { "address" } td { (pod.address) ", " (pod.postal_code) } }
                tr { th { "delivery day" } td { (pod.delivery_date) } }
                tr { th { "courier" } td { (pod.courier.as_deref().unwrap_or("not on a route")) } }
                tr { th { "shipper" } td { (pod.shipper) } }
                @if let Some(d) = &pod.description { tr { th { "contents" } td { (d) } } }
                tr { th { "method asked for" } td { (pod.method.replace('_', " ")) } }
                tr {
                    th { "delivery code" }
                    td data-code-required=(pod.code_required) {
                        (if pod.code_required { "needed" } else { "not needed" })
                        @if !pod.reasons.is_empty() { " — " (pod.reasons.join("; ")) }
                    }
                }
                @if pod.code_required {
                    tr { th { "wrong codes" } td { (pod.failed_attempts) " of " (pod.max_attempts) } }
                }
            }
            h2 { "Records" }
            @if pod.records.is_empty() {
                p { "No record from a courier's phone yet." }
            }
            @for r in &pod.records {
                (record_html(r, &pod, far_m))
            }
            h2 { "Timeline" }
            table class="timeline" {
                tr { th { "when (UTC)" } th { "what" } th { "details" } }
                @for t in &pod.timeline {
                    tr { td { (format_time(t.at_ms.div_euclid(1000))) } td { (t.what) } td { (t.detail) } }
                }
            }
        },
    )
    .into_response()
}

fn verification_text(v: Option<&str>) -> &'static str {
    match v {
        Some("online_code") => "the delivery code, checked online before the handover",
        Some("offline_code") => "the delivery code, typed without signal and checked at sync",
        Some("token") => "the customer's QR code, checked on the phone",
        Some("not_required") => "no code needed",
        _ => "—",
    }
}

/// How a handover was handed over, in words.
fn method_text(method: Option<&str>) -> &'static str {
    match method {
        Some("neighbour") => "to a neighbour",
        Some("safe_place") => "left in a safe place",
        Some("pickup_point") => "to a pickup point",
        _ => "into the recipient's hands",
    }
}

/// An ID check as stored, in words: the kind of ID, the age checked for, the result.
fn id_check_text((id, age, passed): &(String, Option<u64>, bool)) -> String {
    let age = age.map_or(String::new(), |a| format!(", at least {a} years"));
    let result = if *passed { "passed" } else { "failed" };
    format!("{}{age}: {result}", id.replace('_', " "))
}

fn record_html(r: &ProofRecord, pod: &ProofOfDelivery, far_m: f64) -> Markup {
    let distance = r
        .location
        .zip(pod.stop_location)
        .map(|(at, stop)| stop.distance_m(at));
    let far = distance.is_some_and(|d| d > far_m);
    html! {
        section class="record" data-record=(r.event_id) data-kind=(r.kind) {
            h3 {
                (r.kind.replace('_', " ")) " — " (r.status)
                @if let Some(c) = &r.reject_code { " (" (c) ")" }
                @if r.review { " — for review" }
            }
            table class="facts" {
                tr { th { "recorded" } td { (format_time(r.occurred_at_ms.div_euclid(1000))) " on the phone" } }
                tr { th { "received" } td { (format_time(r.received_at_ms.div_euclid(1000))) } }
                tr { th { "courier" } td { (r.courier) br; small { "phone " (r.device_id) ", record " (r.seq) } } }
                tr { th { "record chain" } td data-chain { (r.chain) } }
                @if r.kind == "delivered" {
                    tr { th { "verified by" } td data-verification { (verification_text(r.verification.as_deref())) } }
                    tr { th { "handed" } td data-method {
                        (method_text(r.method.as_deref()))
                        @if let Some(p) = &r.place { ": " (p) }
                    } }
                    @if let Some(n) = &r.recipient_name { tr { th { "taken by" } td { (n) } } }
                }
                @if let Some(reason) = &r.reason { tr { th { "why" } td { (reason.replace('_', " ")) } } }
                @if let Some(c) = &r.corrects { tr { th { "corrects" } td { (c) } } }
                @if let Some(note) = &r.note { tr { th { "courier's note" } td { (note) } } }
                @if let Some(check) = &r.id_check {
                    tr { th { "ID check" } td data-id-check { (id_check_text(check)) } }
                }
                tr { th { "where" } td data-far=(far) {
                    @match (r.location, distance) {
                        (Some(at), Some(d)) => {
                            (distance_text(d)) " from the address"
                            @if far { strong class="flag" { " — further than " (distance_text(far_m)) } }
                            br; small { (format!("{:.5}, {:.5}", at.lat, at.lon)) @if let Some(a) = r.accuracy_m { " (± " (format!("{a:.0}")) " m)" } }
                        }
                        (Some(at), None) => { (format!("{:.5}, {:.5}", at.lat, at.lon)) " (the address has no position)" }
                        (None, _) => "the phone did not know",
                    }
                } }
            }
            @if let (Some(at), Some(stop)) = (r.location, pod.stop_location) {
                (handover_map((stop.lat, stop.lon), (at.lat, at.lon), far))
            }
            @if r.signature.is_some() || !r.photos.is_empty() {
                div class="evidence" {
                    @if let Some(sig) = &r.signature {
                        figure { img src={ "/fleet/photos/" (sig) } alt="the recipient's signature" width="300"; figcaption { "signature" } }
                    }
                    @for p in &r.photos {
                        figure { img src={ "/fleet/photos/" (p) } alt="photo taken at the door" width="300"; figcaption { "photo" } }
                    }
                }
            }
        }
    }
}

/// `GET /fleet/parcels/{id}/proof.json`.
async fn proof_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match signed_proof(&state, &headers, id).await {
        Ok((_, pod)) => Json(pod).into_response(),
        Err(r) => r,
    }
}

/// A record's evidence in one line, for the CSV: what the page shows of it, the images by
/// their SHA-256.
fn record_text(r: &ProofRecord, pod: &ProofOfDelivery, far_m: f64) -> String {
    let mut parts = vec![format!(
        "record {} on {}'s phone {} (record {})",
        r.event_id, r.courier, r.device_id, r.seq
    )];
    if let Some(c) = &r.reject_code {
        parts.push(format!("refused: {c}"));
    }
    if r.review {
        parts.push("for review".into());
    }
    if r.kind == "delivered" {
        parts.push(format!(
            "verified by {}",
            verification_text(r.verification.as_deref())
        ));
        let place = r
            .place
            .as_deref()
            .map_or(String::new(), |p| format!(": {p}"));
        parts.push(format!(
            "handed {}{place}",
            method_text(r.method.as_deref())
        ));
        if let Some(n) = &r.recipient_name {
            parts.push(format!("taken by {n}"));
        }
    }
    if let Some(reason) = &r.reason {
        parts.push(format!("why: {}", reason.replace('_', " ")));
    }
    if let Some(c) = &r.corrects {
        parts.push(format!("corrects record {c}"));
    }
    if let Some(note) = &r.note {
        parts.push(format!("courier's note: {note}"));
    }
    if let Some(check) = &r.id_check {
        parts.push(format!("ID check: {}", id_check_text(check)));
    }
    parts.push(match r.location {
        Some(at) => {
            let mut at_text = format!("at {:.5}, {:.5}", at.lat, at.lon);
            if let Some(stop) = pod.stop_location {
                let d = stop.distance_m(at);
                at_text.push_str(&format!(", {} from the address", distance_text(d)));
                if d > far_m {
                    at_text.push_str(&format!(" (further than {})", distance_text(far_m)));
                }
            }
            at_text
        }
        None => "where unknown (the phone did not know)".into(),
    });
    if let Some(sig) = &r.signature {
        parts.push(format!("signature {sig}"));
    }
    for p in &r.photos {
        parts.push(format!("photo {p}"));
    }
    parts.push(format!("record chain {}", r.chain));
    parts.join("; ")
}

/// `GET /fleet/parcels/{id}/proof.csv`: the timeline, then one row per record with its
/// evidence.
async fn proof_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let pod = match signed_proof(&state, &headers, id).await {
        Ok((_, pod)) => pod,
        Err(r) => return r,
    };
    let far_m = state.config.far_handover_m;
    let timeline = pod.timeline.iter().map(|t| {
        vec![
            format_time(t.at_ms.div_euclid(1000)),
            pod.barcode.clone(),
            t.what.clone(),
            t.detail.clone(),
        ]
    });
    let records = pod.records.iter().map(|r| {
        vec![
            format_time(r.occurred_at_ms.div_euclid(1000)),
            pod.barcode.clone(),
            format!("{} record ({})", r.kind.replace('_', " "), r.status),
            record_text(r, &pod, far_m),
        ]
    });
    let doc = crate::render::csv::document(
        &["when_utc", "barcode", "what", "detail"],
        timeline.chain(records),
    );
    let name = format!(
        "proof-{}.csv",
        pod.barcode
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    csv_download(&name, doc)
}

/// `GET /fleet/photos/{sha256}`: a photo or signature the phones uploaded, as an image (JPEG
/// or PNG by its first bytes; anything else as a download, never shown as a page).
async fn photo(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sha): Path<String>,
) -> Response {
    if let Err(r) = console(&state, &headers, Action::View, None).await {
        return *r;
    }
    let sha = sha.to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return ApiError::from(StoreError::NotFound("photo")).into_response();
    }
    let path = state.config.photos().path(&sha);
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return ApiError::from(StoreError::NotFound("photo")).into_response();
    };
    let kind = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else {
        "application/octet-stream"
    };
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if kind == "application/octet-stream" {
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    r
}
