//! The customer's choice from their page as the UI's views carry it: on the stop of the route
//! and of the handover, and as the method the method screen opens on.
//!
//! The choice is written into the phone's stored manifest, where a manifest refresh puts what
//! the server sends, so these tests hold the phone's side whatever the demo seed chose.

use std::path::Path;

use doorstep_courier::Device;
use doorstep_courier::store::Store;
use doorstep_courier::view::{HandoverView, RouteStop};
use doorstep_protocol::wire::{CustomerChoice, DeliveryMethod, MAX_INSTRUCTIONS_CHARS};
use doorstep_server::DemoParcel;

use crate::helpers::*;

/// The demo stop of two parcels that may go to the recipient, a neighbour or a safe place.
fn two_parcel_stop(server: &TestServer) -> &DemoParcel {
    server.parcel(|p| p.label.contains("two parcels, one stop"))
}

/// A phone in `dir` with today's route, whose stored manifest gives the stop of `parcel`
/// the customer's `choice`.
async fn phone_with_choice(
    server: &TestServer,
    dir: &Path,
    parcel: &DemoParcel,
    choice: Option<CustomerChoice>,
) -> Device {
    let mut config = test_config();
    config.background_sync = false;
    drop(enrolled_device(server, &server.url(), dir, config.clone()).await);

    let store = Store::open(&dir.join("doorstep.sqlite3")).unwrap();
    let stored = store.manifest(&today()).unwrap().expect("today's route");
    let mut manifest = stored.manifest;
    let stop = manifest
        .stops
        .iter_mut()
        .find(|s| s.stop_id == parcel.stop_id)
        .expect("the parcel's stop is on the route");
    stop.customer = choice;
    store
        .save_manifest(&manifest, stored.etag.as_deref(), stored.fetched_at_ms)
        .unwrap();
    drop(store);

    open_device(dir, config).await
}

fn neighbour_ana() -> CustomerChoice {
    CustomerChoice {
        method: Some(DeliveryMethod::Neighbour),
        place: Some("Ana Ruiz, 14".into()),
        instructions: Some("<b>ring twice</b>".into()),
    }
}

fn route_stop(device: &Device, parcel: &DemoParcel) -> RouteStop {
    device
        .route()
        .unwrap()
        .stops
        .into_iter()
        .find(|s| s.stop_id == parcel.stop_id.to_string())
        .expect("the parcel's stop is on the route")
}

/// Scans `parcel`: the stop, the methods offered and the preselected one.
async fn scan(
    device: &Device,
    parcel: &DemoParcel,
) -> (RouteStop, Vec<DeliveryMethod>, Option<DeliveryMethod>) {
    match device.scan_parcel(&parcel.barcode).await.unwrap() {
        HandoverView::Scanning {
            stop,
            methods,
            preselected,
            ..
        } => (
            stop,
            methods.iter().map(|m| m.method).collect(),
            preselected,
        ),
        other => panic!("expected scanning, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_with_a_customer_choice_shows_its_method_place_and_instructions_and_preselects_the_method()
 {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let parcel = two_parcel_stop(&server);
    let device = phone_with_choice(&server, dir.path(), parcel, Some(neighbour_ana())).await;

    assert_eq!(route_stop(&device, parcel).customer, Some(neighbour_ana()));
    let others = device.route().unwrap().stops;
    assert!(
        others
            .iter()
            .filter(|s| s.stop_id != parcel.stop_id.to_string())
            .all(|s| s.customer.is_none()),
        "only the stop the customer chose for carries a choice"
    );

    let (stop, offered, preselected) = scan(&device, parcel).await;
    assert_eq!(
        stop.customer,
        Some(neighbour_ana()),
        "the markup is kept as text"
    );
    assert!(offered.contains(&DeliveryMethod::Neighbour), "{offered:?}");
    assert_eq!(preselected, Some(DeliveryMethod::Neighbour));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_without_a_customer_choice_shows_none_and_preselects_handing_it_to_the_recipient() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let parcel = two_parcel_stop(&server);
    let device = phone_with_choice(&server, dir.path(), parcel, None).await;

    assert_eq!(route_stop(&device, parcel).customer, None);
    let (stop, _, preselected) = scan(&device, parcel).await;
    assert_eq!(stop.customer, None);
    assert_eq!(preselected, Some(DeliveryMethod::HandToRecipient));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_method_the_parcels_do_not_allow_is_still_shown_but_the_default_is_preselected()
{
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let parcel = two_parcel_stop(&server);
    let choice = CustomerChoice {
        method: Some(DeliveryMethod::PickupPoint),
        place: Some("Kiosko Sol, Calle Luna 3".into()),
        instructions: None,
    };
    let device = phone_with_choice(&server, dir.path(), parcel, Some(choice.clone())).await;

    let (stop, offered, preselected) = scan(&device, parcel).await;
    assert!(
        !offered.contains(&DeliveryMethod::PickupPoint),
        "{offered:?}"
    );
    assert_eq!(stop.customer, Some(choice));
    assert_eq!(preselected, Some(DeliveryMethod::HandToRecipient));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_customer_text_is_dropped_and_long_instructions_are_cut_to_the_limit() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let parcel = two_parcel_stop(&server);
    let blank = CustomerChoice {
        method: None,
        place: Some("   ".into()),
        instructions: Some("\n".into()),
    };
    let device = phone_with_choice(&server, dir.path(), parcel, Some(blank)).await;
    assert_eq!(
        route_stop(&device, parcel).customer,
        None,
        "nothing to show is no choice"
    );
    drop(device);

    let dir = tempfile::tempdir().unwrap();
    let long = CustomerChoice {
        method: None,
        place: Some("  Behind the gate ".into()),
        instructions: Some(format!(" {} ", "é".repeat(MAX_INSTRUCTIONS_CHARS + 50))),
    };
    let device = phone_with_choice(&server, dir.path(), parcel, Some(long)).await;
    let shown = route_stop(&device, parcel).customer.unwrap();
    assert_eq!(shown.method, None);
    assert_eq!(shown.place.as_deref(), Some("Behind the gate"));
    assert_eq!(
        shown.instructions.unwrap().chars().count(),
        MAX_INSTRUCTIONS_CHARS
    );
}
