//! The `engine` binary: parses arguments and wires the library. Exit codes: 0 clean stop,
//! 1 runtime failure, 2 bad arguments or config, 3 the instance is already running.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tickwire_engine::alloc::CountingAllocator;
use tickwire_engine::config::Config;
use tickwire_engine::instance::InstanceError;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[derive(Parser, Debug)]
#[command(
    name = "engine",
    version,
    about = "tickwire low-latency trading engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the engine until SIGINT or SIGTERM.
    Run {
        /// Config file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Cmd::Run { config } => {
            let config = match Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("engine: config error: {e}");
                    return ExitCode::from(2);
                }
            };
            match tickwire_engine::run::run(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("engine: {e:#}");
                    if matches!(
                        e.downcast_ref::<InstanceError>(),
                        Some(InstanceError::AlreadyRunning { .. })
                    ) {
                        ExitCode::from(3)
                    } else {
                        ExitCode::FAILURE
                    }
                }
            }
        }
    }
}
