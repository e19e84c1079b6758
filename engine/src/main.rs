//! The `engine` binary: parses arguments and wires the library. Exit codes: 0 clean stop,
//! 1 runtime failure, 2 bad arguments or config, 3 the instance is already running.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tickwire_engine::alloc::CountingAllocator;
use tickwire_engine::config::Config;
use tickwire_engine::instance::InstanceError;
use tickwire_engine::replay::ReplayVenue;
use tickwire_engine::{host, jitter};

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
        /// Pin the strategy thread to this core (overrides `engine.strategy_core`).
        #[arg(long)]
        strategy_core: Option<usize>,
        /// Run the strategy thread under SCHED_FIFO when permitted (overrides
        /// `engine.sched_fifo`; only with an isolated core).
        #[arg(long)]
        sched_fifo: bool,
        /// Lock all current and future memory (mlockall) so no page faults hit the hot path.
        #[arg(long)]
        mlock: bool,
        /// Write per-stage latency as an HdrHistogram interval log (one interval a second,
        /// tagged by stage, ns) to FILE (overrides `engine.latency_log`).
        #[arg(long, value_name = "FILE")]
        latency_log: Option<PathBuf>,
    },
    /// Run recorded venue messages (one per line) through the decoders and book sync, and
    /// print one JSON result per line and a summary.
    Replay {
        /// The venue whose wire format the file holds.
        #[arg(long, value_enum)]
        venue: ReplayVenue,
        /// Binance REST depth snapshots, JSON Lines, used in order (start, then after each
        /// gap); Kraken and Coinbase send theirs in the stream.
        #[arg(long)]
        snapshot: Option<PathBuf>,
        /// The recording.
        file: PathBuf,
    },
    /// Record the config's market-data frames with receive times as JSON Lines.
    Record {
        /// Config file (TOML) whose feed to record.
        #[arg(long)]
        config: PathBuf,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Stop after this many seconds (default: until SIGINT/SIGTERM).
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Report how well this host is tuned for a strategy thread on `--core`.
    CheckHost {
        /// The core the strategy thread would run on.
        #[arg(long, default_value_t = 1)]
        core: usize,
        /// Exit with status 1 unless the core is isolated (for launch scripts).
        #[arg(long)]
        require_isolated: bool,
        /// Also measure the core's jitter for this many seconds: a thread pinned to it spins on
        /// the clock and counts the stalls (0: skip).
        #[arg(long, default_value_t = 0)]
        jitter_secs: u64,
    },
}

fn replay(venue: ReplayVenue, snapshot: Option<PathBuf>, file: PathBuf) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::BufReader;
    let mut input = BufReader::new(
        std::fs::File::open(&file).with_context(|| format!("open {}", file.display()))?,
    );
    let mut snapshots = match &snapshot {
        Some(path) => Some(BufReader::new(
            std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?,
        )),
        None => None,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    tickwire_engine::replay::replay(
        venue,
        &mut input,
        snapshots.as_mut().map(|s| s as &mut dyn std::io::BufRead),
        &mut out,
    )
    .with_context(|| format!("replay {}", file.display()))?;
    std::io::Write::flush(&mut out).context("write output")?;
    Ok(())
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
        Cmd::Replay {
            venue,
            snapshot,
            file,
        } => match replay(venue, snapshot, file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("engine: {e:#}");
                ExitCode::FAILURE
            }
        },
        Cmd::Record {
            config,
            out,
            seconds,
        } => {
            let config = match Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("engine: config error: {e}");
                    return ExitCode::from(2);
                }
            };
            let result = std::fs::File::create(&out)
                .map_err(anyhow::Error::from)
                .and_then(|file| {
                    let mut writer = std::io::BufWriter::new(file);
                    tickwire_engine::record::record(
                        &config,
                        &mut writer,
                        seconds.map(std::time::Duration::from_secs),
                    )
                });
            match result {
                Ok(s) => {
                    eprintln!(
                        "engine: recorded {} frames to {} ({} reconnects)",
                        s.frames,
                        out.display(),
                        s.reconnects
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("engine: record {}: {e:#}", out.display());
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::CheckHost {
            core,
            require_isolated,
            jitter_secs,
        } => {
            let checks = host::evaluate(&host::gather(core), core);
            print!("{}", host::render(&checks, core));
            if jitter_secs > 0 {
                let cores = host::online_cpus();
                if core >= cores {
                    eprintln!(
                        "engine: --core {core}: this host has {cores} cores; no jitter to measure"
                    );
                    return ExitCode::from(2);
                }
                match jitter::measure(Some(core), Duration::from_secs(jitter_secs)) {
                    Ok(report) => print!("{}", jitter::render(&report)),
                    Err(e) => {
                        eprintln!("engine: jitter measurement: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            let isolated = checks
                .iter()
                .any(|c| c.item == "isolcpus" && c.verdict == host::Verdict::Ok);
            if require_isolated && !isolated {
                eprintln!("engine: core {core} is not isolated");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Cmd::Run {
            config,
            strategy_core,
            sched_fifo,
            mlock,
            latency_log,
        } => {
            let mut config = match Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("engine: config error: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Err(e) = config.override_placement(strategy_core, sched_fifo) {
                eprintln!("engine: {e}");
                return ExitCode::from(2);
            }
            if latency_log.is_some() {
                config.engine.latency_log = latency_log;
            }
            if mlock {
                // SAFETY: mlockall(2) only changes how the kernel pages this process's memory.
                if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
                    eprintln!(
                        "engine: mlockall failed: {} (raise the memlock limit: ulimit -l unlimited)",
                        std::io::Error::last_os_error()
                    );
                    return ExitCode::FAILURE;
                }
            }
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
