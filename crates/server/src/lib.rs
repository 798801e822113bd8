//! The Doorstep dispatch server: code policy, delivery codes, devices, manifests and
//! exactly-once proof of delivery, over a JSON HTTP API under `/v1`.
//!
//! - [`store`]: the storage boundary (SQLite; every SQL statement lives there).
//! - [`policy`]: the declarative code policy (TOML) and its decisions with reasons.
//! - [`api`]: axum handlers, strict JSON, auth, errors as `{code, message}`.
//! - [`notify`]: the outbox worker (SMTP, SMS gateway, webhooks, dev outbox).
//! - [`pages`]: server-rendered HTML (customer page, fleet page, dev outbox, labels).
//! - [`labels`]: the label sheet's GS1-128 / Code 128 barcodes.
//!
//! Tests bind port 0 and call [`launch`]; everything a test needs to control (time, data
//! directory, SMTP) is in [`ServerConfig`].

pub mod api;
pub mod fleet_door;
pub mod fleet_releases;
pub mod http;
pub mod labels;
pub mod limits;
pub mod messages;
pub mod notify;
pub mod openapi;
pub mod pages;
pub mod policy;
pub mod release_admin;
pub mod release_routes;
pub mod releases;
pub mod secrets;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod zone;

use std::path::PathBuf;
use std::sync::Arc;

use doorstep_protocol::wire::{CreateParcelRequest, DeliveryMethod, Location, Money, Recipient};
use doorstep_protocol::{CourierId, ParcelId, StopId, barcode};

pub use api::router;
pub use doorstep_inputs::{Clock, ManualClock, Randomness, SystemClock};
pub use policy::Policy;
use secrets::Secrets;
use store::{Store, StoreSettings};

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
    /// photo quota (see [`limits::Limits`]).
    pub limits: limits::Limits,
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

    /// Where published release files are kept, `DATA_DIR/releases/<sha256>` (shared by every
    /// node, like the photos).
    pub fn releases_dir(&self) -> PathBuf {
        self.data_dir.join("releases")
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
            // [proofs]
            verification_ttl_secs: 15 * 60,
            offline_window_secs: 48 * 3600,
            // [outbox]
            outbox_max_attempts: 8,
            outbox_recipient_daily_limit: 10,
            // [limits]
            limits: limits::Limits::demo(),
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
            limits: limits::Limits::production(),
            ..Self::demo(data_dir)
        }
    }
}

/// Errors that stop the server or a command.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// File system.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Database.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A store operation failed.
    #[error("{0}")]
    Store(#[from] store::StoreError),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database was written by a newer server.
    #[error(
        "the database has schema version {found}, this server knows up to {supported}; run a newer server"
    )]
    DatabaseTooNew {
        /// Version in the file.
        found: i64,
        /// Newest version known here.
        supported: i64,
    },
    /// The policy file is invalid.
    #[error("policy: {0}")]
    Policy(String),
    /// Configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
}

/// Shared state of the running server.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<Store>,
    /// The configuration.
    pub config: Arc<ServerConfig>,
    /// Wakes the outbox worker.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Rate limiters, per address and per device, and the in-flight request limit.
    pub limiters: Arc<limits::Limiters>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens the data directory (secrets, database) and builds the state.
    pub fn open(config: ServerConfig) -> Result<Self, ServerError> {
        if config.mode == Mode::Production && config.smtp.is_none() && config.sms.is_none() {
            tracing::warn!(
                "production mode without SMTP or SMS: customer messages will wait in the outbox"
            );
        }
        let store = open_store(&config)?;
        let limiters = limits::Limiters::new(&config);
        Ok(Self {
            store: Arc::new(store),
            config: Arc::new(config),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            limiters: Arc::new(limiters),
        })
    }

    /// Now, Unix milliseconds.
    pub fn now(&self) -> i64 {
        self.config.clock.now_ms()
    }
}

/// Opens the data directory: checks the policy (a config built in code skips
/// [`Policy::from_toml`]), makes the directory and the database private, loads the secrets
/// (refusing ones that others can read) and opens the store.
fn open_store(config: &ServerConfig) -> Result<Store, ServerError> {
    config.policy.check()?;
    secrets::make_data_dir_private(&config.data_dir)?;
    let secrets = Secrets::load_or_create(&config.secrets_path())?;
    Store::open(
        &config.store_location(),
        secrets,
        StoreSettings {
            public_url: config.public_url.clone(),
            time_zone: config.time_zone.clone(),
            policy: config.policy.clone(),
            verification_ttl_ms: config.verification_ttl_secs.max(1) * 1000,
            offline_window_ms: config.offline_window_secs.max(60) * 1000,
            random: config.random.clone(),
            pool_size: config.database_pool_size,
        },
    )
}

/// Serves the API on `listener` until `shutdown` completes, with the outbox worker running.
pub async fn launch(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let state = tokio::task::spawn_blocking(move || AppState::open(config))
        .await
        .map_err(|e| ServerError::Config(format!("start-up task failed: {e}")))??;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(notify::run_outbox(state.clone(), stop_rx));
    let max_connections = state.config.limits.max_connections;
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    // `tap_io` only so that axum gives handlers the peer's SocketAddr for this listener.
    let listener = axum::serve::ListenerExt::tap_io(
        limits::ConnectionLimit::new(listener, max_connections),
        |_| {},
    );
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    result.map_err(ServerError::Io)
}

/// What [`seed_demo`] made.
#[derive(Debug, Clone)]
pub struct DemoSeed {
    /// A fresh enrollment code for the demo courier (valid 48 h).
    pub enrollment_code: String,
    /// The demo shipper's API key.
    pub shipper_api_key: String,
    /// The fleet manager's admin token.
    pub admin_token: String,
    /// The demo courier.
    pub courier_id: CourierId,
    /// The parcels.
    pub parcels: Vec<DemoParcel>,
    /// The barcode of a parcel on another courier's route the same day: on the label sheet,
    /// so QA can scan a parcel that is not on the demo courier's route.
    pub off_route_barcode: String,
}

/// One seeded parcel.
#[derive(Debug, Clone)]
pub struct DemoParcel {
    /// Parcel id.
    pub parcel_id: ParcelId,
    /// Its stop.
    pub stop_id: StopId,
    /// The label's barcode as printed under it and as a shipper would send it (e.g. the
    /// bracketed GS1 element string `(00)095212342611250016`); type or scan it.
    pub barcode: String,
    /// What a scan of the label resolves to, [`doorstep_protocol::Barcode::key`]: the
    /// parcel's `barcode` in the manifest (e.g. `00095212342611250016`).
    pub barcode_key: String,
    /// The stop's code in plain text (demo only), when one is needed.
    pub code: Option<String>,
    /// Whether a code is needed.
    pub code_required: bool,
    /// Whether offline handover is allowed.
    pub offline_allowed: bool,
    /// Whether a photo is needed.
    pub photo_required: bool,
    /// What kind of demo parcel this is.
    pub label: String,
    /// Recipient's name.
    pub recipient_name: String,
    /// The customer page.
    pub customer_url: String,
}

/// What kind of label a demo parcel carries. Most are GS1-128 with an SSCC, as parcel
/// carriers print them; one each of the other kinds keeps every path of
/// [`doorstep_protocol::Barcode::parse`] in the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DemoLabel {
    /// GS1-128, AI (00): an SSCC under the GS1 prefix 952, which GS1 set aside for examples
    /// and demonstrations, so a demo label never collides with a real parcel.
    Sscc,
    /// A UPU S10 postal tracking number, printed as Code 128.
    S10,
    /// A shipper's own reference, printed as Code 128: an opaque ID.
    Opaque,
}

/// The demo GS1 company prefix: GS1 prefix 952 (for examples) + company number 1234.
const DEMO_GS1_COMPANY_PREFIX: &str = "9521234";

/// The barcode text of the `n`th (1-based) demo parcel of the day `date` (`YYYY-MM-DD`). The
/// serial is made of the date and `n`, so the routes of different days never share a
/// barcode, and check digits are right.
fn demo_barcode(kind: DemoLabel, n: usize, date: &str) -> String {
    let digits: String = date.chars().filter(char::is_ascii_digit).collect();
    let yymmdd = digits.get(2..8).unwrap_or("000000");
    let to_digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<u8>>();
    match kind {
        DemoLabel::Sscc => {
            // Extension digit 0, company prefix (7 digits), serial reference (9), check digit.
            let body = format!("0{DEMO_GS1_COMPANY_PREFIX}{yymmdd}{:03}", n % 1000);
            let check = barcode::gs1_check_digit(&to_digits(&body));
            format!("(00){body}{check}")
        }
        DemoLabel::S10 => {
            // Service indicator CP (parcel), serial, check digit, country NL.
            let serial = format!("{yymmdd}{:02}", n % 100);
            let mut serial_digits = [0u8; 8];
            serial_digits.copy_from_slice(&to_digits(&serial));
            let check = barcode::s10_check_digit(&serial_digits);
            format!("CP{serial}{check}NL")
        }
        DemoLabel::Opaque => format!("DEMO-{yymmdd}-{n:02}"),
    }
}

struct DemoSpec {
    label: &'static str,
    kind: DemoLabel,
    name: &'static str,
    address: &'static str,
    postal: &'static str,
    email: Option<&'static str>,
    phone: Option<&'static str>,
    value: Option<&'static str>,
    method: DeliveryMethod,
    age: bool,
    opt_in: bool,
    shipper: bool,
    alternatives: &'static [DeliveryMethod],
    safe_places: &'static [&'static str],
    language: Option<&'static str>,
}

const fn spec(label: &'static str, name: &'static str, address: &'static str) -> DemoSpec {
    DemoSpec {
        label,
        kind: DemoLabel::Sscc,
        name,
        address,
        postal: "1011",
        email: None,
        phone: None,
        value: None,
        method: DeliveryMethod::HandToRecipient,
        age: false,
        opt_in: false,
        shipper: false,
        alternatives: &[],
        safe_places: &[],
        language: None,
    }
}

fn demo_specs() -> Vec<DemoSpec> {
    vec![
        DemoSpec {
            value: Some("24.90"),
            email: Some("ada@example.com"),
            ..spec(
                "no code: low value",
                "Ada Lovelace",
                "Keizersgracht 1, Amsterdam",
            )
        },
        DemoSpec {
            value: Some("612.00"),
            email: Some("grace@example.com"),
            ..spec(
                "code + photo: high value",
                "Grace Hopper",
                "Herengracht 20, Amsterdam",
            )
        },
        DemoSpec {
            value: Some("1499.00"),
            email: Some("alan@example.com"),
            ..spec(
                "code, no offline handover: very high value",
                "Alan Turing",
                "Prinsengracht 300, Amsterdam",
            )
        },
        DemoSpec {
            opt_in: true,
            phone: Some("+31600000004"),
            email: Some("edsger@example.com"),
            ..spec(
                "code: recipient asked for one (stop with two parcels)",
                "Edsger Dijkstra",
                "Singel 40, Amsterdam",
            )
        },
        DemoSpec {
            opt_in: true,
            phone: Some("+31600000004"),
            email: Some("edsger@example.com"),
            ..spec(
                "code: second parcel of the same stop (shares the code)",
                "Edsger Dijkstra",
                "Singel 40, Amsterdam",
            )
        },
        DemoSpec {
            age: true,
            value: Some("45.00"),
            email: Some("barbara@example.com"),
            ..spec(
                "code, no offline handover: age-restricted",
                "Barbara Liskov",
                "Damrak 5, Amsterdam",
            )
        },
        DemoSpec {
            shipper: true,
            email: Some("donald@example.com"),
            ..spec(
                "code: shipper requires one",
                "Donald Knuth",
                "Rokin 70, Amsterdam",
            )
        },
        DemoSpec {
            method: DeliveryMethod::SafePlace,
            value: Some("12.00"),
            kind: DemoLabel::Opaque,
            safe_places: &["front porch", "behind the side gate"],
            ..spec(
                "no code: safe place",
                "Margaret Hamilton",
                "Spui 10, Amsterdam",
            )
        },
        DemoSpec {
            method: DeliveryMethod::Neighbour,
            kind: DemoLabel::S10,
            ..spec("no code: neighbour", "Ken Thompson", "Dam 1, Amsterdam")
        },
        DemoSpec {
            value: Some("89.00"),
            email: Some("frances@example.com"),
            alternatives: &[DeliveryMethod::Neighbour, DeliveryMethod::SafePlace],
            safe_places: &["in the garden shed"],
            language: Some("es"),
            ..spec(
                "no code: two parcels, one stop; neighbour or safe place allowed",
                "Frances Allen",
                "Kalverstraat 92, Amsterdam",
            )
        },
        DemoSpec {
            value: Some("15.00"),
            email: Some("frances@example.com"),
            alternatives: &[DeliveryMethod::Neighbour, DeliveryMethod::SafePlace],
            language: Some("es"),
            ..spec(
                "no code: second parcel of the same stop",
                "Frances Allen",
                "Kalverstraat 92, Amsterdam",
            )
        },
        DemoSpec {
            method: DeliveryMethod::PickupPoint,
            value: Some("30.00"),
            email: Some("radia@example.com"),
            opt_in: true,
            ..spec(
                "code: pickup point, recipient asked",
                "Radia Perlman",
                "Nieuwmarkt 4, Amsterdam",
            )
        },
    ]
}

/// Seeds a shipper, a courier "Demo Courier" and a route of 12 parcels on 10 stops for
/// `date`. Works on a data directory whose server is not running (or before [`launch`]).
/// Calling it again on the same directory adds a fresh enrollment code and reuses the rest.
pub fn seed_demo(config: &ServerConfig, date: &str) -> Result<DemoSeed, ServerError> {
    let store = open_store(config)?;
    let now = config.clock.now_ms();
    let courier_id = match store.courier_by_name("Demo Courier")? {
        Some(id) => id,
        None => store.create_courier("Demo Courier", now)?,
    };
    let (shipper_id, shipper_api_key, _) = store.create_shipper("Demo Shop", None, now)?;
    let mut parcels = Vec::new();
    let mut stop_codes: std::collections::HashMap<StopId, String> = Default::default();
    for (i, s) in demo_specs().into_iter().enumerate() {
        let barcode = demo_barcode(s.kind, i + 1, date);
        let req = CreateParcelRequest {
            barcode: barcode.clone(),
            recipient: Recipient {
                name: s.name.into(),
                phone: s.phone.map(Into::into),
                email: s.email.map(Into::into),
                language: s.language.map(Into::into),
            },
            address: s.address.into(),
            postal_code: s.postal.into(),
            location: Some(Location {
                lat: 52.37 + i as f64 * 0.001,
                lon: 4.89 + i as f64 * 0.001,
                accuracy_m: None,
            }),
            declared_value: s.value.map(|v| Money {
                amount: v.into(),
                currency: "EUR".into(),
            }),
            method: s.method,
            alternatives: s.alternatives.to_vec(),
            safe_places: s.safe_places.iter().map(|p| p.to_string()).collect(),
            delivery_date: date.into(),
            age_restricted: s.age,
            recipient_requested_code: s.opt_in,
            shipper_requires_code: s.shipper,
            courier_id: Some(courier_id),
            description: Some(format!("Demo parcel {}", i + 1)),
        };
        let created = match store.create_parcel(&shipper_id.to_string(), &req, now) {
            Ok(c) => c,
            Err(store::StoreError::Conflict(_)) => {
                return Err(ServerError::Config(format!(
                    "the demo route for {date} is already seeded in this data directory; use a fresh --data-dir"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(code) = &created.new_code {
            stop_codes.insert(created.view.stop_id, code.clone());
        }
        parcels.push(DemoParcel {
            parcel_id: created.view.parcel_id,
            stop_id: created.view.stop_id,
            barcode_key: created.view.barcode.clone(),
            barcode,
            code: None,
            code_required: created.view.decision.code_required,
            offline_allowed: created.view.decision.offline_allowed,
            photo_required: created.decision.photo_required,
            label: s.label.into(),
            recipient_name: s.name.into(),
            customer_url: created.view.customer_url.clone(),
        });
    }
    for p in &mut parcels {
        p.code = stop_codes.get(&p.stop_id).cloned();
    }
    // A parcel of the same day on another courier's route.
    let other = match store.courier_by_name("Second Courier")? {
        Some(id) => id,
        None => store.create_courier("Second Courier", now)?,
    };
    let off_route_barcode = demo_barcode(DemoLabel::Opaque, demo_specs().len() + 1, date);
    store.create_parcel(
        &shipper_id.to_string(),
        &CreateParcelRequest {
            barcode: off_route_barcode.clone(),
            recipient: Recipient {
                name: "Tim Berners-Lee".into(),
                phone: None,
                email: None,
                language: None,
            },
            address: "Leidseplein 12, Amsterdam".into(),
            postal_code: "1017".into(),
            location: None,
            declared_value: Some(Money {
                amount: "20.00".into(),
                currency: "EUR".into(),
            }),
            method: DeliveryMethod::HandToRecipient,
            alternatives: Vec::new(),
            safe_places: Vec::new(),
            delivery_date: date.into(),
            age_restricted: false,
            recipient_requested_code: false,
            shipper_requires_code: false,
            courier_id: Some(other),
            description: Some("Not on Demo Courier's route (Second Courier's parcel)".into()),
        },
        now,
    )?;
    let (enrollment_code, _) = store.create_enrollment(courier_id, 48 * 3600 * 1000, now)?;
    Ok(DemoSeed {
        enrollment_code,
        shipper_api_key,
        admin_token: store.secrets().admin_token().to_string(),
        courier_id,
        parcels,
        off_route_barcode,
    })
}

/// Makes an enrollment code for a courier by name (creating the courier if new), for the
/// `enroll` command. Returns (code, enrollment URI).
pub fn create_enrollment(
    config: &ServerConfig,
    courier_name: &str,
) -> Result<(String, String), ServerError> {
    let store = open_store(config)?;
    let now = config.clock.now_ms();
    let courier = match store.courier_by_name(courier_name)? {
        Some(id) => id,
        None => store.create_courier(courier_name, now)?,
    };
    let (code, _) = store.create_enrollment(courier, config.enrollment_ttl_secs * 1000, now)?;
    let uri = doorstep_protocol::wire::EnrollmentLink {
        server_url: config.public_url.clone(),
        code: code.clone(),
    }
    .to_uri();
    Ok((code, uri))
}

/// The admin token of a data directory (made at first start).
pub fn admin_token(config: &ServerConfig) -> Result<String, ServerError> {
    Ok(Secrets::load_or_create(&config.secrets_path())?
        .admin_token()
        .to_string())
}

/// The label sheet (HTML) of a day's parcels in a data directory.
pub fn labels_for(config: &ServerConfig, date: &str) -> Result<String, ServerError> {
    let store = open_store(config)?;
    Ok(pages::labels_html(&store.labels(date)?))
}
