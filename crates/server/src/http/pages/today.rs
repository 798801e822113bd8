//! The console's landing page, Today: every stop of a delivery day coloured by its state and
//! each courier's last known position on a map, and per courier the route's progress (done,
//! failed, left, last record, last sync). The map is drawn by `/assets/console/today.js`
//! (MapLibre) from `/fleet/today.json`, which it reads again every 20 seconds; without
//! JavaScript or WebGL the page is the same data as lists: the progress table here, and each
//! courier's stops in route order at `/fleet/today/{courier}` (`none`: stops on no route).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use doorstep_protocol::wire::ErrorCode;
use maud::{Markup, html};
use serde::Serialize;

use crate::domain::accounts::Action;
use crate::domain::today::StopState;
use crate::http::pages::accounts::signed_in_bar;
use crate::http::pages::forms::{Console, age_text, console, error_pages, format_time};
use crate::http::pages::proofs;
use crate::http::{ApiError, AppState, StrictQuery, db};
use crate::render::html::page_with;
use crate::store::{CourierDay, Route, RouteStop, Today, TodayStop};

/// Where the operator's map tiles are (served by `http::assets`).
const MAP_TILES_PATH: &str = "/map/tiles.pmtiles";

/// What the route list calls the stops on no courier's route.
const NO_ROUTE: &str = "none";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(
            Router::new()
                .route("/fleet", get(today_page))
                .route("/fleet/today/{courier}", get(route_page))
                .layer(axum::middleware::map_response(error_pages)),
        )
        .route("/fleet/today.json", get(today_json))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DayQuery {
    date: Option<String>,
}

/// The day asked for (today in the fleet's time zone when none is), or a 400 that says how to
/// write one.
fn day_of(state: &AppState, q: DayQuery) -> Result<String, ApiError> {
    match q.date {
        None => Ok(state.config.time_zone.date_of(state.now())),
        Some(d) if crate::domain::zone::is_date(&d) => Ok(d),
        Some(_) => Err(ApiError::bad_request(
            "the date is not a day: write it as YYYY-MM-DD (e.g. 2026-12-07)",
        )),
    }
}

/// The signed-in console and the day it asks for, read from the store.
async fn read_day(
    state: &AppState,
    headers: &HeaderMap,
    q: DayQuery,
    back: &str,
) -> Result<(Console, Today), Response> {
    let console = console(state, headers, Action::View, Some(back))
        .await
        .map_err(|r| *r)?;
    let date = day_of(state, q).map_err(IntoResponse::into_response)?;
    let today = db(state, move |s| s.today(&date, Route::All))
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((console, today))
}

/// A courier's line of the progress table, in words: the page and the map's script show the
/// same texts (the script rewrites the table from the JSON).
#[derive(Debug, Serialize)]
struct CourierRow<'a> {
    id: &'a str,
    name: &'a str,
    done: usize,
    failed: usize,
    left: usize,
    last_record: String,
    last_sync: String,
    position: String,
}

fn courier_row(c: &CourierDay, now_ms: i64) -> CourierRow<'_> {
    let ago = |ms: i64| format!("{} ago", age_text((now_ms - ms) / 1000));
    CourierRow {
        id: &c.courier_id,
        name: &c.name,
        done: c.progress.done,
        failed: c.progress.failed,
        left: c.progress.left,
        last_record: c.last_record.as_ref().map_or_else(
            || "none today".into(),
            |r| format!("{}, {}", r.kind, ago(r.occurred_at_ms)),
        ),
        last_sync: c
            .last_sync_at
            .map_or_else(|| "never".into(), |s| ago(s * 1000)),
        position: c.position.map_or_else(
            || "unknown".into(),
            |(_, at)| format!("known, {} old", age_text((now_ms - at) / 1000)),
        ),
    }
}

async fn today_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    StrictQuery(q): StrictQuery<DayQuery>,
) -> Response {
    let asked = q.date.clone();
    let (console, today) = match read_day(&state, &headers, q, "/fleet").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = state.now();
    let count = |s: StopState| today.stops.iter().filter(|t| t.state == s).count();
    let unplaced = today.stops.iter().filter(|s| s.at.is_none()).count();
    let no_route = today
        .stops
        .iter()
        .filter(|s| s.courier_id.is_none())
        .count();
    // The day as the address asked for it (none: whichever day it is when the map refreshes).
    let date_query = asked
        .as_deref()
        .map(|d| format!("?date={d}"))
        .unwrap_or_default();
    let body = html! {
        (signed_in_bar(&console))
        h1 { (state.config.fleet_name) " — " (today.date) }
        form method="get" action="/fleet" class="no-print" {
            label { "Day " input type="date" name="date" value=(today.date); }
            button { "Show" }
        }
        (proofs::search_form(""))
        ul class="tiles" aria-label="stops by state" {
            li { "stops" strong data-count="all" { (today.stops.len()) } }
            @for s in StopState::ALL {
                li { span class={ "state state-" (s.as_str()) } { (s.words()) } strong data-count=(s.as_str()) { (count(s)) } }
            }
        }
        h2 { "Map" }
        div class="map-box" {
            div id="map" role="region" aria-label="Map of the day's stops and the couriers' last known positions"
                data-data={ "/fleet/today.json" (date_query) }
                data-worker="/assets/console/maplibre-gl-csp-worker.js"
                data-basemap="/assets/console/world-land.geojson"
                data-tiles=[state.config.map_tiles.as_ref().map(|_| MAP_TILES_PATH)] {}
            noscript { p class="warn notice" { "The map needs JavaScript; the table below has the same data." } }
        }
        ul class="legend" aria-label="legend" {
            @for s in StopState::ALL {
                li class={ "state state-" (s.as_str()) } { (s.words()) }
            }
            li class="state courier-dot" { "a courier's last known position" }
        }
        @if unplaced > 0 {
            p {
                @if unplaced == 1 {
                    "1 stop has no position: it is not on the map, but on its courier's list."
                } @else {
                    (unplaced) " stops have no position: they are not on the map, but on their couriers' lists."
                }
            }
        }
        h2 { "Couriers" }
        div class="table-scroll" tabindex="0" role="region" aria-label="Couriers' progress" {
            table id="progress" {
                thead {
                    tr {
                        th scope="col" { "courier" } th scope="col" class="num" { "done" }
                        th scope="col" class="num" { "failed" } th scope="col" class="num" { "left" }
                        th scope="col" { "last record" } th scope="col" { "last sync" }
                        th scope="col" { "last known position" }
                    }
                }
                tbody {
                    @for c in &today.couriers {
                        @let row = courier_row(c, now);
                        tr data-courier=(row.id) {
                            td { a href={ "/fleet/today/" (row.id) (date_query) } { (row.name) } }
                            td class="num" data-field="done" { (row.done) }
                            td class="num" data-field="failed" { (row.failed) }
                            td class="num" data-field="left" { (row.left) }
                            td data-field="last_record" { (row.last_record) }
                            td data-field="last_sync" { (row.last_sync) }
                            td data-field="position" { (row.position) }
                        }
                    }
                }
            }
        }
        @if today.couriers.is_empty() {
            p { "No courier has a stop on this day." }
        }
        @if no_route > 0 {
            p { a href={ "/fleet/today/" (NO_ROUTE) (date_query) } { (no_route) " stops are on no courier's route" } "." }
        }
        @if console.demo {
            h2 { "Demo" }
            p {
                a href="/dev/outbox" { "Development outbox" } " · "
                a href={ "/dev/labels?date=" (today.date) } { "Labels" } " · "
                a href="/v1/openapi.json" { "API" }
            }
        }
    };
    let mut scripts = vec!["/assets/console/maplibre-gl-csp.js"];
    if state.config.map_tiles.is_some() {
        scripts.push("/assets/console/pmtiles.js");
    }
    scripts.push("/assets/console/today.js");
    axum::response::Html(
        page_with(
            "Today",
            &["/assets/console/maplibre-gl.css"],
            &scripts,
            body,
        )
        .into_string(),
    )
    .into_response()
}

/// A GeoJSON feature collection of points.
#[derive(Serialize)]
struct Features<P> {
    r#type: &'static str,
    features: Vec<Feature<P>>,
}

#[derive(Serialize)]
struct Feature<P> {
    r#type: &'static str,
    geometry: Geometry,
    properties: P,
}

#[derive(Serialize)]
struct Geometry {
    r#type: &'static str,
    /// Longitude, latitude (GeoJSON's order).
    coordinates: [f64; 2],
}

fn features<T, P>(
    items: impl IntoIterator<Item = T>,
    f: impl Fn(T) -> Option<(crate::store::Point, P)>,
) -> Features<P> {
    Features {
        r#type: "FeatureCollection",
        features: items
            .into_iter()
            .filter_map(f)
            .map(|(at, properties)| Feature {
                r#type: "Feature",
                geometry: Geometry {
                    r#type: "Point",
                    coordinates: [at.lon, at.lat],
                },
                properties,
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct StopProps<'a> {
    stop: &'a str,
    state: &'static str,
    courier: &'a str,
    seq: i64,
    address: &'a str,
}

#[derive(Serialize)]
struct PositionProps<'a> {
    courier: &'a str,
    name: &'a str,
    age: String,
}

#[derive(Serialize)]
struct TodayJson<'a> {
    date: &'a str,
    stops: Features<StopProps<'a>>,
    positions: Features<PositionProps<'a>>,
    couriers: Vec<CourierRow<'a>>,
}

/// `GET /fleet/today.json?date=`: what the map draws — the day's stops that have a position
/// (GeoJSON, with their state), the couriers' last known positions, and the progress table's
/// rows.
async fn today_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    StrictQuery(q): StrictQuery<DayQuery>,
) -> Response {
    let (_, today) = match read_day(&state, &headers, q, "/fleet").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = state.now();
    let names: std::collections::HashMap<&str, &str> = today
        .couriers
        .iter()
        .map(|c| (c.courier_id.as_str(), c.name.as_str()))
        .collect();
    let json = TodayJson {
        date: &today.date,
        stops: features(&today.stops, |s: &TodayStop| {
            Some((
                s.at?,
                StopProps {
                    stop: &s.stop_id,
                    state: s.state.as_str(),
                    courier: s
                        .courier_id
                        .as_deref()
                        .and_then(|c| names.get(c).copied())
                        .unwrap_or("no route"),
                    seq: s.sequence,
                    address: &s.address,
                },
            ))
        }),
        positions: features(&today.couriers, |c: &CourierDay| {
            let (at, when) = c.position?;
            Some((
                at,
                PositionProps {
                    courier: &c.courier_id,
                    name: &c.name,
                    age: age_text((now - when) / 1000),
                },
            ))
        }),
        couriers: today.couriers.iter().map(|c| courier_row(c, now)).collect(),
    };
    Json(json).into_response()
}

/// `GET /fleet/today/{courier}?date=`: a courier's stops of the day in route order, each with
/// its state and parcels (`none`: the stops on no route) — the map's data as a list.
async fn route_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(courier): Path<String>,
    StrictQuery(q): StrictQuery<DayQuery>,
) -> Response {
    let console = match console(&state, &headers, Action::View, Some("/fleet")).await {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let date = match day_of(&state, q) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    // The route alone: its stops with their recipients and parcels, and its courier's day.
    let (d, id) = (date.clone(), courier.clone());
    let read = db(&state, move |s| {
        let route = if id == NO_ROUTE {
            Route::None
        } else {
            Route::Of(&id)
        };
        let name = match route {
            Route::Of(id) => s
                .couriers()?
                .into_iter()
                .find(|(c, _)| c == id)
                .map(|(_, n)| n),
            _ => Some("No route".to_string()),
        };
        Ok((name, s.route_stops(&d, route)?, s.today(&d, route)?))
    })
    .await;
    let (name, stops, today) = match read {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let Some(name) = name else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such courier: open a route from the Today page",
        )
        .into_response();
    };
    let day = today.couriers.first();
    let body = html! {
        (signed_in_bar(&console))
        p class="no-print" { a href={ "/fleet?date=" (date) } { "← Today" } }
        h1 { (name) " — " (date) }
        @if let Some(c) = day {
            @let row = courier_row(c, state.now());
            p {
                (row.done) " done, " (row.failed) " failed, " (row.left) " left · last record: "
                (row.last_record) " · last sync: " (row.last_sync)
                @if let Some((at, when)) = c.position {
                    " · last known position " (format!("{:.5}, {:.5}", at.lat, at.lon))
                    " at " (format_time(when / 1000))
                }
            }
        }
        (stop_table(&stops))
    };
    axum::response::Html(page_with(&format!("Route of {name}"), &[], &[], body).into_string())
        .into_response()
}

/// Stops in route order with their state and parcels (each opening its proof of delivery).
fn stop_table(stops: &[RouteStop]) -> Markup {
    html! {
        @if stops.is_empty() {
            p { "No stops." }
        } @else {
            div class="table-scroll" tabindex="0" role="region" aria-label="Stops in route order" {
                table id="stops" {
                    thead {
                        tr {
                            th scope="col" class="num" { "#" } th scope="col" { "recipient" }
                            th scope="col" { "address" } th scope="col" { "parcels" } th scope="col" { "state" }
                        }
                    }
                    tbody {
                        @for r in stops {
                            @let s = &r.stop;
                            tr data-stop=(s.stop_id) data-state=(s.state.as_str()) {
                                td class="num" { (s.sequence) }
                                td { (r.recipient_name) }
                                td {
                                    (s.address)
                                    @if s.at.is_none() { br; small { "no position" } }
                                }
                                td {
                                    @for (i, (id, barcode)) in r.parcels.iter().enumerate() {
                                        @if i > 0 { br; }
                                        a href={ "/fleet/parcels/" (id) } { (barcode) }
                                    }
                                }
                                td { span class={ "state state-" (s.state.as_str()) } { (s.state.words()) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
