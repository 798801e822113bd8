//! CSV in and out for the console: parcels imported from a spreadsheet with the shipper API's
//! fields (a preview that lists every row's errors and stores nothing, then a confirmation
//! that stores every new parcel in one transaction, idempotent on the barcode), and the
//! deliveries of a date range with their proof as a CSV download.
//!
//! The file the confirmation stores is the one previewed: the preview page carries it back in
//! a hidden field with a keyed hash (under the server's key) of its SHA-256 and the session's
//! CSRF token, which the confirmation checks before reading a row. Nothing waits on the
//! server between the two steps, so any node of a cluster can take the confirmation.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine;
use doorstep_protocol::wire::ErrorCode;
use maud::{Markup, html};
use subtle::ConstantTimeEq;

use crate::domain::accounts::Action;
use crate::domain::imports::{
    self as rules, COLUMNS, FieldError, FileError, MAX_BYTES, MAX_EXPORT_DAYS, MAX_ROWS,
};
use crate::http::middleware::limits::RequestDeadline;
use crate::http::pages::accounts::signed_in_bar;
use crate::http::pages::forms::{
    console, csrf_field, csv_download, error_pages, form_value, page, signed_form, signed_upload,
};
use crate::http::{ApiError, AppState, db};
use crate::store::{ImportOutcome, ImportRow};
use crate::sys::secrets::sha256;

/// The most records one export holds (a longer one asks for a shorter range).
const MAX_EXPORT_ROWS: u32 = 100_000;
/// How long an import may take (10,000 parcels, each with its stop, code and message).
const IMPORT_TIME: Duration = Duration::from_secs(120);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/fleet/import", get(import_page).post(preview))
        .route("/fleet/import/template.csv", get(template))
        .route("/fleet/import/confirm", axum::routing::post(confirm))
        .route("/fleet/export", get(export_page))
        .route("/fleet/export/deliveries.csv", get(export_deliveries))
        // The upload counts its own bytes (the file by `MAX_BYTES`); the confirmation carries
        // the file again, base64 in a form field.
        .route_layer(DefaultBodyLimit::max(MAX_BYTES * 2))
        .layer(axum::middleware::map_response(error_pages))
}

fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::ValidationFailed,
        message,
    )
}

fn file_refused(e: &FileError) -> ApiError {
    match e {
        FileError::TooLarge => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            e.to_string(),
        ),
        _ => unprocessable(e.to_string()),
    }
}

/// The export form, with the last seven days of the fleet's calendar.
fn export_form(state: &AppState) -> Markup {
    let today = state.config.time_zone.date_of(state.now());
    let week_ago = crate::domain::zone::days_before(&today, 6);
    html! {
        h2 id="export" { "Export deliveries" }
        p {
            "Every accepted delivery record (handed over, or a failed attempt) of a date \
             range, by its delivery day, at most " (MAX_EXPORT_DAYS) " days: the parcel, \
             the courier, how it was verified, who took it, when it was recorded and \
             received (UTC), where, how far from the address, and the SHA-256 of its \
             photos and signature (open them on the parcel's proof of delivery)."
        }
        form method="get" action="/fleet/export/deliveries.csv" {
            label { "From " input type="date" name="from" value=(week_ago) required; }
            " " label { "to " input type="date" name="to" value=(today) required; }
            " " button { "Download CSV" }
        }
    }
}

/// `GET /fleet/export`: the export form alone, for every role (the import page is for the
/// roles that may import).
async fn export_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match console(&state, &headers, Action::View, Some("/fleet/export")).await {
        Ok(c) => c,
        Err(r) => return *r,
    };
    page(
        "Export deliveries",
        html! {
            (signed_in_bar(&console))
            h1 { "Export" }
            (export_form(&state))
            @if console.may(Action::ImportParcels) {
                p { a href="/fleet/import" { "Import parcels from a CSV file" } }
            } @else {
                p {
                    "To " (Action::ImportParcels.describe()) " you need to be "
                    (Action::ImportParcels.who_may()) "."
                }
            }
        },
    )
    .into_response()
}

/// `GET /fleet/import`: the upload form, the columns, the template, the export form.
async fn import_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match console(
        &state,
        &headers,
        Action::ImportParcels,
        Some("/fleet/import"),
    )
    .await
    {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let all_columns = COLUMNS.iter().map(|c| c.name).collect::<Vec<_>>().join(",");
    page(
        "Import and export",
        html! {
            (signed_in_bar(&console))
            p { a href="/fleet" { "Back to the console" } }
            h1 { "Import parcels from a CSV file" }
            p {
                "Each row is a parcel, as a shipper would send it to " code { "POST /v1/parcels" }
                ": the same checks, the same code policy, the same message to the customer. \
                 Uploading shows a preview first — every row's errors, or what would be \
                 imported — and stores nothing; the parcels are stored when you confirm, all \
                 of them or none. A row whose barcode is already stored is skipped as \
                 “already imported”, so the same file can be imported again safely."
            }
            form method="post" enctype="multipart/form-data"
                action={ "/fleet/import?csrf=" (console.csrf) } {
                label { "CSV file " input type="file" name="file" accept=".csv,text/csv" required; }
                " " button { "Preview" }
            }
            h2 id="columns" { "The file" }
            p {
                "UTF-8 text, comma- (or semicolon-) separated, at most "
                (MAX_BYTES / (1024 * 1024)) " MiB and " (MAX_ROWS) " rows. The first row is the \
                 header; columns may come in any order, and only these are known. The shipper: \
                 the " code { "shipper" } " column names it; it may be left out while the fleet \
                 has one shipper (the demo's “Demo Shop”), whose parcels they then are. \
                 Row numbers in the messages are the spreadsheet's (the header is row 1)."
            }
            p { "The shortest header: " code data-example-header { (rules::example_header()) } }
            p { "Every column: " code { (all_columns) } " — " a href="/fleet/import/template.csv" download { "download a template" } }
            table data-columns {
                tr { th { "column" } th { "needed" } th { "what" } }
                @for c in COLUMNS {
                    tr { td { code { (c.name) } } td { (if c.required { "yes" } else { "no" }) } td { (c.what) } }
                }
            }
            (export_form(&state))
        },
    )
    .into_response()
}

/// `GET /fleet/import/template.csv`: the header of every column and one example row.
async fn template(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = console(&state, &headers, Action::View, Some("/fleet/import")).await {
        return *r;
    }
    let header: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
    let example = COLUMNS.iter().map(|c| c.example.to_string()).collect();
    csv_download(
        "parcels-template.csv",
        crate::render::csv::document(&header, [example]),
    )
}

/// One row of the file, as the preview and the result show it.
struct Line {
    line: u64,
    barcode: String,
    recipient: String,
    date: String,
    errors: Vec<FieldError>,
    outcome: Option<ImportOutcome>,
}

/// A file read and checked: every row, and the rows that pass (each with its index in
/// `lines`).
struct Plan {
    lines: Vec<Line>,
    rows: Vec<ImportRow>,
    at: Vec<usize>,
}

impl Plan {
    fn errors(&self) -> usize {
        self.lines.iter().filter(|l| !l.errors.is_empty()).count()
    }
    fn count(&self, f: fn(&ImportOutcome) -> bool) -> usize {
        self.lines
            .iter()
            .filter(|l| l.errors.is_empty() && l.outcome.as_ref().is_some_and(f))
            .count()
    }
    fn new_count(&self) -> usize {
        self.count(|o| matches!(o, ImportOutcome::New(_)))
    }
    fn already_count(&self) -> usize {
        self.count(|o| matches!(o, ImportOutcome::AlreadyImported(_)))
    }
    /// The store's answer for each passing row.
    fn apply(&mut self, outcomes: Vec<ImportOutcome>) {
        for (i, o) in self.at.iter().zip(outcomes) {
            let line = &mut self.lines[*i];
            if let ImportOutcome::Refused(m) = &o {
                let field = rules::field_of(m);
                line.errors.push(FieldError {
                    field: field.into(),
                    message: m.clone(),
                });
            }
            line.outcome = Some(o);
        }
    }
}

/// Reads and checks a file by the API's rules and finds each row's shipper.
async fn plan(state: &AppState, bytes: Vec<u8>) -> Result<Plan, ApiError> {
    let rows = tokio::task::spawn_blocking(move || rules::read(&bytes))
        .await
        .map_err(|_| ApiError::from(crate::store::StoreError::TaskFailed))?
        .map_err(|e| file_refused(&e))?;
    if rows.is_empty() {
        return Err(unprocessable(
            "the file has a header but no parcel row; add a row per parcel under the header",
        ));
    }
    let shippers = db(state, |s| s.shippers()).await?;
    let mut plan = Plan {
        lines: Vec::with_capacity(rows.len()),
        rows: Vec::new(),
        at: Vec::new(),
    };
    for row in rows {
        let mut errors = Vec::new();
        let shipper = rules::shipper_of(&row.shipper, &shippers)
            .map_err(|e| errors.push(e))
            .ok();
        let (recipient, date) = match &row.parcel {
            Ok(p) => (p.name.clone(), p.delivery_date.clone()),
            Err(_) => (String::new(), String::new()),
        };
        match row.parcel {
            Err(e) => errors.extend(e),
            Ok(parcel) => {
                if let Some(shipper_id) = shipper.filter(|_| errors.is_empty()) {
                    plan.at.push(plan.lines.len());
                    plan.rows.push(ImportRow {
                        line: row.line,
                        shipper_id,
                        parcel,
                    });
                }
            }
        }
        plan.lines.push(Line {
            line: row.line,
            barcode: row.barcode,
            recipient,
            date,
            errors,
            outcome: None,
        });
    }
    Ok(plan)
}

/// The keyed hash that binds a previewed file to the session that previewed it.
fn file_mac(state: &AppState, csrf: &str, content: &[u8]) -> String {
    let digest = hex::encode(sha256(content));
    hex::encode(state.store.secrets().mac(&[
        b"doorstep csv import v1",
        csrf.as_bytes(),
        digest.as_bytes(),
    ]))
}

/// The uploaded `file` field (at most [`MAX_BYTES`]).
async fn uploaded_file(form: Result<Multipart, MultipartRejection>) -> Result<Vec<u8>, ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, m);
    let mut form = form.map_err(|e| {
        bad(format!(
            "send the file with the page's upload form (multipart/form-data): {e}"
        ))
    })?;
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("the upload could not be read: {e}")))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| bad(format!("the upload could not be read: {e}")))?
        {
            if bytes.len() + chunk.len() > MAX_BYTES {
                return Err(file_refused(&FileError::TooLarge));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(bytes);
    }
    Err(unprocessable(
        "choose a CSV file to upload (the form's file field was empty)",
    ))
}

/// `POST /fleet/import` (multipart, the CSRF token in the address): the preview. Stores
/// nothing.
async fn preview(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Extension(deadline): Extension<RequestDeadline>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let console =
        match signed_upload(&state, &headers, query.as_deref(), Action::ImportParcels).await {
            Ok(c) => c,
            Err(r) => return *r,
        };
    deadline.extend(IMPORT_TIME);
    let content = match uploaded_file(form).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let mut plan = match plan(&state, content.clone()).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let rows = plan.rows.clone();
    match db(&state, move |s| s.import_preview(&rows)).await {
        Ok(outcomes) => plan.apply(outcomes),
        Err(e) => return e.into_response(),
    }
    let mac = file_mac(&state, &console.csrf, &content);
    let (new, errors) = (plan.new_count(), plan.errors());
    page(
        "Import preview",
        html! {
            (signed_in_bar(&console))
            p { a href="/fleet/import" { "Back to import and export" } }
            h1 { "Import preview" }
            (summary(&plan))
            @if errors > 0 {
                p class="warn" role="alert" data-import-errors=(errors) {
                    "Nothing was stored. " (errors) " of " (plan.lines.len())
                    " rows have errors (listed below, by their row in the spreadsheet); fix them \
                     and upload the file again."
                }
            } @else if new == 0 {
                p role="status" data-nothing-new { "Every parcel of this file is already imported; there is nothing to store." }
            } @else {
                form method="post" action="/fleet/import/confirm" {
                    (csrf_field(&console.csrf))
                    input type="hidden" name="mac" value=(mac);
                    input type="hidden" name="file"
                        value=(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&content));
                    p { "Nothing is stored yet. The parcels are checked again when you confirm (the file is the one previewed: SHA-256 "
                        code { (hex::encode(sha256(&content))) } ")." }
                    button data-confirm=(new) { "Confirm import of " (new) " parcels" }
                }
            }
            (lines_table(&plan, false))
        },
    )
    .into_response()
}

fn summary(plan: &Plan) -> Markup {
    html! {
        p role="status" data-rows=(plan.lines.len()) data-new=(plan.new_count())
            data-already=(plan.already_count()) data-errors=(plan.errors()) {
            (plan.lines.len()) " rows: " (plan.new_count()) " new, " (plan.already_count())
            " already imported, " (plan.errors()) " with errors."
        }
    }
}

fn lines_table(plan: &Plan, done: bool) -> Markup {
    html! {
        table data-import-rows {
            tr { th { "row" } th { "barcode" } th { "recipient" } th { "day" } th { "result" } }
            @for l in &plan.lines {
                tr data-row=(l.line) {
                    td { (l.line) }
                    td { (l.barcode) }
                    td { (l.recipient) }
                    td { (l.date) }
                    @if !l.errors.is_empty() {
                        td data-result="error" {
                            ul {
                                @for e in &l.errors {
                                    li data-field=(e.field) { code { (e.field) } ": " (e.message) }
                                }
                            }
                        }
                    } @else {
                        @match &l.outcome {
                            Some(ImportOutcome::New(Some(id))) if done => {
                                td data-result="imported" { "imported — " a href={ "/fleet/parcels/" (id) } { "proof of delivery" } }
                            }
                            Some(ImportOutcome::AlreadyImported(id)) => {
                                td data-result="already" { "already imported — " a href={ "/fleet/parcels/" (id) } { "the parcel" } }
                            }
                            _ => { td data-result="new" { "new" } }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /fleet/import/confirm`: checks that the file is the one previewed, reads and checks it
/// again (the stored parcels may have changed), then stores every new parcel in one
/// transaction, or none.
async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Extension(deadline): Extension<RequestDeadline>,
    body: Bytes,
) -> Response {
    let console = match signed_form(&state, &headers, &body, Action::ImportParcels).await {
        Ok(c) => c,
        Err(r) => return *r,
    };
    deadline.extend(IMPORT_TIME);
    let not_previewed = || {
        unprocessable(
            "this is not the file that was previewed (it was changed after the preview, or the \
             preview is from another session); nothing was stored — upload the file again",
        )
        .into_response()
    };
    let content = match form_value(&body, "file").and_then(|f| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(f)
            .ok()
    }) {
        Some(c) => c,
        None => return not_previewed(),
    };
    let given = form_value(&body, "mac").unwrap_or_default();
    let expected = file_mac(&state, &console.csrf, &content);
    if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return not_previewed();
    }
    let mut plan = match plan(&state, content.clone()).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let stored = if plan.errors() == 0 {
        let rows = std::mem::take(&mut plan.rows);
        let (actor, now) = (console.user.actor(), state.now());
        let digest = hex::encode(sha256(&content));
        let report = match db(&state, move |s| {
            s.import_parcels(&rows, &actor, &digest, now)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        };
        plan.apply(report.outcomes);
        report.stored
    } else {
        false
    };
    if !stored {
        let mut r = page(
            "Import refused",
            html! {
                (signed_in_bar(&console))
                p { a href="/fleet/import" { "Back to import and export" } }
                h1 { "Import refused" }
                p class="warn" role="alert" data-import-errors=(plan.errors()) {
                    "Nothing was stored: " (plan.errors()) " rows have errors now (the stored \
                     parcels changed since the preview). Fix them and upload the file again."
                }
                (lines_table(&plan, false))
            },
        )
        .into_response();
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return r;
    }
    state.outbox_wake.notify_one();
    let new = plan.new_count();
    tracing::info!(parcels = new, "parcels imported from a CSV file");
    page(
        "Parcels imported",
        html! {
            (signed_in_bar(&console))
            p { a href="/fleet/import" { "Back to import and export" } " · " a href="/fleet" { "Console" } }
            h1 { "Parcels imported" }
            p role="status" data-imported=(new) data-already=(plan.already_count()) {
                (new) " parcels imported, " (plan.already_count()) " already imported before (skipped). \
                 Their customers get their codes as for parcels from the shipper API."
            }
            (lines_table(&plan, true))
        },
    )
    .into_response()
}

#[derive(serde::Deserialize)]
struct ExportQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of Unix ms.
fn utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// `GET /fleet/export/deliveries.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`: one row per accepted
/// delivery record and parcel whose delivery day is in the range.
async fn export_deliveries(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ExportQuery>,
) -> Response {
    if let Err(r) = console(&state, &headers, Action::View, Some("/fleet/import")).await {
        return *r;
    }
    let (from, to) = match rules::export_range(q.from.as_deref(), q.to.as_deref()) {
        Ok(r) => r,
        Err(m) => return unprocessable(m).into_response(),
    };
    let (f, t) = (from.clone(), to.clone());
    let rows = match db(&state, move |s| {
        s.deliveries_between(&f, &t, MAX_EXPORT_ROWS + 1)
    })
    .await
    {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if rows.len() > MAX_EXPORT_ROWS as usize {
        return unprocessable(format!(
            "{from} to {to} has more than {MAX_EXPORT_ROWS} records; export a shorter range"
        ))
        .into_response();
    }
    let header = [
        "delivery_date",
        "barcode",
        "parcel_id",
        "recipient",
        "address",
        "postal_code",
        "courier",
        "kind",
        "status",
        "parcel_status",
        "method",
        "place",
        "taken_by",
        "verification",
        "reason",
        "recorded_utc",
        "received_utc",
        "lat",
        "lon",
        "accuracy_m",
        "distance_m",
        "photo_sha256",
        "signature_sha256",
        "record_id",
        "device_id",
        "chain",
    ];
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let lines = rows.into_iter().map(|d| {
        let r = &d.record;
        let distance = r
            .location
            .zip(d.stop_location)
            .map(|(at, stop)| stop.distance_m(at));
        vec![
            d.delivery_date.clone(),
            d.barcode.clone(),
            d.parcel_id.clone(),
            d.recipient_name.clone(),
            d.address.clone(),
            d.postal_code.clone(),
            r.courier.clone(),
            r.kind.clone(),
            r.status.clone(),
            d.parcel_status.clone(),
            opt(&r.method),
            opt(&r.place),
            opt(&r.recipient_name),
            opt(&r.verification),
            opt(&r.reason),
            utc(r.occurred_at_ms),
            utc(r.received_at_ms),
            r.location
                .map(|l| format!("{:.6}", l.lat))
                .unwrap_or_default(),
            r.location
                .map(|l| format!("{:.6}", l.lon))
                .unwrap_or_default(),
            r.accuracy_m.map(|a| format!("{a:.0}")).unwrap_or_default(),
            distance.map(|m| format!("{m:.0}")).unwrap_or_default(),
            r.photos.join(" "),
            opt(&r.signature),
            r.event_id.clone(),
            r.device_id.clone(),
            r.chain.clone(),
        ]
    });
    let doc = crate::render::csv::document(&header, lines);
    csv_download(&format!("deliveries-{from}-to-{to}.csv"), doc)
}
