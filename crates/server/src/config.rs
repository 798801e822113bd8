//! Everything the server is told at start: where its data lives, demo or production, the
//! fleet's name, time zone and policy, the message providers, the limits and timeouts. Built by
//! the command line (`bin/doorstep-server`) or by a test; read by every layer, never changed
//! while the server runs.

use crate::sys::blobs::Blobs;
use crate::sys::{PHOTOS_DIR, RELEASES_DIR};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use doorstep_inputs::{Clock, Randomness, SystemClock};

use crate::domain::policy::Policy;
use crate::domain::zone;
use crate::store;

/// Demo mode shows a development outbox and an open fleet page; production refuses both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Seeded data, dev outbox, no SMTP needed.
    Demo,
    /// Real notifications only.
    Production,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection, then STARTTLS (required).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (local relays and tests only).
    Plain,
}

/// SMTP settings.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security.
    pub security: SmtpSecurity,
    /// Login, if the server wants one.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// The From address.
    pub from: String,
}

/// An HTTP SMS gateway (Twilio-style form post by default).
#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// URL to POST to.
    pub url: String,
    /// Basic auth user.
    pub username: Option<String>,
    /// Basic auth password or token.
    pub password: Option<String>,
    /// Sender number or name.
    pub from: String,
    /// Send JSON `{to, from, body}` instead of a form `To/From/Body`.
    pub json: bool,
}

/// Everything the server needs to run.
#[derive(Clone)]
pub struct ServerConfig {
    /// Where the database, secrets and photos live.
    pub data_dir: PathBuf,
    /// Demo or production.
    pub mode: Mode,
    /// The base URL people and phones reach the server at (links, enrollment QR).
    pub public_url: String,
    /// The fleet's name.
    pub fleet_name: String,
    /// The code policy.
    pub policy: Policy,
    /// The fleet's time zone (an IANA name such as Europe/Amsterdam): a code is valid until
    /// the end of its delivery day there, DST days included.
    pub time_zone: zone::FleetZone,
    /// What customers may choose on their page and until when, the fleet's delivery
    /// calendar and pickup points.
    pub customers: crate::domain::customer::CustomerRules,
    /// SMTP for email, if configured.
    pub smtp: Option<SmtpConfig>,
    /// SMS gateway, if configured.
    pub sms: Option<SmsConfig>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Where random bytes come from (ids, codes, tokens): the OS CSPRNG; tests may seed one.
    pub random: Randomness,
    /// Verification requests per second per client IP (sustained).
    pub verify_rate_per_sec: f64,
    /// Verification burst per client IP.
    pub verify_burst: f64,
    /// Take the client IP for rate limiting from the last `X-Forwarded-For` entry (set this
    /// only behind a reverse proxy that appends it; otherwise clients could pick their IP).
    pub trust_forwarded_for: bool,
    /// How long a new enrollment code works, seconds.
    pub enrollment_ttl_secs: i64,
    /// Outbox poll interval, milliseconds.
    pub outbox_poll_ms: u64,
    /// First retry delay of a failed message, milliseconds (doubles each time, at most 1 h).
    pub outbox_retry_base_ms: i64,
    /// Largest photo accepted, bytes.
    pub max_photo_bytes: usize,
    /// Largest JSON body accepted, bytes.
    pub max_json_bytes: usize,
    /// The highest rollout a release token may publish at (percent): a leaked CI token
    /// reaches a canary share at most, never every phone; the fleet manager raises it.
    pub release_token_max_rollout: u8,
    /// Hosts a release link may point to besides the app stores and this server.
    pub release_link_hosts: Vec<String>,
    /// The SHA-256 (hex) of the certificate Android releases must be signed with; `None`: the
    /// first signed release's.
    pub android_signing_cert: Option<String>,
    /// Largest release file accepted (`POST /v1/admin/releases`), bytes. The upload is
    /// streamed to disk, never held in memory.
    pub max_release_bytes: u64,
    // [proofs] settings of verifications and offline records
    /// How long after an online code check a record may use it, seconds (the courier takes
    /// the proof in between). The check is single use and bound to its phone and parcels.
    pub verification_ttl_secs: i64,
    /// How far back an offline record may claim to have happened, seconds. Together with
    /// "never before the phone's previous record" this stops a record from being backdated
    /// to a time when an old code was still in force.
    pub offline_window_secs: i64,
    /// A handover recorded further than this from the stop's address (metres) is flagged on
    /// its proof of delivery.
    pub far_handover_m: f64,
    // [console]
    /// The operator's map tiles for the console's Today map: a PMTiles archive (a Protomaps
    /// basemap extract of the fleet's region), served with Range requests. Without it the
    /// map shows the world's land, shipped with the server.
    pub map_tiles: Option<std::path::PathBuf>,
    // [outbox] settings of the outbox and webhooks
    /// Tries before a message is given up: its body (which may hold a code) is wiped and
    /// the fleet page lists it. With the doubling delay this bounds how long a code can sit
    /// in the database waiting for a provider.
    pub outbox_max_attempts: u32,
    /// Code messages (email or SMS) one address or number may get in 24 hours; more are
    /// held back and shown on the fleet page. Stops SMS pumping (texts to premium numbers
    /// paid by the fleet) through parcel creation or resends.
    pub outbox_recipient_daily_limit: u32,
    // [limits] request limits and quotas
    /// Timeouts, connection and request limits, rate limits per address and per device, the
    /// photo quota (see [`Limits`]).
    pub limits: Limits,
    // [files] files and deployment safety
    // [database] where the data lives and how nodes share it
    /// A PostgreSQL URL shared by every node of the fleet; `None`: the SQLite file in
    /// `data_dir` (one node).
    pub database: Option<String>,
    /// The secrets directory; `None`: `data_dir/secrets`. Every node of one database must
    /// have the same secrets (a shared or copied directory).
    pub secrets_dir: Option<PathBuf>,
    /// Connections of this node to PostgreSQL.
    pub database_pool_size: usize,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("data_dir", &self.data_dir)
            .field("mode", &self.mode)
            .field("public_url", &self.public_url)
            .field("smtp", &self.smtp.as_ref().map(|s| (&s.host, s.port)))
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// Where the store keeps its data: the PostgreSQL database, or the SQLite file in the
    /// data directory.
    pub fn store_location(&self) -> store::Location {
        match &self.database {
            Some(url) => store::Location::Postgres(url.clone()),
            None => store::Location::Sqlite(self.data_dir.clone()),
        }
    }

    /// The host of [`Self::public_url`] (release links may point to it).
    pub fn own_host(&self) -> String {
        reqwest::Url::parse(&self.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default()
    }

    /// The published release files, `DATA_DIR/releases/<sha256>` (shared by every node, like
    /// the photos).
    pub fn releases(&self) -> Blobs {
        Blobs::new(self.data_dir.join(RELEASES_DIR))
    }

    /// The couriers' photos and signatures, `DATA_DIR/photos/<sha256>`.
    pub fn photos(&self) -> Blobs {
        Blobs::new(self.data_dir.join(PHOTOS_DIR))
    }

    /// The secrets directory.
    pub fn secrets_path(&self) -> PathBuf {
        self.secrets_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secrets"))
    }

    /// Demo defaults: dev outbox, no SMTP, system clock, generous rate limits for tests.
    pub fn demo(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            mode: Mode::Demo,
            public_url: "http://127.0.0.1:8080".into(),
            fleet_name: "Doorstep Demo Fleet".into(),
            policy: Policy::default(),
            time_zone: zone::FleetZone::utc(),
            customers: Default::default(),
            smtp: None,
            sms: None,
            clock: Arc::new(SystemClock),
            random: Randomness::os(),
            verify_rate_per_sec: 200.0,
            verify_burst: 400.0,
            trust_forwarded_for: false,
            enrollment_ttl_secs: 15 * 60,
            outbox_poll_ms: 200,
            outbox_retry_base_ms: 500,
            max_photo_bytes: 8 * 1024 * 1024,
            max_json_bytes: 1024 * 1024,
            max_release_bytes: 300 * 1024 * 1024,
            release_token_max_rollout: 10,
            release_link_hosts: Vec::new(),
            android_signing_cert: None,
            // [proofs]
            verification_ttl_secs: 15 * 60,
            offline_window_secs: 48 * 3600,
            far_handover_m: 250.0,
            // [console]
            map_tiles: None,
            // [outbox]
            outbox_max_attempts: 8,
            outbox_recipient_daily_limit: 10,
            // [limits]
            limits: Limits::demo(),
            // [files]
            // [database]
            database: None,
            secrets_dir: None,
            database_pool_size: 16,
        }
    }

    /// Production defaults (stricter rate limit, slower retries).
    pub fn production(data_dir: impl Into<PathBuf>, public_url: impl Into<String>) -> Self {
        Self {
            mode: Mode::Production,
            public_url: public_url.into(),
            fleet_name: "Doorstep".into(),
            // Per client address; phones of a fleet may share one carrier NAT address, and
            // the per-code attempt counter is the real guard against guessing.
            verify_rate_per_sec: 20.0,
            verify_burst: 60.0,
            outbox_poll_ms: 2000,
            outbox_retry_base_ms: 10_000,
            // 10 s doubling, at most 1 h apart: 12 tries span about 3.5 hours, enough to
            // ride out a provider outage; the code's own expiry voids the message earlier.
            outbox_max_attempts: 12,
            limits: Limits::production(),
            ..Self::demo(data_dir)
        }
    }
}

/// A sustained rate with a burst on top.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests per second, sustained (may be below 1: 1/60 is one a minute).
    pub per_sec: f64,
    /// How many may come at once after a quiet spell.
    pub burst: u32,
}

impl Rate {
    /// So high that nothing is ever refused; for benchmarks.
    pub const UNLIMITED: Rate = Rate {
        per_sec: 1e9,
        burst: 1_000_000_000,
    };
}

/// What a client may push: `ServerConfig::limits`. The per-address limit of `/v1/verify`
/// stays in `ServerConfig::verify_rate_per_sec` / `verify_burst`.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// A request (body included) that takes longer is answered `408`.
    pub request_timeout: Duration,
    /// The same for a release upload (`POST /v1/admin/releases`, the fleet page's upload
    /// form), which may be hundreds of megabytes from a build runner.
    pub release_upload_timeout: Duration,
    /// Connections open at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Connections one client address may hold (`0`: no share); more are answered `503`.
    /// Not applied behind a proxy (`trust_forwarded_for`), where every connection is the
    /// proxy's.
    pub connections_per_address: usize,
    /// A connection that has not sent a request's headers this long after it opened, or
    /// after its last answer, is closed (slow headers, idle keep-alive).
    pub header_read_timeout: Duration,
    /// Requests being answered at once; more are answered `503` with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// After an early answer (413, 401, 429, ...) this much of the unread body is still read
    /// and thrown away so the client gets to read the answer; a longer body is cut off.
    pub max_discarded_body_bytes: u64,
    /// `/v1/verify` per device, on top of the per-address limit: one stolen phone cannot use
    /// up the budget of the fleet behind the same carrier NAT.
    pub verify_per_device: Rate,
    /// Sync, photos, manifest and resend, per device.
    pub device_requests: Rate,
    /// Records (delivery records, reports, check-ins) per device, counted one by one across
    /// sync batches: a phone cannot push thousands a second in batches of a thousand.
    pub records_per_device: Rate,
    /// `POST /v1/devices/enroll` per client address (enrollment codes are short).
    pub enroll_per_address: Rate,
    /// The customer page `/c/{ref}` per client address.
    pub customer_page_per_address: Rate,
    /// Changes a customer makes on their page, per link (a link is a stop): a leaked or
    /// scripted link cannot flood the courier's manifest, the shipper's webhook and the
    /// audit log.
    pub customer_choices_per_link: Rate,
    /// Failed sign-ins to the fleet page per client address; over it, every sign-in from
    /// that address (right or wrong) is answered `429` until the wait is over, so the answer
    /// never tells a guess apart.
    pub fleet_sign_in_failures_per_address: Rate,
    /// Failed sign-ins to the console per user name, the same way: guesses at one account
    /// spread over many addresses are slowed down too.
    pub fleet_sign_in_failures_per_user: Rate,
    /// Photo bytes one device may upload in any 24 hours.
    pub photo_bytes_per_device_per_day: u64,
    /// Photos one device may upload in any 24 hours.
    pub photos_per_device_per_day: u32,
}

impl Limits {
    /// Demo and test values: generous, so tests and QA scripts are not throttled.
    pub fn demo() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            release_upload_timeout: Duration::from_secs(30 * 60),
            max_connections: 512,
            // A quarter: a depot's phones behind one NAT hold one or two each, and one
            // address can never take more than a quarter of the slots.
            connections_per_address: 128,
            header_read_timeout: Duration::from_secs(10),
            max_concurrent_requests: 256,
            max_discarded_body_bytes: 16 * 1024 * 1024,
            verify_per_device: Rate {
                per_sec: 200.0,
                burst: 400,
            },
            device_requests: Rate {
                per_sec: 200.0,
                burst: 2000,
            },
            records_per_device: Rate {
                per_sec: 100_000.0,
                burst: 1_000_000,
            },
            enroll_per_address: Rate {
                per_sec: 10.0,
                burst: 1000,
            },
            customer_page_per_address: Rate {
                per_sec: 50.0,
                burst: 1000,
            },
            // Twenty changes, then one a minute: more than a person needs.
            customer_choices_per_link: Rate {
                per_sec: 1.0 / 60.0,
                burst: 20,
            },
            fleet_sign_in_failures_per_address: Rate {
                per_sec: 1.0,
                burst: 20,
            },
            fleet_sign_in_failures_per_user: Rate {
                per_sec: 1.0,
                burst: 20,
            },
            photo_bytes_per_device_per_day: 200 * 1024 * 1024,
            photos_per_device_per_day: 1000,
        }
    }

    /// Production values: what one courier's phone, one customer or one fleet manager needs,
    /// with room to spare.
    pub fn production() -> Self {
        Self {
            // A courier types a few codes a minute; a stop with several parcels may need a
            // burst, and wrong codes are counted per code anyway.
            verify_per_device: Rate {
                per_sec: 1.0,
                burst: 30,
            },
            // Sync after every commit, on a timer and by hand, photos, a manifest refresh.
            device_requests: Rate {
                per_sec: 10.0,
                burst: 120,
            },
            // A phone back from two days without signal (the offline window) sends a few
            // hundred to a couple of thousand records at once; a courier makes a few a minute.
            records_per_device: Rate {
                per_sec: 5.0,
                burst: 3000,
            },
            // Phones of a depot may enroll together behind one address; the codes are
            // random enough that this only slows down a scan for them.
            enroll_per_address: Rate {
                per_sec: 1.0 / 6.0,
                burst: 30,
            },
            customer_page_per_address: Rate {
                per_sec: 1.0,
                burst: 30,
            },
            // Five a minute after ten in a row.
            fleet_sign_in_failures_per_address: Rate {
                per_sec: 1.0 / 12.0,
                burst: 10,
            },
            // One a minute after five in a row: slow for a guesser, a short wait for the
            // user who mistyped.
            fleet_sign_in_failures_per_user: Rate {
                per_sec: 1.0 / 60.0,
                burst: 5,
            },
            ..Self::demo()
        }
    }
}
