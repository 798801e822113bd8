//! The handover flow as an explicit state machine, with no I/O: the caller does the network
//! and storage work and feeds the results in, so every transition is unit-testable.
//!
//! ```text
//! idle ─scan→ scanning ─finish(method)→ [open box] ─confirmed→ code ─verified / offline-allowed / token→ proof ─commit→ done
//!                        └──────────────(no code for the method)───────────────────────────→ proof
//!                                  open box ─refused→ done (failed: refused contents)
//!                                                       code ─locked→ locked
//! scanning | open box | code | locked | proof ─exception→ done
//! ```
//!
//! The method (into the recipient's hands, a neighbour, a safe place, a pickup point) is
//! picked when scanning is finished, among those every scanned parcel allows; its steps (the
//! parcels' [`DoorMethod`]s merged) decide what follows, and [`Handover::check_proof`]
//! refuses a commit without any of them.

use doorstep_protocol::barcode::Barcode;
use doorstep_protocol::code::{CodeError, DeliveryCode};
use doorstep_protocol::ids::{EventId, ParcelId};
use doorstep_protocol::token::{HandoverToken, TokenKeys, TokenSubject};
use doorstep_protocol::wire::{
    DeliveryMethod, DoorMethod, Handed, IdCheck, Manifest, ManifestParcel, ManifestStop,
    MissingStep, Verification, VerifyOutcome, door_steps,
};

use crate::error::CourierError;
use crate::view::{
    AppError, AppErrorCode, DoneOutcome, IdCheckEntry, OtherStop, ParcelState, ScanOutcome,
    ScanResult, VerificationKind,
};

/// Code length assumed when a stop needs a code but the manifest does not say how long.
pub const DEFAULT_CODE_LENGTH: u8 = 7;

/// The method a handover takes when the courier names none, and the one the method screen
/// opens on when the customer asked for none the scanned parcels allow.
pub const DEFAULT_METHOD: DeliveryMethod = DeliveryMethod::HandToRecipient;

/// Where the handover stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing going on.
    Idle,
    /// Scanning the parcels of one stop.
    Scanning,
    /// Waiting for the code (or the customer's QR).
    Code {
        /// Tries left, once the server said.
        attempts_left: Option<u32>,
        /// Whether the last check could not reach the server.
        offline: bool,
        /// What went wrong with the last try.
        error: Option<AppError>,
    },
    /// The open-box check: the customer opens the box, the courier photographs the contents,
    /// the customer confirms or refuses them.
    OpenBox,
    /// Too many wrong codes.
    Locked,
    /// Verified (or nothing to verify): waiting for the proof.
    Proof {
        /// How it was verified; goes into the event.
        verification: Verification,
        /// Whether it was decided offline.
        offline: bool,
    },
    /// Committed.
    Done {
        /// What was recorded.
        outcome: DoneOutcome,
        /// The event.
        event_id: EventId,
    },
}

/// The server's answer to an online code check, or that there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyAnswer {
    /// The server answered.
    Server(VerifyOutcome),
    /// The server could not be reached in time.
    Unreachable,
}

/// One handover: a stop, the parcels scanned for it, and the step.
#[derive(Debug, Clone, PartialEq)]
pub struct Handover {
    step: Step,
    stop: Option<ManifestStop>,
    scanned: Vec<ParcelId>,
    last_scan: Option<ScanResult>,
    /// The method picked and its steps, once scanning is finished.
    door: Option<DoorMethod>,
    /// The photo of the contents the customer saw at the open-box check: its SHA-256 and
    /// the device's copy.
    contents_photo: Option<(String, std::path::PathBuf)>,
    /// When the first parcel of the stop was scanned (device clock, Unix ms).
    first_scan_at_ms: Option<i64>,
    /// Typed codes the check digit refused.
    typos: u32,
}

/// What the courier hands in with the proof, besides the photos (which the device keeps).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProofFacts<'a> {
    /// Who took the parcels (the neighbour, for a neighbour delivery).
    pub recipient_name: &'a str,
    /// Whether a proof photo was taken.
    pub has_photo: bool,
    /// Whether the person signed.
    pub has_signature: bool,
    /// The neighbour's house number, the safe place, or the pickup point's id.
    pub place: Option<&'a str>,
    /// The ID check as the courier entered it.
    pub id_check: Option<IdCheckEntry>,
}

impl Default for Handover {
    fn default() -> Self {
        Self::new()
    }
}

impl Handover {
    /// An idle handover.
    pub fn new() -> Self {
        Self {
            step: Step::Idle,
            stop: None,
            scanned: Vec::new(),
            last_scan: None,
            door: None,
            contents_photo: None,
            first_scan_at_ms: None,
            typos: 0,
        }
    }

    /// The current step.
    pub fn step(&self) -> &Step {
        &self.step
    }

    /// The stop being handed over.
    pub fn stop(&self) -> Option<&ManifestStop> {
        self.stop.as_ref()
    }

    /// The scanned parcels, in scan order.
    pub fn scanned(&self) -> &[ParcelId] {
        &self.scanned
    }

    /// The last scan's result.
    pub fn last_scan(&self) -> Option<&ScanResult> {
        self.last_scan.as_ref()
    }

    /// When the first parcel of the stop was scanned (device clock, Unix ms): the start of
    /// the time at the door the record reports.
    pub fn first_scan_at_ms(&self) -> Option<i64> {
        self.first_scan_at_ms
    }

    /// How many typed codes the check digit refused during this handover, for the record.
    pub fn typos_caught(&self) -> u32 {
        self.typos
    }

    /// Back to idle.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// A scanned label at `now_ms` (device clock): starts a stop (from idle or done) or adds
    /// a parcel of the same stop. The result is in [`Handover::last_scan`]; `status` gives
    /// each parcel's current state.
    pub fn scan(
        &mut self,
        raw: &str,
        manifest: Option<&Manifest>,
        status: impl FnMut(&ManifestParcel) -> ParcelState,
        now_ms: i64,
    ) -> Result<(), CourierError> {
        match self.step {
            Step::Idle | Step::Done { .. } => {
                if matches!(self.step, Step::Done { .. }) {
                    self.reset();
                }
            }
            Step::Scanning => {}
            _ => {
                return Err(CourierError::WrongStep(
                    "finish or cancel this delivery first",
                ));
            }
        }
        let result = self.resolve(raw, manifest, status);
        if result.outcome == ScanOutcome::Added {
            let (stop, parcel) = find(manifest, raw).expect("an added parcel is on the route");
            if self.stop.is_none() {
                self.stop = Some(stop.clone());
                self.step = Step::Scanning;
                self.first_scan_at_ms = Some(now_ms);
            }
            self.scanned.push(parcel.parcel_id);
        }
        self.last_scan = Some(result);
        Ok(())
    }

    fn resolve(
        &self,
        raw: &str,
        manifest: Option<&Manifest>,
        mut status: impl FnMut(&ManifestParcel) -> ParcelState,
    ) -> ScanResult {
        let result = |outcome, message: &str, parcel: Option<&ManifestParcel>| ScanResult {
            outcome,
            message: message.to_string(),
            parcel_id: parcel.map(|p| p.parcel_id.to_string()),
            other_stop: None,
        };
        if HandoverToken::looks_like_token(raw) {
            return result(
                ScanOutcome::Invalid,
                "this is a customer's delivery QR, not a parcel label; scan it on the code screen",
                None,
            );
        }
        if let Err(e) = Barcode::parse(raw) {
            return result(ScanOutcome::Invalid, &e.to_string(), None);
        }
        let Some((stop, parcel)) = find(manifest, raw) else {
            return result(
                ScanOutcome::NotOnRoute,
                "this parcel is not on today's route; keep it in the van",
                None,
            );
        };
        if self.scanned.contains(&parcel.parcel_id) {
            return result(
                ScanOutcome::AlreadyScanned,
                "this parcel is already scanned",
                Some(parcel),
            );
        }
        if matches!(
            status(parcel),
            ParcelState::Delivered | ParcelState::Disputed
        ) {
            return result(
                ScanOutcome::AlreadyDelivered,
                "this parcel was already delivered",
                Some(parcel),
            );
        }
        if let Some(current) = &self.stop
            && current.stop_id != stop.stop_id
        {
            let mut r = result(
                ScanOutcome::OtherStop,
                &format!(
                    "this parcel belongs to stop {} ({}), not to this one",
                    stop.sequence, stop.address
                ),
                Some(parcel),
            );
            r.other_stop = Some(OtherStop {
                stop_id: stop.stop_id.to_string(),
                sequence: stop.sequence,
                address: stop.address.clone(),
            });
            return r;
        }
        result(ScanOutcome::Added, "parcel added", Some(parcel))
    }

    /// The methods the scanned parcels may all be handed over by, each with its steps.
    pub fn methods(&self) -> Vec<DoorMethod> {
        let Some(stop) = &self.stop else {
            return Vec::new();
        };
        DeliveryMethod::ALL
            .into_iter()
            .filter_map(|m| {
                door_steps(
                    self.scanned_parcels(stop).map(|p| (p, stop.code_required)),
                    m,
                )
            })
            .collect()
    }

    /// The method the method screen opens on: the customer's choice (from their page) when
    /// every scanned parcel allows it, else [`DEFAULT_METHOD`] when they do; `None` when
    /// neither is among [`Self::methods`].
    pub fn preselected_method(&self) -> Option<DeliveryMethod> {
        let customer = self.stop.as_ref()?.customer.as_ref().and_then(|c| c.method);
        let offered = self.methods();
        [customer, Some(DEFAULT_METHOD)]
            .into_iter()
            .flatten()
            .find(|m| offered.iter().any(|d| d.method == *m))
    }

    /// The safe places the shipper allows for every scanned parcel (those of the first
    /// parcel that names any).
    pub fn safe_places(&self) -> Vec<String> {
        let Some(stop) = &self.stop else {
            return Vec::new();
        };
        self.scanned_parcels(stop)
            .find(|p| !p.safe_places.is_empty())
            .map(|p| p.safe_places.clone())
            .unwrap_or_default()
    }

    fn scanned_parcels<'s>(
        &'s self,
        stop: &'s ManifestStop,
    ) -> impl Iterator<Item = &'s ManifestParcel> {
        stop.parcels
            .iter()
            .filter(|p| self.scanned.contains(&p.parcel_id))
    }

    /// The method picked and its steps, once scanning is finished.
    pub fn door(&self) -> Option<&DoorMethod> {
        self.door.as_ref()
    }

    /// Done scanning, handing over by `method` (`None`: [`DEFAULT_METHOD`], into the
    /// recipient's hands): to the open-box check, the code step or the proof, as the method's
    /// steps ask.
    pub fn finish_scanning(&mut self, method: Option<DeliveryMethod>) -> Result<(), CourierError> {
        self.require_stop()?;
        if self.step != Step::Scanning {
            return Err(CourierError::WrongStep("scanning is already finished"));
        }
        let method = method.unwrap_or(DEFAULT_METHOD);
        let door = self
            .methods()
            .into_iter()
            .find(|m| m.method == method)
            .ok_or(CourierError::MethodNotAllowed)?;
        self.step = if door.open_box_check {
            Step::OpenBox
        } else {
            Self::after_checks(&door)
        };
        self.door = Some(door);
        Ok(())
    }

    /// The step after scanning and the open-box check: the code, or the proof.
    fn after_checks(door: &DoorMethod) -> Step {
        if door.code_required {
            Step::Code {
                attempts_left: None,
                offline: false,
                error: None,
            }
        } else {
            Step::Proof {
                verification: Verification::NotRequired,
                offline: false,
            }
        }
    }

    /// The open-box check's end: the customer confirmed the photographed contents (on to the
    /// code or the proof) or refused them (the caller records a "refused: contents" failed
    /// delivery with the photo). Either way the photo is needed.
    pub fn contents_checked(
        &mut self,
        photo: Option<(String, std::path::PathBuf)>,
    ) -> Result<(), CourierError> {
        self.require_stop()?;
        if self.step != Step::OpenBox {
            return Err(CourierError::WrongStep("no open-box check is going on"));
        }
        self.contents_photo = Some(photo.ok_or(CourierError::ContentsPhotoRequired)?);
        Ok(())
    }

    /// The customer confirmed the contents: on to the code or the proof.
    pub fn contents_confirmed(&mut self) -> Result<(), CourierError> {
        if self.step != Step::OpenBox || self.contents_photo.is_none() {
            return Err(CourierError::ContentsPhotoRequired);
        }
        let door = self.door.as_ref().ok_or(CourierError::NoHandover)?;
        self.step = Self::after_checks(door);
        Ok(())
    }

    /// The SHA-256 of the photo of the contents, once taken at the open-box check.
    pub fn contents_photo(&self) -> Option<&str> {
        self.contents_photo.as_ref().map(|(sha, _)| sha.as_str())
    }

    /// The photo of the contents with the device's copy, to commit with the record.
    pub fn contents_photo_file(&self) -> Option<(String, std::path::PathBuf)> {
        self.contents_photo.clone()
    }

    /// The digits the code step expects, check digit included.
    pub fn code_length(&self) -> u8 {
        self.stop
            .as_ref()
            .and_then(|s| s.code_length)
            .unwrap_or(DEFAULT_CODE_LENGTH)
    }

    /// A typed code: checked for form (length, check digit) first. A malformed code stays on
    /// the code step with a `code_format` error and gives `None` (one the check digit refused
    /// counts as a typo caught); a well-formed code is returned for the caller to verify.
    pub fn enter_code(&mut self, input: &str) -> Result<Option<DeliveryCode>, CourierError> {
        self.require_stop()?;
        let expected = usize::from(self.code_length());
        let Step::Code { error, .. } = &mut self.step else {
            return Err(CourierError::WrongStep("no code is being asked for"));
        };
        match DeliveryCode::parse(input, Some(expected)) {
            Ok(code) => {
                *error = None;
                Ok(Some(code))
            }
            Err(e) => {
                if e == CodeError::CheckDigitMismatch {
                    self.typos = self.typos.saturating_add(1);
                }
                *error = Some(CourierError::CodeFormat(e.to_string()).to_view());
                Ok(None)
            }
        }
    }

    /// The outcome of checking a well-formed code. Without an answer from the server the
    /// code is recorded for deferred verification if the stop allows offline handover;
    /// otherwise the courier stays on the code step and is told why.
    pub fn code_checked(
        &mut self,
        code: DeliveryCode,
        answer: VerifyAnswer,
    ) -> Result<(), CourierError> {
        let offline_allowed = self.require_stop()?.offline_allowed;
        let Step::Code { attempts_left, .. } = &self.step else {
            return Err(CourierError::WrongStep("no code is being asked for"));
        };
        let attempts_left = *attempts_left;
        let code_step = |attempts_left, offline, error: Option<AppError>| Step::Code {
            attempts_left,
            offline,
            error,
        };
        self.step = match answer {
            VerifyAnswer::Unreachable if offline_allowed => Step::Proof {
                verification: Verification::OfflineCode { code },
                offline: true,
            },
            VerifyAnswer::Unreachable => code_step(
                attempts_left,
                true,
                Some(CourierError::OfflineNotAllowed.to_view()),
            ),
            VerifyAnswer::Server(VerifyOutcome::Verified { verification_id }) => Step::Proof {
                verification: Verification::OnlineCode { verification_id },
                offline: false,
            },
            VerifyAnswer::Server(VerifyOutcome::Wrong { attempts_left: 0 })
            | VerifyAnswer::Server(VerifyOutcome::Locked) => Step::Locked,
            VerifyAnswer::Server(VerifyOutcome::Wrong { attempts_left }) => {
                code_step(Some(attempts_left), false, None)
            }
            VerifyAnswer::Server(VerifyOutcome::Expired) => code_step(
                attempts_left,
                false,
                Some(AppError {
                    code: AppErrorCode::CodeLocked,
                    message: "this code has expired; ask for a new code to be sent, or record an exception".into(),
                }),
            ),
            VerifyAnswer::Server(VerifyOutcome::AlreadyDelivered) => {
                return Err(CourierError::AlreadyDelivered);
            }
            VerifyAnswer::Server(VerifyOutcome::NotRequired) => Step::Proof {
                verification: Verification::NotRequired,
                offline: false,
            },
        };
        Ok(())
    }

    /// A scanned customer QR token, verified offline against the pinned keys at `now_secs`.
    /// A refused token stays on the code step with a `token_invalid` error.
    pub fn token_scanned(
        &mut self,
        text: &str,
        keys: &TokenKeys,
        now_secs: u64,
        leeway_secs: u64,
    ) -> Result<(), CourierError> {
        let stop_id = self.require_stop()?.stop_id;
        let Step::Code { error, .. } = &mut self.step else {
            return Err(CourierError::WrongStep(
                "scan the customer's QR on the code screen",
            ));
        };
        let token = HandoverToken::from_text(text.trim());
        let refused = match token.verify(keys, now_secs, leeway_secs) {
            Err(e) => Some(e.to_string()),
            Ok(claims) => match claims.subject {
                TokenSubject::Stop(id) if id == stop_id => None,
                TokenSubject::Parcel(id) if self.scanned == [id] => None,
                TokenSubject::Parcel(id) if self.scanned.contains(&id) => {
                    Some("this QR is for one parcel only; scan only that parcel".to_string())
                }
                _ => Some("this QR is for another delivery".to_string()),
            },
        };
        match refused {
            Some(message) => *error = Some(CourierError::TokenInvalid(message).to_view()),
            None => {
                self.step = Step::Proof {
                    verification: Verification::Token { token },
                    offline: false,
                }
            }
        }
        Ok(())
    }

    /// Checks the proof against the policy — the name, and every step the method asks for
    /// (photo, signature, place, ID and age) — and gives the verification to commit and the
    /// ID check's record. `year` is the current year, for a typed year of birth.
    pub fn check_proof(
        &self,
        facts: &ProofFacts<'_>,
        year: i32,
    ) -> Result<(Verification, Option<IdCheck>), CourierError> {
        self.require_stop()?;
        let Step::Proof { verification, .. } = &self.step else {
            return Err(CourierError::WrongStep("the delivery is not verified yet"));
        };
        let door = self.door.as_ref().ok_or(CourierError::NoHandover)?;
        if facts.recipient_name.trim().is_empty() {
            return Err(CourierError::RecipientRequired);
        }
        // The entry first: an age that is not met says so itself.
        let id_check = match (door.needs_id(), &facts.id_check) {
            (true, Some(entry)) => {
                let record = entry.record(door.minimum_age, year);
                if record.courier_confirmed && !record.passed {
                    return Err(CourierError::AgeNotMet);
                }
                Some(record)
            }
            _ => None,
        };
        // Then the rule the server applies again at sync.
        let handed = Handed {
            method: door.method,
            place: facts.place,
            id_check: id_check.as_ref(),
            photo: facts.has_photo,
            signature: facts.has_signature,
            contents_photo: self.contents_photo.is_some(),
        };
        if let Some(missing) = door.missing(&handed) {
            return Err(match missing {
                MissingStep::Place | MissingStep::PlaceTooLong => CourierError::PlaceRequired,
                MissingStep::IdCheck => CourierError::IdCheckRequired,
                MissingStep::Photo => CourierError::PhotoRequired,
                MissingStep::Signature => CourierError::SignatureRequired,
                MissingStep::ContentsPhoto => CourierError::ContentsPhotoRequired,
            });
        }
        Ok((verification.clone(), id_check))
    }

    /// Whether the proof needs a photo.
    pub fn photo_required(&self) -> bool {
        self.door.as_ref().is_some_and(|d| d.photo_required)
    }

    /// Whether an exception can be recorded now.
    pub fn check_exception(&self) -> Result<(), CourierError> {
        self.require_stop()?;
        match self.step {
            Step::Scanning
            | Step::OpenBox
            | Step::Code { .. }
            | Step::Locked
            | Step::Proof { .. } => Ok(()),
            _ => Err(CourierError::WrongStep("this delivery is already recorded")),
        }
    }

    /// The event was committed.
    pub fn committed(&mut self, outcome: DoneOutcome, event_id: EventId) {
        self.step = Step::Done { outcome, event_id };
    }

    /// The kind of verification, for the proof view.
    pub fn verification_kind(verification: &Verification) -> VerificationKind {
        match verification {
            Verification::NotRequired => VerificationKind::NotRequired,
            Verification::OnlineCode { .. } => VerificationKind::OnlineCode,
            Verification::OfflineCode { .. } => VerificationKind::OfflineCode,
            Verification::Token { .. } => VerificationKind::Token,
        }
    }

    fn require_stop(&self) -> Result<&ManifestStop, CourierError> {
        self.stop.as_ref().ok_or(CourierError::NoHandover)
    }
}

fn find<'m>(
    manifest: Option<&'m Manifest>,
    raw: &str,
) -> Option<(&'m ManifestStop, &'m ManifestParcel)> {
    let key = Barcode::parse(raw).ok()?.key();
    manifest?.stops.iter().find_map(|stop| {
        stop.parcels
            .iter()
            .find(|p| p.barcode == key)
            .map(|p| (stop, p))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use doorstep_protocol::CourierId;
    use doorstep_protocol::ids::StopId;
    use doorstep_protocol::token::{KeyId, TokenClaims};
    use doorstep_protocol::wire::{DeliveryMethod, IdType, ParcelStatus};

    use super::*;

    /// A test parcel `PARCELn` (also the device core's tests').
    pub(crate) fn parcel(n: u8, photo_required: bool) -> ManifestParcel {
        ManifestParcel {
            parcel_id: ParcelId::from_bytes([n; 16]),
            barcode: format!("PARCEL{n}"),
            description: None,
            photo_required,
            method: DeliveryMethod::HandToRecipient,
            status: ParcelStatus::Pending,
            methods: Vec::new(),
            safe_places: Vec::new(),
        }
    }

    /// A test stop `n` at "n Main St" (also the device core's tests').
    pub(crate) fn stop(
        n: u8,
        code_required: bool,
        offline_allowed: bool,
        parcels: Vec<ManifestParcel>,
    ) -> ManifestStop {
        ManifestStop {
            stop_id: StopId::from_bytes([n; 16]),
            sequence: u32::from(n),
            recipient_name: "Ada".into(),
            address: format!("{n} Main St"),
            location: None,
            code_required,
            code_length: code_required.then_some(7),
            offline_allowed,
            reasons: vec![],
            parcels,
            customer: None,
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            courier_id: CourierId::from_bytes([0; 16]),
            date: "2026-11-25".into(),
            stops: vec![
                stop(1, true, true, vec![parcel(11, false), parcel(12, true)]),
                stop(2, true, false, vec![parcel(21, false)]),
                stop(3, false, false, vec![parcel(31, false)]),
            ],
            app_policy: None,
        }
    }

    fn todo(_: &ManifestParcel) -> ParcelState {
        ParcelState::Todo
    }

    fn valid_code() -> String {
        let digits = [1u8, 2, 3, 4, 5, 6];
        let check = doorstep_protocol::code::damm_check_digit(&digits);
        format!("123456{check}")
    }

    fn at_code_step(m: &Manifest, barcode: &str) -> Handover {
        let mut h = Handover::new();
        h.scan(barcode, Some(m), todo, 0).unwrap();
        h.finish_scanning(None).unwrap();
        h
    }

    #[test]
    fn scanning_two_parcels_of_one_stop_adds_both() {
        let m = manifest();
        let mut h = Handover::new();
        h.scan("PARCEL11", Some(&m), todo, 0).unwrap();
        h.scan(" PARCEL12 ", Some(&m), todo, 0).unwrap();
        assert_eq!(h.step(), &Step::Scanning);
        assert_eq!(h.scanned().len(), 2);
        assert_eq!(h.last_scan().unwrap().outcome, ScanOutcome::Added);
    }

    #[test]
    fn a_parcel_of_another_stop_is_reported_and_not_added() {
        let m = manifest();
        let mut h = Handover::new();
        h.scan("PARCEL11", Some(&m), todo, 0).unwrap();
        h.scan("PARCEL21", Some(&m), todo, 0).unwrap();
        let last = h.last_scan().unwrap();
        assert_eq!(last.outcome, ScanOutcome::OtherStop);
        assert_eq!(last.other_stop.as_ref().unwrap().sequence, 2);
        assert_eq!(h.scanned().len(), 1);
    }

    #[test]
    fn unknown_repeated_and_delivered_parcels_are_told_apart() {
        let m = manifest();
        let mut h = Handover::new();
        h.scan("NOPE", Some(&m), todo, 0).unwrap();
        assert_eq!(h.last_scan().unwrap().outcome, ScanOutcome::NotOnRoute);
        assert_eq!(h.step(), &Step::Idle);
        h.scan("PARCEL11", Some(&m), todo, 0).unwrap();
        h.scan("PARCEL11", Some(&m), todo, 0).unwrap();
        assert_eq!(h.last_scan().unwrap().outcome, ScanOutcome::AlreadyScanned);
        h.scan("PARCEL12", Some(&m), |_| ParcelState::Delivered, 0)
            .unwrap();
        assert_eq!(
            h.last_scan().unwrap().outcome,
            ScanOutcome::AlreadyDelivered
        );
        h.scan("", Some(&m), todo, 0).unwrap();
        assert_eq!(h.last_scan().unwrap().outcome, ScanOutcome::Invalid);
    }

    #[test]
    fn a_stop_without_a_code_goes_straight_to_the_proof() {
        let m = manifest();
        let h = at_code_step(&m, "PARCEL31");
        assert!(matches!(
            h.step(),
            Step::Proof {
                verification: Verification::NotRequired,
                offline: false
            }
        ));
    }

    #[test]
    fn a_typo_in_the_code_stays_on_the_code_step_with_code_format() {
        let m = manifest();
        let mut h = at_code_step(&m, "PARCEL11");
        let mut typo = valid_code().into_bytes();
        typo[0] = if typo[0] == b'9' { b'8' } else { typo[0] + 1 };
        let typo = String::from_utf8(typo).unwrap();
        assert!(h.enter_code(&typo).unwrap().is_none());
        let Step::Code { error: Some(e), .. } = h.step() else {
            panic!("expected code step with error, got {:?}", h.step());
        };
        assert_eq!(e.code, AppErrorCode::CodeFormat);
        assert!(!e.message.contains(&typo));
    }

    #[test]
    fn the_first_parcel_scanned_starts_the_time_at_the_door_and_later_scans_do_not_move_it() {
        let m = manifest();
        let mut h = Handover::new();
        h.scan("NOPE", Some(&m), todo, 1_000).unwrap();
        assert_eq!(h.first_scan_at_ms(), None);
        h.scan("PARCEL11", Some(&m), todo, 2_000).unwrap();
        h.scan("PARCEL12", Some(&m), todo, 9_000).unwrap();
        assert_eq!(h.first_scan_at_ms(), Some(2_000));

        h.committed(DoneOutcome::Delivered, EventId::from_bytes([1; 16]));
        h.scan("PARCEL21", Some(&m), todo, 50_000).unwrap();
        assert_eq!(
            h.first_scan_at_ms(),
            Some(50_000),
            "the next stop starts over"
        );
    }

    #[test]
    fn a_code_the_check_digit_refuses_counts_as_a_typo_and_a_short_code_does_not() {
        let m = manifest();
        let mut h = at_code_step(&m, "PARCEL11");
        let mut typo = valid_code().into_bytes();
        typo.swap(1, 2);
        let typo = String::from_utf8(typo).unwrap();
        assert!(h.enter_code(&typo).unwrap().is_none());
        assert!(h.enter_code(&typo).unwrap().is_none());
        assert!(h.enter_code("123").unwrap().is_none());
        assert!(h.enter_code("12a4567").unwrap().is_none());
        assert_eq!(h.typos_caught(), 2);
        assert!(h.enter_code(&valid_code()).unwrap().is_some());
        assert_eq!(h.typos_caught(), 2);

        h.reset();
        assert_eq!(h.typos_caught(), 0);
    }

    #[test]
    fn an_unreachable_server_records_the_code_offline_when_the_stop_allows_it() {
        let m = manifest();
        let mut h = at_code_step(&m, "PARCEL11");
        let code = h.enter_code(&valid_code()).unwrap().unwrap();
        h.code_checked(code, VerifyAnswer::Unreachable).unwrap();
        assert!(matches!(
            h.step(),
            Step::Proof {
                verification: Verification::OfflineCode { .. },
                offline: true
            }
        ));
    }

    #[test]
    fn an_unreachable_server_refuses_offline_handover_when_the_stop_forbids_it() {
        let m = manifest();
        let mut h = at_code_step(&m, "PARCEL21");
        let code = h.enter_code(&valid_code()).unwrap().unwrap();
        h.code_checked(code, VerifyAnswer::Unreachable).unwrap();
        let Step::Code {
            offline: true,
            error: Some(e),
            ..
        } = h.step()
        else {
            panic!("expected offline code step, got {:?}", h.step());
        };
        assert_eq!(e.code, AppErrorCode::OfflineNotAllowed);
    }

    #[test]
    fn wrong_codes_count_down_and_the_last_one_locks() {
        let m = manifest();
        let mut h = at_code_step(&m, "PARCEL11");
        let code = h.enter_code(&valid_code()).unwrap().unwrap();
        h.code_checked(
            code.clone(),
            VerifyAnswer::Server(VerifyOutcome::Wrong { attempts_left: 2 }),
        )
        .unwrap();
        assert!(matches!(
            h.step(),
            Step::Code {
                attempts_left: Some(2),
                ..
            }
        ));
        h.code_checked(code, VerifyAnswer::Server(VerifyOutcome::Locked))
            .unwrap();
        assert_eq!(h.step(), &Step::Locked);
        assert!(h.check_exception().is_ok());
    }

    #[test]
    fn the_proof_needs_a_name_and_the_required_photo() {
        let m = manifest();
        let mut h = Handover::new();
        h.scan("PARCEL12", Some(&m), todo, 0).unwrap();
        h.finish_scanning(None).unwrap();
        let code = h.enter_code(&valid_code()).unwrap().unwrap();
        h.code_checked(
            code,
            VerifyAnswer::Server(VerifyOutcome::Verified {
                verification_id: "v1".into(),
            }),
        )
        .unwrap();
        let proof = |name, has_photo| ProofFacts {
            recipient_name: name,
            has_photo,
            ..ProofFacts::default()
        };
        assert!(matches!(
            h.check_proof(&proof("  ", true), 2026),
            Err(CourierError::RecipientRequired)
        ));
        assert!(matches!(
            h.check_proof(&proof("Ada", false), 2026),
            Err(CourierError::PhotoRequired)
        ));
        assert!(matches!(
            h.check_proof(&proof("Ada", true), 2026),
            Ok((Verification::OnlineCode { .. }, None))
        ));
    }

    #[test]
    fn a_token_for_the_stop_verifies_offline_and_a_forged_one_does_not() {
        let m = manifest();
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let mut keys = TokenKeys::new();
        keys.insert(KeyId([1, 2, 3, 4]), key.verifying_key());
        let claims = |subject| TokenClaims {
            key_id: KeyId([1, 2, 3, 4]),
            subject,
            recipient_ref: [0; 8],
            not_before: 1_000,
            expires: 2_000,
            nonce: [5; 8],
        };
        let stop_id = m.stops[0].stop_id;
        let good = claims(TokenSubject::Stop(stop_id)).sign(&key);
        let forged = claims(TokenSubject::Stop(stop_id))
            .sign(&ed25519_dalek::SigningKey::from_bytes(&[8; 32]));
        let other = claims(TokenSubject::Stop(m.stops[1].stop_id)).sign(&key);

        let mut h = at_code_step(&m, "PARCEL11");
        for bad in [&forged, &other] {
            h.token_scanned(bad.expose_text(), &keys, 1_500, 0).unwrap();
            let Step::Code { error: Some(e), .. } = h.step() else {
                panic!("expected a refused token");
            };
            assert_eq!(e.code, AppErrorCode::TokenInvalid);
        }
        h.token_scanned(good.expose_text(), &keys, 1_500, 0)
            .unwrap();
        assert!(matches!(
            h.step(),
            Step::Proof {
                verification: Verification::Token { .. },
                ..
            }
        ));
    }

    #[test]
    fn a_year_of_birth_passes_the_age_check_only_when_the_age_is_met_whatever_the_birthday() {
        let entry = |year_of_birth, meets_minimum_age| IdCheckEntry {
            id_type: IdType::Passport,
            year_of_birth,
            meets_minimum_age,
            courier_confirmed: true,
        };
        assert!(entry(Some(2007), false).record(Some(18), 2026).passed);
        assert!(!entry(Some(2008), false).record(Some(18), 2026).passed);
        assert!(entry(Some(2008), true).record(Some(18), 2026).passed);
        assert!(!entry(None, false).record(Some(18), 2026).passed);
        assert!(
            entry(None, false).record(None, 2026).passed,
            "an ID check without an age"
        );
        let unconfirmed = IdCheckEntry {
            courier_confirmed: false,
            ..entry(Some(1980), true)
        };
        assert!(!unconfirmed.record(Some(18), 2026).passed);
    }

    #[test]
    fn the_open_box_check_needs_the_photo_before_the_code_step() {
        let mut m = manifest();
        m.stops[0].parcels[0].methods = vec![DoorMethod {
            code_required: true,
            open_box_check: true,
            ..DoorMethod::plain(DeliveryMethod::HandToRecipient)
        }];
        let mut h = Handover::new();
        h.scan("PARCEL11", Some(&m), todo, 0).unwrap();
        assert!(matches!(
            h.finish_scanning(Some(DeliveryMethod::SafePlace)),
            Err(CourierError::MethodNotAllowed)
        ));
        h.finish_scanning(None).unwrap();
        assert_eq!(h.step(), &Step::OpenBox);
        assert!(matches!(
            h.enter_code(&valid_code()),
            Err(CourierError::WrongStep(_))
        ));
        assert!(matches!(
            h.contents_confirmed(),
            Err(CourierError::ContentsPhotoRequired)
        ));
        assert!(matches!(
            h.contents_checked(None),
            Err(CourierError::ContentsPhotoRequired)
        ));
        h.contents_checked(Some(("ab".into(), "/tmp/ab.jpg".into())))
            .unwrap();
        h.contents_confirmed().unwrap();
        assert!(matches!(h.step(), Step::Code { .. }));
        assert!(h.check_exception().is_ok());
    }

    #[test]
    fn commands_out_of_order_are_wrong_step_or_no_handover() {
        let m = manifest();
        let mut h = Handover::new();
        assert!(matches!(
            h.finish_scanning(None),
            Err(CourierError::NoHandover)
        ));
        h.scan("PARCEL11", Some(&m), todo, 0).unwrap();
        assert!(matches!(h.enter_code("1"), Err(CourierError::WrongStep(_))));
        h.finish_scanning(None).unwrap();
        assert!(matches!(
            h.scan("PARCEL12", Some(&m), todo, 0),
            Err(CourierError::WrongStep(_))
        ));
        h.committed(DoneOutcome::Exception, EventId::new_v7(1, [0; 10]));
        assert!(h.check_exception().is_err());
        h.scan("PARCEL31", Some(&m), todo, 0).unwrap();
        assert_eq!(h.step(), &Step::Scanning);
        assert_eq!(h.scanned(), &[m.stops[2].parcels[0].parcel_id]);
    }

    /// [`manifest`] with stop 1's parcels going `ways`, and `customer`'s method as the
    /// customer's choice for that stop.
    fn customer_chose(customer: Option<DeliveryMethod>, ways: &[DeliveryMethod]) -> Manifest {
        let mut m = manifest();
        for p in &mut m.stops[0].parcels {
            p.methods = ways.iter().copied().map(DoorMethod::plain).collect();
        }
        m.stops[0].customer = Some(doorstep_protocol::wire::CustomerChoice {
            method: customer,
            place: Some("Ana Ruiz, 14".into()),
            instructions: None,
        });
        m
    }

    const EVERY_WAY_BUT_PICKUP: [DeliveryMethod; 3] = [
        DeliveryMethod::HandToRecipient,
        DeliveryMethod::Neighbour,
        DeliveryMethod::SafePlace,
    ];

    #[test]
    fn the_customers_method_is_preselected_when_every_scanned_parcel_allows_it() {
        let m = customer_chose(Some(DeliveryMethod::Neighbour), &EVERY_WAY_BUT_PICKUP);
        let mut h = Handover::new();
        assert_eq!(h.preselected_method(), None, "no stop yet");
        h.scan("PARCEL11", Some(&m), todo, 0).unwrap();
        h.scan("PARCEL12", Some(&m), todo, 0).unwrap();
        assert_eq!(h.preselected_method(), Some(DeliveryMethod::Neighbour));
    }

    #[test]
    fn a_customers_method_the_scanned_parcels_do_not_all_allow_falls_back_to_the_default() {
        let m = customer_chose(Some(DeliveryMethod::PickupPoint), &EVERY_WAY_BUT_PICKUP);
        let mut h = Handover::new();
        h.scan("PARCEL11", Some(&m), todo, 0).unwrap();
        assert_eq!(h.preselected_method(), Some(DEFAULT_METHOD));

        let mut m = customer_chose(Some(DeliveryMethod::Neighbour), &EVERY_WAY_BUT_PICKUP);
        m.stops[0].parcels[1].methods = vec![DoorMethod::plain(DeliveryMethod::HandToRecipient)];
        let mut h = Handover::new();
        h.scan("PARCEL11", Some(&m), todo, 0).unwrap();
        assert_eq!(h.preselected_method(), Some(DeliveryMethod::Neighbour));
        h.scan("PARCEL12", Some(&m), todo, 0).unwrap();
        assert_eq!(
            h.preselected_method(),
            Some(DEFAULT_METHOD),
            "the second parcel goes only into the recipient's hands"
        );
    }

    #[test]
    fn without_a_customers_method_the_default_is_preselected_when_offered_and_else_none() {
        let m = customer_chose(None, &EVERY_WAY_BUT_PICKUP);
        let mut h = Handover::new();
        h.scan("PARCEL11", Some(&m), todo, 0).unwrap();
        assert_eq!(h.preselected_method(), Some(DEFAULT_METHOD));

        let m = customer_chose(
            Some(DeliveryMethod::Neighbour),
            &[DeliveryMethod::SafePlace],
        );
        let mut h = Handover::new();
        h.scan("PARCEL11", Some(&m), todo, 0).unwrap();
        assert_eq!(h.preselected_method(), None);
    }
}
