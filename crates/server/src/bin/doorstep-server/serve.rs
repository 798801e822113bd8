//! `serve`: the server, production mode unless `--demo-mode`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use doorstep_server::{Mode, Policy, Rate, SmsConfig, SmtpConfig, SmtpSecurity};

use crate::common::{Common, config_from, exposure_warning, shutdown_signal};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Address to listen on. Loopback by default: put a reverse proxy with TLS in front,
    /// or give an address other machines can reach (e.g. 0.0.0.0:8080) on purpose.
    #[arg(long, env = "DOORSTEP_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,
    /// Accept a --public-url that is not https:// in production (device tokens, codes and
    /// the admin token then cross the network unencrypted; closed test networks only).
    #[arg(long, env = "DOORSTEP_ALLOW_INSECURE_PUBLIC_URL")]
    pub(crate) allow_insecure_public_url: bool,
    /// Run in demo mode (dev outbox on, fleet page open).
    #[arg(long)]
    pub(crate) demo_mode: bool,
    /// How long after an online code check a record may use it (single use, bound to the
    /// phone and the parcels it covered).
    #[arg(long, env = "DOORSTEP_VERIFICATION_TTL_SECS", default_value_t = 15 * 60,
          value_parser = clap::value_parser!(i64).range(30..=86_400))]
    pub(crate) verification_ttl_secs: i64,
    /// A handover recorded further than this from the stop's address is flagged on its
    /// proof of delivery (metres).
    #[arg(long, env = "DOORSTEP_FAR_HANDOVER_METRES", default_value_t = 250.0)]
    pub(crate) far_handover_metres: f64,
    /// Map tiles for the console's Today map: a PMTiles archive of the fleet's region (a
    /// Protomaps basemap extract: see "The map" in the server's README). Without it, the map
    /// shows the world's land only.
    #[arg(long, env = "DOORSTEP_MAP_TILES", value_name = "FILE")]
    pub(crate) map_tiles: Option<PathBuf>,
    /// How far back an offline record may claim to have happened; older records are
    /// refused as backdated.
    #[arg(long, env = "DOORSTEP_OFFLINE_WINDOW_HOURS", default_value_t = 48,
          value_parser = clap::value_parser!(i64).range(1..=168))]
    pub(crate) offline_window_hours: i64,
    /// Tries before the outbox gives a message up (its body is then wiped; the fleet page
    /// lists it). Default: 12 in production.
    #[arg(long, env = "DOORSTEP_OUTBOX_MAX_ATTEMPTS",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) outbox_max_attempts: Option<u32>,
    /// Code messages one address or number may get in 24 hours (against SMS pumping).
    #[arg(long, env = "DOORSTEP_OUTBOX_RECIPIENT_DAILY_LIMIT", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) outbox_recipient_daily_limit: u32,
    #[command(flatten)]
    pub(crate) customers: crate::common::CustomerArgs,
    /// Policy file (TOML); the built-in policy otherwise.
    #[arg(long, env = "DOORSTEP_POLICY")]
    pub(crate) policy: Option<PathBuf>,
    /// Fleet name shown in the app.
    #[arg(long, env = "DOORSTEP_FLEET_NAME", default_value = "Doorstep")]
    pub(crate) fleet_name: String,
    /// SMTP host (enables email).
    #[arg(long, env = "DOORSTEP_SMTP_HOST")]
    pub(crate) smtp_host: Option<String>,
    /// SMTP port.
    #[arg(long, env = "DOORSTEP_SMTP_PORT", default_value_t = 587)]
    pub(crate) smtp_port: u16,
    /// SMTP security.
    #[arg(
        long,
        env = "DOORSTEP_SMTP_SECURITY",
        value_enum,
        default_value = "starttls"
    )]
    pub(crate) smtp_security: SmtpSecurity,
    /// SMTP user.
    #[arg(long, env = "DOORSTEP_SMTP_USER")]
    pub(crate) smtp_user: Option<String>,
    /// SMTP password (prefer the environment variable).
    #[arg(long, env = "DOORSTEP_SMTP_PASSWORD", hide_env_values = true)]
    pub(crate) smtp_password: Option<String>,
    /// From address.
    #[arg(
        long,
        env = "DOORSTEP_SMTP_FROM",
        default_value = "Doorstep <no-reply@localhost>"
    )]
    pub(crate) smtp_from: String,
    /// SMS gateway URL (enables SMS).
    #[arg(long, env = "DOORSTEP_SMS_URL")]
    pub(crate) sms_url: Option<String>,
    /// SMS gateway basic-auth user (e.g. Twilio account SID).
    #[arg(long, env = "DOORSTEP_SMS_USER")]
    pub(crate) sms_user: Option<String>,
    /// SMS gateway password or token.
    #[arg(long, env = "DOORSTEP_SMS_PASSWORD", hide_env_values = true)]
    pub(crate) sms_password: Option<String>,
    /// SMS sender.
    #[arg(long, env = "DOORSTEP_SMS_FROM", default_value = "Doorstep")]
    pub(crate) sms_from: String,
    /// Send SMS as JSON {to, from, body} instead of a Twilio-style form.
    #[arg(long)]
    pub(crate) sms_json: bool,
    /// Rate-limit by the last X-Forwarded-For address (only behind a proxy that sets it).
    #[arg(long, env = "DOORSTEP_TRUST_FORWARDED_FOR")]
    pub(crate) trust_forwarded_for: bool,
    /// A request (body included) not answered within this many seconds gets 408.
    #[arg(long, env = "DOORSTEP_REQUEST_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(crate) request_timeout_secs: u64,
    /// Connections open at once; more wait until one closes.
    #[arg(long, env = "DOORSTEP_MAX_CONNECTIONS", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) max_connections: u32,
    /// Connections one client address may hold (0: no limit); more get 503 with
    /// Retry-After. Not applied with --trust-forwarded-for (every connection is the proxy's).
    #[arg(long, env = "DOORSTEP_CONNECTIONS_PER_ADDRESS", default_value_t = 128,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub(crate) connections_per_address: u32,
    /// Requests answered at once; more get 503 with Retry-After.
    #[arg(long, env = "DOORSTEP_MAX_CONCURRENT_REQUESTS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) max_concurrent_requests: u32,
    /// Photo megabytes one phone may upload in 24 hours (more get 429 with Retry-After).
    #[arg(long, env = "DOORSTEP_PHOTO_QUOTA_MB_PER_DAY", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub(crate) photo_quota_mb_per_day: u64,
    /// Photos one phone may upload in 24 hours.
    #[arg(long, env = "DOORSTEP_PHOTO_QUOTA_PER_DAY", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) photo_quota_per_day: u32,
    /// Largest release file a fleet manager or the build pipeline may upload, megabytes
    /// (streamed to disk, never held in memory).
    #[arg(long, env = "DOORSTEP_MAX_RELEASE_MB", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) max_release_mb: u64,
    /// The highest rollout a release token may publish at, percent (an admin raises it).
    #[arg(long, env = "DOORSTEP_RELEASE_TOKEN_MAX_ROLLOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub(crate) release_token_max_rollout: u8,
    /// A host release links may point to besides the App Store, TestFlight, Google Play and
    /// this server (may be given several times).
    #[arg(long = "release-link-host", value_name = "HOST")]
    pub(crate) release_link_hosts: Vec<String>,
    /// The SHA-256 (64 hex digits) of the certificate the fleet's Android builds are signed
    /// with (`apksigner verify --print-certs`); an APK signed otherwise is refused. Without it,
    /// the first signed release's certificate is the one.
    #[arg(long, env = "DOORSTEP_ANDROID_SIGNING_CERT", value_name = "SHA256",
          value_parser = parse_cert_sha256)]
    pub(crate) android_signing_cert: Option<String>,
    /// Code checks (`POST /v1/verify`) one client address may make per second, sustained
    /// (a burst of three seconds' worth on top). Phones behind one carrier NAT share it; the
    /// attempt counter per code is what stops guessing.
    #[arg(long, env = "DOORSTEP_VERIFY_RATE_PER_ADDRESS", default_value_t = 20.0,
          value_parser = positive_rate)]
    pub(crate) verify_rate_per_address: f64,
    /// Code checks one phone may make per second, sustained (a burst of 30, or three
    /// seconds' worth if more).
    #[arg(long, env = "DOORSTEP_VERIFY_RATE_PER_DEVICE", default_value_t = 1.0,
          value_parser = positive_rate)]
    pub(crate) verify_rate_per_device: f64,
}

/// A rate flag's value: a positive number of requests per second.
fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{text:?} is not a positive number of requests per second"
        )),
    }
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

pub(crate) async fn run(a: ServeArgs) -> anyhow::Result<()> {
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
    config.limits.connections_per_address = a.connections_per_address as usize;
    config.limits.max_concurrent_requests = a.max_concurrent_requests as usize;
    config.verify_rate_per_sec = a.verify_rate_per_address;
    config.verify_burst = a.verify_rate_per_address * 3.0;
    config.limits.verify_per_device = Rate {
        per_sec: a.verify_rate_per_device,
        burst: (a.verify_rate_per_device * 3.0).clamp(30.0, f64::from(u32::MAX)) as u32,
    };
    config.limits.photo_bytes_per_device_per_day = a.photo_quota_mb_per_day * 1024 * 1024;
    config.limits.photos_per_device_per_day = a.photo_quota_per_day;
    config.verification_ttl_secs = a.verification_ttl_secs;
    config.far_handover_m = a.far_handover_metres;
    config.map_tiles = a.map_tiles.clone();
    config.customers = a.customers.rules()?;
    config.offline_window_secs = a.offline_window_hours.saturating_mul(3600);
    if let Some(n) = a.outbox_max_attempts {
        config.outbox_max_attempts = n;
    }
    config.outbox_recipient_daily_limit = a.outbox_recipient_daily_limit;
    if let Some(p) = &a.policy {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
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
    config.release_token_max_rollout = a.release_token_max_rollout;
    config.release_link_hosts = a.release_link_hosts.clone();
    config.android_signing_cert = a.android_signing_cert.clone();
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("binding {}", a.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, mode = ?mode, "doorstep-server listening");
    if mode == Mode::Demo && !addr.ip().is_loopback() {
        tracing::warn!("{}", exposure_warning(addr));
    }
    let state = doorstep_server::open(config).await?;
    if mode == Mode::Production {
        // On the terminal, not in the log: the link is a secret that works once.
        let s = state.clone();
        if let Some(link) = tokio::task::spawn_blocking(move || {
            doorstep_server::ops::accounts::setup_link(&s.store, &s.config)
        })
        .await??
        {
            println!(
                "The fleet console has no user yet. Open this link within 24 hours to make its \
                 first owner (it works once):\n  {link}\nor run: doorstep-server user add NAME \
                 --role owner"
            );
        }
    }
    doorstep_server::serve(listener, state, shutdown_signal()).await?;
    Ok(())
}

/// A certificate's SHA-256 as `apksigner` prints it (64 hex digits, colons allowed).
fn parse_cert_sha256(s: &str) -> Result<String, String> {
    let hex: String = s
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(
            "give the certificate's SHA-256 as 64 hex digits (apksigner verify --print-certs)"
                .into(),
        )
    }
}
