//! `release …`: the fleet's release channel from the command line (publish, rollout, pause,
//! resume, withdraw, restore, minimum, list, token), over the same operations as the API.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use doorstep_protocol::wire::{Platform, ReleaseChange};
use doorstep_server::Mode;
use doorstep_server::domain::releases::{parse_platform, parse_version};
use doorstep_server::ops::releases::{ReleaseOp, run as run_op};

use crate::common::{Common, config_from};

#[derive(Debug, Subcommand)]
pub(crate) enum ReleaseCommand {
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
pub(crate) struct ReleaseWhich {
    /// android, ios, linux, macos or windows.
    #[arg(long, value_parser = platform_arg)]
    platform: doorstep_protocol::wire::Platform,
    /// The release's version (SemVer, e.g. 1.4.0).
    #[arg(long, value_parser = version_arg)]
    version: semver::Version,
}

#[derive(Debug, Args)]
pub(crate) struct ReleaseTarget {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    which: ReleaseWhich,
}

fn platform_arg(text: &str) -> Result<Platform, String> {
    parse_platform(text)
}

fn version_arg(text: &str) -> Result<semver::Version, String> {
    parse_version(text)
}

pub(crate) async fn run(cmd: ReleaseCommand) -> anyhow::Result<()> {
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
        ReleaseCommand::RevokeToken { common, label } => (common, ReleaseOp::RevokeToken { label }),
    };
    let config = config_from(&common, Mode::Production);
    let out = tokio::task::spawn_blocking(move || run_op(&config, op)).await??;
    println!("{out}");
    Ok(())
}
