//! `doorstep-server`: serve, demo, enroll, labels.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use doorstep_server::{
    Mode, Policy, ServerConfig, SmsConfig, SmtpConfig, SmtpSecurity, launch, pages, seed_demo,
};

/// The Doorstep dispatch server.
#[derive(Debug, Parser)]
#[command(name = "doorstep-server", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (production mode unless --demo-mode).
    Serve(Box<ServeArgs>),
    /// Seed a fresh data directory with a demo route and run the server in demo mode.
    Demo(DemoArgs),
    /// Make a single-use enrollment code for a courier; prints a QR and writes an SVG.
    Enroll(EnrollArgs),
    /// Write a printable HTML sheet of a day's parcel labels (Code 128 + QR).
    Labels(LabelsArgs),
    /// Print the built-in policy (a template for --policy).
    PolicyTemplate,
    /// Make a new token signing key; the old public key stays valid for tokens already out.
    /// Run while the server is stopped.
    RotateTokenKey(RotateArgs),
    /// Revoke a token key that may be compromised: tokens it signed are refused at sync and
    /// it is no longer published (phones drop it). A new signing key is made if it was the
    /// current one. Run while the server is stopped.
    RevokeTokenKey(RevokeArgs),
    /// Replace the admin token and print the new one (once). The old token works until the
    /// server restarts. Run while the server is stopped, or restart it afterwards.
    RotateAdminToken(RotateArgs),
    /// Copy a fleet from its SQLite file to an empty PostgreSQL database, checking every
    /// table (rows and SHA-256) before committing. Stop the server first.
    Migrate(MigrateArgs),
    /// The fleet's release channel: publish a build, stage its rollout, pause or withdraw it,
    /// set the minimum version, make a release token for the build pipeline. Works while the
    /// server runs.
    #[command(subcommand)]
    Release(ReleaseCommand),
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// Publish a build: --file (an APK for android, an AppImage or .deb for linux) or --url (an
    /// App Store / TestFlight / Play link).
    Publish {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        which: ReleaseWhich,
        /// The build to upload.
        #[arg(long, conflicts_with = "url", required_unless_present = "url")]
        file: Option<PathBuf>,
        /// Or an https link to it.
        #[arg(long)]
        url: Option<String>,
        /// Share of devices offered it at once (raise it later with `release rollout`).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u8).range(0..=100))]
        rollout: u8,
    },
    /// Raise a release's rollout percentage (it only grows).
    Rollout {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        which: ReleaseWhich,
        /// New percentage.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: u8,
    },
    /// Stop offering a release to devices that do not have it yet.
    Pause(ReleaseTarget),
    /// Offer a paused release again.
    Resume(ReleaseTarget),
    /// Withdraw a release: devices are offered the previous one again.
    Withdraw(ReleaseTarget),
    /// Undo a withdrawal.
    Restore(ReleaseTarget),
    /// Set the minimum supported version (devices below it must update), or --clear it.
    Minimum {
        #[command(flatten)]
        common: Common,
        /// android, ios, linux, macos or windows.
        #[arg(long, value_parser = platform_arg)]
        platform: doorstep_protocol::wire::Platform,
        /// The minimum (SemVer).
        #[arg(long, value_parser = version_arg, conflicts_with = "clear", required_unless_present = "clear")]
        version: Option<semver::Version>,
        /// Clear the minimum.
        #[arg(long)]
        clear: bool,
    },
    /// List the releases per platform, with their rollout and how many devices run each.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Make a release token for the build pipeline (DOORSTEP_RELEASE_TOKEN): it can publish
    /// releases and nothing else. Shown once.
    Token {
        #[command(flatten)]
        common: Common,
        /// What it is for, e.g. ci.
        #[arg(long, default_value = "ci")]
        label: String,
    },
    /// Revoke the release tokens with this label.
    RevokeToken {
        #[command(flatten)]
        common: Common,
        /// Their label.
        #[arg(long)]
        label: String,
    },
}

#[derive(Debug, Args)]
struct ReleaseWhich {
    /// android, ios, linux, macos or windows.
    #[arg(long, value_parser = platform_arg)]
    platform: doorstep_protocol::wire::Platform,
    /// The release's version (SemVer, e.g. 1.4.0).
    #[arg(long, value_parser = version_arg)]
    version: semver::Version,
}

#[derive(Debug, Args)]
struct ReleaseTarget {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    which: ReleaseWhich,
}

fn platform_arg(text: &str) -> Result<doorstep_protocol::wire::Platform, String> {
    doorstep_server::releases::parse_platform(text)
}

fn version_arg(text: &str) -> Result<semver::Version, String> {
    doorstep_server::releases::parse_version(text)
}

#[derive(Debug, Args)]
struct Common {
    /// Data directory (database, secrets, photos).
    #[arg(long, env = "DOORSTEP_DATA_DIR", default_value = "./doorstep-data")]
    data_dir: PathBuf,
    /// Base URL phones and customers reach this server at.
    #[arg(long, env = "DOORSTEP_PUBLIC_URL")]
    public_url: Option<String>,
    /// The fleet's time zone, an IANA name (Europe/Amsterdam, America/New_York) or a fixed
    /// offset (+01:00): codes are valid until the end of their delivery day there.
    #[arg(long, env = "DOORSTEP_TIME_ZONE", default_value = "UTC")]
    time_zone: doorstep_server::zone::FleetZone,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// Where the data lives when several nodes share it.
#[derive(Debug, Args)]
struct DatabaseArgs {
    /// A PostgreSQL database shared by every node (postgres://user:password@host:5432/db);
    /// without it, the SQLite file in the data directory (one node).
    #[arg(long, env = "DOORSTEP_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// The secrets directory (default: DATA_DIR/secrets). Every node of one database needs
    /// the same secrets: give them all this directory (or a copy of it).
    #[arg(long, env = "DOORSTEP_SECRETS_DIR")]
    secrets_dir: Option<PathBuf>,
    /// Connections this node keeps to PostgreSQL.
    #[arg(long, env = "DOORSTEP_DATABASE_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(2..=500))]
    database_pool_size: u16,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// Address to listen on. Loopback by default: put a reverse proxy with TLS in front,
    /// or give an address other machines can reach (e.g. 0.0.0.0:8080) on purpose.
    #[arg(long, env = "DOORSTEP_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Accept a --public-url that is not https:// in production (device tokens, codes and
    /// the admin token then cross the network unencrypted; closed test networks only).
    #[arg(long, env = "DOORSTEP_ALLOW_INSECURE_PUBLIC_URL")]
    allow_insecure_public_url: bool,
    /// Run in demo mode (dev outbox on, fleet page open).
    #[arg(long)]
    demo_mode: bool,
    /// How long after an online code check a record may use it (single use, bound to the
    /// phone and the parcels it covered).
    #[arg(long, env = "DOORSTEP_VERIFICATION_TTL_SECS", default_value_t = 15 * 60,
          value_parser = clap::value_parser!(i64).range(30..=86_400))]
    verification_ttl_secs: i64,
    /// How far back an offline record may claim to have happened; older records are
    /// refused as backdated.
    #[arg(long, env = "DOORSTEP_OFFLINE_WINDOW_HOURS", default_value_t = 48,
          value_parser = clap::value_parser!(i64).range(1..=168))]
    offline_window_hours: i64,
    /// Tries before the outbox gives a message up (its body is then wiped; the fleet page
    /// lists it). Default: 12 in production.
    #[arg(long, env = "DOORSTEP_OUTBOX_MAX_ATTEMPTS",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    outbox_max_attempts: Option<u32>,
    /// Code messages one address or number may get in 24 hours (against SMS pumping).
    #[arg(long, env = "DOORSTEP_OUTBOX_RECIPIENT_DAILY_LIMIT", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    outbox_recipient_daily_limit: u32,
    /// Policy file (TOML); the built-in policy otherwise.
    #[arg(long, env = "DOORSTEP_POLICY")]
    policy: Option<PathBuf>,
    /// Fleet name shown in the app.
    #[arg(long, env = "DOORSTEP_FLEET_NAME", default_value = "Doorstep")]
    fleet_name: String,
    /// SMTP host (enables email).
    #[arg(long, env = "DOORSTEP_SMTP_HOST")]
    smtp_host: Option<String>,
    /// SMTP port.
    #[arg(long, env = "DOORSTEP_SMTP_PORT", default_value_t = 587)]
    smtp_port: u16,
    /// SMTP security.
    #[arg(
        long,
        env = "DOORSTEP_SMTP_SECURITY",
        value_enum,
        default_value = "starttls"
    )]
    smtp_security: SmtpSecurity,
    /// SMTP user.
    #[arg(long, env = "DOORSTEP_SMTP_USER")]
    smtp_user: Option<String>,
    /// SMTP password (prefer the environment variable).
    #[arg(long, env = "DOORSTEP_SMTP_PASSWORD", hide_env_values = true)]
    smtp_password: Option<String>,
    /// From address.
    #[arg(
        long,
        env = "DOORSTEP_SMTP_FROM",
        default_value = "Doorstep <no-reply@localhost>"
    )]
    smtp_from: String,
    /// SMS gateway URL (enables SMS).
    #[arg(long, env = "DOORSTEP_SMS_URL")]
    sms_url: Option<String>,
    /// SMS gateway basic-auth user (e.g. Twilio account SID).
    #[arg(long, env = "DOORSTEP_SMS_USER")]
    sms_user: Option<String>,
    /// SMS gateway password or token.
    #[arg(long, env = "DOORSTEP_SMS_PASSWORD", hide_env_values = true)]
    sms_password: Option<String>,
    /// SMS sender.
    #[arg(long, env = "DOORSTEP_SMS_FROM", default_value = "Doorstep")]
    sms_from: String,
    /// Send SMS as JSON {to, from, body} instead of a Twilio-style form.
    #[arg(long)]
    sms_json: bool,
    /// Rate-limit by the last X-Forwarded-For address (only behind a proxy that sets it).
    #[arg(long, env = "DOORSTEP_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
    /// A request (body included) not answered within this many seconds gets 408.
    #[arg(long, env = "DOORSTEP_REQUEST_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    request_timeout_secs: u64,
    /// Connections open at once; more wait until one closes.
    #[arg(long, env = "DOORSTEP_MAX_CONNECTIONS", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_connections: u32,
    /// Requests answered at once; more get 503 with Retry-After.
    #[arg(long, env = "DOORSTEP_MAX_CONCURRENT_REQUESTS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_concurrent_requests: u32,
    /// Photo megabytes one phone may upload in 24 hours (more get 429 with Retry-After).
    #[arg(long, env = "DOORSTEP_PHOTO_QUOTA_MB_PER_DAY", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    photo_quota_mb_per_day: u64,
    /// Photos one phone may upload in 24 hours.
    #[arg(long, env = "DOORSTEP_PHOTO_QUOTA_PER_DAY", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    photo_quota_per_day: u32,
    /// Largest release file a fleet manager or the build pipeline may upload, megabytes
    /// (streamed to disk, never held in memory).
    #[arg(long, env = "DOORSTEP_MAX_RELEASE_MB", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    max_release_mb: u64,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Data directory (a fresh one is best).
    #[arg(long, default_value = "./doorstep-demo")]
    data_dir: PathBuf,
    /// Address to listen on. Another address than loopback (e.g. 0.0.0.0 for a phone on
    /// the LAN) opens the fleet page, its enrollment button and the customers' codes in the
    /// development outbox to that network.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Base URL phones use; defaults to http://<host>:<port> (use your LAN address for a phone,
    /// http://10.0.2.2:<port> for the Android emulator).
    #[arg(long)]
    public_url: Option<String>,
    /// Delivery day of the demo route (default: today, UTC).
    #[arg(long)]
    date: Option<String>,
    /// Also write what was seeded (enrollment URI, admin token, the parcels with their codes)
    /// as JSON to this file, for QA scripts and the end-to-end tests.
    #[arg(long)]
    seed_json: Option<PathBuf>,
    /// Seed the data directory and exit without serving (start it later with `serve --demo-mode`).
    #[arg(long)]
    seed_only: bool,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, Args)]
struct EnrollArgs {
    #[command(flatten)]
    common: Common,
    /// Courier name (created if new).
    #[arg(long)]
    courier: String,
    /// Where to write the QR as SVG.
    #[arg(long, default_value = "enrollment.svg")]
    svg: PathBuf,
}

#[derive(Debug, Args)]
struct RotateArgs {
    /// Data directory.
    #[arg(long, env = "DOORSTEP_DATA_DIR", default_value = "./doorstep-data")]
    data_dir: PathBuf,
    /// The secrets directory (default: DATA_DIR/secrets); with several nodes, the shared one.
    #[arg(long, env = "DOORSTEP_SECRETS_DIR")]
    secrets_dir: Option<PathBuf>,
}

impl RotateArgs {
    fn secrets(&self) -> PathBuf {
        self.secrets_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secrets"))
    }
}

#[derive(Debug, Args)]
struct RevokeArgs {
    #[command(flatten)]
    dirs: RotateArgs,
    /// The key to revoke: 8 hex digits, as listed at /.well-known/doorstep-keys.
    #[arg(long)]
    key_id: doorstep_protocol::KeyId,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    /// The database to copy: sqlite:DATA_DIR (or sqlite:DATA_DIR/doorstep.sqlite3). It is
    /// only read.
    #[arg(long)]
    from: String,
    /// The PostgreSQL database to copy into; it must be empty (its schema is made):
    /// postgres://user[:password]@host[:port]/database.
    #[arg(long, env = "DOORSTEP_DATABASE_URL", hide_env_values = true)]
    to: String,
    /// The fleet's secrets directory (default: DATA_DIR/secrets of --from); the nodes on
    /// PostgreSQL need the same one.
    #[arg(long, env = "DOORSTEP_SECRETS_DIR")]
    secrets_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct LabelsArgs {
    #[command(flatten)]
    common: Common,
    /// Delivery day (default: today).
    #[arg(long)]
    date: Option<String>,
    /// Output file.
    #[arg(long, default_value = "labels.html")]
    out: PathBuf,
}

fn config_from(common: &Common, mode: Mode) -> ServerConfig {
    let url = common
        .public_url
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let mut c = match mode {
        Mode::Demo => ServerConfig::demo(&common.data_dir),
        Mode::Production => ServerConfig::production(&common.data_dir, url.clone()),
    };
    c.public_url = url;
    c.time_zone = common.time_zone.clone();
    c.database = common.database.database.clone();
    c.secrets_dir = common.database.secrets_dir.clone();
    c.database_pool_size = usize::from(common.database.database_pool_size);
    c
}

/// Whether `url` may go into a production server's QR codes and customer links: https://, or
/// http:// to this machine (loopback traffic never crosses a network).
fn public_url_is_safe(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        return true;
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An app version flag's value: SemVer, or refused at start. The app ranks a minimum it
/// cannot read below every version (it asks nothing), so a typo here would silently let
/// every old app keep working; refusing it is what makes the policy hold.
/// What the demo prints when other machines can reach it: demo mode has no sign-in.
fn exposure_warning(addr: std::net::SocketAddr) -> String {
    format!(
        "WARNING: this demo server listens on {addr}, which other machines can reach. In demo mode \
         the fleet page has no sign-in, so anyone on that network can open it, press its \
         enrollment button to enroll a phone, and read every customer's delivery code in the \
         development outbox (/dev/outbox). Use --host 127.0.0.1 unless a phone on a network you \
         trust needs to reach it."
    )
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::RotateTokenKey(a) => {
            let id = doorstep_server::secrets::rotate_token_key(&a.secrets())?;
            println!("new token signing key {id}; restart the server to use it");
        }
        Command::RevokeTokenKey(a) => {
            use doorstep_server::secrets::{Revocation, revoke_token_key};
            let id = a.key_id;
            match revoke_token_key(&a.dirs.secrets(), id)? {
                Revocation::AlreadyRevoked => println!("token key {id} was already revoked"),
                Revocation::RetiredKeyRevoked => println!(
                    "revoked token key {id}; restart the server: it then refuses tokens signed \
                     by {id} and stops publishing it, and phones drop it at their next manifest"
                ),
                Revocation::SigningKeyReplaced { new_key_id } => println!(
                    "revoked token key {id}; the new signing key is {new_key_id}. Restart the \
                     server: it then refuses tokens signed by {id} and stops publishing it, \
                     phones drop it at their next manifest, and customer pages show QR codes \
                     signed by {new_key_id} (QR codes already shown no longer work)"
                ),
            }
        }
        Command::RotateAdminToken(a) => {
            let token = doorstep_server::secrets::rotate_admin_token(&a.secrets())?;
            println!("{token}");
            eprintln!(
                "new admin token written to {}; it is shown only this once. Restart the server: \
                 the old token works until then.",
                a.secrets().join("admin.token").display()
            );
        }
        Command::Migrate(a) => {
            use doorstep_server::store::{Location, copy};
            let from = Location::parse(&a.from).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
            let to = Location::parse(&a.to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
            let report = tokio::task::spawn_blocking(move || {
                copy::migrate_sqlite_to_postgres(&from, &to, a.secrets_dir.as_deref(), &|line| {
                    eprintln!("{line}");
                })
            })
            .await??;
            print!("{report}");
        }
        Command::PolicyTemplate => {
            print!("{}", doorstep_server::policy::DEFAULT_POLICY.trim_start());
        }
        Command::Serve(a) => {
            let mode = if a.demo_mode {
                Mode::Demo
            } else {
                Mode::Production
            };
            let mut config = config_from(&a.common, mode);
            if mode == Mode::Production
                && !a.allow_insecure_public_url
                && !public_url_is_safe(&config.public_url)
            {
                return Err(doorstep_server::ServerError::Config(format!(
                    "--public-url {} is not an https:// address. Phones and customers send \
                     device tokens, delivery codes and the admin token to it, which must not \
                     cross a network unencrypted. Put a reverse proxy with TLS in front of the \
                     server (Caddy or nginx, with --trust-forwarded-for: see \"Security\" in the \
                     server's README) and give its https:// address, or pass \
                     --allow-insecure-public-url on a closed test network.",
                    config.public_url
                ))
                .into());
            }
            config.fleet_name = a.fleet_name.clone();
            config.trust_forwarded_for = a.trust_forwarded_for;
            config.limits.request_timeout = std::time::Duration::from_secs(a.request_timeout_secs);
            config.limits.max_connections = a.max_connections as usize;
            config.limits.max_concurrent_requests = a.max_concurrent_requests as usize;
            config.limits.photo_bytes_per_device_per_day = a.photo_quota_mb_per_day * 1024 * 1024;
            config.limits.photos_per_device_per_day = a.photo_quota_per_day;
            config.verification_ttl_secs = a.verification_ttl_secs;
            config.offline_window_secs = a.offline_window_hours.saturating_mul(3600);
            if let Some(n) = a.outbox_max_attempts {
                config.outbox_max_attempts = n;
            }
            config.outbox_recipient_daily_limit = a.outbox_recipient_daily_limit;
            if let Some(p) = &a.policy {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                config.policy = Policy::from_toml(&text)?;
            }
            config.smtp = a.smtp_host.as_ref().map(|host| SmtpConfig {
                host: host.clone(),
                port: a.smtp_port,
                security: a.smtp_security,
                username: a.smtp_user.clone(),
                password: a.smtp_password.clone(),
                from: a.smtp_from.clone(),
            });
            config.sms = a.sms_url.as_ref().map(|url| SmsConfig {
                url: url.clone(),
                username: a.sms_user.clone(),
                password: a.sms_password.clone(),
                from: a.sms_from.clone(),
                json: a.sms_json,
            });
            config.max_release_bytes = a.max_release_mb * 1024 * 1024;
            let listener = tokio::net::TcpListener::bind(&a.listen)
                .await
                .with_context(|| format!("binding {}", a.listen))?;
            let addr = listener.local_addr()?;
            tracing::info!(%addr, mode = ?mode, "doorstep-server listening");
            if mode == Mode::Demo && !addr.ip().is_loopback() {
                tracing::warn!("{}", exposure_warning(addr));
            }
            launch(listener, config, shutdown_signal()).await?;
        }
        Command::Demo(a) => {
            let listener = tokio::net::TcpListener::bind((a.host.as_str(), a.port))
                .await
                .with_context(|| format!("binding {}:{}", a.host, a.port))?;
            let addr = listener.local_addr()?;
            if !addr.ip().is_loopback() && !a.seed_only {
                eprintln!("\n{}\n", exposure_warning(addr));
            }
            let shown_host = if a.host == "0.0.0.0" {
                "127.0.0.1".to_string()
            } else {
                a.host.clone()
            };
            let public_url = a
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{shown_host}:{}", addr.port()));
            let mut config = ServerConfig::demo(&a.data_dir);
            config.public_url = public_url.clone();
            config.database = a.database.database.clone();
            config.secrets_dir = a.database.secrets_dir.clone();
            config.database_pool_size = usize::from(a.database.database_pool_size);
            let date = a.date.clone().unwrap_or_else(|| {
                doorstep_server::store::fleet_date(config.clock.now_ms(), &config.time_zone)
            });
            let seed = {
                let config = config.clone();
                let date = date.clone();
                tokio::task::spawn_blocking(move || seed_demo(&config, &date)).await??
            };
            let uri = doorstep_protocol::wire::EnrollmentLink {
                server_url: public_url.clone(),
                code: seed.enrollment_code.clone(),
            }
            .to_uri();
            println!(
                "Doorstep demo server on {public_url} (listening on {addr}, data in {})",
                a.data_dir.display()
            );
            println!(
                "\nEnroll the app: scan this QR, or type the code {}\n",
                seed.enrollment_code
            );
            println!("{}", pages::qr_terminal(&uri));
            println!("Enrollment URI: {uri}");
            println!(
                "Android emulator: restart with --public-url http://10.0.2.2:{}",
                addr.port()
            );
            println!("\nFleet page:   {public_url}/fleet");
            println!("Dev outbox:   {public_url}/dev/outbox  (the codes 'sent' to customers)");
            println!("Labels:       {public_url}/dev/labels?date={date}");
            println!("Admin token:  {}", seed.admin_token);
            println!("Shipper key:  {}", seed.shipper_api_key);
            println!("\nRoute for {date}:");
            for p in &seed.parcels {
                println!(
                    "  {:<22}  {:<18} code {:<9} {}",
                    p.barcode,
                    p.recipient_name,
                    p.code.as_deref().unwrap_or("-"),
                    p.label
                );
            }
            println!(
                "  {:<22}  not on this route: Second Courier's parcel (scan it to see what the app does)",
                seed.off_route_barcode
            );
            println!();
            if let Some(path) = &a.seed_json {
                let parcels: Vec<_> = seed
                    .parcels
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "parcel_id": p.parcel_id.to_string(),
                            "stop_id": p.stop_id.to_string(),
                            "barcode": p.barcode,
                            "barcode_key": p.barcode_key,
                            "code": p.code,
                            "code_required": p.code_required,
                            "offline_allowed": p.offline_allowed,
                            "photo_required": p.photo_required,
                            "label": p.label,
                            "recipient_name": p.recipient_name,
                            "customer_url": p.customer_url,
                        })
                    })
                    .collect();
                let json = serde_json::json!({
                    "server_url": public_url,
                    "date": date,
                    "enrollment_code": seed.enrollment_code,
                    "enrollment_uri": uri,
                    "admin_token": seed.admin_token,
                    "shipper_api_key": seed.shipper_api_key,
                    "courier_id": seed.courier_id.to_string(),
                    "parcels": parcels,
                    "off_route_barcode": seed.off_route_barcode,
                });
                std::fs::write(path, serde_json::to_vec_pretty(&json)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if a.seed_only {
                return Ok(());
            }
            launch(listener, config, shutdown_signal()).await?;
        }
        Command::Enroll(a) => {
            let config = config_from(&a.common, Mode::Production);
            let courier = a.courier.clone();
            let (code, uri) = tokio::task::spawn_blocking(move || {
                doorstep_server::create_enrollment(&config, &courier)
            })
            .await??;
            println!("Enrollment code for {}: {code}\n", a.courier);
            println!("{}", pages::qr_terminal(&uri));
            println!("URI: {uri}");
            std::fs::write(&a.svg, pages::qr_svg(&uri, 320))
                .with_context(|| format!("writing {}", a.svg.display()))?;
            println!("QR written to {}", a.svg.display());
        }
        Command::Release(cmd) => {
            use doorstep_protocol::wire::ReleaseChange;
            use doorstep_server::release_admin::{ReleaseOp, run};
            let change = |t: ReleaseTarget, c: ReleaseChange| {
                (
                    t.common,
                    ReleaseOp::Change {
                        platform: t.which.platform,
                        version: t.which.version,
                        change: c,
                    },
                )
            };
            let (common, op) = match cmd {
                ReleaseCommand::Publish {
                    common,
                    which,
                    file,
                    url,
                    rollout,
                } => (
                    common,
                    ReleaseOp::Publish {
                        platform: which.platform,
                        version: which.version,
                        file,
                        url,
                        rollout_percent: rollout,
                    },
                ),
                ReleaseCommand::Rollout {
                    common,
                    which,
                    percent,
                } => (
                    common,
                    ReleaseOp::Change {
                        platform: which.platform,
                        version: which.version,
                        change: ReleaseChange {
                            rollout_percent: Some(percent),
                            ..Default::default()
                        },
                    },
                ),
                ReleaseCommand::Pause(t) => change(
                    t,
                    ReleaseChange {
                        paused: Some(true),
                        ..Default::default()
                    },
                ),
                ReleaseCommand::Resume(t) => change(
                    t,
                    ReleaseChange {
                        paused: Some(false),
                        ..Default::default()
                    },
                ),
                ReleaseCommand::Withdraw(t) => change(
                    t,
                    ReleaseChange {
                        withdrawn: Some(true),
                        ..Default::default()
                    },
                ),
                ReleaseCommand::Restore(t) => change(
                    t,
                    ReleaseChange {
                        withdrawn: Some(false),
                        ..Default::default()
                    },
                ),
                ReleaseCommand::Minimum {
                    common,
                    platform,
                    version,
                    clear: _,
                } => (common, ReleaseOp::Minimum { platform, version }),
                ReleaseCommand::List { common } => (common, ReleaseOp::List),
                ReleaseCommand::Token { common, label } => (common, ReleaseOp::Token { label }),
                ReleaseCommand::RevokeToken { common, label } => {
                    (common, ReleaseOp::RevokeToken { label })
                }
            };
            let config = config_from(&common, Mode::Production);
            let out = tokio::task::spawn_blocking(move || run(&config, op)).await??;
            println!("{out}");
        }
        Command::Labels(a) => {
            let config = config_from(&a.common, Mode::Demo);
            let date = a.date.clone().unwrap_or_else(|| {
                doorstep_server::store::fleet_date(config.clock.now_ms(), &config.time_zone)
            });
            let html = doorstep_server::labels_for(&config, &date)?;
            std::fs::write(&a.out, html).with_context(|| format!("writing {}", a.out.display()))?;
            println!("wrote {}", a.out.display());
        }
    }
    Ok(())
}
