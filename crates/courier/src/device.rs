//! [`Device`]: the courier app's core, one async method per UI command.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use doorstep_inputs::{Clock, Randomness};
use doorstep_protocol::ids::{EventId, ParcelId};
use doorstep_protocol::token::{PublicTokenKey, TokenKeys};
use doorstep_protocol::wire::{
    CustomerChoice, DeliveryMethod, EnrollRequest, EnrollmentLink, EventBody, ExceptionReason,
    IdCheck, Location, MAX_INSTRUCTIONS_CHARS, MAX_PLACE_CHARS, Manifest, ManifestParcel,
    ManifestStop, ParcelStatus, ResendRequest, VerifyRequest,
};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::api::{Api, ManifestFetch};
use crate::config::Config;
use crate::date::date_at;
use crate::error::{CourierError, StoreError};
use crate::handover::{Handover, ProofFacts, Step, VerifyAnswer};
use crate::photos::{self, MAX_PHOTO_BYTES, photo_extension};
use crate::shared::{Shared, SyncControl};
use crate::store::{DoorFacts, Enrollment, NewEvent, Store};
use crate::sync::{SyncReport, run_background};
use crate::update::{update_info, update_required, update_url_allowed};
use crate::view::{
    AppStatus, DoneOutcome, HandoverView, IdCheckEntry, ParcelState, ProofInput, QueueItem,
    ResendInfo, Route, RouteParcel, RouteStop, SyncStatus,
};

/// The courier device core. Open one per data directory; every UI command is one method.
/// Dropping it stops the background sync task.
pub struct Device {
    pub(crate) shared: Arc<Shared>,
    handover: tokio::sync::Mutex<Handover>,
    /// The labels scanned so far at the depot check-in (in memory: a check-in interrupted by
    /// a crash is scanned again; nothing is recorded until it is finished).
    pub(crate) depot: tokio::sync::Mutex<Vec<String>>,
    background: JoinHandle<()>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("data_dir", &self.shared.data_dir)
            .finish_non_exhaustive()
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.background.abort();
    }
}

impl Device {
    /// Opens the store in `data_dir` (created if missing) and starts the background sync.
    /// Must be called inside a tokio runtime.
    pub async fn open(
        data_dir: impl Into<PathBuf>,
        config: Config,
        clock: Arc<dyn Clock>,
        random: Randomness,
    ) -> Result<Self, CourierError> {
        let data_dir = data_dir.into();
        std::fs::create_dir_all(data_dir.join("photos")).map_err(StoreError::from)?;
        let store = Store::open(&data_dir.join("doorstep.sqlite3"))?;
        let (pending, disputed) = store.counts()?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            .timeout(config.request_timeout)
            .user_agent(format!("doorstep-courier/{}", config.app_version))
            .build()
            .map_err(|e| CourierError::Internal(format!("HTTP client: {e}")))?;
        let (status, _) = watch::channel(SyncStatus {
            pending,
            disputed,
            ..SyncStatus::default()
        });
        let trigger = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            config,
            clock,
            random,
            http,
            sync: SyncControl {
                run: tokio::sync::Mutex::new(()),
                status,
                trigger: trigger.clone(),
                failures: AtomicU32::new(0),
                server_takes_gzip: AtomicBool::new(false),
            },
            data_dir,
            location: Mutex::new(None),
        });
        let background = if shared.config.background_sync {
            tokio::spawn(run_background(Arc::downgrade(&shared), trigger))
        } else {
            tokio::spawn(async {})
        };
        Ok(Self {
            shared,
            handover: tokio::sync::Mutex::new(Handover::new()),
            depot: tokio::sync::Mutex::new(Vec::new()),
            background,
        })
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.shared.store()
    }

    pub(crate) fn enrollment(&self) -> Result<Enrollment, CourierError> {
        self.store().enrollment()?.ok_or(CourierError::NotEnrolled)
    }

    pub(crate) fn today(&self) -> String {
        self.shared.config.route_date.clone().unwrap_or_else(|| {
            date_at(
                self.shared.clock.now_ms(),
                self.shared.config.utc_offset_secs,
            )
        })
    }

    // -- enrollment ---------------------------------------------------------------------

    /// `app_status`.
    pub fn status(&self) -> Result<AppStatus, CourierError> {
        let enrollment = self.store().enrollment()?;
        let app_version = self.shared.config.app_version.clone();
        let default_server_url = self.shared.config.default_server_url.clone();
        Ok(match enrollment {
            None => AppStatus {
                enrolled: false,
                server_url: None,
                fleet_name: None,
                courier_name: None,
                device_id: None,
                app_version,
                update: None,
                default_server_url,
            },
            Some(e) => AppStatus {
                enrolled: true,
                update: e.app_policy.map(|p| update_info(&app_version, p)),
                server_url: Some(e.server_url),
                fleet_name: Some(e.fleet_name),
                courier_name: Some(e.courier_name),
                device_id: Some(e.device_id.to_string()),
                app_version,
                default_server_url,
            },
        })
    }

    /// `open_update`: the fleet's update link for this phone, if the app may open it (the
    /// enrolled server's own origin or an app store: [`update_url_allowed`]). The link comes
    /// from the stored policy, never from the UI, so the webview cannot open anything else.
    pub fn update_link(&self) -> Result<url::Url, CourierError> {
        let enrollment = self.enrollment()?;
        let link = enrollment
            .app_policy
            .and_then(|p| p.update_url)
            .ok_or_else(|| {
                CourierError::UpdateUrlRefused("the fleet has published no update link".into())
            })?;
        update_url_allowed(&link, &enrollment.server_url)
    }

    /// `enroll`: `input` is the QR payload (`doorstep://enroll?server=…&code=…`) or a typed
    /// enrollment code, which then needs `server_url` (or the build's
    /// [`Config::default_server_url`]). Makes the device's signing key, sends
    /// its public half, and stores the device token and the server's pinned token keys.
    pub async fn enroll(
        &self,
        input: &str,
        server_url: Option<&str>,
    ) -> Result<AppStatus, CourierError> {
        let link = if input.trim().starts_with("doorstep://") {
            EnrollmentLink::parse(input)?
        } else {
            let server = server_url
                .or(self.shared.config.default_server_url.as_deref())
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    CourierError::EnrollmentLinkInvalid(
                        "enter the server address together with the enrollment code".into(),
                    )
                })?;
            let code = input.trim();
            if code.is_empty() {
                return Err(CourierError::EnrollmentLinkInvalid(
                    "enter the enrollment code".into(),
                ));
            }
            EnrollmentLink::parse(
                &EnrollmentLink {
                    server_url: server.to_string(),
                    code: code.to_string(),
                }
                .to_uri(),
            )?
        };
        self.refuse_if_unsynced(
            "deliveries are still waiting to be sent; sync before enrolling again",
        )?;
        let secret = self.shared.random_bytes::<32>();
        let key = ed25519_dalek::SigningKey::from_bytes(&secret);
        let request = EnrollRequest {
            enrollment_code: link.code.clone(),
            device_public_key: hex::encode(key.verifying_key().as_bytes()),
            app_version: self.shared.config.app_version.clone(),
            platform: self.shared.config.platform,
        };
        let api = Api::new(&self.shared.http, &link.server_url, None);
        let response = api.enroll(&request).await.map_err(|e| match e {
            crate::api::ApiError::Status { code: None, .. } | crate::api::ApiError::Decode(_) => {
                CourierError::EnrollmentLinkInvalid(
                    "the server address did not answer like a Doorstep server; check it with the fleet manager".into(),
                )
            }
            other => other.into(),
        })?;
        TokenKeys::from_published(&response.token_keys)
            .map_err(|e| CourierError::Server(format!("token keys: {e}")))?;
        let enrollment = Enrollment {
            server_url: link.server_url.trim_end_matches('/').to_string(),
            device_id: response.device_id,
            device_token: response.device_token,
            courier_id: response.courier_id,
            courier_name: response.courier_name,
            fleet_name: response.fleet_name,
            signing_key: secret,
            token_keys: response.token_keys,
            app_policy: None,
            enrolled_at_ms: self.shared.clock.now_ms(),
        };
        self.store().save_enrollment(&enrollment)?;
        self.handover.lock().await.reset();
        self.publish_counts();
        tracing::info!(device = %enrollment.device_id, "device enrolled");
        self.status()
    }

    /// `unenroll`: forgets the enrollment and its data. Refused while deliveries still wait
    /// to be sent, so none is lost.
    pub async fn unenroll(&self) -> Result<AppStatus, CourierError> {
        self.refuse_if_unsynced(
            "deliveries are still waiting to be sent; sync before unenrolling",
        )?;
        let now = self.shared.clock.now_ms();
        self.store().clear_enrollment(now)?;
        self.handover.lock().await.reset();
        self.publish_counts();
        self.status()
    }

    /// Refuses (with `why`) while deliveries still wait to be sent.
    fn refuse_if_unsynced(&self, why: &'static str) -> Result<(), CourierError> {
        let (pending, _) = self.store().counts()?;
        if pending > 0 {
            return Err(CourierError::WrongStep(why));
        }
        Ok(())
    }

    // -- route --------------------------------------------------------------------------

    /// `route`: the stored copy of today's route, no network.
    pub fn route(&self) -> Result<Route, CourierError> {
        self.enrollment()?;
        self.build_route(true)
    }

    fn build_route(&self, from_cache: bool) -> Result<Route, CourierError> {
        let date = self.today();
        let store = self.store();
        let stored = store.manifest(&date)?;
        let local = match &stored {
            Some(s) => store.local_parcel_states(manifest_parcels(&s.manifest))?,
            None => HashMap::new(),
        };
        drop(store);
        Ok(match stored {
            None => Route {
                date,
                stops: Vec::new(),
                fetched_at_ms: None,
                from_cache,
            },
            Some(s) => Route {
                date,
                stops: s
                    .manifest
                    .stops
                    .iter()
                    .map(|st| route_stop(st, &local))
                    .collect(),
                fetched_at_ms: Some(s.fetched_at_ms),
                from_cache,
            },
        })
    }

    /// `refresh_route`: downloads today's manifest with a conditional request; with no
    /// network it returns the stored copy with `from_cache = true`. A new manifest also brings
    /// the fleet's app version policy for this phone (stored, or forgotten when it has none),
    /// so an idle phone learns that it must update; a 304 changes nothing. Allowed below the
    /// minimum version too, so the phone learns when the minimum is lowered. Also refreshes
    /// the pinned token keys (key rotation), best effort.
    pub async fn refresh_route(&self) -> Result<Route, CourierError> {
        let enrollment = self.enrollment()?;
        let date = self.today();
        let etag = self.store().manifest(&date)?.and_then(|m| m.etag);
        let api = Api::new(
            &self.shared.http,
            &enrollment.server_url,
            Some(&enrollment.device_token),
        )
        .learning_encodings(&self.shared.sync.server_takes_gzip);
        let backlog = self.store().backlog()?;
        let fetched = api.manifest(&date, etag.as_deref(), backlog).await;
        let now = self.shared.clock.now_ms();
        match fetched {
            Ok(ManifestFetch::NotModified) => self.store().touch_manifest(&date, now)?,
            Ok(ManifestFetch::Fresh(manifest, etag)) => {
                let store = self.store();
                store.save_manifest(&manifest, etag.as_deref(), now)?;
                store.set_app_policy(manifest.app_policy.as_ref())?;
            }
            Err(e) if e.is_unreachable() || e.is_retryable() => {
                self.note_online(!e.is_unreachable());
                return self.build_route(true);
            }
            Err(e) => return Err(e.into()),
        }
        self.note_online(true);
        if let Ok(keys) = api.token_keys().await
            && !keys.keys.is_empty()
            && TokenKeys::from_published(&keys.keys).is_ok()
        {
            self.store().set_token_keys(&keys.keys)?;
        }
        self.build_route(false)
    }

    // -- handover -----------------------------------------------------------------------

    /// `handover_view`.
    pub async fn handover_view(&self) -> Result<HandoverView, CourierError> {
        let h = self.handover.lock().await;
        self.view(&h)
    }

    /// `scan_parcel`: starts a stop or adds a parcel of the same stop; the result is in
    /// `last_scan`. Below the fleet's minimum app version no new stop is started
    /// ([`CourierError::UpdateRequired`]); a stop already under way can still be finished, so a
    /// courier at the door is not cut off by a policy that arrived with a background sync.
    pub async fn scan_parcel(&self, barcode: &str) -> Result<HandoverView, CourierError> {
        let enrollment = self.enrollment()?;
        let date = self.today();
        let mut h = self.handover.lock().await;
        let now = self.shared.clock.now_ms();
        let app_version = &self.shared.config.app_version;
        if matches!(h.step(), Step::Idle | Step::Done { .. })
            && enrollment
                .app_policy
                .as_ref()
                .is_some_and(|p| update_required(app_version, p))
        {
            return Err(CourierError::UpdateRequired);
        }
        {
            let store = self.store();
            let manifest = store.manifest(&date)?.map(|m| m.manifest);
            // Only the scanned parcel's state is needed: look it up when asked.
            let mut lookup = Ok(());
            let scanned = h.scan(
                barcode,
                manifest.as_ref(),
                |p| match store.local_parcel_states([&p.parcel_id]) {
                    Ok(local) => parcel_state(p, &local),
                    Err(e) => {
                        lookup = Err(e);
                        ParcelState::Todo
                    }
                },
                now,
            );
            lookup?;
            scanned?;
        }
        self.view(&h)
    }

    /// `finish_scanning`: hands the scanned parcels over by `method` (`None`: into the
    /// recipient's hands) — to the open-box check, the code step or the proof, as the
    /// method's steps ask. A method a scanned parcel does not allow is `method_not_allowed`.
    pub async fn finish_scanning(
        &self,
        method: Option<DeliveryMethod>,
    ) -> Result<HandoverView, CourierError> {
        let mut h = self.handover.lock().await;
        h.finish_scanning(method)?;
        self.view(&h)
    }

    /// `check_contents`: the open-box check's answer. The photo of the contents is kept first;
    /// then the customer either confirmed them (on to the code or the proof) or refused them,
    /// which commits a "refused: contents" failed delivery with the photo.
    pub async fn check_contents(
        &self,
        photo_path: Option<&Path>,
        accepted: bool,
    ) -> Result<HandoverView, CourierError> {
        let photo = match photo_path {
            Some(path) => Some(self.keep_photo(path)?),
            None => None,
        };
        {
            let mut h = self.handover.lock().await;
            h.contents_checked(photo)?;
            if accepted {
                h.contents_confirmed()?;
                return self.view(&h);
            }
        }
        // Refused: a failed attempt like any other, which carries the photo of the contents.
        self.report_exception(ExceptionReason::RefusedContents, None, None)
            .await
    }

    /// `submit_code`: the check digit first (a typo stays on the code step with
    /// `code_format`, is counted for the record's `typos_caught` and never reaches the
    /// server), then the server with a short timeout; without an answer the code is recorded
    /// for deferred verification if the stop allows it.
    pub async fn submit_code(&self, code: &str) -> Result<HandoverView, CourierError> {
        let mut h = self.handover.lock().await;
        let Some(code) = h.enter_code(code)? else {
            return self.view(&h);
        };
        let enrollment = self.enrollment()?;
        let parcel_id = *h.scanned().first().ok_or(CourierError::NoHandover)?;
        let api = Api::new(
            &self.shared.http,
            &enrollment.server_url,
            Some(&enrollment.device_token),
        );
        let request = VerifyRequest {
            parcel_id,
            code: code.clone(),
        };
        let answer = match api
            .verify(&request, self.shared.config.verify_timeout)
            .await
        {
            Ok(outcome) => {
                self.note_online(true);
                VerifyAnswer::Server(outcome)
            }
            Err(e) if e.is_unreachable() || e.is_retryable() => {
                tracing::info!("code check fell back to offline handling: {e}");
                self.note_online(!e.is_unreachable());
                VerifyAnswer::Unreachable
            }
            Err(e) => return Err(e.into()),
        };
        h.code_checked(code, answer)?;
        self.view(&h)
    }

    /// `submit_token`: the customer's QR token, verified offline with the pinned keys.
    pub async fn submit_token(&self, token: &str) -> Result<HandoverView, CourierError> {
        let enrollment = self.enrollment()?;
        let keys = TokenKeys::from_published(&enrollment.token_keys)
            .map_err(|e| CourierError::Internal(format!("pinned keys: {e}")))?;
        let now_secs = u64::try_from(self.shared.clock.now_ms() / 1000).unwrap_or(0);
        let mut h = self.handover.lock().await;
        h.token_scanned(token, &keys, now_secs, self.shared.config.token_leeway_secs)?;
        self.view(&h)
    }

    /// `submit_proof`: checks every step the method asks for (name, photo, signature, place,
    /// ID and age), then commits the delivery durably (event + outbox + audit in one
    /// transaction) and moves to `done`. Photos and the signature are copied into the data
    /// directory first. A typed year of birth decides the age check and is then dropped.
    pub async fn submit_proof(&self, proof: &ProofInput) -> Result<HandoverView, CourierError> {
        let mut h = self.handover.lock().await;
        let door = h.door().cloned().ok_or(CourierError::NoHandover)?;
        let stop = h.stop().ok_or(CourierError::NoHandover)?.clone();
        // Nobody signs for a safe place or a pickup point: the stop's recipient is named.
        let name = match door.method {
            DeliveryMethod::SafePlace | DeliveryMethod::PickupPoint
                if proof.recipient_name.trim().is_empty() =>
            {
                stop.recipient_name.as_str()
            }
            _ => proof.recipient_name.trim(),
        };
        let year = date_at(
            self.shared.clock.now_ms(),
            self.shared.config.utc_offset_secs,
        )[..4]
            .parse()
            .unwrap_or(i32::MAX);
        let (verification, id_check) = h.check_proof(
            &ProofFacts {
                recipient_name: name,
                has_photo: proof.photo_path.is_some(),
                has_signature: proof.signature_path.is_some(),
                place: proof.place.as_deref(),
                id_check: proof.id_check,
            },
            year,
        )?;
        let photo = match &proof.photo_path {
            Some(path) => Some(self.keep_photo(Path::new(path))?),
            None => None,
        };
        let signature = match &proof.signature_path {
            Some(path) => Some(self.keep_photo(Path::new(path))?),
            None => None,
        };
        let contents = h.contents_photo().map(str::to_string);
        let body = EventBody::Delivered {
            verification,
            recipient_name: name.to_string(),
            photo_sha256: photo.as_ref().map(|(sha, _)| sha.clone()),
            method: (door.method != DeliveryMethod::HandToRecipient).then_some(door.method),
            place: proof
                .place
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string),
            signature_sha256: signature.as_ref().map(|(sha, _)| sha.clone()),
            contents_photo_sha256: contents,
            id_check,
        };
        let images = photo
            .into_iter()
            .chain(signature)
            .chain(h.contents_photo_file())
            .collect();
        let id = self.commit(&h, body, images, name)?;
        h.committed(DoneOutcome::Delivered, id);
        self.view(&h)
    }

    /// `report_exception`: records a failed attempt with a reason and moves to `done`. For
    /// "refused: age" the ID check (failed) goes with it; a photo of the contents taken at the
    /// open-box check goes with any reason.
    pub async fn report_exception(
        &self,
        reason: ExceptionReason,
        note: Option<&str>,
        id_check: Option<IdCheckEntry>,
    ) -> Result<HandoverView, CourierError> {
        let mut h = self.handover.lock().await;
        h.check_exception()?;
        let stop = h.stop().ok_or(CourierError::NoHandover)?.clone();
        let note = note
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| n.chars().take(500).collect::<String>());
        let minimum_age = h.door().and_then(|d| d.minimum_age);
        let id_check = id_check
            .filter(|_| reason == ExceptionReason::RefusedAge)
            .map(|entry| IdCheck {
                passed: false,
                ..entry.record(minimum_age, 0)
            });
        let body = EventBody::Failed {
            reason,
            note,
            photo_sha256: h.contents_photo().map(str::to_string),
            id_check,
        };
        let recipient = stop.recipient_name.clone();
        let images = h.contents_photo_file().into_iter().collect();
        let id = self.commit(&h, body, images, &recipient)?;
        h.committed(DoneOutcome::Exception, id);
        self.view(&h)
    }

    /// `reset_handover`: back to idle (next delivery, or cancel before the commit).
    pub async fn reset_handover(&self) -> Result<HandoverView, CourierError> {
        let mut h = self.handover.lock().await;
        h.reset();
        self.view(&h)
    }

    /// `resend_code`: asks the server to send the customer a new code.
    pub async fn resend_code(&self) -> Result<ResendInfo, CourierError> {
        let enrollment = self.enrollment()?;
        let parcel_id = {
            let h = self.handover.lock().await;
            *h.scanned().first().ok_or(CourierError::NoHandover)?
        };
        let api = Api::new(
            &self.shared.http,
            &enrollment.server_url,
            Some(&enrollment.device_token),
        );
        let response = api.resend(&ResendRequest { parcel_id }).await?;
        Ok(ResendInfo {
            next_allowed_at: response.next_allowed_at,
        })
    }

    /// Where the phone is, for the next events (the mobile shell passes it in).
    pub fn set_location(&self, location: Option<Location>) {
        *self
            .shared
            .location
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = location;
    }

    /// Commits the record of handover `h` (a delivery or a failed attempt at its stop), with
    /// its time at the door and the typos caught.
    pub(crate) fn commit(
        &self,
        h: &Handover,
        body: EventBody,
        images: Vec<(String, PathBuf)>,
        recipient_name: &str,
    ) -> Result<EventId, CourierError> {
        let stop = h.stop().ok_or(CourierError::NoHandover)?;
        let parcels = h.scanned();
        let barcodes = parcels
            .iter()
            .filter_map(|id| stop.parcels.iter().find(|p| p.parcel_id == *id))
            .map(|p| p.barcode.clone())
            .collect();
        let door = DoorFacts {
            first_scan_at_ms: h.first_scan_at_ms(),
            typos_caught: Some(h.typos_caught()),
        };
        self.commit_record(stop, parcels, body, images, recipient_name, barcodes, door)
    }

    /// Commits a record that covers no parcel (an unexpected parcel, a depot check-in), with
    /// the labels it names for the queue screen.
    pub(crate) fn commit_labelled(
        &self,
        stop: &ManifestStop,
        body: EventBody,
        images: Vec<(String, PathBuf)>,
        barcodes: Vec<String>,
    ) -> Result<EventId, CourierError> {
        self.commit_record(stop, &[], body, images, "", barcodes, DoorFacts::default())
    }

    /// Commits a record about `parcels` whose labels are known already (a correction).
    pub(crate) fn commit_with_parcels(
        &self,
        stop: &ManifestStop,
        parcels: &[ParcelId],
        body: EventBody,
        barcodes: Vec<String>,
        recipient_name: &str,
    ) -> Result<EventId, CourierError> {
        self.commit_record(
            stop,
            parcels,
            body,
            Vec::new(),
            recipient_name,
            barcodes,
            DoorFacts::default(),
        )
    }

    /// Signs and commits one record durably with its outbox entry, and wakes the sync.
    #[allow(clippy::too_many_arguments)]
    fn commit_record(
        &self,
        stop: &ManifestStop,
        parcels: &[ParcelId],
        body: EventBody,
        images: Vec<(String, PathBuf)>,
        recipient_name: &str,
        barcodes: Vec<String>,
        door: DoorFacts,
    ) -> Result<EventId, CourierError> {
        let key = self
            .store()
            .signing_key()?
            .ok_or(CourierError::NotEnrolled)?;
        let now = self.shared.clock.now_ms();
        let id = EventId::new_v7(u64::try_from(now).unwrap_or(0), self.shared.random_bytes());
        let location = *self
            .shared
            .location
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let event = NewEvent {
            id,
            stop_id: stop.stop_id,
            parcel_ids: parcels.to_vec(),
            occurred_at_ms: now,
            door,
            location,
            body,
            images,
            stop_address: stop.address.clone(),
            recipient_name: recipient_name.to_string(),
            barcodes,
        };
        let mut store = self.store();
        store.commit_event(event, &key, now)?;
        // One more pending event; counting the outbox again would cost O(pending). Done under
        // the store lock, like the sync's recount, so the two never interleave.
        self.shared.sync.status.send_modify(|s| s.pending += 1);
        drop(store);
        self.shared.sync.trigger.notify_one();
        Ok(id)
    }

    /// The photo at `path` for a record: only a file of the app's own photo folder (where
    /// [`Device::store_photo`] keeps what the camera or the file picker gave), read through
    /// no link out of it, an image, at most [`MAX_PHOTO_BYTES`]. The UI passes paths, so a
    /// compromised webview could otherwise make the phone upload any file the app can read
    /// (its own database, its keys) as "evidence".
    pub(crate) fn keep_photo(&self, path: &Path) -> Result<(String, PathBuf), CourierError> {
        const NOT_OURS: &str = "this photo is not one the app took or chose; take it again";
        let folder = self
            .shared
            .data_dir
            .join("photos")
            .canonicalize()
            .map_err(StoreError::from)?;
        let real = path
            .canonicalize()
            .map_err(|_| CourierError::PhotoInvalid(NOT_OURS))?;
        if real.parent() != Some(folder.as_path()) || !real.is_file() {
            return Err(CourierError::PhotoInvalid(NOT_OURS));
        }
        let size = real.metadata().map_err(StoreError::from)?.len();
        if size > MAX_PHOTO_BYTES as u64 {
            return Err(CourierError::PhotoInvalid(
                "this photo is larger than 10 MB; take it again at a lower resolution",
            ));
        }
        let bytes = std::fs::read(&real).map_err(StoreError::from)?;
        if photo_extension(&bytes).is_none() {
            return Err(CourierError::PhotoInvalid(NOT_OURS));
        }
        self.write_photo(&bytes)
    }

    /// `save_photo`: keeps a photo the UI hands over as bytes (a webview gives files, not
    /// paths) in the store's photo folder, addressed by SHA-256 and fsynced, and answers the
    /// path that [`Device::submit_proof`] takes. Refuses what is not a JPEG/PNG/WebP/HEIC
    /// image or is larger than [`MAX_PHOTO_BYTES`].
    pub fn store_photo(&self, bytes: &[u8]) -> Result<PathBuf, CourierError> {
        if photo_extension(bytes).is_none() {
            return Err(CourierError::PhotoInvalid(
                "this file is not a photo (JPEG, PNG, WebP or HEIC); choose another one",
            ));
        }
        if bytes.len() > MAX_PHOTO_BYTES {
            return Err(CourierError::PhotoInvalid(
                "this photo is larger than 10 MB; take it again at a lower resolution",
            ));
        }
        Ok(self.write_photo(bytes)?.1)
    }

    /// Writes `bytes` once under their SHA-256 in the photo folder.
    fn write_photo(&self, bytes: &[u8]) -> Result<(String, PathBuf), CourierError> {
        Ok(photos::write(&self.shared.data_dir.join("photos"), bytes).map_err(StoreError::from)?)
    }

    fn view(&self, h: &Handover) -> Result<HandoverView, CourierError> {
        let Some(stop) = h.stop() else {
            return Ok(HandoverView::Idle {
                last_scan: h.last_scan().cloned(),
            });
        };
        let local = self
            .store()
            .local_parcel_states(stop.parcels.iter().map(|p| &p.parcel_id))?;
        let route_stop = route_stop(stop, &local);
        let scanned: Vec<String> = h.scanned().iter().map(ToString::to_string).collect();
        Ok(match h.step() {
            Step::Idle | Step::Scanning => HandoverView::Scanning {
                stop: route_stop,
                scanned,
                last_scan: h.last_scan().cloned(),
                methods: h.methods(),
                preselected: h.preselected_method(),
            },
            Step::OpenBox => HandoverView::OpenBox {
                stop: route_stop,
                scanned,
                photo_taken: h.contents_photo().is_some(),
            },
            Step::Code {
                attempts_left,
                offline,
                error,
            } => HandoverView::Code {
                stop: route_stop,
                scanned,
                code_length: h.code_length(),
                attempts_left: *attempts_left,
                offline: *offline,
                error: error.clone(),
            },
            Step::Locked => HandoverView::Locked {
                stop: route_stop,
                scanned,
            },
            Step::Proof {
                verification,
                offline,
            } => HandoverView::Proof {
                stop: route_stop,
                scanned,
                verification: Handover::verification_kind(verification),
                offline: *offline,
                photo_required: h.photo_required(),
                door: h.door().cloned().ok_or(CourierError::NoHandover)?,
                safe_places: h.safe_places(),
            },
            Step::Done { outcome, event_id } => HandoverView::Done {
                stop: route_stop,
                scanned,
                outcome: *outcome,
                event_id: event_id.to_string(),
            },
        })
    }

    // -- sync ---------------------------------------------------------------------------

    /// `sync_now`: syncs right away (waiting for a running sync to finish first) and returns
    /// the status. A failed sync is reported in the status, not as an error. Allowed below the
    /// fleet's minimum app version: recorded deliveries are never stuck behind an update.
    pub async fn sync_now(&self) -> Result<SyncStatus, CourierError> {
        self.enrollment()?;
        match self.shared.sync_once().await {
            Ok(_) => {}
            Err(e @ (CourierError::Storage(_) | CourierError::Internal(_))) => return Err(e),
            Err(_) => {}
        }
        Ok(self.sync_status())
    }

    /// Runs one sync and reports what it did, or why it failed (for tests and tools).
    pub async fn sync_once(&self) -> Result<SyncReport, CourierError> {
        self.shared.sync_once().await
    }

    /// Checkpoints the store's WAL when enough handovers have gathered in it
    /// ([`Store::checkpoint_if_due`](crate::store::Store::checkpoint_if_due)); answers
    /// whether it did. Each sync run does this, between handovers; a shell can also call it
    /// when the app goes to the background.
    pub fn checkpoint(&self) -> Result<bool, CourierError> {
        Ok(self.store().checkpoint_if_due()?)
    }

    /// `sync_status`.
    pub fn sync_status(&self) -> SyncStatus {
        self.shared.sync.status.borrow().clone()
    }

    /// A stream of sync status changes, for the shell's `sync-status` event.
    pub fn subscribe_sync_status(&self) -> watch::Receiver<SyncStatus> {
        self.shared.sync.status.subscribe()
    }

    /// `sync_queue`: every committed event, newest first, with its sync state.
    pub fn sync_queue(&self) -> Result<Vec<QueueItem>, CourierError> {
        Ok(self.store().queue()?)
    }

    /// The network came back (or changed): forget the backoff and sync now.
    pub fn notify_network_changed(&self) {
        self.shared
            .sync
            .failures
            .store(0, std::sync::atomic::Ordering::SeqCst);
        self.shared.sync.trigger.notify_one();
    }

    /// The pinned token keys (for diagnostics and tests).
    pub fn pinned_token_keys(&self) -> Result<Vec<PublicTokenKey>, CourierError> {
        Ok(self.enrollment()?.token_keys)
    }

    fn publish_counts(&self) {
        let store = self.store();
        let Ok((pending, disputed)) = store.counts() else {
            return;
        };
        self.shared.sync.status.send_if_modified(|s| {
            let changed = s.pending != pending || s.disputed != disputed;
            s.pending = pending;
            s.disputed = disputed;
            changed
        });
        drop(store);
    }

    fn note_online(&self, online: bool) {
        self.shared.sync.status.send_if_modified(|s| {
            let changed = s.online != Some(online);
            s.online = Some(online);
            changed
        });
    }
}

fn manifest_parcels(m: &Manifest) -> impl Iterator<Item = &ParcelId> {
    m.stops
        .iter()
        .flat_map(|s| s.parcels.iter().map(|p| &p.parcel_id))
}

fn server_state(status: ParcelStatus) -> ParcelState {
    match status {
        ParcelStatus::Pending => ParcelState::Todo,
        ParcelStatus::Delivered => ParcelState::Delivered,
        ParcelStatus::Failed
        | ParcelStatus::Locked
        | ParcelStatus::Returning
        | ParcelStatus::AtDepot => ParcelState::Exception,
        ParcelStatus::Disputed => ParcelState::Disputed,
    }
}

/// A parcel's state: this device's own record if it has one, else the server's, except that
/// the server's delivered/disputed wins over a local failed attempt.
fn parcel_state(p: &ManifestParcel, local: &HashMap<ParcelId, ParcelState>) -> ParcelState {
    let server = server_state(p.status);
    match local.get(&p.parcel_id) {
        Some(ParcelState::Exception)
            if matches!(server, ParcelState::Delivered | ParcelState::Disputed) =>
        {
            server
        }
        Some(state) => *state,
        None => server,
    }
}

fn route_stop(stop: &ManifestStop, local: &HashMap<ParcelId, ParcelState>) -> RouteStop {
    let parcels: Vec<RouteParcel> = stop
        .parcels
        .iter()
        .map(|p| RouteParcel {
            parcel_id: p.parcel_id.to_string(),
            barcode: p.barcode.clone(),
            description: p.description.clone(),
            photo_required: p.photo_required,
            status: parcel_state(p, local),
        })
        .collect();
    let any = |s| parcels.iter().any(|p| p.status == s);
    let status = if any(ParcelState::Disputed) {
        ParcelState::Disputed
    } else if any(ParcelState::Todo) || parcels.is_empty() {
        ParcelState::Todo
    } else if parcels.iter().all(|p| p.status == ParcelState::Delivered) {
        ParcelState::Delivered
    } else {
        ParcelState::Exception
    };
    RouteStop {
        stop_id: stop.stop_id.to_string(),
        sequence: stop.sequence,
        recipient_name: stop.recipient_name.clone(),
        address: stop.address.clone(),
        code_required: stop.code_required,
        code_length: stop.code_length,
        offline_allowed: stop.offline_allowed,
        reasons: stop.reasons.clone(),
        status,
        parcels,
        customer: stop.customer.as_ref().and_then(customer_choice),
    }
}

/// The customer's choice as the UI shows it: the place and the instructions trimmed and held
/// to the wire's limits, a blank one dropped; `None` when nothing is left of it.
fn customer_choice(choice: &CustomerChoice) -> Option<CustomerChoice> {
    let text = |s: &Option<String>, max: usize| {
        s.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| t.chars().take(max).collect::<String>())
    };
    let shown = CustomerChoice {
        method: choice.method,
        place: text(&choice.place, MAX_PLACE_CHARS),
        instructions: text(&choice.instructions, MAX_INSTRUCTIONS_CHARS),
    };
    (shown.method.is_some() || shown.place.is_some() || shown.instructions.is_some())
        .then_some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use doorstep_protocol::wire::Platform;

    /// Randomness from a fixed seed, so a run repeats.
    fn seeded() -> Randomness {
        Randomness::from_rng(Box::new(
            <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1),
        ))
    }

    #[tokio::test]
    async fn opening_data_from_a_newer_app_is_refused_with_update_required() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new("0.1.0", Platform::Linux);
        let clock: Arc<dyn Clock> = Arc::new(doorstep_inputs::ManualClock::new(0));
        drop(
            Device::open(dir.path(), config.clone(), clock.clone(), seeded())
                .await
                .unwrap(),
        );
        let conn = rusqlite::Connection::open(dir.path().join("doorstep.sqlite3")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Device::open(dir.path(), config, clock, seeded())
            .await
            .unwrap_err();
        assert_eq!(err.code(), crate::view::AppErrorCode::UpdateRequired);
        assert!(err.to_string().contains("newer version"), "{err}");
    }

    mod below_the_minimum {
        use super::*;
        use crate::handover::tests::{parcel, stop};
        use doorstep_protocol::CourierId;
        use doorstep_protocol::wire::AppVersionPolicy;

        const SERVER: &str = "https://dispatch.example.com";

        fn policy(minimum: &str, latest: &str, url: Option<&str>) -> AppVersionPolicy {
            AppVersionPolicy {
                minimum: minimum.into(),
                latest: latest.into(),
                update_url: url.map(str::to_string),
                sha256: None,
            }
        }

        /// A device of version 1.0.0, enrolled (no server needed: nothing here goes to the
        /// network) with a two-stop route for 2026-11-25.
        async fn enrolled_device(dir: &Path) -> Device {
            let mut config = Config::new("1.0.0", Platform::Linux);
            config.route_date = Some("2026-11-25".into());
            config.background_sync = false;
            let device = Device::open(
                dir,
                config,
                Arc::new(doorstep_inputs::ManualClock::new(1_000)),
                seeded(),
            )
            .await
            .unwrap();
            device
                .store()
                .save_enrollment(&crate::store::tests::test_enrollment(SERVER))
                .unwrap();
            let manifest = Manifest {
                courier_id: CourierId::from_bytes([2; 16]),
                date: "2026-11-25".into(),
                stops: vec![
                    stop(1, false, true, vec![parcel(11, false), parcel(12, false)]),
                    stop(2, false, true, vec![parcel(21, false)]),
                ],
                app_policy: None,
            };
            device
                .store()
                .save_manifest(&manifest, None, 1_000)
                .unwrap();
            device
        }

        fn set_policy(device: &Device, policy: Option<AppVersionPolicy>) {
            device.store().set_app_policy(policy.as_ref()).unwrap();
        }

        #[tokio::test]
        async fn no_new_handover_starts_and_the_status_says_an_update_is_required() {
            let dir = tempfile::tempdir().unwrap();
            let device = enrolled_device(dir.path()).await;
            set_policy(&device, Some(policy("2.0.0", "2.1.0", None)));

            let err = device.scan_parcel("PARCEL11").await.unwrap_err();
            assert_eq!(err.code(), crate::view::AppErrorCode::UpdateRequired);
            assert!(matches!(
                device.handover_view().await.unwrap(),
                HandoverView::Idle { .. }
            ));
            let update = device.status().unwrap().update.unwrap();
            assert!(update.required && !update.available, "{update:?}");
            assert_eq!(update.minimum, "2.0.0");
        }

        #[tokio::test]
        async fn a_stop_under_way_can_be_finished_and_the_next_one_cannot_start() {
            let dir = tempfile::tempdir().unwrap();
            let device = enrolled_device(dir.path()).await;
            device.scan_parcel("PARCEL11").await.unwrap();
            // A background sync brings the news in the middle of the stop.
            set_policy(&device, Some(policy("2.0.0", "2.0.0", None)));

            let view = device.scan_parcel("PARCEL12").await.unwrap();
            assert!(
                matches!(&view, HandoverView::Scanning { scanned, .. } if scanned.len() == 2),
                "{view:?}"
            );
            device.finish_scanning(None).await.unwrap();
            let view = device
                .submit_proof(&ProofInput::named("Ada"))
                .await
                .unwrap();
            assert!(matches!(view, HandoverView::Done { .. }), "{view:?}");
            assert_eq!(
                device.sync_queue().unwrap().len(),
                1,
                "the delivery is recorded"
            );

            let err = device.scan_parcel("PARCEL21").await.unwrap_err();
            assert_eq!(err.code(), crate::view::AppErrorCode::UpdateRequired);
        }

        #[tokio::test]
        async fn a_policy_that_is_lowered_or_dropped_lets_the_courier_work_again() {
            let dir = tempfile::tempdir().unwrap();
            let device = enrolled_device(dir.path()).await;
            set_policy(&device, Some(policy("2.0.0", "2.0.0", None)));
            assert!(device.scan_parcel("PARCEL11").await.is_err());

            set_policy(&device, Some(policy("1.0.0", "2.0.0", None)));
            let update = device.status().unwrap().update.unwrap();
            assert!(!update.required && update.available, "{update:?}");
            device.scan_parcel("PARCEL11").await.unwrap();
            device.reset_handover().await.unwrap();

            set_policy(&device, Some(policy("2.0.0", "2.0.0", None)));
            set_policy(&device, None);
            assert_eq!(device.status().unwrap().update, None);
            device.scan_parcel("PARCEL11").await.unwrap();
        }

        #[tokio::test]
        async fn the_update_link_comes_from_the_stored_policy_and_is_held_to_the_scope() {
            let dir = tempfile::tempdir().unwrap();
            let device = enrolled_device(dir.path()).await;
            let err = device.update_link().unwrap_err();
            assert_eq!(
                err.code(),
                crate::view::AppErrorCode::UpdateUrlRefused,
                "no policy, no link"
            );

            let file = format!("{SERVER}/v1/releases/files/ab12");
            set_policy(&device, Some(policy("2.0.0", "2.0.0", Some(&file))));
            assert_eq!(device.update_link().unwrap().as_str(), file);

            set_policy(
                &device,
                Some(policy(
                    "2.0.0",
                    "2.0.0",
                    Some("https://evil.example/doorstep.apk"),
                )),
            );
            let err = device.update_link().unwrap_err();
            assert_eq!(err.code(), crate::view::AppErrorCode::UpdateUrlRefused);

            set_policy(&device, Some(policy("2.0.0", "2.0.0", None)));
            assert!(
                device.update_link().is_err(),
                "a policy without a link opens nothing"
            );
        }

        #[tokio::test]
        async fn the_builds_server_is_in_the_status_and_serves_a_typed_code() {
            let dir = tempfile::tempdir().unwrap();
            let mut config = Config::new("1.0.0", Platform::Linux);
            config.background_sync = false;
            // A port nothing listens on: the enrollment must reach for it and fail there.
            config.default_server_url = Some("http://127.0.0.1:1".into());
            let device = Device::open(
                dir.path(),
                config,
                Arc::new(doorstep_inputs::ManualClock::new(0)),
                seeded(),
            )
            .await
            .unwrap();
            let status = device.status().unwrap();
            assert_eq!(
                status.default_server_url.as_deref(),
                Some("http://127.0.0.1:1")
            );
            let err = device.enroll("ABCD-1234", None).await.unwrap_err();
            assert_eq!(err.code(), crate::view::AppErrorCode::Network, "{err}");
        }
    }

    fn assert_send<T: Send>(_: &T) {}

    /// The Tauri shell runs commands on a multi-threaded runtime: every future must be Send.
    #[allow(dead_code, clippy::let_underscore_future)]
    fn device_futures_are_send(d: &'static Device) {
        assert_send(&d.enroll("", None));
        assert_send(&d.refresh_route());
        assert_send(&d.scan_parcel(""));
        assert_send(&d.submit_code(""));
        assert_send(&d.submit_token(""));
        assert_send(&d.submit_proof(&ProofInput::named("")));
        assert_send(&d.report_exception(ExceptionReason::NotHome, None, None));
        assert_send(&d.resend_code());
        assert_send(&d.sync_now());
        assert_send(&d.unenroll());
    }
}
