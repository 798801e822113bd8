//! Soak driver for the kill -9 test: delivers and syncs in a loop against a dispatch server
//! until it is killed. Every commit is announced on stdout *after* it returned, so a test can
//! check that no acknowledged commit is ever lost.
//!
//! ```text
//! courier-soak enroll <data_dir> <server_url> <enrollment_code> <date>
//! courier-soak run    <data_dir> <date>      # commit + sync forever (kill it)
//! courier-soak drain  <data_dir> <date>      # sync until nothing is pending, then exit
//! ```

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use doorstep_courier::{Config, Device, Randomness, SystemClock};
use doorstep_protocol::wire::{ExceptionReason, Platform};

type Error = Box<dyn std::error::Error>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: courier-soak enroll <dir> <server> <code> <date> | run <dir> <date> | drain <dir> <date>";
    let (mode, dir) = match (args.first(), args.get(1)) {
        (Some(m), Some(d)) => (m.as_str(), d.as_str()),
        _ => return Err(usage.into()),
    };
    let date = args.last().cloned().ok_or(usage)?;
    let mut config = Config::new(env!("CARGO_PKG_VERSION"), Platform::Linux);
    config.route_date = Some(date);
    config.backoff_base = Duration::from_millis(20);
    config.backoff_cap = Duration::from_millis(200);
    config.sync_interval = Duration::from_millis(100);
    config.batch_max_events = 7;
    let device = Device::open(dir, config, Arc::new(SystemClock), Randomness::os()).await?;
    let mut out = std::io::stdout().lock();
    match mode {
        "enroll" => {
            let (server, code) = (args.get(2).ok_or(usage)?, args.get(3).ok_or(usage)?);
            device.enroll(code, Some(server)).await?;
            device.refresh_route().await?;
            writeln!(out, "enrolled")?;
        }
        "run" => {
            if device.route()?.stops.is_empty() {
                return Err("no route stored; run `enroll` first".into());
            }
            writeln!(out, "ready")?;
            out.flush()?;
            loop {
                let route = device.route()?;
                for stop in &route.stops {
                    let Some(parcel) = stop.parcels.first() else {
                        continue;
                    };
                    device.reset_handover().await?;
                    device.scan_parcel(&parcel.barcode).await?;
                    let view = device
                        .report_exception(ExceptionReason::NotHome, None, None)
                        .await?;
                    if let doorstep_courier::view::HandoverView::Done { event_id, .. } = view {
                        writeln!(out, "committed {event_id}")?;
                        out.flush()?;
                    }
                    if rand::random::<u8>() % 3 == 0 {
                        device.sync_now().await?;
                    }
                }
            }
        }
        "drain" => {
            for _ in 0..600 {
                let status = device.sync_now().await?;
                if status.pending == 0 {
                    writeln!(out, "drained")?;
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            return Err("the outbox did not drain".into());
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}
