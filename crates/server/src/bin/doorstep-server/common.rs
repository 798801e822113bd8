//! What every subcommand shares: the data directory and database flags, the configuration
//! built from them, the demo's exposure warning, and shutdown on Ctrl-C or SIGTERM.

use std::path::{Path, PathBuf};

use clap::Args;
use doorstep_server::domain::calendar::Calendar;
use doorstep_server::domain::customer::{CustomerRules, parse_pickup_points};
use doorstep_server::domain::zone::FleetZone;
use doorstep_server::{Mode, ServerConfig};

#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Data directory (database, secrets, photos).
    #[arg(long, env = "DOORSTEP_DATA_DIR", default_value = "./doorstep-data")]
    pub(crate) data_dir: PathBuf,
    /// Base URL phones and customers reach this server at.
    #[arg(long, env = "DOORSTEP_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
    /// The fleet's time zone, an IANA name (Europe/Amsterdam, America/New_York) or a fixed
    /// offset (+01:00): codes are valid until the end of their delivery day there.
    #[arg(long, env = "DOORSTEP_TIME_ZONE", default_value = "UTC")]
    pub(crate) time_zone: FleetZone,
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
}

/// The customer's side: the fleet's delivery calendar, its pickup points, and when choices
/// close.
#[derive(Debug, Args)]
pub(crate) struct CustomerArgs {
    /// The weekdays the fleet delivers on: a range (mon-fri), a list (mon,wed,fri) or all.
    /// Reattempts go to the next delivery day; customers may move a delivery to one.
    #[arg(long, env = "DOORSTEP_DELIVERY_DAYS", default_value = "mon-sat")]
    pub(crate) delivery_days: String,
    /// A file of days the fleet is closed (holidays): one `YYYY-MM-DD [name]` a line.
    #[arg(long, env = "DOORSTEP_CLOSED_DAYS", value_name = "FILE")]
    pub(crate) closed_days: Option<PathBuf>,
    /// A day the fleet is closed (may be given several times).
    #[arg(long = "closed-day", value_name = "YYYY-MM-DD")]
    pub(crate) closed_day: Vec<String>,
    /// The fleet's pickup points, a TOML file of `[[point]]` with id, name, address; a
    /// customer may send a parcel to one.
    #[arg(long, env = "DOORSTEP_PICKUP_POINTS", value_name = "FILE")]
    pub(crate) pickup_points: Option<PathBuf>,
    /// Customers' choices close when the courier has this many stops or fewer before theirs.
    #[arg(long, env = "DOORSTEP_CHOICES_CLOSE_AT_STOPS", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(0..=50))]
    pub(crate) choices_close_at_stops: u32,
}

impl CustomerArgs {
    /// The rules these flags describe; a file that cannot be read or used is named.
    pub(crate) fn rules(&self) -> anyhow::Result<CustomerRules> {
        use anyhow::Context;
        let mut closed = Vec::new();
        if let Some(p) = &self.closed_days {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading --closed-days {}", p.display()))?;
            closed = Calendar::parse_closed(&text, &p.display().to_string())?;
        }
        for day in &self.closed_day {
            closed.extend(Calendar::parse_closed(day, "--closed-day")?);
        }
        let mut rules = CustomerRules {
            calendar: Calendar::new(&self.delivery_days, closed)?,
            cutoff_stops: self.choices_close_at_stops,
            ..CustomerRules::default()
        };
        if let Some(p) = &self.pickup_points {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading --pickup-points {}", p.display()))?;
            rules.pickup_points = parse_pickup_points(&text, &p.display().to_string())?;
        }
        Ok(rules)
    }
}

/// Where the data lives when several nodes share it.
#[derive(Debug, Args)]
pub(crate) struct DatabaseArgs {
    /// A PostgreSQL database shared by every node (postgres://user:password@host:5432/db);
    /// without it, the SQLite file in the data directory (one node).
    #[arg(long, env = "DOORSTEP_DATABASE_URL", hide_env_values = true)]
    pub(crate) database: Option<String>,
    /// The secrets directory (default: DATA_DIR/secrets). Every node of one database needs
    /// the same secrets: give them all this directory (or a copy of it).
    #[arg(long, env = "DOORSTEP_SECRETS_DIR")]
    pub(crate) secrets_dir: Option<PathBuf>,
    /// Connections this node keeps to PostgreSQL.
    #[arg(long, env = "DOORSTEP_DATABASE_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(2..=500))]
    pub(crate) database_pool_size: u16,
}

/// The configuration of `mode` for a data directory, with the database flags.
pub(crate) fn base_config(
    mode: Mode,
    data_dir: &Path,
    public_url: String,
    time_zone: FleetZone,
    database: &DatabaseArgs,
) -> ServerConfig {
    let mut c = match mode {
        Mode::Demo => ServerConfig::demo(data_dir),
        Mode::Production => ServerConfig::production(data_dir, public_url.clone()),
    };
    c.public_url = public_url;
    c.time_zone = time_zone;
    c.database = database.database.clone();
    c.secrets_dir = database.secrets_dir.clone();
    c.database_pool_size = usize::from(database.database_pool_size);
    c
}

/// The configuration the [`Common`] flags describe.
pub(crate) fn config_from(common: &Common, mode: Mode) -> ServerConfig {
    let url = common
        .public_url
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    base_config(
        mode,
        &common.data_dir,
        url,
        common.time_zone.clone(),
        &common.database,
    )
}

/// Today in the fleet's time zone (`YYYY-MM-DD`).
pub(crate) fn today(config: &ServerConfig) -> String {
    config.time_zone.date_of(config.clock.now_ms())
}

/// What the demo prints when other machines can reach it: demo mode has no sign-in.
pub(crate) fn exposure_warning(addr: std::net::SocketAddr) -> String {
    format!(
        "WARNING: this demo server listens on {addr}, which other machines can reach. In demo mode \
         the fleet page has no sign-in, so anyone on that network can open it, press its \
         enrollment button to enroll a phone, and read every customer's delivery code in the \
         development outbox (/dev/outbox). Use --host 127.0.0.1 unless a phone on a network you \
         trust needs to reach it."
    )
}

/// Completes on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
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
