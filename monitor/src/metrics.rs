//! `/metrics`: the latest [`State`] in Prometheus text exposition, encoded by prometheus-client.
//!
//! A registry is built from the snapshot on each scrape, so a metric never outlives what the
//! region says (an instrument that is gone is not exported with a stale value). Names all start
//! with `tickwire_`; docs/prometheus-alerts.yml and docs/grafana-dashboard.json use only names
//! exported here, which a test checks against a live monitor.

use crate::state::{Liveness, State};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SymbolLabels {
    symbol: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QuantileLabels {
    stage: String,
    quantile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    instance: String,
    status: String,
    gateway_mode: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlarmLabels {
    alarm: String,
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g = Gauge::<i64>::default();
    g.set(value);
    registry.register(name, help, g);
}

fn float_gauge(registry: &mut Registry, name: &str, help: &str, value: f64) {
    let g = FloatGauge::default();
    g.set(value);
    registry.register(name, help, g);
}

fn per_symbol(
    registry: &mut Registry,
    name: &str,
    help: &str,
    values: impl Iterator<Item = (String, f64)>,
) {
    let family = Family::<SymbolLabels, FloatGauge>::default();
    for (symbol, value) in values {
        family.get_or_create(&SymbolLabels { symbol }).set(value);
    }
    registry.register(name, help, family);
}

/// Parses a decimal string from the state (always well-formed: the state formats it).
fn number(s: &str) -> f64 {
    s.parse().unwrap_or(f64::NAN)
}

/// Encodes `state` as Prometheus text.
///
/// # Errors
///
/// Formatting into the string failed (it does not, for a `String`).
pub fn render(state: &State) -> Result<String, std::fmt::Error> {
    let mut r = Registry::with_prefix("tickwire");
    let live = state.monitor.liveness == Liveness::Live;
    gauge(
        &mut r,
        "engine_up",
        "1 while the engine's process is alive and its heartbeat is fresh",
        i64::from(live),
    );
    gauge(
        &mut r,
        "monitor_attached",
        "1 while the monitor has an engine region mapped",
        i64::from(state.monitor.attached),
    );
    if !state.monitor.attached {
        let mut out = String::new();
        encode(&mut out, &r)?;
        return Ok(out);
    }
    let e = &state.engine;
    let info = Family::<InfoLabels, Gauge<i64>>::default();
    info.get_or_create(&InfoLabels {
        instance: e.instance.clone(),
        status: e.status.clone(),
        gateway_mode: e.gateway_mode.clone(),
    })
    .set(1);
    r.register("engine", "Engine identity and status (value 1)", info);
    float_gauge(
        &mut r,
        "engine_heartbeat_age_seconds",
        "Age of the engine's last heartbeat",
        e.heartbeat_age_ms as f64 / 1e3,
    );
    gauge(
        &mut r,
        "engine_uptime_seconds",
        "Seconds since the engine started",
        i64::try_from(e.uptime_s).unwrap_or(i64::MAX),
    );
    gauge(
        &mut r,
        "engine_paused",
        "1 while the engine is paused by an operator",
        i64::from(e.status == "paused"),
    );
    gauge(
        &mut r,
        "engine_halted",
        "1 while the engine is halted (kill switch, fatal condition)",
        i64::from(e.status == "halted"),
    );
    gauge(
        &mut r,
        "engine_state_age_seconds",
        "Seconds the engine has been in its current state",
        i64::try_from(e.state_age_s).unwrap_or(i64::MAX),
    );
    gauge(
        &mut r,
        "engine_reduce_only",
        "1 while only position-reducing orders are allowed",
        i64::from(e.reduce_only),
    );
    gauge(
        &mut r,
        "kill_switch",
        "1 once the kill switch is thrown",
        i64::from(state.risk.kill_switch),
    );
    let alarm = Family::<AlarmLabels, Gauge<i64>>::default();
    for name in [
        "storage",
        "queue_full",
        "feed",
        "hot_path_allocation",
        "clock_jump",
    ] {
        alarm
            .get_or_create(&AlarmLabels {
                alarm: name.to_owned(),
            })
            .set(i64::from(e.alarms.contains(&name)));
    }
    r.register("alarm", "1 while the named alarm is raised", alarm);
    gauge(
        &mut r,
        "storage_alarm",
        "1 while the journal cannot be written (disk full, locked, failing)",
        i64::from(state.storage.alarm),
    );
    gauge(
        &mut r,
        "storage_pending_records",
        "Journal records held in memory waiting to be written",
        i64::try_from(state.storage.pending_records).unwrap_or(i64::MAX),
    );
    gauge(
        &mut r,
        "open_orders",
        "Open orders",
        state.orders.len() as i64,
    );
    let instruments = &state.instruments;
    per_symbol(
        &mut r,
        "feed_age_seconds",
        "Age of the last market data message",
        instruments.iter().map(|i| {
            (
                i.symbol.clone(),
                i.last_msg_age_ms
                    .map_or(f64::INFINITY, |ms| ms as f64 / 1e3),
            )
        }),
    );
    per_symbol(
        &mut r,
        "feed_live",
        "1 while the instrument's feed is live (connected, synchronised, fresh)",
        instruments.iter().map(|i| {
            (
                i.symbol.clone(),
                f64::from(u8::from(i.feed_state == "live")),
            )
        }),
    );
    per_symbol(
        &mut r,
        "bid_price",
        "Best bid",
        instruments
            .iter()
            .map(|i| (i.symbol.clone(), number(&i.bid))),
    );
    per_symbol(
        &mut r,
        "ask_price",
        "Best ask",
        instruments
            .iter()
            .map(|i| (i.symbol.clone(), number(&i.ask))),
    );
    let positions = &state.positions;
    per_symbol(
        &mut r,
        "position",
        "Signed position, base units",
        positions.iter().map(|p| (p.symbol.clone(), number(&p.qty))),
    );
    per_symbol(
        &mut r,
        "realized_pnl",
        "Realised PnL, quote currency",
        positions
            .iter()
            .map(|p| (p.symbol.clone(), number(&p.realized_pnl))),
    );
    per_symbol(
        &mut r,
        "unrealized_pnl",
        "Unrealised PnL at the mark, quote currency",
        positions
            .iter()
            .map(|p| (p.symbol.clone(), number(&p.unrealized_pnl))),
    );
    let quantiles = Family::<QuantileLabels, FloatGauge>::default();
    let max = Family::<StageLabels, FloatGauge>::default();
    let samples = Family::<StageLabels, Counter>::default();
    for (stage, l) in &state.latency {
        for (q, ns) in [("0.5", l.p50_ns), ("0.99", l.p99_ns), ("0.999", l.p999_ns)] {
            quantiles
                .get_or_create(&QuantileLabels {
                    stage: (*stage).to_owned(),
                    quantile: q.to_owned(),
                })
                .set(ns as f64 / 1e9);
        }
        let labels = StageLabels {
            stage: (*stage).to_owned(),
        };
        max.get_or_create(&labels).set(l.max_ns as f64 / 1e9);
        samples.get_or_create(&labels).inc_by(l.count);
    }
    r.register(
        "latency_seconds",
        "Per-stage latency quantiles since the engine started",
        quantiles,
    );
    r.register(
        "latency_max_seconds",
        "Per-stage largest latency since the engine started",
        max,
    );
    r.register(
        "latency_samples",
        "Per-stage latency records since the engine started",
        samples,
    );
    for id in tickwire_shm::layout::CounterId::ALL {
        let c = Counter::<u64>::default();
        c.inc_by(state.counters.get(id.name()).copied().unwrap_or(0));
        r.register(id.name(), format!("Engine counter {}", id.name()), c);
    }
    let mut out = String::new();
    encode(&mut out, &r)?;
    Ok(out)
}
