//! The `venue` binary: parses arguments and runs the simulator (see the library docs).

use anyhow::{Context, Result};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tickwire_feed::parse_decimal;
use tickwire_venue::flow::FlowParams;
use tickwire_venue::server::{serve, VenueSettings};
use tickwire_venue::wire::Symbol;

#[derive(Parser, Debug)]
#[command(
    name = "venue",
    version,
    about = "tickwire local venue simulator (Binance spot wire formats)"
)]
struct Cli {
    /// Market data, WebSocket API and REST (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9443")]
    listen: SocketAddr,
    /// Admin HTTP endpoint (loopback only).
    #[arg(long, default_value = "127.0.0.1:9444")]
    admin: SocketAddr,
    /// Seed of the price process and background flow.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the CA certificate and `venue.json` (the addresses in use) are written.
    #[arg(long, default_value = "run/venue")]
    data_dir: PathBuf,
    /// Serve plain TCP instead of TLS (benches).
    #[arg(long)]
    plain: bool,
    /// Symbol.
    #[arg(long, default_value = "BTCUSDT")]
    symbol: String,
    /// Decimals of prices.
    #[arg(long, default_value_t = 2)]
    price_decimals: u32,
    /// Decimals of quantities.
    #[arg(long, default_value_t = 5)]
    qty_decimals: u32,
    /// Tick size.
    #[arg(long, default_value = "0.01")]
    tick: String,
    /// Lot size.
    #[arg(long, default_value = "0.00001")]
    lot: String,
    /// Starting price.
    #[arg(long, default_value = "50000.00")]
    start_price: String,
    /// Size unit of background orders.
    #[arg(long, default_value = "0.001")]
    base_qty: String,
    /// Ladder levels per side of the liquidity provider.
    #[arg(long, default_value_t = 5)]
    levels: usize,
    /// Background market step, ms.
    #[arg(long, default_value_t = 20)]
    step_ms: u64,
    /// Chance of a taker per step, per mille.
    #[arg(long, default_value_t = 250)]
    taker_per_mille: u64,
}

fn decimal(name: &str, text: &str, decimals: u32) -> Result<i64> {
    let v = parse_decimal(text.as_bytes(), decimals)
        .map_err(|e| anyhow::anyhow!("--{name} {text:?}: {e}"))?;
    anyhow::ensure!(v > 0, "--{name} {text:?}: must be greater than zero");
    Ok(v)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let tick = decimal("tick", &cli.tick, cli.price_decimals)?;
    let lot = decimal("lot", &cli.lot, cli.qty_decimals)?;
    let start = decimal("start-price", &cli.start_price, cli.price_decimals)?;
    let base_qty = decimal("base-qty", &cli.base_qty, cli.qty_decimals)?;
    anyhow::ensure!(
        start % tick == 0,
        "--start-price must be a multiple of --tick"
    );
    anyhow::ensure!(
        base_qty % lot == 0,
        "--base-qty must be a multiple of --lot"
    );
    anyhow::ensure!((1..=100).contains(&cli.levels), "--levels must be 1..=100");
    anyhow::ensure!(
        (1..=10_000).contains(&cli.step_ms),
        "--step-ms must be 1..=10000"
    );
    anyhow::ensure!(
        cli.taker_per_mille <= 1000,
        "--taker-per-mille must be 0..=1000"
    );
    let settings = VenueSettings {
        symbol: Symbol {
            name: cli.symbol.to_ascii_uppercase(),
            price_decimals: cli.price_decimals,
            qty_decimals: cli.qty_decimals,
        },
        tick,
        lot,
        flow: FlowParams {
            start_price: start,
            tick,
            base_qty,
            levels: cli.levels,
            taker_per_mille: cli.taker_per_mille,
            seed: cli.seed,
        },
        step: Duration::from_millis(cli.step_ms),
        depth_interval: Duration::from_millis(100),
    };
    let tls = if cli.plain {
        None
    } else {
        Some(tickwire_venue::tls::generate(&cli.data_dir)?)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start runtime")?;
    let data_dir = cli.data_dir.clone();
    let scheme = if cli.plain {
        ("http", "ws")
    } else {
        ("https", "wss")
    };
    let ca = tls.as_ref().map(|t| t.ca_path.display().to_string());
    runtime.block_on(async move {
        let server = serve(
            settings,
            cli.listen,
            cli.admin,
            tls.map(|t| t.config),
            |handle| {
                let info = serde_json::json!({
                    "venue": format!("{}://{}", scheme.1, handle.listen),
                    "rest": format!("{}://{}", scheme.0, handle.listen),
                    "venue_admin": format!("http://{}", handle.admin),
                    "ca_file": ca,
                });
                let path = data_dir.join("venue.json");
                if let Err(e) = std::fs::create_dir_all(&data_dir)
                    .and_then(|()| std::fs::write(&path, info.to_string()))
                {
                    eprintln!("venue: cannot write {}: {e}", path.display());
                }
                eprintln!("venue: {info}");
            },
        );
        tokio::select! {
            result = server => result,
            _ = tokio::signal::ctrl_c() => Ok(()),
            _ = terminate() => Ok(()),
        }
    })
}

async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
