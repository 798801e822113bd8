//! `demo`: seed a data directory with a demo route, print how to enroll the app, and serve it
//! in demo mode.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use doorstep_server::domain::zone::FleetZone;
use doorstep_server::render::qr::qr_terminal;
use doorstep_server::{DemoSeed, Mode, launch, seed_demo};

use crate::common::{DatabaseArgs, base_config, exposure_warning, shutdown_signal, today};

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Data directory (a fresh one is best).
    #[arg(long, default_value = "./doorstep-demo")]
    pub(crate) data_dir: PathBuf,
    /// Address to listen on. Another address than loopback (e.g. 0.0.0.0 for a phone on
    /// the LAN) opens the fleet page, its enrollment button and the customers' codes in the
    /// development outbox to that network.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub(crate) port: u16,
    /// Base URL phones use; defaults to http://<host>:<port> (use your LAN address for a phone,
    /// http://10.0.2.2:<port> for the Android emulator).
    #[arg(long)]
    pub(crate) public_url: Option<String>,
    /// Delivery day of the demo route (default: today, UTC).
    #[arg(long)]
    pub(crate) date: Option<String>,
    /// Also write what was seeded (enrollment URI, admin token, the parcels with their codes)
    /// as JSON to this file, for QA scripts and the end-to-end tests.
    #[arg(long)]
    pub(crate) seed_json: Option<PathBuf>,
    /// Seed the data directory and exit without serving (start it later with `serve --demo-mode`).
    #[arg(long)]
    pub(crate) seed_only: bool,
    /// Map tiles for the console's Today map (a PMTiles archive; see `serve --help`).
    #[arg(long, value_name = "FILE")]
    pub(crate) map_tiles: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) customers: crate::common::CustomerArgs,
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
}

pub(crate) async fn run(a: DemoArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind((a.host.as_str(), a.port))
        .await
        .with_context(|| format!("binding {}:{}", a.host, a.port))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() && !a.seed_only {
        eprintln!("\n{}\n", exposure_warning(addr));
    }
    let shown_host = if a.host == "0.0.0.0" {
        "127.0.0.1".to_string()
    } else {
        a.host.clone()
    };
    let public_url = a
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{shown_host}:{}", addr.port()));
    let mut config = base_config(
        Mode::Demo,
        &a.data_dir,
        public_url.clone(),
        FleetZone::utc(),
        &a.database,
    );
    config.map_tiles = a.map_tiles.clone();
    config.customers = a.customers.rules()?;
    if config.customers.pickup_points.is_empty() {
        config.customers.pickup_points = doorstep_server::demo_pickup_points();
    }
    let date = a.date.clone().unwrap_or_else(|| today(&config));
    let seed = {
        let config = config.clone();
        let date = date.clone();
        tokio::task::spawn_blocking(move || seed_demo(&config, &date)).await??
    };
    let uri = doorstep_protocol::wire::EnrollmentLink {
        server_url: public_url.clone(),
        code: seed.enrollment_code.clone(),
    }
    .to_uri();
    print_demo(&seed, &public_url, addr, &a.data_dir, &date, &uri);
    if let Some(path) = &a.seed_json {
        write_seed_json(path, &seed, &public_url, &date, &uri)?;
    }
    if a.seed_only {
        return Ok(());
    }
    launch(listener, config, shutdown_signal()).await?;
    Ok(())
}

/// What the operator needs to try the demo: the enrollment QR and code, the pages, the
/// tokens and the route with its codes.
fn print_demo(
    seed: &DemoSeed,
    public_url: &str,
    addr: std::net::SocketAddr,
    data_dir: &std::path::Path,
    date: &str,
    uri: &str,
) {
    println!(
        "Doorstep demo server on {public_url} (listening on {addr}, data in {})",
        data_dir.display()
    );
    println!(
        "\nEnroll the app: scan this QR, or type the code {}\n",
        seed.enrollment_code
    );
    println!("{}", qr_terminal(uri));
    println!("Enrollment URI: {uri}");
    println!(
        "Android emulator: restart with --public-url http://10.0.2.2:{}",
        addr.port()
    );
    println!("\nFleet page:   {public_url}/fleet");
    println!("Dev outbox:   {public_url}/dev/outbox  (the codes 'sent' to customers)");
    println!("Labels:       {public_url}/dev/labels?date={date}");
    println!("Admin token:  {}", seed.admin_token);
    println!("Shipper key:  {}", seed.shipper_api_key);
    println!("\nRoute for {date}:");
    for p in &seed.parcels {
        println!(
            "  {:<22}  {:<18} code {:<9} {}",
            p.barcode,
            p.recipient_name,
            p.code.as_deref().unwrap_or("-"),
            p.label
        );
    }
    println!(
        "  {:<22}  not on this route: Second Courier's parcel (scan it to see what the app does)",
        seed.off_route_barcode
    );
    println!();
}

/// The seed as JSON (`--seed-json`), for QA scripts and the end-to-end tests.
fn write_seed_json(
    path: &std::path::Path,
    seed: &DemoSeed,
    public_url: &str,
    date: &str,
    uri: &str,
) -> anyhow::Result<()> {
    let parcels: Vec<_> = seed
        .parcels
        .iter()
        .map(|p| {
            serde_json::json!({
                "parcel_id": p.parcel_id.to_string(),
                "stop_id": p.stop_id.to_string(),
                "barcode": p.barcode,
                "barcode_key": p.barcode_key,
                "code": p.code,
                "code_required": p.code_required,
                "offline_allowed": p.offline_allowed,
                "photo_required": p.photo_required,
                "label": p.label,
                "recipient_name": p.recipient_name,
                "customer_url": p.customer_url,
            })
        })
        .collect();
    let json = serde_json::json!({
        "server_url": public_url,
        "date": date,
        "enrollment_code": seed.enrollment_code,
        "enrollment_uri": uri,
        "admin_token": seed.admin_token,
        "shipper_api_key": seed.shipper_api_key,
        "courier_id": seed.courier_id.to_string(),
        "parcels": parcels,
        "off_route_barcode": seed.off_route_barcode,
    });
    std::fs::write(path, serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
