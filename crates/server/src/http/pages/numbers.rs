//! The numbers, for every signed-in role: first attempts, failure reasons, the parcels that
//! needed a code and why, code outcomes, time at the door, offline share and sync delay, over
//! a range of days, by day, courier or postcode area. Plain tables (no JavaScript needed),
//! each one a CSV download too; the same numbers as JSON in the page for the charts, which
//! `/assets/console/numbers.js` (uPlot) draws above each table.

use std::time::Duration;

use axum::Router;
use axum::extract::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, PreEscaped, html};

use crate::domain::accounts::Action;
use crate::domain::numbers::{self as rules, By, Table};
use crate::http::middleware::limits::RequestDeadline;
use crate::http::pages::accounts::signed_in_bar;
use crate::http::pages::forms::{console, csv_download, error_pages};
use crate::http::{ApiError, AppState, StrictQuery, db};
use crate::render::html::page_with;

/// Days shown when the address names none: the last 30, today included.
const DEFAULT_DAYS: i64 = 30;
/// How long a signed-in user's numbers may take: the first read of many closed days rolls
/// each of them up (a fraction of a second a day of 20,000 deliveries), once.
const ROLL_UP_TIME: Duration = Duration::from_secs(300);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/fleet/numbers", get(numbers_page))
        .route("/fleet/numbers.csv", get(numbers_csv))
        .layer(axum::middleware::map_response(error_pages))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NumbersQuery {
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
    table: Option<String>,
}

/// What the address asks for, checked.
struct Asked {
    from: String,
    to: String,
    days: Vec<String>,
    by: By,
}

/// The range and grouping the address asks for (the last 30 days by day, by default), or a
/// 400 that says what is wrong.
fn asked(state: &AppState, q: &NumbersQuery) -> Result<Asked, ApiError> {
    let today = state.config.time_zone.date_of(state.now());
    let from = match &q.from {
        Some(f) => f.clone(),
        None => crate::domain::zone::days_before(&today, DEFAULT_DAYS - 1),
    };
    let to = q.to.clone().unwrap_or(today);
    let days = rules::range(&from, &to).map_err(ApiError::bad_request)?;
    let by = match q.by.as_deref() {
        None | Some("") => By::Day,
        Some(b) => By::parse(b).ok_or_else(|| {
            ApiError::bad_request(format!(
                "the numbers are by day, courier or area, not {b:?}"
            ))
        })?,
    };
    Ok(Asked {
        from: days[0].clone(),
        to: days[days.len() - 1].clone(),
        days,
        by,
    })
}

/// The tables of what was asked for.
async fn tables(state: &AppState, asked: &Asked) -> Result<Vec<Table>, ApiError> {
    let now = state.now();
    let today = state.config.time_zone.date_of(now);
    let days = asked.days.clone();
    let found = db(state, move |s| s.numbers(&days, &today, now)).await?;
    let grouped = rules::group(
        found.cells.iter().map(|(d, k, c)| (d.as_str(), k, c)),
        asked.by,
    );
    Ok(rules::tables(&rules::named_rows(
        grouped,
        asked.by,
        &found.couriers,
    )))
}

/// One sentence per table: what its numbers are (the README has the full definitions).
fn definition(id: &str) -> &'static str {
    match id {
        "attempts" => {
            "Each parcel counts once, at its first attempt (its first accepted delivery or \
             failed-attempt record): the rate is the share of those first attempts that \
             delivered it."
        }
        "failures" => "Accepted failed-attempt records, by the reason the courier gave.",
        "codes_needed" => {
            "Parcels on the days' routes, how many the policy asked a code for, and which \
             rules asked (a parcel can have more than one)."
        }
        "code_outcomes" => {
            "Per stop that needed a code: handed over with a typed code and no wrong code \
             (right first time); typos the check digit caught on the phone, as phones report \
             them; wrong codes the server counted; locks; codes replaced by a resend or by \
             the fleet."
        }
        "door" => "From the first scan of a handover to its record, as the phone reports it.",
        "offline" => {
            "Accepted deliveries by how the code was checked; the offline share is the code \
             typed offline or the customer's QR, of all three."
        }
        "sync" => "From recording on the phone to arrival at the server, every record.",
        _ => "",
    }
}

/// The numbers as JSON for the charts: safe inside a `<script>` element (no `<`, `>`, `&`).
fn chart_data(asked: &Asked, tables: &[Table]) -> String {
    let data = serde_json::json!({
        "by": asked.by.as_str(),
        "from": asked.from,
        "to": asked.to,
        "tables": tables.iter().map(|t| serde_json::json!({
            "id": t.id,
            "title": t.title,
            "columns": t.columns,
            "rows": t.rows.iter().map(|(key, nums)| serde_json::json!({
                "key": key,
                "values": nums.iter().map(|n| n.json()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    data.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn address(asked: &Asked, path: &str, table: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("from", &asked.from)
        .append_pair("to", &asked.to)
        .append_pair("by", asked.by.as_str());
    if let Some(t) = table {
        q.append_pair("table", t);
    }
    format!("{path}?{}", q.finish())
}

fn table_html(asked: &Asked, t: &Table) -> Markup {
    let rows = t.text_rows();
    let (body, total) = rows.split_at(rows.len() - 1);
    html! {
        section id={ "numbers-" (t.id) } class="numbers" {
            h2 { (t.title) }
            p { (definition(t.id)) " "
                a href=(address(asked, "/fleet/numbers.csv", Some(t.id))) download { "Download CSV" } }
            div class="chart" data-chart=(t.id) {}
            div class="table-scroll" tabindex="0" role="region" aria-label=(t.title) { table data-numbers-table=(t.id) {
                thead { tr {
                    th scope="col" data-column=(asked.by.as_str()) { (asked.by.as_str()) }
                    @for c in &t.columns { th scope="col" data-column=(c.name) data-unit=(c.unit) { (c.label) } }
                } }
                tbody {
                    @for row in body {
                        tr data-key=(row[0]) {
                            th scope="row" { (row[0]) }
                            @for v in &row[1..] { td { (v) } }
                        }
                    }
                }
                tfoot {
                    @for row in total {
                        tr data-key="total" {
                            th scope="row" { (row[0]) }
                            @for v in &row[1..] { td { (v) } }
                        }
                    }
                }
            } }
        }
    }
}

/// `GET /fleet/numbers?from=YYYY-MM-DD&to=YYYY-MM-DD&by=day|courier|area`.
async fn numbers_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Extension(deadline): Extension<RequestDeadline>,
    StrictQuery(q): StrictQuery<NumbersQuery>,
) -> Response {
    let console = match console(&state, &headers, Action::View, Some("/fleet/numbers")).await {
        Ok(c) => c,
        Err(r) => return *r,
    };
    deadline.extend(ROLL_UP_TIME);
    let asked = match asked(&state, &q) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let tables = match tables(&state, &asked).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let body = html! {
            (signed_in_bar(&console))
            h1 { "Numbers" }
            form method="get" action="/fleet/numbers" class="numbers-range" {
                label { "From " input type="date" name="from" value=(asked.from) required; }
                " " label { "to " input type="date" name="to" value=(asked.to) required; }
                " " label { "by "
                    select name="by" {
                        @for b in [By::Day, By::Courier, By::Area] {
                            option value=(b.as_str()) selected[b == asked.by] { (b.as_str()) }
                        }
                    }
                }
                " " button { "Show" }
            }
            p {
                (asked.days.len()) " days, " (asked.from) " to " (asked.to) ", by " (asked.by.as_str())
                ". Days by their delivery day; postcode areas are the first three letters or \
                 digits of the postal code; times are whole seconds, to the second under a \
                 minute, the minute under an hour, the hour under two days."
            }
            @for t in &tables { (table_html(&asked, t)) }
            script type="application/json" id="numbers-data" { (PreEscaped(chart_data(&asked, &tables))) }
    };
    Html(
        page_with(
            "Numbers",
            &["/assets/console/uPlot.min.css"],
            &[
                "/assets/console/uPlot.iife.min.js",
                "/assets/console/numbers.js",
            ],
            body,
        )
        .into_string(),
    )
    .into_response()
}

/// `GET /fleet/numbers.csv?from=…&to=…&by=…&table=attempts`: one table of the page.
async fn numbers_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Extension(deadline): Extension<RequestDeadline>,
    StrictQuery(q): StrictQuery<NumbersQuery>,
) -> Response {
    if let Err(r) = console(&state, &headers, Action::View, Some("/fleet/numbers")).await {
        return *r;
    }
    deadline.extend(ROLL_UP_TIME);
    let asked = match asked(&state, &q) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let id = q.table.as_deref().unwrap_or_default();
    if !rules::TABLES.contains(&id) {
        return ApiError::bad_request(format!(
            "there is no table {id:?}; the tables are {}",
            rules::TABLES.join(", ")
        ))
        .into_response();
    }
    let tables = match tables(&state, &asked).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let Some(t) = tables.iter().find(|t| t.id == id) else {
        return ApiError::bad_request("no such table").into_response();
    };
    let header: Vec<&str> = std::iter::once(asked.by.as_str())
        .chain(t.columns.iter().map(|c| c.name.as_str()))
        .collect();
    csv_download(
        &format!(
            "numbers-{id}-by-{}-{}-to-{}.csv",
            asked.by.as_str(),
            asked.from,
            asked.to
        ),
        crate::render::csv::document(&header, t.text_rows()),
    )
}
