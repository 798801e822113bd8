//! `doorstep-server`: the dispatch server and its commands, one file per subcommand.

mod common;
mod demo;
mod enroll;
mod keys;
mod labels;
mod migrate;
mod release;
mod serve;
mod user;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    Serve(Box<serve::ServeArgs>),
    /// Seed a fresh data directory with a demo route and run the server in demo mode.
    Demo(demo::DemoArgs),
    /// Make a single-use enrollment code for a courier; prints a QR and writes an SVG.
    Enroll(enroll::EnrollArgs),
    /// Write a printable HTML sheet of a day's parcel labels (Code 128 + QR).
    Labels(labels::LabelsArgs),
    /// Print the built-in policy (a template for --policy).
    PolicyTemplate,
    /// Make a new token signing key; the old public key stays valid for tokens already out.
    /// Run while the server is stopped.
    RotateTokenKey(keys::RotateArgs),
    /// Revoke a token key that may be compromised: tokens it signed are refused at sync and
    /// it is no longer published (phones drop it). A new signing key is made if it was the
    /// current one. Run while the server is stopped.
    RevokeTokenKey(keys::RevokeArgs),
    /// Replace the admin token and print the new one (once). The old token works until the
    /// server restarts. Run while the server is stopped, or restart it afterwards.
    RotateAdminToken(keys::RotateArgs),
    /// Copy a fleet from its SQLite file to an empty PostgreSQL database, checking every
    /// table (rows and SHA-256) before committing. Stop the server first.
    Migrate(migrate::MigrateArgs),
    /// The fleet's release channel: publish a build, stage its rollout, pause or withdraw it,
    /// set the minimum version, make a release token for the build pipeline. Works while the
    /// server runs.
    #[command(subcommand)]
    Release(release::ReleaseCommand),
    /// The fleet console's accounts: add a user with a role, list, disable, enable, reset a
    /// password. Works while the server runs.
    #[command(subcommand)]
    User(user::UserCommand),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours for a terminal only: a log file or journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Serve(a) => serve::run(*a).await,
        Command::Demo(a) => demo::run(a).await,
        Command::Enroll(a) => enroll::run(a).await,
        Command::Labels(a) => labels::run(a),
        Command::PolicyTemplate => {
            print!(
                "{}",
                doorstep_server::domain::policy::DEFAULT_POLICY.trim_start()
            );
            Ok(())
        }
        Command::RotateTokenKey(a) => keys::rotate_token(&a),
        Command::RevokeTokenKey(a) => keys::revoke_token(&a),
        Command::RotateAdminToken(a) => keys::rotate_admin(&a),
        Command::Migrate(a) => migrate::run(a).await,
        Command::Release(cmd) => release::run(cmd).await,
        Command::User(cmd) => user::run(cmd).await,
    }
}
