//! What the command line and the HTTP layer both do with a data directory: open it, seed the
//! demo, make enrollment codes, print labels, publish releases, roll the numbers up. Above the
//! store, below the edges.

pub mod accounts;
pub(crate) mod demo;
pub mod releases;
pub(crate) mod roll_up;

use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::render;
use crate::store::{Store, StoreSettings};
use crate::sys::secrets::{self, Secrets};

/// Opens the data directory: checks the policy (a config built in code skips
/// [`Policy::from_toml`]), makes the directory and the database private, loads the secrets
/// (refusing ones that others can read) and opens the store.
pub(crate) fn open_store(config: &ServerConfig) -> Result<Store, ServerError> {
    config.policy.check()?;
    secrets::make_data_dir_private(&config.data_dir)?;
    let secrets = Secrets::load_or_create(&config.secrets_path())?;
    let store = Store::open(
        &config.store_location(),
        secrets,
        StoreSettings {
            public_url: config.public_url.clone(),
            time_zone: config.time_zone.clone(),
            policy: config.policy.clone(),
            customers: config.customers.clone(),
            verification_ttl_ms: config.verification_ttl_secs.max(1) * 1000,
            offline_window_ms: config.offline_window_secs.max(60) * 1000,
            random: config.random.clone(),
            pool_size: config.database_pool_size,
        },
    )?;
    Ok(store)
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
    Ok(render::labels::sheet_html(&store.labels(date)?))
}
