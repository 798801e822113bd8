//! `labels`: a printable HTML sheet of a day's parcel labels.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use doorstep_server::Mode;

use crate::common::{Common, config_from, today};

#[derive(Debug, Args)]
pub(crate) struct LabelsArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Delivery day (default: today).
    #[arg(long)]
    pub(crate) date: Option<String>,
    /// Output file.
    #[arg(long, default_value = "labels.html")]
    pub(crate) out: PathBuf,
}

pub(crate) fn run(a: LabelsArgs) -> anyhow::Result<()> {
    let config = config_from(&a.common, Mode::Demo);
    let date = a.date.clone().unwrap_or_else(|| today(&config));
    let html = doorstep_server::labels_for(&config, &date)?;
    std::fs::write(&a.out, html).with_context(|| format!("writing {}", a.out.display()))?;
    println!("wrote {}", a.out.display());
    Ok(())
}
