//! The `monitor` binary: maps an engine's shared-memory region read-only and shows it.
//!
//! This build has the terminal view (`--print`, `--watch`), which needs nothing but the
//! region: every label it prints comes from the region itself. The web dashboard and HTTP
//! routes are issue 6. The monitor never writes to the engine's state; it cannot slow the
//! engine, whose writes never wait for readers.

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tickwire_shm::layout::{flags, DataSource, EngineState, FeedState, Reason, SideCode, Stage};
use tickwire_shm::region::{mono_now_ns, RegionReader};

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
    /// Dashboard address (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The engine's journal (fill history).
    #[arg(long)]
    journal: Option<PathBuf>,
    /// The engine's control token file.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Print the engine's state once and exit.
    #[arg(long)]
    print: bool,
    /// Print the engine's state every second until interrupted.
    #[arg(long)]
    watch: bool,
    /// A heartbeat older than this means the engine is stalled, ms.
    #[arg(long, default_value_t = 1000)]
    stale_ms: u64,
}

fn decimal(value: i64, decimals: u32) -> String {
    let scale = 10i128.pow(decimals);
    let v = i128::from(value);
    let sign = if v < 0 { "-" } else { "" };
    if decimals == 0 {
        return format!("{v}");
    }
    format!(
        "{sign}{}.{:0w$}",
        v.abs() / scale,
        v.abs() % scale,
        w = decimals as usize
    )
}

fn render(r: &RegionReader, stale_ms: u64) -> Result<String> {
    let mut s = String::new();
    let engine = r.engine().context("engine status")?;
    let age_ms = mono_now_ns().saturating_sub(r.heartbeat_mono_ns()) / 1_000_000;
    let state = EngineState::from_code(engine.state).map_or("unknown", EngineState::name);
    let health = if r.flags() & flags::CLEAN_EXIT != 0 {
        "stopped"
    } else if !r.engine_process_alive() {
        "DEAD"
    } else if age_ms > stale_ms {
        "STALLED"
    } else {
        "live"
    };
    let reason = Reason::from_code(engine.reason).map_or("?", Reason::name);
    writeln!(
        s,
        "instance {}  pid {}  {health}  heartbeat {age_ms} ms ago",
        r.instance(),
        r.pid()
    )?;
    writeln!(
        s,
        "engine   {state} {reason}  alarms {:#x}  reduce-only {}",
        engine.alarms, engine.reduce_only
    )?;
    let instruments = r.instruments().context("instruments")?;
    writeln!(
        s,
        "\n{:<10} {:>14} {:>14} {:>12} {:>12}  {:<12} {:<10} {:>8}",
        "symbol", "bid", "ask", "bid qty", "ask qty", "feed", "source", "age ms"
    )?;
    for (i, info) in &instruments {
        let m = r.market(*i).context("market data")?;
        let symbol = tickwire_shm::layout::read_str(&info.symbol);
        let feed = FeedState::from_code(m.feed_state).map_or("?", FeedState::name);
        let source = DataSource::from_code(m.data_source).map_or("?", DataSource::name);
        let age = if m.last_msg_mono_ns == 0 {
            0
        } else {
            mono_now_ns().saturating_sub(m.last_msg_mono_ns) / 1_000_000
        };
        let (pd, qd) = (info.price_decimals, info.qty_decimals);
        writeln!(
            s,
            "{symbol:<10} {:>14} {:>14} {:>12} {:>12}  {feed:<12} {source:<10} {age:>8}",
            decimal(m.bid, pd),
            decimal(m.ask, pd),
            decimal(m.bid_qty, qd),
            decimal(m.ask_qty, qd)
        )?;
    }
    writeln!(
        s,
        "\n{:<10} {:>12} {:>14} {:>16} {:>16} {:>6}",
        "position", "qty", "avg price", "realized", "unrealized", "fills"
    )?;
    for (i, info) in &instruments {
        let p = r.position(*i).context("position")?;
        let symbol = tickwire_shm::layout::read_str(&info.symbol);
        let (pd, qd) = (info.price_decimals, info.qty_decimals);
        writeln!(
            s,
            "{symbol:<10} {:>12} {:>14} {:>16} {:>16} {:>6}",
            decimal(p.qty, qd),
            decimal(p.avg_price, pd),
            decimal(p.realized_pnl, pd + qd),
            decimal(p.unrealized_pnl, pd + qd),
            p.fills
        )?;
    }
    let orders = r.open_orders().context("open orders")?;
    writeln!(s, "\nopen orders: {}", orders.count)?;
    for o in orders
        .orders
        .iter()
        .take(orders.count.min(orders.orders.len() as u64) as usize)
    {
        let info = instruments
            .iter()
            .find(|(i, _)| *i == o.instrument as usize)
            .map(|(_, info)| *info)
            .unwrap_or_default();
        let side = SideCode::from_code(o.side).map_or("?", SideCode::name);
        writeln!(
            s,
            "  #{:<8} {side:<4} {:>12} @ {:>14}  filled {}",
            o.client_id,
            decimal(o.qty, info.qty_decimals),
            decimal(o.price, info.price_decimals),
            decimal(o.filled, info.qty_decimals)
        )?;
    }
    writeln!(
        s,
        "\n{:<22} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "latency", "count", "p50 ns", "p99 ns", "p99.9 ns", "max ns"
    )?;
    for stage in Stage::ALL {
        let l = r.summarize(&r.latency_ticks(*stage));
        writeln!(
            s,
            "{:<22} {:>10} {:>10} {:>10} {:>10} {:>10}",
            r.stage_label(*stage),
            l.count,
            l.p50_ns,
            l.p99_ns,
            l.p999_ns,
            l.max_ns
        )?;
    }
    writeln!(s, "\ncounters")?;
    for (label, value) in r.counters() {
        writeln!(s, "  {label:<24} {value}")?;
    }
    Ok(s)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if !cli.print && !cli.watch {
        bail!("this build of monitor has the terminal view only (--print or --watch); the web dashboard on {} is not in it yet", cli.listen);
    }
    loop {
        let reader = RegionReader::open(&cli.shm)
            .with_context(|| format!("open region {}", cli.shm.display()))?;
        let text = render(&reader, cli.stale_ms)?;
        if cli.watch {
            print!("\x1b[2J\x1b[H");
        }
        print!("{text}");
        if !cli.watch {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
