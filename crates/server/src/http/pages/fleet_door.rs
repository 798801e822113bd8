//! The fleet page's view of what happened at the doors beyond handovers: each
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
use maud::{Markup, html};

use crate::domain::accounts::Action;
use crate::http::AppState;
use crate::http::db;
use crate::http::pages::forms::{
    Console, IdForm, csrf_field, error_pages, fleet_action, format_time,
};
use crate::store::{CorrectionView, Store, StoreError, UnexpectedParcel, VanReconciliation};

/// The forms' routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/fleet/unexpected/{id}/assign", post(assign))
        .layer(axum::middleware::map_response(error_pages))
}

/// The three sections for `date`.
pub(crate) async fn section(state: &AppState, console: &Console, date: &str) -> Markup {
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
        return html! {
            h2 id="vans" { "Vans" }
            p { "Could not be read; see the server log." }
        };
    };
    let csrf = console
        .may(Action::AssignUnexpected)
        .then_some(console.csrf.as_str());
    html! {
        (vans_section(&vans))
        (unexpected_section(&unexpected, csrf))
        (corrections_section(&corrections))
    }
}

/// Items as a comma-separated list, a dash for none.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        "—".to_string()
    } else {
        items.join(", ")
    }
}

/// Per van: what was delivered, what comes back, and what the depot checked in or misses.
fn vans_section(vans: &[VanReconciliation]) -> Markup {
    html! {
        h2 id="vans" { "Vans at the end of the day" }
        p {
            "Parcels that were not delivered come back in the van; the depot check-in scans \
             them. Missing ones are not in the van: look for them."
        }
        @if vans.is_empty() {
            p { "No route on this day." }
        } @else {
            table {
                tr {
                    th { "courier" } th { "delivered" } th { "again next day" } th { "going back" }
                    th { "checked in at the depot" } th { "missing" } th { "not expected" }
                    th { "check-in" }
                }
                @for v in vans {
                    tr data-van=(v.courier_name) {
                        td { (v.courier_name) }
                        td { (v.delivered) }
                        td { (v.reattempt) }
                        td { (v.returning) }
                        td { (list(&v.checked_in)) }
                        td class="missing" {
                            @if v.checked_in_at.is_some() {
                                (list(&v.missing))
                            } @else {
                                (v.missing.len()) " expected back"
                            }
                        }
                        td { (list(&v.extra)) }
                        td {
                            (v.checked_in_at
                                .map(|ms| format_time(ms / 1000))
                                .unwrap_or_else(|| "not yet".into()))
                        }
                    }
                }
            }
        }
    }
}

/// Parcels couriers found in their van that are not on their route, each with its action.
fn unexpected_section(unexpected: &[UnexpectedParcel], csrf: Option<&str>) -> Markup {
    html! {
        h2 id="unexpected" { "Parcels not on the route" }
        p {
            "Reported by couriers. “Put on the route” moves the parcel's stop to the courier \
             who has it; their app shows it at the next refresh."
        }
        @if unexpected.is_empty() {
            p { "None reported." }
        } @else {
            table {
                tr {
                    th { "label" } th { "found by" } th { "day" } th { "on the route of" }
                    th { "photo" } th { "note" } th {}
                }
                @for u in unexpected {
                    tr data-unexpected=(u.event_id) {
                        td { (u.barcode) }
                        td { (u.courier_name) }
                        td { (u.report_date) }
                        td { (u.on_route_of.as_deref().unwrap_or("—")) }
                        td { (if u.photo_sha256.is_some() { "yes" } else { "no" }) }
                        td { (u.note.as_deref().unwrap_or("")) }
                        td {
                            @match (&u.assigned_at, &u.known_parcel) {
                                (Some(at), _) => {
                                    "on " (u.courier_name) "'s route since " (format_time(at / 1000))
                                }
                                (None, Some(_)) => {
                                    @if let Some(csrf) = csrf {
                                        form method="post" action={ "/fleet/unexpected/" (u.event_id) "/assign" } {
                                            (csrf_field(csrf))
                                            button { "Put on " (u.courier_name) "'s route" }
                                        }
                                    } @else {
                                        "to be put on " (u.courier_name) "'s route"
                                    }
                                }
                                (None, None) => "not a parcel the fleet knows: ask the shipper",
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Handovers corrected the same day.
fn corrections_section(corrections: &[CorrectionView]) -> Markup {
    html! {
        h2 id="corrections" { "Corrections" }
        p {
            "Handovers the courier corrected the same day; the parcels are to be delivered \
             again and the shipper was told."
        }
        @if corrections.is_empty() {
            p { "None." }
        } @else {
            table {
                tr {
                    th { "courier" } th { "what was wrong" } th { "parcels" }
                    th { "corrects record" } th { "note" } th { "received" }
                }
                @for c in corrections {
                    tr data-correction=(c.event_id) {
                        td { (c.courier_name) }
                        td {
                            (match c.reason.as_str() {
                                "wrong_door" => "handed to the wrong door",
                                "not_handed_over" => "not handed over",
                                _ => "other",
                            })
                        }
                        td { (list(&c.barcodes)) }
                        td { (c.corrects) }
                        td { (c.note.as_deref().unwrap_or("")) }
                        td { (format_time(c.received_at_ms / 1000)) }
                    }
                }
            }
        }
    }
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
        IdForm {
            what: "report",
            back: "/fleet/inbox#unexpected",
            may: Action::AssignUnexpected,
            action: put_on_route,
        },
    )
    .await
}
