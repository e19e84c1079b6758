//! The `monitor` binary: maps an engine's shared-memory region read-only and shows it — as a web
//! dashboard with a JSON API, Prometheus metrics and a control endpoint, or as text in a
//! terminal (`--print`, `--watch`).
//!
//! The monitor cannot hurt the engine: it maps the region read-only (only the control page is
//! mapped writable, for commands), the engine's writes never wait for readers, and the monitor
//! runs in its own process, so it can be started, killed and restarted at any time. It starts
//! before the engine if need be, waits for the region, and follows the engine across restarts.

mod history;
mod metrics;
mod sampler;
mod server;
mod state;
mod terminal;

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tickwire_shm::layout::Stage;
use tickwire_shm::region::RegionReader;

#[derive(Parser, Debug)]
#[command(
    name = "monitor",
    version,
    about = "tickwire monitor: live view of an engine's shared-memory region"
)]
struct Cli {
    /// The engine's region file.
    #[arg(long, default_value = "/dev/shm/tickwire-demo")]
    shm: PathBuf,
    /// Dashboard address; port 0 picks a free port (the address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Allow --listen on an address other than loopback (control still needs the token).
    #[arg(long)]
    allow_remote: bool,
    /// The engine's journal, for fill history.
    #[arg(long)]
    journal: Option<PathBuf>,
    /// The engine's control token file (`<run_dir>/<instance>.token`); control is off without it.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// State pushes per second to each dashboard, 1 to 60.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=60))]
    push_hz: u32,
    /// How long POST /api/control waits for the engine's acknowledgement, ms.
    #[arg(long, default_value_t = 2000)]
    control_timeout_ms: u64,
    /// Print the engine's state once and exit.
    #[arg(long)]
    print: bool,
    /// Print the engine's state every second until interrupted.
    #[arg(long)]
    watch: bool,
    /// A heartbeat older than this means the engine is stalled, ms.
    #[arg(long, default_value_t = 1000)]
    stale_ms: u64,
    /// Scheduling niceness of the monitor's threads (0 to 19): on a host the engine shares,
    /// the monitor yields the CPU to it.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i32).range(0..=19))]
    nice: i32,
}

/// Lowers this thread's priority; threads spawned afterwards inherit it.
fn renice(nice: i32) -> Result<()> {
    // SAFETY: setpriority(2) on the calling thread (who = 0) with a niceness clap bounded to
    // 0..=19; it touches no memory.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context(format!("setpriority nice {nice}"));
    }
    Ok(())
}

fn print_once(cli: &Cli) -> Result<()> {
    let reader = RegionReader::open(&cli.shm)
        .with_context(|| format!("open region {}", cli.shm.display()))?;
    let snapshots: Vec<_> = Stage::ALL
        .iter()
        .map(|s| reader.latency_ticks(*s))
        .collect();
    let region = cli.shm.display().to_string();
    let ctx = state::Context {
        region: &region,
        stale_ms: cli.stale_ms,
        seq: 1,
        attach_error: None,
    };
    let s = state::read(&reader, ctx, &snapshots)
        .map_err(|e| anyhow::anyhow!("reading region {region}: {e}"))?;
    print!("{}", terminal::render(&s)?);
    Ok(())
}

fn watch(cli: &Cli) -> Result<()> {
    let mut sampler = sampler::Sampler::new(cli.shm.clone(), cli.stale_ms);
    let history = std::sync::Mutex::default();
    loop {
        let s = sampler.sample(&history);
        print!("\x1b[2J\x1b[H{}", terminal::render(&s)?);
        if !s.monitor.attached {
            println!(
                "waiting for region {}: {}",
                cli.shm.display(),
                s.monitor.error.as_deref().unwrap_or("")
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn serve(cli: &Cli) -> Result<()> {
    if !cli.listen.ip().is_loopback() && !cli.allow_remote {
        bail!(
            "--listen {} is not a loopback address; pass --allow-remote to serve beyond this host",
            cli.listen
        );
    }
    renice(cli.nice)?;
    let period = Duration::from_secs(1) / cli.push_hz;
    let shared = sampler::spawn(sampler::Sampler::new(cli.shm.clone(), cli.stale_ms), period)
        .context("start the sampler thread")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("monitor-http")
        .enable_all()
        .build()
        .context("start the HTTP runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(cli.listen)
            .await
            .with_context(|| format!("bind {}", cli.listen))?;
        let addr = listener.local_addr().context("local address")?;
        println!(
            "monitor: dashboard at http://{addr}/ (region {})",
            cli.shm.display()
        );
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("install SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("install SIGINT handler")?;
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let app = server::App {
            shared,
            shm: cli.shm.clone(),
            token_file: cli.token_file.clone(),
            journal: cli.journal.clone(),
            push_period: period,
            control_timeout: Duration::from_millis(cli.control_timeout_ms),
            ws_clients: Arc::new(tokio::sync::Semaphore::new(server::MAX_WS_CLIENTS)),
            shutdown,
        };
        axum::serve(listener, server::router(app))
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                // Tells WebSocket clients to close, so the graceful shutdown can finish.
                let _ = stop.send(true);
            })
            .await
            .context("serve")
    })
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if cli.print {
        print_once(&cli)
    } else if cli.watch {
        watch(&cli)
    } else {
        serve(&cli)
    }
}
