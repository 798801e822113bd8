//! `doorstep-server release …`: the release channel from the server's own command line, on
//! its data directory or database (the same checks as `POST /v1/admin/releases`; the server
//! may keep running).

use std::path::PathBuf;

use doorstep_protocol::wire::{Platform, ReleaseChange, ReleaseView};
use semver::Version;

use crate::config::ServerConfig;
use crate::domain::releases::{self as rules, platform_name};
use crate::error::ServerError;
use crate::ops::open_store;
use crate::store::{NewRelease, Store, StoreError};
use crate::sys::blobs::Blobs;

/// One release command.
#[derive(Debug, Clone)]
pub enum ReleaseOp {
    /// Publish a file or a link.
    Publish {
        /// Platform.
        platform: Platform,
        /// Version.
        version: Version,
        /// The build to upload.
        file: Option<PathBuf>,
        /// Or a store / TestFlight link.
        url: Option<String>,
        /// Share of devices offered it at once.
        rollout_percent: u8,
    },
    /// Change a release's rollout, pause it, withdraw it.
    Change {
        /// Platform.
        platform: Platform,
        /// Version.
        version: Version,
        /// What changes.
        change: ReleaseChange,
    },
    /// Set or clear the minimum version.
    Minimum {
        /// Platform.
        platform: Platform,
        /// The minimum, or `None` to clear it.
        version: Option<Version>,
    },
    /// List the channels.
    List,
    /// Make a release token.
    Token {
        /// What it is for (`ci`).
        label: String,
    },
    /// Revoke the release tokens with this label.
    RevokeToken {
        /// Their label.
        label: String,
    },
}

const ACTOR: &str = "CLI";

/// Runs a release command; what to print. Long because it is one short arm per command.
pub fn run(config: &ServerConfig, op: ReleaseOp) -> Result<String, ServerError> {
    let store = open_store(config)?;
    let now = config.clock.now_ms();
    let public_url = &config.public_url;
    let invalid = |m: String| ServerError::Store(StoreError::Validation(m));
    Ok(match op {
        ReleaseOp::Publish {
            platform,
            version,
            file,
            url,
            rollout_percent,
        } => {
            let (existing, _) = store.platform_releases(platform)?;
            rules::check_new_version(&existing, &version).map_err(StoreError::Conflict)?;
            let blobs = config.releases();
            let (file, link, signing_cert) = match (file, url) {
                (Some(f), None) => {
                    rules::check_file(platform, &f).map_err(invalid)?;
                    let cert = rules::signing_cert_of(platform, &f).map_err(invalid)?;
                    (Some(blobs.copy_in(&f)?), None, cert)
                }
                (None, Some(u)) => (
                    None,
                    Some(
                        rules::check_link(&u, &config.own_host(), &config.release_link_hosts)
                            .map_err(invalid)?,
                    ),
                    None,
                ),
                _ => return Err(invalid("give --file or --url (one of them)".into())),
            };
            let new = NewRelease {
                platform,
                version,
                file,
                link,
                rollout_percent,
                signing_cert,
                pinned_cert: config.android_signing_cert.clone(),
            };
            let v = publish_stored(&store, &blobs, &new, public_url, ACTOR, now)?;
            format!(
                "published {} {} to {} % of devices\n  {}{}",
                platform_name(v.platform),
                v.version,
                v.rollout_percent,
                v.url,
                v.sha256
                    .map(|s| format!("\n  sha256 {s}"))
                    .unwrap_or_default()
            )
        }
        ReleaseOp::Change {
            platform,
            version,
            change,
        } => {
            let v = store.change_release(platform, &version, &change, public_url, ACTOR, now)?;
            format!(
                "{} {}: rollout {} %{}{}",
                platform_name(v.platform),
                v.version,
                v.rollout_percent,
                if v.paused { ", paused" } else { "" },
                if v.withdrawn { ", withdrawn" } else { "" }
            )
        }
        ReleaseOp::Minimum { platform, version } => {
            store.set_minimum_version(platform, version.as_ref(), ACTOR, now)?;
            match version {
                Some(v) => format!("{} minimum version: {v}", platform_name(platform)),
                None => format!("{} minimum version cleared", platform_name(platform)),
            }
        }
        ReleaseOp::List => {
            let channels = store.release_channels(public_url)?;
            if channels.is_empty() {
                return Ok("no releases published".into());
            }
            let mut out = String::new();
            for c in channels {
                out.push_str(&format!(
                    "{}: minimum {}, current {}\n",
                    platform_name(c.platform),
                    c.minimum.as_deref().unwrap_or("none"),
                    c.current.as_deref().unwrap_or("none")
                ));
                for r in c.releases {
                    out.push_str(&format!(
                        "  {:<14} {:>3} %{}{}  {} devices  {}\n",
                        r.version,
                        r.rollout_percent,
                        if r.paused { " paused" } else { "" },
                        if r.withdrawn { " withdrawn" } else { "" },
                        r.devices,
                        r.url
                    ));
                }
            }
            out
        }
        ReleaseOp::Token { label } => {
            let token = store.create_release_token(&label, now)?;
            format!(
                "Release token {label:?} (shown once; it can publish releases and nothing else):\n{token}"
            )
        }
        ReleaseOp::RevokeToken { label } => {
            let n = store.revoke_release_tokens(&label, now)?;
            format!("revoked {n} release token(s) labelled {label:?}")
        }
    })
}

/// Publishes `new`, whose file (if any) is already stored in `blobs`; when publishing fails
/// (a concurrent publish took the version) the file goes again unless another release keeps
/// it. The API's upload and the CLI both publish through here.
pub fn publish_stored(
    store: &Store,
    blobs: &Blobs,
    new: &NewRelease,
    public_url: &str,
    actor: &str,
    now: i64,
) -> Result<ReleaseView, StoreError> {
    let published = store.publish_release(new, public_url, actor, now);
    if published.is_err()
        && let Some((sha, _)) = &new.file
        && !store.release_file_kept(sha).unwrap_or(true)
    {
        let _ = blobs.remove(sha);
    }
    published
}
