//! The fleet's release channel as the phone lives it, against the real server and its admin API:
//! an idle phone learns from the manifest that it must update; below the minimum it starts no new
//! stop but still sends what it recorded and still refreshes the manifest, so a lowered minimum
//! frees it; the update link it may open is held to the enrolled server and the app stores.

use doorstep_courier::AppErrorCode;
use doorstep_courier::view::UpdateInfo;
use serde_json::json;

use crate::helpers::*;

/// The fleet manager's side of the release channel (`/v1/admin/releases`, admin token).
struct Releases<'a> {
    server: &'a TestServer,
    http: reqwest::Client,
}

impl<'a> Releases<'a> {
    fn of(server: &'a TestServer) -> Self {
        Self {
            server,
            http: reqwest::Client::new(),
        }
    }

    /// Publishes a Linux release that is a link (`url`), offered to every device, as the fleet
    /// manager does on the server (`doorstep-server release publish`).
    async fn publish_link(&self, version: &str, url: &str) {
        use doorstep_server::ops::releases::{ReleaseOp, run};
        let config = self.server.config.clone();
        let op = ReleaseOp::Publish {
            platform: doorstep_protocol::wire::Platform::Linux,
            version: doorstep_server::domain::releases::parse_version(version).unwrap(),
            file: None,
            url: Some(url.to_string()),
            rollout_percent: 100,
        };
        tokio::task::spawn_blocking(move || run(&config, op))
            .await
            .unwrap()
            .expect("publish");
    }

    /// Sets (or, with `None`, clears) the Linux minimum version.
    async fn set_minimum(&self, minimum: Option<&str>) {
        let answer = self
            .http
            .put(format!(
                "{}/v1/admin/releases/linux/minimum",
                self.server.url()
            ))
            .bearer_auth(&self.server.seed.admin_token)
            .json(&json!({ "minimum": minimum }))
            .send()
            .await
            .unwrap();
        let status = answer.status();
        assert!(
            status.is_success(),
            "minimum: {status} {}",
            answer.text().await.unwrap()
        );
    }
}

/// A link on the server's own host (release links point to the stores, the server or a listed host).
const LINK: &str = "https://127.0.0.1/doorstep-9.0.0.AppImage";

fn update(device: &doorstep_courier::Device) -> Option<UpdateInfo> {
    device.status().unwrap().update
}

/// A device of version 0.1.0 with today's route and no background sync (each sync is by hand).
async fn device_on(server: &TestServer, dir: &std::path::Path) -> doorstep_courier::Device {
    let mut config = test_config();
    config.background_sync = false;
    enrolled_device(server, &server.url(), dir, config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_phone_learns_at_its_next_manifest_refresh_that_it_must_update_and_still_sends_what_it_recorded()
 {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = device_on(&server, dir.path()).await;
    assert_eq!(update(&device), None, "the fleet publishes nothing yet");
    let parcels: Vec<_> = server.seed.parcels.iter().take(2).collect();
    let recorded = record_not_home(&device, &parcels[0].barcode).await;
    assert_eq!(device.sync_status().pending, 1, "recorded, not sent yet");

    let releases = Releases::of(&server);
    releases.publish_link("9.0.0", LINK).await;
    releases.set_minimum(Some("9.0.0")).await;
    assert_eq!(
        update(&device),
        None,
        "nothing reaches the phone before it asks"
    );

    device.refresh_route().await.unwrap();
    let info = update(&device).expect("the manifest brought the policy");
    assert!(info.required && !info.available, "{info:?}");
    assert_eq!(info.minimum, "9.0.0");
    assert_eq!(info.latest, "9.0.0");
    assert_eq!(info.update_url.as_deref(), Some(LINK));

    let err = device.scan_parcel(&parcels[1].barcode).await.unwrap_err();
    assert_eq!(
        err.code(),
        AppErrorCode::UpdateRequired,
        "no new stop starts"
    );

    let status = device.sync_now().await.unwrap();
    assert_eq!(
        status.pending, 0,
        "the recorded delivery is not stuck: {status:?}"
    );
    let ids = server.event_ids().await;
    assert!(
        ids.contains(&recorded),
        "{recorded} reached the server: {ids:?}"
    );
    assert!(
        update(&device).unwrap().required,
        "the sync answer says the same"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lowered_minimum_frees_the_phone_at_its_next_manifest_refresh_and_an_unchanged_one_is_kept()
 {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = device_on(&server, dir.path()).await;
    let releases = Releases::of(&server);
    releases.publish_link("9.0.0", LINK).await;
    releases.set_minimum(Some("9.0.0")).await;
    device.refresh_route().await.unwrap();
    assert!(update(&device).unwrap().required);

    // Nothing changed: the server answers 304 and the stored policy stays.
    let route = device.refresh_route().await.unwrap();
    assert!(!route.from_cache);
    assert!(update(&device).unwrap().required);

    releases.set_minimum(None).await;
    device.refresh_route().await.unwrap();
    let info = update(&device).unwrap();
    assert!(!info.required, "{info:?}");
    assert!(info.available, "9.0.0 is still offered: {info:?}");
    let parcel = &server.seed.parcels[0];
    device.scan_parcel(&parcel.barcode).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_also_comes_with_a_sync_answer() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = device_on(&server, dir.path()).await;
    record_not_home(&device, &server.seed.parcels[0].barcode).await;
    let releases = Releases::of(&server);
    releases.publish_link("9.0.0", LINK).await;
    releases.set_minimum(Some("9.0.0")).await;

    device.sync_now().await.unwrap();
    assert!(update(&device).is_some_and(|u| u.required));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_links_to_the_enrolled_server_or_an_app_store_are_opened() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().unwrap();
    let device = device_on(&server, dir.path()).await;
    let releases = Releases::of(&server);

    releases.publish_link("9.0.0", LINK).await;
    device.refresh_route().await.unwrap();
    let err = device.update_link().unwrap_err();
    assert_eq!(
        err.code(),
        AppErrorCode::UpdateUrlRefused,
        "example.com is neither"
    );

    let store = "https://apps.apple.com/app/doorstep/id123456789";
    releases.publish_link("9.1.0", store).await;
    device.refresh_route().await.unwrap();
    assert_eq!(update(&device).unwrap().latest, "9.1.0");
    assert_eq!(device.update_link().unwrap().as_str(), store);
}
