//! `enroll`: a single-use enrollment code for a courier, as a QR in the terminal and an SVG.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use doorstep_server::Mode;
use doorstep_server::render::qr::{qr_svg, qr_terminal};

use crate::common::{Common, config_from};

#[derive(Debug, Args)]
pub(crate) struct EnrollArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Courier name (created if new).
    #[arg(long)]
    pub(crate) courier: String,
    /// Where to write the QR as SVG.
    #[arg(long, default_value = "enrollment.svg")]
    pub(crate) svg: PathBuf,
}

pub(crate) async fn run(a: EnrollArgs) -> anyhow::Result<()> {
    let config = config_from(&a.common, Mode::Production);
    let courier = a.courier.clone();
    let (code, uri) =
        tokio::task::spawn_blocking(move || doorstep_server::create_enrollment(&config, &courier))
            .await??;
    println!("Enrollment code for {}: {code}\n", a.courier);
    println!("{}", qr_terminal(&uri));
    println!("URI: {uri}");
    std::fs::write(&a.svg, qr_svg(&uri, 320))
        .with_context(|| format!("writing {}", a.svg.display()))?;
    println!("QR written to {}", a.svg.display());
    Ok(())
}
