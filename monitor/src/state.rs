//! One consistent, serialisable view of an engine's region: what `/api/state`, `/ws`,
//! `/metrics`, `/health` and the terminal view all show.
//!
//! Invariants:
//! - Every cell is read through its seqlock; a cell that stays mid-write is reported as
//!   contended (an error in `monitor.error`), never shown half-written.
//! - Prices and quantities leave as exact decimal strings at the instrument's scale. A scale the
//!   region claims but this build cannot represent (a hostile or corrupt region) is an error
//!   naming the instrument, not a panic or a wrong number.
//! - Liveness comes from the monitor's own checks (pid alive, heartbeat age on
//!   `CLOCK_MONOTONIC`), never from the engine's self-reported state alone: a dead or stalled
//!   engine is shown as such whatever its last published state said.

use serde::Serialize;
use std::collections::BTreeMap;
use tickwire_shm::histogram::HistogramSnapshot;
use tickwire_shm::layout::{
    alarms, flags, read_str, CounterId, DataSource, EngineState, FeedState, GatewayMode,
    InstrumentInfo, OrderState, Reason, SideCode, Stage, RISK_REJECT_LABELS,
};
use tickwire_shm::region::{mono_now_ns, unix_now_ns, RegionReader};

/// Largest decimal scale shown; `10^18` is the largest power of ten in an `i64`.
const MAX_DECIMALS: u32 = 18;

/// What the monitor knows about the engine's liveness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// No region file at the path (engine not started, or stopped and removed it).
    NoRegion,
    /// A file at the path that is not a region this build can read.
    BadHeader,
    /// The engine's process is gone without a clean exit.
    Dead,
    /// The engine's process exists but its heartbeat is older than the threshold.
    Stalled,
    /// The engine exited cleanly (the values shown are its last).
    Stopped,
    /// Heartbeat fresh.
    Live,
}

impl Liveness {
    /// The reason `/health` gives for a non-200 answer.
    pub fn health_reason(self) -> Option<&'static str> {
        match self {
            Liveness::NoRegion => Some("no region"),
            Liveness::BadHeader => Some("bad header"),
            Liveness::Dead => Some("dead"),
            Liveness::Stalled => Some("stalled"),
            Liveness::Stopped => Some("stopped"),
            Liveness::Live => None,
        }
    }
}

/// The monitor's own view: what it is attached to and when this snapshot was taken.
#[derive(Clone, Debug, Serialize)]
pub struct MonitorView {
    /// The region path watched.
    pub region: String,
    /// Whether a region is mapped (its values are shown, live or last known).
    pub attached: bool,
    /// Liveness of the engine behind the region.
    pub liveness: Liveness,
    /// Why the region could not be (re)attached or read, if it could not.
    pub error: Option<String>,
    /// When the snapshot was taken, ms since the epoch.
    pub unix_ms: u64,
    /// Snapshot number, increasing.
    pub seq: u64,
    /// Heartbeat age that counts as stalled, ms.
    pub stale_ms: u64,
}

/// Engine status and identity.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EngineView {
    /// `running`, `paused`, `halted`, `starting`, `stopping`, `stopped`, or the monitor's verdict
    /// `stalled` / `dead` / `no region` / `bad header`.
    pub status: String,
    /// Why the engine is in that state (`operator`, `kill switch`, `storage`, ...), or the
    /// monitor's reason for its verdict.
    pub reason: String,
    /// The state the engine last published (before the monitor's verdict).
    pub engine_state: String,
    /// Engine pid.
    pub pid: u32,
    /// Instance name.
    pub instance: String,
    /// Seconds since the engine started.
    pub uptime_s: u64,
    /// Age of the last heartbeat, ms.
    pub heartbeat_age_ms: u64,
    /// Seconds in the current state (a pause shows how old it is).
    pub state_age_s: u64,
    /// Gateway mode: sim, paper or live.
    pub gateway_mode: String,
    /// Whether only position-reducing orders are allowed.
    pub reduce_only: bool,
    /// Why (`storage`, `order_unknown`: the alarms that make the engine reduce-only).
    pub reduce_only_because: Vec<&'static str>,
    /// Raised alarms by name.
    pub alarms: Vec<&'static str>,
    /// The strategy thread's core, -1 when unpinned.
    pub strategy_core: i32,
    /// Whether the engine busy-spins.
    pub busy_spin: bool,
    /// Events the strategy has handled.
    pub events: u64,
}

/// One instrument's market data and feed health.
#[derive(Clone, Debug, Serialize)]
pub struct InstrumentView {
    /// Venue symbol.
    pub symbol: String,
    /// Best bid price.
    pub bid: String,
    /// Best ask price.
    pub ask: String,
    /// Quantity at the best bid.
    pub bid_qty: String,
    /// Quantity at the best ask.
    pub ask_qty: String,
    /// Last trade price.
    pub last: String,
    /// Feed state: disconnected, connecting, syncing, live, stale.
    pub feed_state: String,
    /// Where the data comes from (venue name, or `synthetic`).
    pub data_source: String,
    /// Age of the last market message, ms (`null` before the first).
    pub last_msg_age_ms: Option<u64>,
    /// Messages decoded.
    pub messages: u64,
    /// Sequence gaps seen.
    pub gaps: u64,
    /// Book resynchronisations.
    pub resyncs: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Messages rejected by the decoder.
    pub decode_errors: u64,
}

/// Top of one instrument's book.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BookView {
    /// `[price, qty]`, best first.
    pub bids: Vec<[String; 2]>,
    /// `[price, qty]`, best first.
    pub asks: Vec<[String; 2]>,
}

/// One instrument's position and PnL.
#[derive(Clone, Debug, Serialize)]
pub struct PositionView {
    /// Venue symbol.
    pub symbol: String,
    /// Signed position.
    pub qty: String,
    /// Average entry price.
    pub avg_price: String,
    /// Realised PnL, quote currency.
    pub realized_pnl: String,
    /// Unrealised PnL at the mark, quote currency.
    pub unrealized_pnl: String,
    /// Mark price.
    pub mark_price: String,
    /// Fills counted.
    pub fills: u64,
    /// Traded volume.
    pub volume: String,
}

/// An open order.
#[derive(Clone, Debug, Serialize)]
pub struct OrderView {
    /// Client order id.
    pub client_id: u64,
    /// Venue symbol.
    pub symbol: String,
    /// buy or sell.
    pub side: String,
    /// Limit price.
    pub price: String,
    /// Order quantity.
    pub qty: String,
    /// Filled so far.
    pub filled: String,
    /// Order state.
    pub state: String,
    /// Post-only.
    pub post_only: bool,
    /// Age, ms.
    pub age_ms: u64,
}

/// A recent fill.
#[derive(Clone, Debug, Serialize)]
pub struct FillView {
    /// Fill sequence number (1-based, per engine run).
    pub seq: u64,
    /// Client order id.
    pub client_id: u64,
    /// Venue trade id.
    pub trade_id: u64,
    /// Venue symbol.
    pub symbol: String,
    /// buy or sell.
    pub side: String,
    /// Price.
    pub price: String,
    /// Quantity.
    pub qty: String,
    /// Whether the order was the maker.
    pub maker: bool,
    /// When, ms since the epoch.
    pub unix_ms: u64,
}

/// Risk limits and their usage (for the strategy's instrument).
#[derive(Clone, Debug, Default, Serialize)]
pub struct RiskView {
    /// The instrument the limits are in units of.
    pub symbol: String,
    /// Largest absolute position.
    pub max_position: String,
    /// Largest notional per order.
    pub max_notional: String,
    /// Order rate limit.
    pub max_orders_per_sec: u32,
    /// Price band around mid, basis points.
    pub price_band_bps: u32,
    /// Open order limit.
    pub max_open_orders: u32,
    /// Feed age after which quoting stops, ms.
    pub stale_feed_ms: u32,
    /// Worst-case position counting open orders.
    pub position_used: String,
    /// Orders in the current second.
    pub orders_this_sec: u32,
    /// Open orders.
    pub open_orders: u32,
    /// Kill switch thrown.
    pub kill_switch: bool,
    /// Reduce-only in force.
    pub reduce_only: bool,
    /// Orders refused, per check.
    pub rejects: BTreeMap<&'static str, u64>,
}

/// Journal health.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StorageView {
    /// Storage alarm raised (disk full, locked, failing).
    pub alarm: bool,
    /// SQLite error code of the last failure.
    pub last_error_code: u32,
    /// Records held in memory waiting to be written.
    pub pending_records: u64,
    /// Records written.
    pub written_records: u64,
    /// Seconds the alarm has lasted.
    pub alarm_age_s: u64,
}

/// Latency of one stage since the engine started.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct LatencyView {
    /// Records.
    pub count: u64,
    /// Median, ns.
    pub p50_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// 99.9th percentile, ns.
    pub p999_ns: u64,
    /// Largest, ns.
    pub max_ns: u64,
}

/// Everything the monitor shows, taken at one instant.
#[derive(Clone, Debug, Serialize)]
pub struct State {
    /// The monitor's own view.
    pub monitor: MonitorView,
    /// Engine status.
    pub engine: EngineView,
    /// Market data and feed health per instrument.
    pub instruments: Vec<InstrumentView>,
    /// Top levels per instrument symbol.
    pub book: BTreeMap<String, BookView>,
    /// Positions and PnL.
    pub positions: Vec<PositionView>,
    /// Open orders.
    pub orders: Vec<OrderView>,
    /// Recent fills, newest first.
    pub fills: Vec<FillView>,
    /// Fills since the engine started.
    pub fills_total: u64,
    /// Risk limits and usage.
    pub risk: RiskView,
    /// Journal health.
    pub storage: StorageView,
    /// Per stage.
    pub latency: BTreeMap<&'static str, LatencyView>,
    /// Engine counters: the summary names the dashboard uses, then every counter by name.
    pub counters: BTreeMap<&'static str, u64>,
    /// The latest one-second latency window (charts over time append it when it is new).
    pub latency_window: Option<LatencyPoint>,
}

/// One latency window: per stage `[count, p50_ns, p99_ns, p999_ns, max_ns]`.
#[derive(Clone, Debug, Serialize)]
pub struct LatencyPoint {
    /// End of the window, ms since the epoch.
    pub unix_ms: u64,
    /// Per stage name.
    pub stages: BTreeMap<&'static str, [u64; 5]>,
}

/// Formats a fixed-point value with `decimals` places, exactly.
pub fn decimal(value: i64, decimals: u32) -> String {
    let scale = 10u64.pow(decimals.min(MAX_DECIMALS));
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    if decimals == 0 {
        return format!("{sign}{magnitude}");
    }
    format!(
        "{sign}{}.{:0w$}",
        magnitude / scale,
        magnitude % scale,
        w = decimals.min(MAX_DECIMALS) as usize
    )
}

/// Formats a fixed-point `i128` value (products of price and quantity).
fn decimal_wide(value: i128, decimals: u32) -> String {
    match i64::try_from(value) {
        Ok(v) if decimals <= MAX_DECIMALS => decimal(v, decimals),
        _ => {
            let scale = 10u128.pow(decimals.min(36));
            let sign = if value < 0 { "-" } else { "" };
            let m = value.unsigned_abs();
            format!(
                "{sign}{}.{:0w$}",
                m / scale,
                m % scale,
                w = decimals.min(36) as usize
            )
        }
    }
}

/// An instrument's scales, checked.
#[derive(Clone, Copy, Debug)]
struct Scale {
    price: u32,
    qty: u32,
}

impl Scale {
    fn of(symbol: &str, info: &InstrumentInfo) -> Result<Self, String> {
        if info.price_decimals > MAX_DECIMALS || info.qty_decimals > MAX_DECIMALS {
            return Err(format!(
                "instrument {symbol}: price decimals {} / qty decimals {} exceed {MAX_DECIMALS}",
                info.price_decimals, info.qty_decimals
            ));
        }
        Ok(Self {
            price: info.price_decimals,
            qty: info.qty_decimals,
        })
    }
    fn price(self, v: i64) -> String {
        decimal(v, self.price)
    }
    fn qty(self, v: i64) -> String {
        decimal(v, self.qty)
    }
    fn money(self, v: i64) -> String {
        decimal_wide(i128::from(v), self.price + self.qty)
    }
}

/// The status and reason shown for an engine that is not live (dead, stalled, no region), as
/// the monitor found it; `None` while it is live or stopped cleanly, when the engine's own
/// status stands. Independent of the engine's cells, so it holds when they cannot be read (an
/// engine killed inside a write leaves its cell mid-write for good).
pub fn verdict(reader: &RegionReader, live: Liveness, stale_ms: u64) -> Option<(String, String)> {
    match live {
        Liveness::Live | Liveness::Stopped => None,
        Liveness::Dead => Some((
            "dead".to_owned(),
            format!("engine pid {} is gone", reader.pid()),
        )),
        Liveness::Stalled => Some((
            "stalled".to_owned(),
            format!(
                "heartbeat {} ms old (threshold {} ms)",
                heartbeat_age_ms(reader),
                stale_ms
            ),
        )),
        Liveness::NoRegion | Liveness::BadHeader => {
            Some((live.health_reason().unwrap_or("").to_owned(), String::new()))
        }
    }
}

/// The monitor's verdict on the engine behind `reader`.
pub fn liveness(reader: &RegionReader, stale_ms: u64) -> Liveness {
    if reader.flags() & flags::CLEAN_EXIT != 0 {
        Liveness::Stopped
    } else if !reader.engine_process_alive() {
        Liveness::Dead
    } else if heartbeat_age_ms(reader) > stale_ms {
        Liveness::Stalled
    } else {
        Liveness::Live
    }
}

fn heartbeat_age_ms(reader: &RegionReader) -> u64 {
    mono_now_ns().saturating_sub(reader.heartbeat_mono_ns()) / 1_000_000
}

fn age_ms(unix_ns: u64, now_unix_ns: u64) -> u64 {
    now_unix_ns.saturating_sub(unix_ns) / 1_000_000
}

/// The names of the raised alarm bits.
fn alarm_names(bits: u32) -> Vec<&'static str> {
    alarms::NAMED
        .into_iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| name)
        .collect()
}

fn counters(reader: &RegionReader) -> BTreeMap<&'static str, u64> {
    let c = |id| reader.counter(id);
    let mut out = BTreeMap::from([
        ("messages", c(CounterId::MarketMessages)),
        ("gaps", c(CounterId::FeedGaps)),
        ("resyncs", c(CounterId::FeedResyncs)),
        ("reconnects", c(CounterId::FeedReconnects)),
        ("decode_errors", c(CounterId::DecodeErrors)),
        (
            "queue_full",
            [
                CounterId::MarketQueueFull,
                CounterId::OrderQueueFull,
                CounterId::ReportQueueFull,
                CounterId::JournalQueueFull,
                CounterId::LogQueueFull,
            ]
            .into_iter()
            .fold(0u64, |a, id| a.saturating_add(c(id))),
        ),
        (
            "rejects",
            c(CounterId::RiskRejects).saturating_add(c(CounterId::VenueRejects)),
        ),
        ("hot_path_allocations", c(CounterId::HotPathAllocations)),
    ]);
    for id in CounterId::ALL {
        out.insert(id.name(), c(*id));
    }
    out
}

/// Per-stage percentiles of `snapshots` (in ticks, one per [`Stage::ALL`]).
pub fn latency_views(
    reader: &RegionReader,
    snapshots: &[HistogramSnapshot],
) -> BTreeMap<&'static str, LatencyView> {
    Stage::ALL
        .iter()
        .zip(snapshots)
        .map(|(stage, snapshot)| {
            let s = reader.summarize(snapshot);
            (
                stage.name(),
                LatencyView {
                    count: s.count,
                    p50_ns: s.p50_ns,
                    p99_ns: s.p99_ns,
                    p999_ns: s.p999_ns,
                    max_ns: s.max_ns,
                },
            )
        })
        .collect()
}

/// What a state is built from besides the region.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    /// The region path.
    pub region: &'a str,
    /// Stalled threshold, ms.
    pub stale_ms: u64,
    /// Snapshot number.
    pub seq: u64,
    /// Why the path could not be (re)attached, when it could not.
    pub attach_error: Option<String>,
}

/// A state with no region behind it.
pub fn detached(ctx: Context<'_>, liveness: Liveness) -> State {
    let reason = ctx.attach_error.clone().unwrap_or_default();
    State {
        monitor: MonitorView {
            region: ctx.region.to_owned(),
            attached: false,
            liveness,
            error: ctx.attach_error,
            unix_ms: unix_now_ns() / 1_000_000,
            seq: ctx.seq,
            stale_ms: ctx.stale_ms,
        },
        engine: EngineView {
            status: liveness.health_reason().unwrap_or("no region").to_owned(),
            reason,
            strategy_core: -1,
            ..EngineView::default()
        },
        instruments: Vec::new(),
        book: BTreeMap::new(),
        positions: Vec::new(),
        orders: Vec::new(),
        fills: Vec::new(),
        fills_total: 0,
        risk: RiskView::default(),
        storage: StorageView::default(),
        latency: BTreeMap::new(),
        counters: BTreeMap::new(),
        latency_window: None,
    }
}

/// Reads the whole state of `reader`. `snapshots` are its per-stage histograms, taken by the
/// caller (which also keeps them for windows over time).
///
/// # Errors
///
/// A message naming the cell that stayed contended or the instrument whose scale is invalid.
pub fn read(
    reader: &RegionReader,
    ctx: Context<'_>,
    snapshots: &[HistogramSnapshot],
) -> Result<State, String> {
    let now_unix = unix_now_ns();
    let live = liveness(reader, ctx.stale_ms);
    let engine = reader.engine().map_err(|e| format!("engine status: {e}"))?;
    let engine_state = EngineState::from_code(engine.state).map_or("unknown", EngineState::name);
    let engine_reason = Reason::from_code(engine.reason).map_or("unknown", Reason::name);
    let (status, reason) = verdict(reader, live, ctx.stale_ms)
        .unwrap_or_else(|| (engine_state.to_owned(), engine_reason.to_owned()));
    let mut instruments = Vec::new();
    let mut book = BTreeMap::new();
    let mut positions = Vec::new();
    let mut scales: Vec<(usize, String, Scale)> = Vec::new();
    for (index, info) in reader
        .instruments()
        .map_err(|e| format!("instruments: {e}"))?
    {
        let symbol = read_str(&info.symbol);
        let scale = Scale::of(&symbol, &info)?;
        let m = reader
            .market(index)
            .map_err(|e| format!("market data of {symbol}: {e}"))?;
        instruments.push(InstrumentView {
            symbol: symbol.clone(),
            bid: scale.price(m.bid),
            ask: scale.price(m.ask),
            bid_qty: scale.qty(m.bid_qty),
            ask_qty: scale.qty(m.ask_qty),
            last: scale.price(m.last),
            feed_state: FeedState::from_code(m.feed_state)
                .map_or("unknown", FeedState::name)
                .to_owned(),
            data_source: DataSource::from_code(m.data_source)
                .map_or("unknown", DataSource::name)
                .to_owned(),
            last_msg_age_ms: (m.last_msg_mono_ns != 0)
                .then(|| mono_now_ns().saturating_sub(m.last_msg_mono_ns) / 1_000_000),
            messages: m.messages,
            gaps: m.gaps,
            resyncs: m.resyncs,
            reconnects: m.reconnects,
            decode_errors: m.decode_errors,
        });
        let levels = reader
            .book(index)
            .map_err(|e| format!("book of {symbol}: {e}"))?;
        let side = |levels: &[tickwire_shm::layout::Level], count: u32| {
            levels
                .iter()
                .take(count as usize)
                .map(|l| [scale.price(l.price), scale.qty(l.qty)])
                .collect()
        };
        book.insert(
            symbol.clone(),
            BookView {
                bids: side(&levels.bids, levels.bid_count),
                asks: side(&levels.asks, levels.ask_count),
            },
        );
        let p = reader
            .position(index)
            .map_err(|e| format!("position of {symbol}: {e}"))?;
        positions.push(PositionView {
            symbol: symbol.clone(),
            qty: scale.qty(p.qty),
            avg_price: scale.price(p.avg_price),
            realized_pnl: scale.money(p.realized_pnl),
            unrealized_pnl: scale.money(p.unrealized_pnl),
            mark_price: scale.price(p.mark_price),
            fills: p.fills,
            volume: scale.qty(p.volume),
        });
        scales.push((index, symbol, scale));
    }
    let lookup = |instrument: u32| {
        scales
            .iter()
            .find(|(i, _, _)| *i == instrument as usize)
            .map(|(_, symbol, scale)| (symbol.clone(), *scale))
    };
    let open = reader
        .open_orders()
        .map_err(|e| format!("open orders: {e}"))?;
    let orders = open
        .orders
        .iter()
        .take(open.count.min(open.orders.len() as u64) as usize)
        .map(|o| {
            let (symbol, scale) = lookup(o.instrument).ok_or_else(|| {
                format!(
                    "open order {} names instrument {}, which is not configured",
                    o.client_id, o.instrument
                )
            })?;
            Ok(OrderView {
                client_id: o.client_id,
                symbol,
                side: SideCode::from_code(o.side)
                    .map_or("unknown", SideCode::name)
                    .to_owned(),
                price: scale.price(o.price),
                qty: scale.qty(o.qty),
                filled: scale.qty(o.filled),
                state: OrderState::from_code(o.state)
                    .map_or("unknown", OrderState::name)
                    .to_owned(),
                post_only: o.post_only != 0,
                age_ms: age_ms(o.created_unix_ns, now_unix),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let fills = reader
        .recent_fills()
        .iter()
        .rev()
        .map(|f| {
            let (symbol, scale) = lookup(f.instrument).ok_or_else(|| {
                format!(
                    "fill {} names instrument {}, which is not configured",
                    f.seq, f.instrument
                )
            })?;
            Ok(FillView {
                seq: f.seq,
                client_id: f.client_id,
                trade_id: f.trade_id,
                symbol,
                side: SideCode::from_code(f.side)
                    .map_or("unknown", SideCode::name)
                    .to_owned(),
                price: scale.price(f.price),
                qty: scale.qty(f.qty),
                maker: f.maker != 0,
                unix_ms: f.unix_ns / 1_000_000,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let r = reader.risk().map_err(|e| format!("risk: {e}"))?;
    let (risk_symbol, risk_scale) = scales
        .first()
        .map(|(_, symbol, scale)| (symbol.clone(), *scale))
        .unwrap_or((String::new(), Scale { price: 0, qty: 0 }));
    let risk = RiskView {
        symbol: risk_symbol,
        max_position: risk_scale.qty(r.max_position),
        max_notional: risk_scale.money(r.max_notional),
        max_orders_per_sec: r.max_orders_per_sec,
        price_band_bps: r.price_band_bps,
        max_open_orders: r.max_open_orders,
        stale_feed_ms: r.stale_feed_ms,
        position_used: risk_scale.qty(r.position_used),
        orders_this_sec: r.orders_this_sec,
        open_orders: r.open_orders,
        kill_switch: r.kill_switch != 0,
        reduce_only: r.reduce_only != 0,
        rejects: RISK_REJECT_LABELS.iter().copied().zip(r.rejects).collect(),
    };
    let s = reader.storage().map_err(|e| format!("storage: {e}"))?;
    let storage = StorageView {
        alarm: s.alarm != 0,
        last_error_code: s.last_error_code,
        pending_records: s.pending_records,
        written_records: s.written_records,
        alarm_age_s: if s.alarm != 0 {
            age_ms(s.alarm_since_unix_ns, now_unix) / 1000
        } else {
            0
        },
    };
    Ok(State {
        monitor: MonitorView {
            region: ctx.region.to_owned(),
            attached: true,
            liveness: live,
            error: ctx.attach_error,
            unix_ms: now_unix / 1_000_000,
            seq: ctx.seq,
            stale_ms: ctx.stale_ms,
        },
        engine: EngineView {
            status,
            reason,
            engine_state: engine_state.to_owned(),
            pid: reader.pid(),
            instance: reader.instance(),
            uptime_s: age_ms(reader.start_unix_ns(), now_unix) / 1000,
            heartbeat_age_ms: heartbeat_age_ms(reader),
            state_age_s: age_ms(engine.state_since_unix_ns, now_unix) / 1000,
            gateway_mode: GatewayMode::from_code(engine.gateway_mode)
                .map_or("unknown", GatewayMode::name)
                .to_owned(),
            reduce_only: engine.reduce_only != 0,
            reduce_only_because: alarm_names(
                engine.alarms & (alarms::STORAGE | alarms::ORDER_UNKNOWN),
            ),
            alarms: alarm_names(engine.alarms),
            strategy_core: engine.strategy_core,
            busy_spin: engine.busy_spin != 0,
            events: engine.events,
        },
        instruments,
        book,
        positions,
        orders,
        fills,
        fills_total: reader.fills_written(),
        risk,
        storage,
        latency: latency_views(reader, snapshots),
        counters: counters(reader),
        latency_window: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_at_every_scale_and_sign() {
        assert_eq!(decimal(123_456, 2), "1234.56");
        assert_eq!(decimal(-5, 3), "-0.005");
        assert_eq!(decimal(0, 2), "0.00");
        assert_eq!(decimal(7, 0), "7");
        assert_eq!(decimal(i64::MIN, 0), "-9223372036854775808");
        assert_eq!(decimal(i64::MIN, 18), "-9.223372036854775808");
        assert_eq!(
            decimal_wide(i128::from(i64::MAX) * 10, 2),
            "922337203685477580.70"
        );
        assert_eq!(decimal_wide(-1, 20), "-0.00000000000000000001");
    }

    #[test]
    fn a_hostile_scale_is_an_error_naming_the_instrument() {
        let info = InstrumentInfo {
            price_decimals: 4_000_000_000,
            ..InstrumentInfo::default()
        };
        let err = Scale::of("EVIL", &info).expect_err("rejected");
        assert!(err.contains("EVIL") && err.contains("4000000000"), "{err}");
    }

    #[test]
    fn alarm_bits_are_named() {
        assert_eq!(
            alarm_names(alarms::STORAGE | alarms::FEED),
            ["storage", "feed"]
        );
        assert!(alarm_names(0).is_empty());
    }
}
