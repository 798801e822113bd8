//! The fleet page's view of what happened at the doors beyond handovers (issue 11): each
//! courier's van at the end of the day (delivered, to try again, going back, checked in at the
//! depot, missing), the parcels couriers reported as not on their route (with "Put on their
//! route"), and the corrections couriers made of a handover.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use doorstep_protocol::EventId;

use crate::http::AppState;
use crate::http::db;
use crate::http::pages::{csrf_token, esc, fleet_action, format_time};
use crate::store::{Store, StoreError};

/// The forms' routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/fleet/unexpected/{id}/assign", post(assign))
        .layer(axum::middleware::map_response(
            crate::http::pages::error_pages,
        ))
}

/// The three sections for `date`.
pub(crate) async fn section(state: &AppState, date: &str) -> String {
    let d = date.to_string();
    let read = db(state, move |s| {
        Ok((
            s.van_reconciliation(&d)?,
            s.unexpected_parcels(&d)?,
            s.corrections(&d)?,
        ))
    })
    .await;
    let Ok((vans, unexpected, corrections)) = read else {
        return "<h2 id=vans>Vans</h2><p>Could not be read; see the server log.</p>".into();
    };
    let list = |items: &[String]| {
        if items.is_empty() {
            "—".to_string()
        } else {
            items.iter().map(|b| esc(b)).collect::<Vec<_>>().join(", ")
        }
    };
    let vans_html = if vans.is_empty() {
        "<p>No route on this day.</p>".to_string()
    } else {
        let rows: String = vans
            .iter()
            .map(|v| {
                format!(
                    "<tr data-van=\"{name}\"><td>{name}</td><td>{delivered}</td><td>{reattempt}</td><td>{returning}</td>\
                     <td>{checked}</td><td class=missing>{missing}</td><td>{extra}</td><td>{at}</td></tr>",
                    name = esc(&v.courier_name),
                    delivered = v.delivered,
                    reattempt = v.reattempt,
                    returning = v.returning,
                    checked = list(&v.checked_in),
                    missing = if v.checked_in_at.is_some() {
                        list(&v.missing)
                    } else {
                        format!("{} expected back", v.missing.len())
                    },
                    extra = list(&v.extra),
                    at = v
                        .checked_in_at
                        .map(|ms| format_time(ms / 1000))
                        .unwrap_or_else(|| "not yet".into()),
                )
            })
            .collect();
        format!(
            "<table><tr><th>courier</th><th>delivered</th><th>again next day</th><th>going back</th>\
             <th>checked in at the depot</th><th>missing</th><th>not expected</th><th>check-in</th></tr>{rows}</table>"
        )
    };
    let csrf = esc(&csrf_token(state));
    let unexpected_html = if unexpected.is_empty() {
        "<p>None reported.</p>".to_string()
    } else {
        let rows: String = unexpected
            .iter()
            .map(|u| {
                let action = match (&u.assigned_at, &u.known_parcel) {
                    (Some(at), _) => format!("on {}'s route since {}", esc(&u.courier_name), format_time(at / 1000)),
                    (None, Some(_)) => format!(
                        "<form method=post action=\"/fleet/unexpected/{id}/assign\"><input type=hidden name=csrf value=\"{csrf}\">\
                         <button>Put on {name}'s route</button></form>",
                        id = esc(&u.event_id),
                        name = esc(&u.courier_name),
                    ),
                    (None, None) => "not a parcel the fleet knows: ask the shipper".into(),
                };
                format!(
                    "<tr data-unexpected=\"{id}\"><td>{barcode}</td><td>{courier}</td><td>{day}</td><td>{route}</td>\
                     <td>{photo}</td><td>{note}</td><td>{action}</td></tr>",
                    id = esc(&u.event_id),
                    barcode = esc(&u.barcode),
                    courier = esc(&u.courier_name),
                    day = esc(&u.report_date),
                    route = esc(u.on_route_of.as_deref().unwrap_or("—")),
                    photo = if u.photo_sha256.is_some() { "yes" } else { "no" },
                    note = esc(u.note.as_deref().unwrap_or("")),
                )
            })
            .collect();
        format!(
            "<table><tr><th>label</th><th>found by</th><th>day</th><th>on the route of</th><th>photo</th>\
             <th>note</th><th></th></tr>{rows}</table>"
        )
    };
    let corrections_html = if corrections.is_empty() {
        "<p>None.</p>".to_string()
    } else {
        let rows: String = corrections
            .iter()
            .map(|c| {
                format!(
                    "<tr data-correction=\"{id}\"><td>{courier}</td><td>{reason}</td><td>{parcels}</td>\
                     <td>{corrects}</td><td>{note}</td><td>{at}</td></tr>",
                    id = esc(&c.event_id),
                    courier = esc(&c.courier_name),
                    reason = match c.reason.as_str() {
                        "wrong_door" => "handed to the wrong door",
                        "not_handed_over" => "not handed over",
                        _ => "other",
                    },
                    parcels = list(&c.barcodes),
                    corrects = esc(&c.corrects),
                    note = esc(c.note.as_deref().unwrap_or("")),
                    at = format_time(c.received_at_ms / 1000),
                )
            })
            .collect();
        format!(
            "<table><tr><th>courier</th><th>what was wrong</th><th>parcels</th><th>corrects record</th>\
             <th>note</th><th>received</th></tr>{rows}</table>"
        )
    };
    format!(
        "<h2 id=vans>Vans at the end of the day</h2><p>Parcels that were not delivered come back \
         in the van; the depot check-in scans them. Missing ones are not in the van: look for them.</p>{vans_html}\
         <h2 id=unexpected>Parcels not on the route</h2><p>Reported by couriers. &ldquo;Put on the \
         route&rdquo; moves the parcel's stop to the courier who has it; their app shows it at the \
         next refresh.</p>{unexpected_html}\
         <h2 id=corrections>Corrections</h2><p>Handovers the courier corrected the same day; the \
         parcels are to be delivered again and the shipper was told.</p>{corrections_html}"
    )
}

/// `POST /fleet/unexpected/{id}/assign`.
async fn assign(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fn put_on_route(s: &Store, id: EventId, actor: &str, now: i64) -> Result<(), StoreError> {
        s.assign_unexpected(&id.to_string(), actor, now)
    }
    fleet_action(
        state,
        id,
        headers,
        body,
        "report",
        "/fleet#unexpected",
        put_on_route,
    )
    .await
}
