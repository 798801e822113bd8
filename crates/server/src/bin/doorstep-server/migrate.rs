//! `migrate`: copy a fleet from its SQLite file to an empty PostgreSQL database.

use std::path::PathBuf;

use clap::Args;
use doorstep_server::store::Location;
use doorstep_server::store::sqlite_to_postgres::migrate_sqlite_to_postgres;

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// The database to copy: sqlite:DATA_DIR (or sqlite:DATA_DIR/doorstep.sqlite3). It is
    /// only read.
    #[arg(long)]
    pub(crate) from: String,
    /// The PostgreSQL database to copy into; it must be empty (its schema is made):
    /// postgres://user[:password]@host[:port]/database.
    #[arg(long, env = "DOORSTEP_DATABASE_URL", hide_env_values = true)]
    pub(crate) to: String,
    /// The fleet's secrets directory (default: DATA_DIR/secrets of --from); the nodes on
    /// PostgreSQL need the same one.
    #[arg(long, env = "DOORSTEP_SECRETS_DIR")]
    pub(crate) secrets_dir: Option<PathBuf>,
}

pub(crate) async fn run(a: MigrateArgs) -> anyhow::Result<()> {
    let from = Location::parse(&a.from).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let to = Location::parse(&a.to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    let report = tokio::task::spawn_blocking(move || {
        migrate_sqlite_to_postgres(&from, &to, a.secrets_dir.as_deref(), &|line| {
            eprintln!("{line}");
        })
    })
    .await??;
    print!("{report}");
    Ok(())
}
