//! The terminal view (`--print`, `--watch`), as AeronStat is for Aeron: the same [`State`] the
//! dashboard shows, as text, for hosts without a browser.

use crate::state::{Liveness, State};
use std::fmt::Write as _;
use tickwire_shm::layout::{CounterId, Stage};

/// Renders `s` as a text page.
///
/// # Errors
///
/// Formatting into the string failed (it does not, for a `String`).
pub fn render(s: &State) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    let e = &s.engine;
    let verdict = match s.monitor.liveness {
        Liveness::Live => "live",
        Liveness::Stalled => "STALLED",
        Liveness::Dead => "DEAD",
        Liveness::Stopped => "stopped",
        Liveness::NoRegion => "no region",
        Liveness::BadHeader => "bad header",
    };
    writeln!(
        out,
        "instance {}  pid {}  {verdict}  heartbeat {} ms ago",
        e.instance, e.pid, e.heartbeat_age_ms
    )?;
    writeln!(
        out,
        "engine   {} {}  for {} s  mode {}  alarms [{}]  reduce-only {}",
        e.engine_state,
        e.reason,
        e.state_age_s,
        e.gateway_mode,
        e.alarms.join(","),
        e.reduce_only
    )?;
    if let Some(error) = &s.monitor.error {
        writeln!(out, "monitor  {error}")?;
    }
    writeln!(
        out,
        "\n{:<10} {:>14} {:>14} {:>12} {:>12}  {:<12} {:<10} {:>8}",
        "symbol", "bid", "ask", "bid qty", "ask qty", "feed", "source", "age ms"
    )?;
    for i in &s.instruments {
        let age = i.last_msg_age_ms.map_or("-".to_owned(), |a| a.to_string());
        writeln!(
            out,
            "{:<10} {:>14} {:>14} {:>12} {:>12}  {:<12} {:<10} {age:>8}",
            i.symbol, i.bid, i.ask, i.bid_qty, i.ask_qty, i.feed_state, i.data_source
        )?;
    }
    writeln!(
        out,
        "\n{:<10} {:>12} {:>14} {:>18} {:>18} {:>6}",
        "position", "qty", "avg price", "realized", "unrealized", "fills"
    )?;
    for p in &s.positions {
        writeln!(
            out,
            "{:<10} {:>12} {:>14} {:>18} {:>18} {:>6}",
            p.symbol, p.qty, p.avg_price, p.realized_pnl, p.unrealized_pnl, p.fills
        )?;
    }
    writeln!(out, "\nopen orders: {}", s.orders.len())?;
    for o in &s.orders {
        writeln!(
            out,
            "  #{:<8} {:<4} {:>12} @ {:>14}  filled {}  {}",
            o.client_id, o.side, o.qty, o.price, o.filled, o.state
        )?;
    }
    writeln!(
        out,
        "\n{:<22} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "latency", "count", "p50 ns", "p99 ns", "p99.9 ns", "max ns"
    )?;
    for stage in Stage::ALL {
        let l = s.latency.get(stage.name()).copied().unwrap_or_default();
        writeln!(
            out,
            "{:<22} {:>10} {:>10} {:>10} {:>10} {:>10}",
            stage.name(),
            l.count,
            l.p50_ns,
            l.p99_ns,
            l.p999_ns,
            l.max_ns
        )?;
    }
    writeln!(out, "\ncounters")?;
    for id in CounterId::ALL {
        let value = s.counters.get(id.name()).copied().unwrap_or(0);
        writeln!(out, "  {:<24} {value}", id.name())?;
    }
    Ok(out)
}
