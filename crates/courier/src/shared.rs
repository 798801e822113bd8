//! The state the command methods (`device`) and the background sync (`sync`) share: the
//! store, the configuration, time, randomness, the HTTP client and the sync's controls. Its
//! own module, so `device` and `sync` both depend on it and not on each other.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Arc, Mutex, MutexGuard};

use doorstep_protocol::wire::Location;
use tokio::sync::{Notify, watch};

use doorstep_inputs::{Clock, Randomness};

use crate::config::Config;
use crate::store::Store;
use crate::view::SyncStatus;

/// The sync's controls: one run at a time, the status stream, the trigger, the failure count,
/// and whether the server takes gzipped batches (learnt from its answers, so an older server
/// keeps getting plain JSON).
pub(crate) struct SyncControl {
    pub run: tokio::sync::Mutex<()>,
    pub status: watch::Sender<SyncStatus>,
    pub trigger: Arc<Notify>,
    pub failures: AtomicU32,
    pub server_takes_gzip: AtomicBool,
}

/// State shared by the command methods and the background sync task.
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub random: Randomness,
    pub http: reqwest::Client,
    pub sync: SyncControl,
    pub data_dir: PathBuf,
    pub location: Mutex<Option<Location>>,
}

impl Shared {
    /// The store (held only for short, synchronous work; never across an await).
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn random_u64(&self) -> u64 {
        u64::from_le_bytes(self.random.bytes())
    }

    pub(crate) fn random_bytes<const N: usize>(&self) -> [u8; N] {
        self.random.bytes()
    }
}
