//! The release channel's rows: releases per platform, the minimum version, release tokens.
//! The rules (who is offered what, which versions may be set) are in [`crate::releases`].

use doorstep_protocol::wire::{ReleaseChange, ReleaseChannel, ReleaseView};
use semver::Version;

use doorstep_protocol::DeviceId;
use doorstep_protocol::wire::Platform;

use super::backend::sql;
use super::backend::sql::{Db, DbError, OptionalExt, exec, params, qrow};
use super::error::StoreError;
use super::handle::Store;
use crate::sys::secrets::sha256;

use crate::domain::releases::{self as rules, Release, parse_platform, platform_name};

/// A release to publish: its file is already stored as `releases/<sha256>` (or it is a link).
#[derive(Debug, Clone)]
pub struct NewRelease {
    /// Its platform.
    pub platform: Platform,
    /// Its version.
    pub version: Version,
    /// The stored file's SHA-256 (hex) and size, or `None` for a link.
    pub file: Option<(String, u64)>,
    /// The link, for a release without a file.
    pub link: Option<String>,
    /// Share of devices offered it at once.
    pub rollout_percent: u8,
    /// For an APK: the SHA-256 of the certificate it is signed with.
    pub signing_cert: Option<String>,
    /// The certificate every Android release must be signed with, when the operator pins one
    /// (`--android-signing-cert`); otherwise the first signed release's counts.
    pub pinned_cert: Option<String>,
}

/// A platform's channel as the admin API shows it, with its releases (newest first) and its
/// minimum as the rules take them.
pub type ChannelRules = (ReleaseChannel, Vec<Release>, Option<Version>);

const RELEASE_COLUMNS: &str = "platform, version, sha256, size, url, rollout_percent, paused, \
                               withdrawn, published_at, published_by";

fn release_row(r: &sql::Row) -> Result<Option<Release>, DbError> {
    let platform: String = r.get(0)?;
    let version: String = r.get(1)?;
    let (Ok(platform), Ok(version)) = (parse_platform(&platform), Version::parse(&version)) else {
        return Ok(None);
    };
    Ok(Some(Release {
        platform,
        version,
        sha256: r.get(2)?,
        size: r.get::<_, Option<i64>>(3)?.map(|s| s.max(0) as u64),
        link: r.get(4)?,
        rollout_percent: r.get::<_, i64>(5)?.clamp(0, 100) as u8,
        paused: r.get::<_, i64>(6)? != 0,
        withdrawn: r.get::<_, i64>(7)? != 0,
        published_at: r.get(8)?,
        published_by: r.get(9)?,
    }))
}

/// The releases of one platform (or all), in no particular order.
fn load_releases(c: &Db<'_>, platform: Option<Platform>) -> Result<Vec<Release>, DbError> {
    let rows = match platform {
        Some(p) => c.query(
            &format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE platform = ?1 ORDER BY id"),
            params![platform_name(p)],
        )?,
        None => c.query(
            &format!("SELECT {RELEASE_COLUMNS} FROM releases ORDER BY id"),
            params![],
        )?,
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        if let Some(rel) = release_row(r)? {
            out.push(rel);
        }
    }
    Ok(out)
}

fn load_minimum(c: &Db<'_>, platform: Platform) -> Result<Option<Version>, DbError> {
    let v: Option<String> = c
        .qrow(
            "SELECT version FROM release_minimums WHERE platform = ?1",
            params![platform_name(platform)],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.and_then(|v| Version::parse(&v).ok()))
}

fn view(r: &Release, public_url: &str, devices: u32) -> ReleaseView {
    ReleaseView {
        platform: r.platform,
        version: r.version.to_string(),
        url: r.url(public_url),
        sha256: r.sha256.clone(),
        size: r.size,
        rollout_percent: r.rollout_percent,
        paused: r.paused,
        withdrawn: r.withdrawn,
        published_at: r.published_at,
        published_by: r.published_by.clone(),
        devices,
    }
}

impl Store {
    /// The policy for a device's platform (stored at enrollment): the release its rollout
    /// offers it and the minimum; `None` when the fleet publishes nothing for the platform.
    pub fn app_policy(
        &self,
        device: DeviceId,
        public_url: &str,
    ) -> Result<Option<doorstep_protocol::wire::AppVersionPolicy>, StoreError> {
        self.read(|c| {
            let platform: Option<String> = c
                .qrow(
                    "SELECT platform FROM devices WHERE id = ?1",
                    params![device.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(platform) = platform.and_then(|p| parse_platform(&p).ok()) else {
                return Ok(None);
            };
            let releases = load_releases(c, Some(platform))?;
            let minimum = load_minimum(c, platform)?;
            Ok(rules::policy_for(
                &releases,
                minimum.as_ref(),
                &device.to_string(),
                public_url,
            ))
        })
    }

    /// Records that a device asked for its manifest, and the app version it reported (its
    /// `User-Agent`), so the fleet page counts and sees idle phones too.
    pub fn note_manifest_request(
        &self,
        device: DeviceId,
        version: Option<&str>,
        backlog: Option<(i64, Option<i64>)>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            exec(
                tx,
                "UPDATE devices SET app_version = COALESCE(?2, app_version), last_seen_at = ?3 \
                 WHERE id = ?1",
                params![device.to_string(), version, now],
            )?;
            if let Some((count, oldest)) = backlog {
                exec(
                    tx,
                    "UPDATE devices SET unsent_records = ?2, oldest_unsent_at = ?3, \
                     backlog_reported_at = ?4 WHERE id = ?1",
                    params![device.to_string(), count, oldest, now],
                )?;
            }
            Ok(())
        })
    }

    /// Every platform that has releases or a minimum, with its releases newest first and how
    /// many (not revoked) devices run each version.
    pub fn release_channels(&self, public_url: &str) -> Result<Vec<ReleaseChannel>, StoreError> {
        Ok(self
            .release_book(public_url)?
            .into_iter()
            .map(|(view, _, _)| view)
            .collect())
    }

    /// [`Self::release_channels`], each with the platform's releases (newest first) and its
    /// minimum as the rules take them (who is offered what), read in one go.
    pub fn release_book(&self, public_url: &str) -> Result<Vec<ChannelRules>, StoreError> {
        self.read(|c| {
            let releases = load_releases(c, None)?;
            let minimums = c.query_map(
                "SELECT platform, version FROM release_minimums ORDER BY platform",
                params![],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )?;
            let counts = c.query_map(
                "SELECT platform, app_version, COUNT(*) FROM devices WHERE revoked_at IS NULL \
                 GROUP BY platform, app_version",
                params![],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )?;
            let mut out = Vec::new();
            for platform in [
                Platform::Android,
                Platform::Ios,
                Platform::Linux,
                Platform::Macos,
                Platform::Windows,
            ] {
                let name = platform_name(platform);
                let mut mine: Vec<Release> = releases
                    .iter()
                    .filter(|r| r.platform == platform)
                    .cloned()
                    .collect();
                let minimum = minimums
                    .iter()
                    .find(|(p, _)| p == name)
                    .and_then(|(_, v)| Version::parse(v).ok());
                if mine.is_empty() && minimum.is_none() {
                    continue;
                }
                mine.sort_by(|a, b| b.version.cmp(&a.version));
                let count = |v: &Version| -> u32 {
                    counts
                        .iter()
                        .filter(|(p, av, _)| {
                            p == name && Version::parse(av).is_ok_and(|av| av == *v)
                        })
                        .map(|(_, _, n)| *n as u32)
                        .sum()
                };
                let channel = ReleaseChannel {
                    platform,
                    minimum: minimum.as_ref().map(Version::to_string),
                    current: rules::current(&mine, minimum.as_ref()).map(|r| r.version.to_string()),
                    releases: mine
                        .iter()
                        .map(|r| view(r, public_url, count(&r.version)))
                        .collect(),
                };
                out.push((channel, mine, minimum));
            }
            Ok(out)
        })
    }

    /// The releases of a platform and its minimum.
    pub fn platform_releases(
        &self,
        platform: Platform,
    ) -> Result<(Vec<Release>, Option<Version>), StoreError> {
        self.read(|c| {
            Ok((
                load_releases(c, Some(platform))?,
                load_minimum(c, platform)?,
            ))
        })
    }

    /// The release that serves this stored file, if one that is not withdrawn does.
    pub fn release_file(&self, sha256: &str) -> Result<Option<Release>, StoreError> {
        self.read(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {RELEASE_COLUMNS} FROM releases WHERE sha256 = ?1 AND withdrawn = 0 \
                     ORDER BY id DESC"
                ),
                params![sha256],
            )?;
            for r in &rows {
                if let Some(rel) = release_row(r)? {
                    return Ok(Some(rel));
                }
            }
            Ok(None)
        })
    }

    /// Whether any release (withdrawn ones included) keeps this stored file.
    pub fn release_file_kept(&self, sha256: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            Ok(c.qrow(
                "SELECT 1 FROM releases WHERE sha256 = ?1 LIMIT 1",
                params![sha256],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })
    }

    /// Publishes a release; its version must be above every release of its platform.
    pub fn publish_release(
        &self,
        new: &NewRelease,
        public_url: &str,
        actor: &str,
        now: i64,
    ) -> Result<ReleaseView, StoreError> {
        if new.rollout_percent > 100 {
            return Err(StoreError::Validation(
                "rollout_percent is a share of devices from 0 to 100".into(),
            ));
        }
        let name = platform_name(new.platform);
        self.write_on(&format!("releases:{name}"), |tx| {
            let existing = load_releases(tx, Some(new.platform))?;
            rules::check_new_version(&existing, &new.version).map_err(StoreError::Conflict)?;
            if let Some(cert) = &new.signing_cert {
                // The pinned certificate, or the one the platform's first signed release had
                // (deleted releases aside).
                let first: Option<String> = qrow(
                    tx,
                    "SELECT signing_cert FROM releases WHERE platform = ?1 \
                     AND signing_cert IS NOT NULL ORDER BY published_at, id LIMIT 1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?;
                if let Some(expected) = new.pinned_cert.clone().or(first)
                    && !expected.eq_ignore_ascii_case(cert)
                {
                    return Err(StoreError::Validation(format!(
                        "this APK is signed with another certificate (SHA-256 {cert}) than the \
                         fleet's {name} builds ({expected}); sign it with the fleet's release key \
                         (phones could not install it over the app they have)"
                    )));
                }
            }
            exec(
                tx,
                "INSERT INTO releases (platform, version, sha256, size, url, rollout_percent, \
                 paused, withdrawn, published_at, published_by, signing_cert) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, ?7, ?8, ?9)",
                params![
                    name,
                    new.version.to_string(),
                    new.file.as_ref().map(|(s, _)| s.clone()),
                    new.file.as_ref().map(|(_, n)| *n as i64),
                    new.link.clone(),
                    i64::from(new.rollout_percent),
                    now,
                    actor,
                    new.signing_cert.clone()
                ],
            )?;
            self.audit(
                tx,
                now,
                actor,
                "release_published",
                &format!("{name} {}", new.version),
                &format!("rollout {} %", new.rollout_percent),
            )?;
            let r = Release {
                platform: new.platform,
                version: new.version.clone(),
                sha256: new.file.as_ref().map(|(s, _)| s.clone()),
                size: new.file.as_ref().map(|(_, n)| *n),
                link: new.link.clone(),
                rollout_percent: new.rollout_percent,
                paused: false,
                withdrawn: false,
                published_at: now,
                published_by: actor.to_string(),
            };
            Ok(view(&r, public_url, 0))
        })
    }

    /// Changes a release's rollout: the percentage only grows; pause/resume; withdraw/restore
    /// (a withdrawal the minimum depends on is refused: lower the minimum first).
    pub fn change_release(
        &self,
        platform: Platform,
        version: &Version,
        change: &ReleaseChange,
        public_url: &str,
        actor: &str,
        now: i64,
    ) -> Result<ReleaseView, StoreError> {
        let name = platform_name(platform);
        self.write_on(&format!("releases:{name}"), |tx| {
            let mut all = load_releases(tx, Some(platform))?;
            let Some(i) = all.iter().position(|r| r.version == *version) else {
                return Err(StoreError::NotFound("release"));
            };
            let mut r = all[i].clone();
            let mut what = Vec::new();
            if let Some(p) = change.rollout_percent {
                if p > 100 {
                    return Err(StoreError::Validation(
                        "rollout_percent is a share of devices from 0 to 100".into(),
                    ));
                }
                if p < r.rollout_percent {
                    return Err(StoreError::Conflict(format!(
                        "the rollout of {name} {version} is at {} %; it only grows, so devices \
                         once offered the release stay offered it. Pause it or withdraw it \
                         instead",
                        r.rollout_percent
                    )));
                }
                if p != r.rollout_percent {
                    what.push(format!("rollout {} % -> {p} %", r.rollout_percent));
                    r.rollout_percent = p;
                }
            }
            if let Some(p) = change.paused
                && p != r.paused
            {
                what.push(if p { "paused" } else { "resumed" }.to_string());
                r.paused = p;
            }
            if let Some(w) = change.withdrawn
                && w != r.withdrawn
            {
                what.push(if w { "withdrawn" } else { "restored" }.to_string());
                r.withdrawn = w;
            }
            all[i] = r.clone();
            if r.withdrawn
                && let Some(min) = load_minimum(tx, platform)?
            {
                rules::check_minimum(&all, &min).map_err(|_| {
                    StoreError::Conflict(format!(
                        "withdrawing {name} {version} would leave no release at or above the \
                         minimum {min}; lower the minimum first (or publish a fixed release)"
                    ))
                })?;
            }
            if !what.is_empty() {
                exec(
                    tx,
                    "UPDATE releases SET rollout_percent = ?3, paused = ?4, withdrawn = ?5 \
                     WHERE platform = ?1 AND version = ?2",
                    params![
                        name,
                        version.to_string(),
                        i64::from(r.rollout_percent),
                        i64::from(r.paused),
                        i64::from(r.withdrawn)
                    ],
                )?;
                self.audit(
                    tx,
                    now,
                    actor,
                    "release_changed",
                    &format!("{name} {version}"),
                    &what.join(", "),
                )?;
            }
            Ok(view(&r, public_url, 0))
        })
    }

    /// Deletes a withdrawn release, so that a wrong version number (a `99.0.0` published by
    /// mistake or by a leaked token) no longer blocks lower versions. Answers the file's
    /// SHA-256 when no other release serves it (the caller removes the file).
    pub fn delete_release(
        &self,
        platform: Platform,
        version: &Version,
        actor: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let name = platform_name(platform);
        self.write_on(&format!("releases:{name}"), |tx| {
            let all = load_releases(tx, Some(platform))?;
            let Some(r) = all.iter().find(|r| r.version == *version) else {
                return Err(StoreError::NotFound("release"));
            };
            if !r.withdrawn {
                return Err(StoreError::Conflict(format!(
                    "{name} {version} is not withdrawn; withdraw it first (phones are then \
                     offered the release before it), then delete it"
                )));
            }
            exec(
                tx,
                "DELETE FROM releases WHERE platform = ?1 AND version = ?2",
                params![name, version.to_string()],
            )?;
            self.audit(
                tx,
                now,
                actor,
                "release_deleted",
                &format!("{name} {version}"),
                "withdrawn release deleted",
            )?;
            let Some(sha) = r.sha256.clone() else {
                return Ok(None);
            };
            let still: Option<i64> = qrow(
                tx,
                "SELECT 1 FROM releases WHERE sha256 = ?1 LIMIT 1",
                [&sha],
                |row| row.get(0),
            )
            .optional()?;
            Ok(still.is_none().then_some(sha))
        })
    }

    /// Sets (or with `None` clears) a platform's minimum version.
    pub fn set_minimum_version(
        &self,
        platform: Platform,
        minimum: Option<&Version>,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let name = platform_name(platform);
        self.write_on(&format!("releases:{name}"), |tx| {
            match minimum {
                Some(min) => {
                    let all = load_releases(tx, Some(platform))?;
                    rules::check_minimum(&all, min).map_err(StoreError::Validation)?;
                    exec(
                        tx,
                        "INSERT INTO release_minimums (platform, version, set_at, set_by) \
                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (platform) DO UPDATE SET \
                         version = excluded.version, set_at = excluded.set_at, \
                         set_by = excluded.set_by",
                        params![name, min.to_string(), now, actor],
                    )?;
                }
                None => {
                    exec(
                        tx,
                        "DELETE FROM release_minimums WHERE platform = ?1",
                        params![name],
                    )?;
                }
            }
            self.audit(
                tx,
                now,
                actor,
                "minimum_version_set",
                name,
                &minimum.map_or_else(|| "none".to_string(), Version::to_string),
            )
        })
    }

    /// Makes a release token (`dsr_…`): it can publish releases and nothing else. Returned
    /// once; only its hash is kept.
    pub fn create_release_token(&self, label: &str, now: i64) -> Result<String, StoreError> {
        let label = label.trim();
        if label.is_empty() || label.len() > 100 {
            return Err(StoreError::Validation(
                "a release token needs a label of 1 to 100 characters (e.g. ci)".into(),
            ));
        }
        let token = format!("dsr_{}", hex::encode(self.settings.random.bytes::<32>()));
        self.write(|tx| {
            exec(
                tx,
                "INSERT INTO release_tokens (token_hash, label, created_at) VALUES (?1, ?2, ?3)",
                params![hex::encode(sha256(token.as_bytes())), label, now],
            )?;
            self.audit(tx, now, "CLI", "release_token_created", label, "")
        })?;
        Ok(token)
    }

    /// The label of the release token `token`, if it is one and not revoked.
    pub fn release_token_label(&self, token: &str) -> Result<Option<String>, StoreError> {
        let hash = hex::encode(sha256(token.as_bytes()));
        self.read(|c| {
            Ok(c.qrow(
                "SELECT label FROM release_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
                params![hash],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// Revokes every release token with this label; how many.
    pub fn revoke_release_tokens(&self, label: &str, now: i64) -> Result<usize, StoreError> {
        self.write(|tx| {
            let n = exec(
                tx,
                "UPDATE release_tokens SET revoked_at = ?2 WHERE label = ?1 AND revoked_at IS NULL",
                params![label.trim(), now],
            )?;
            if n > 0 {
                self.audit(tx, now, "CLI", "release_token_revoked", label.trim(), "")?;
            }
            Ok(n)
        })
    }
}
