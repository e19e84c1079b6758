//! The `venue` binary: a local exchange simulator speaking the Binance wire formats the feed
//! decodes, for running tickwire with no internet and no keys.
//!
//! This build parses its command line only; the simulator itself (order book, price process,
//! TLS WebSocket streams, order entry, admin faults) is issue 5. Until then the engine runs on
//! its labelled synthetic source and its in-process paper venue, and `venue` says so and exits
//! with status 1 rather than pretending to serve anything.

use clap::Parser;
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "venue",
    version,
    about = "tickwire local venue simulator (Binance wire format)"
)]
struct Cli {
    /// Address for the market-data and order-entry WebSocket endpoints (loopback).
    #[arg(long, default_value = "127.0.0.1:9443")]
    listen: SocketAddr,
    /// Address for the admin HTTP endpoint (loopback only).
    #[arg(long, default_value = "127.0.0.1:9444")]
    admin: SocketAddr,
    /// Seed of the price process and background flow.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    eprintln!(
        "venue: the simulator is not in this build yet (listen {}, admin {}, seed {}); \
         the engine runs on its labelled synthetic source meanwhile",
        cli.listen, cli.admin, cli.seed
    );
    ExitCode::FAILURE
}
