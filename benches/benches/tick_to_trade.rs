//! Tick-to-trade, wire to wire, measured on the harness's side: tickwire against a
//! conventional async bot and against the floor of the harness itself, in one run.
//!
//! The harness ([`harness`]) is a light stand-in for the venue simulator on loopback, plain
//! TCP, in this process: the venue's seeded market is recorded once, before any client runs
//! (the venue's own `MarketFlow` and `Exchange`, its bookTicker, depth and trade payloads on
//! the combined streams, as complete WebSocket frames, and the REST snapshots that line up with
//! the depth diffs); one server thread writes those frames on a fixed schedule from plain
//! `std::net` sockets, reads the order-entry sockets and answers them with the venue's exchange
//! and wire code as an order sink (client orders never touch the recorded market, so every
//! client sees the same market, frame for frame). Both ends of a sample are kernel software
//! timestamps taken where the bytes cross the loopback device: the quote's transmit stamp
//! inside the server's `write`, the order's segment stamp (a packet tap on `lo`, or the
//! socket's receive stamp without CAP_NET_RAW) inside the client's `write`. The server's own
//! scheduling is out of the measurement; it sleeps between frames and spins only around
//! them. (The venue itself, tokio and axum, cost more than the clients it was measuring; see
//! the harness's docs.)
//!
//! Three clients run in turn, each against a fresh harness:
//!
//! - `tickwire`: the real `engine` binary (release), feed -> ring -> strategy -> gateway, market
//!   maker on the combined streams (bookTicker, depth with REST snapshot sync, trades), orders
//!   over the WebSocket API after its logon reconciliation;
//! - `baseline`: a bot written the way most people would: tokio multi-thread runtime,
//!   tokio-tungstenite, serde_json into owned structs with `String` fields, `f64` prices, shared
//!   state behind `Arc<Mutex<_>>`, channels between a market-data task, a strategy task and an
//!   order task; it quotes the same way (mid +- half spread, requote on a move);
//! - `floor`: one spinning thread on raw sockets that reads each frame and writes a precomputed,
//!   premasked order frame — the cost of the harness, WebSocket framing and kernel loopback,
//!   which no bot can beat.
//!
//! A sample is the time from a quote's send to the first order received before the next quote
//! (the market is paced by the harness's clock, open loop, so there is no coordinated omission:
//! a slow client does not slow the quotes). Quotes with no order before the next one are
//! counted as `missed` (for the bots these are mostly quotes that did not move their price).
//! Only quotes sent in the measured window count: it opens `--warmup-secs` after the client's
//! market connection and lasts `--secs`.
//!
//! The clients take turns in `--rounds` rounds (12 of 3 s by default), their order going
//! through all six from round to round (use a multiple of 6), and each client's samples are
//! pooled: this VM's speed drifts over seconds (a client's p99 moves by 2x from one round to
//! the next, the floor's too), so many short interleaved rounds spread the slow phases over the
//! three alike. The report also gives each round's difference to the floor of the same round,
//! whose spread shows the drift (and a round's sampling noise).
//!
//! `--pin split` (the default with two or more CPUs) pins the harness's threads to the last CPU
//! this process may use and the client (the engine process, the baseline's runtime, the floor's
//! thread) to the others; `--pin none` lets the scheduler place everything.
//!
//! `--nice N` runs the harness and the client at nice `N` (a negative one needs CAP_SYS_NICE):
//! on a machine shared with builds, `--nice -20` gives them most of the CPU time they share
//! with that other work.
//!
//! `--engine PATH` runs that engine binary instead of the workspace's release build: the
//! profile-guided build of `scripts/pgo.sh` (`target/pgo/release/engine`, what
//! `scripts/bench.sh` measures), or another build to compare on the same machine, run after
//! run. The report names the binary (`host.engine`). Give an absolute path: cargo runs the
//! bench from the `benches/` package directory.
//!
//! `cargo bench -p tickwire-benches --bench tick_to_trade [-- --secs N --rounds N --step-ms N
//! --warmup-secs N --idle backoff|busy-spin --threading dedicated|shared --pin split|none
//! --nice N --engine PATH]`
//! writes target/bench/tick_to_trade.json and target/bench/tick_to_trade.svg.

#[path = "tick_to_trade/harness.rs"]
mod harness;
#[path = "tick_to_trade/packet_tap.rs"]
mod packet_tap;

use futures_util::{SinkExt, StreamExt};
use harness::{
    allowed_cpus, client_text_frame, connect_raw, pin_current_thread, FrameHead, Harness,
    HarnessSettings, Market, ServeLog, WireEvent,
};
use plotters::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tickwire_benches::{arg, arg_text, release_dir, workspace};
use tickwire_shm::histogram::HistogramSnapshot;
use tickwire_shm::layout::{CounterId, Stage};
use tickwire_shm::region::RegionReader;
use tickwire_venue::flow::FlowParams;
use tickwire_venue::server::VenueSettings;
use tickwire_venue::wire::Symbol;

const TICK: i64 = 1;
const HALF_SPREAD_TICKS: i64 = 2;
const REQUOTE_TICKS: i64 = 1;
/// Market recorded past the measured window: the engine's shutdown (cancels) still sees a live
/// stream.
const RECORDED_TAIL: Duration = Duration::from_secs(15);
/// How long a client may take to connect and get through the warm-up before its run is given up.
const CONNECT_GRACE: Duration = Duration::from_secs(60);

/// `--idle backoff|busy-spin`: the engine's idle strategy (default busy-spin).
/// `--threading dedicated|shared`: the engine's threading (default shared: one hot thread, the
/// arrangement for a host with one core to give it, as this bench's client has).
fn threading_arg() -> String {
    let threading = arg_text("--threading").unwrap_or_else(|| "shared".into());
    assert!(
        threading == "dedicated" || threading == "shared",
        "--threading takes dedicated or shared, not {threading:?}"
    );
    threading
}

fn idle_arg() -> String {
    let idle = arg_text("--idle").unwrap_or_else(|| "busy-spin".into());
    assert!(
        idle == "backoff" || idle == "busy-spin",
        "--idle takes backoff or busy-spin, not {idle:?}"
    );
    idle
}

/// Where the harness and the client run (`--pin split|none`).
#[derive(Debug, Clone)]
struct Placement {
    /// CPUs this process could use at its start.
    cpus: Vec<usize>,
    /// `split` or `none`.
    pin: String,
    /// The harness's server and acceptor threads.
    harness: Option<Vec<usize>>,
    /// The client under test.
    client: Option<Vec<usize>>,
}

fn placement() -> Placement {
    let pin = arg_text("--pin").unwrap_or_else(|| "split".into());
    assert!(
        pin == "split" || pin == "none",
        "--pin takes split or none, not {pin:?}"
    );
    let cpus = allowed_cpus().expect("sched_getaffinity");
    match cpus.split_last() {
        Some((&last, rest)) if pin == "split" && !rest.is_empty() => Placement {
            harness: Some(vec![last]),
            client: Some(rest.to_vec()),
            cpus,
            pin,
        },
        _ => Placement {
            harness: None,
            client: None,
            cpus,
            pin: "none".into(),
        },
    }
}

/// The market the venue ran for this bench: one instrument, a 5-level ladder around a seeded
/// random walk, no takers, a step every `step`, depth diffs every 100 ms.
fn market_settings(step: Duration) -> VenueSettings {
    VenueSettings {
        symbol: Symbol {
            name: "BTCUSDT".into(),
            price_decimals: 2,
            qty_decimals: 5,
        },
        tick: TICK,
        lot: 1,
        flow: FlowParams {
            start_price: 5_000_000,
            tick: TICK,
            base_qty: 100,
            levels: 5,
            taker_per_mille: 0,
            seed: 7,
        },
        step,
        depth_interval: Duration::from_millis(100),
    }
}

/// The clients: tickwire, the baseline, the floor (indices into [`ORDERS`]).
const CLIENTS: [&str; 3] = [
    "tickwire",
    "baseline (tokio, serde_json, f64, Arc<Mutex>, channels)",
    "floor (read a frame, write a precomputed order)",
];

/// The clients' order in a round, round `r` taking `ORDERS[r % 6]`: every order once in six
/// rounds, so each client runs first, second and third, and after each of the others, alike.
const ORDERS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [1, 2, 0],
    [2, 0, 1],
    [0, 2, 1],
    [2, 1, 0],
    [1, 0, 2],
];

/// Wire-to-wire figures of one client.
#[derive(Debug, Default)]
struct Figures {
    samples: Vec<u64>,
    missed: u64,
    /// Each round's p50 and p99, ns, in round order (`None`: the round had no samples). Empty
    /// in a single round's figures.
    per_round: Vec<Option<RoundQuantiles>>,
}

/// One round's p50 and p99 of one client, ns.
#[derive(Debug, Clone, Copy)]
struct RoundQuantiles {
    p50: u64,
    p99: u64,
}

impl Figures {
    /// Pools another round's figures into these.
    fn add(&mut self, round: Figures) {
        self.per_round
            .push((!round.samples.is_empty()).then(|| RoundQuantiles {
                p50: quantile(&round.samples, 0.5),
                p99: quantile(&round.samples, 0.99),
            }));
        self.samples.extend(round.samples);
        self.samples.sort_unstable();
        self.missed += round.missed;
    }
}

/// Pairs each quote with the first order received before the next quote (times in ns).
fn attribute(events: &[(u64, WireEvent)]) -> Figures {
    let mut f = Figures::default();
    let mut open: Option<u64> = None;
    for &(at, event) in events {
        match event {
            WireEvent::QuoteSent => {
                if open.replace(at).is_some() {
                    f.missed += 1;
                }
            }
            WireEvent::OrderReceived => {
                if let Some(sent) = open.take() {
                    f.samples.push(at.saturating_sub(sent));
                }
            }
        }
    }
    f.samples.sort_unstable();
    f
}

fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn summary(f: &Figures) -> Value {
    json!({
        "p50_ns": quantile(&f.samples, 0.5),
        "p99_ns": quantile(&f.samples, 0.99),
        "p999_ns": quantile(&f.samples, 0.999),
        "max_ns": f.samples.last().copied().unwrap_or(0),
        "samples": f.samples.len(),
        "missed": f.missed,
        "per_round_p50_ns": f.per_round.iter().map(|r| r.map(|r| r.p50)).collect::<Vec<_>>(),
        "per_round_p99_ns": f.per_round.iter().map(|r| r.map(|r| r.p99)).collect::<Vec<_>>(),
    })
}

/// The harness's own figures for one client's run: how late quotes left against their
/// schedule, how long their `write` took (the send timestamp's uncertainty), how orders were
/// stamped, what it was asked.
fn harness_summary(log: &mut ServeLog) -> Value {
    log.send_late_ns.sort_unstable();
    log.write_ns.sort_unstable();
    log.stamp_in_write_ns.sort_unstable();
    log.merged_gap_ns.sort_unstable();
    json!({
        "send_late_p50_ns": quantile(&log.send_late_ns, 0.5),
        "send_late_p99_ns": quantile(&log.send_late_ns, 0.99),
        "send_late_max_ns": log.send_late_ns.last().copied().unwrap_or(0),
        "quote_write_p50_ns": quantile(&log.write_ns, 0.5),
        "quote_write_p99_ns": quantile(&log.write_ns, 0.99),
        "quote_write_max_ns": log.write_ns.last().copied().unwrap_or(0),
        "quote_stamp_in_write_p50_ns": quantile(&log.stamp_in_write_ns, 0.5),
        "kernel_stamped_quotes": log.kernel_sends,
        "user_stamped_quotes": log.user_sends,
        "kernel_stamped_reads": log.kernel_stamps,
        "user_stamped_reads": log.user_stamps,
        "order_stamps": if log.tap {
            "loopback packet tap: each order at its segment's hand-over to lo"
        } else {
            "socket receive timestamps: each order at its read's last segment"
        },
        "tap_stamped_orders": log.tap_stamped_orders,
        "read_stamped_orders": log.read_stamped_orders,
        "tap_orphan_segments": log.tap_orphans,
        "coalesced_order_reads": log.coalesced_reads,
        "merged_gap_p50_ns": quantile(&log.merged_gap_ns, 0.5),
        "merged_gap_p99_ns": quantile(&log.merged_gap_ns, 0.99),
        "requests": {
            "order_place": log.places,
            "order_cancel": log.cancels,
            "other": log.other_requests,
        },
        "queued_writes": log.queued_writes,
        "clock_drift_ns": log.clock_drift_ns,
        "server_sched": if log.fifo { "SCHED_FIFO 1" } else { "SCHED_OTHER" },
    })
}

/// What a client adds above the floor at quantile `q`, ns (negative: under it, within noise).
fn above(client: &Figures, floor: &Figures, q: f64) -> i64 {
    quantile(&client.samples, q) as i64 - quantile(&floor.samples, q) as i64
}

/// Per round, in round order, a client's quantile (`pick`) minus the floor's in the same
/// round, ns; rounds where either had no samples are left out. The two ran up to two client
/// runs (~15 s) apart, and a round's p99 is about its 12th largest sample, so the spread is the
/// machine's drift between rounds and sampling noise together.
fn above_per_round(
    client: &Figures,
    floor: &Figures,
    pick: fn(&RoundQuantiles) -> u64,
) -> Vec<i64> {
    client
        .per_round
        .iter()
        .zip(&floor.per_round)
        .filter_map(|(c, f)| Some(pick(c.as_ref()?) as i64 - pick(f.as_ref()?) as i64))
        .collect()
}

/// Median, min and max, ns (the median of an even count is the mean of the middle two).
fn spread(values: &[i64]) -> Option<(i64, i64, i64)> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let median = match n {
        0 => return None,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    };
    Some((median, sorted[0], sorted[n - 1]))
}

fn above_floor(tickwire: &Figures, baseline: &Figures, floor: &Figures) -> Value {
    let ratio = |q: f64| {
        let (b, t) = (above(baseline, floor, q), above(tickwire, floor, q));
        if t > 0 {
            json!(b as f64 / t as f64)
        } else {
            Value::Null
        }
    };
    json!({
        "tickwire": {
            "p50_ns": above(tickwire, floor, 0.5),
            "p99_ns": above(tickwire, floor, 0.99),
        },
        "baseline": {
            "p50_ns": above(baseline, floor, 0.5),
            "p99_ns": above(baseline, floor, 0.99),
        },
        "ratio_baseline_over_tickwire": { "p50": ratio(0.5), "p99": ratio(0.99) },
        "per_round_ns": {
            "tickwire": {
                "p50": above_per_round(tickwire, floor, |r| r.p50),
                "p99": above_per_round(tickwire, floor, |r| r.p99),
            },
            "baseline": {
                "p50": above_per_round(baseline, floor, |r| r.p50),
                "p99": above_per_round(baseline, floor, |r| r.p99),
            },
        },
        "note": "client minus floor at the same quantile, pooled over the rounds; the ratio is \
                 null when tickwire is at or under the floor. per_round_ns: each round's client \
                 minus that round's floor, in round order (rounds without samples left out)",
    })
}

/// The engine's in-process latency histograms (latency-clock ticks) and counters, added up
/// over rounds.
#[derive(Debug)]
struct InProcess {
    stages: Vec<HistogramSnapshot>,
    counters: Vec<(CounterId, u64)>,
    /// ns per tick × 2^32, from the last region read.
    tick_ns_q32: u64,
    /// The hot threads' turns after the warm-up, and over how long, added up.
    turns: (u64, Duration),
    /// Each engine run's own tick-to-trade p50, ns, in the order of its rounds: set beside the
    /// floor's p50 of the same rounds, they show how much of the pooled figure is the machine's
    /// phase. `None` for a run whose region could not be read, or that recorded none.
    p50_per_round: Vec<Option<u64>>,
}

const IN_PROCESS_COUNTERS: [CounterId; 6] = [
    CounterId::OrdersSent,
    CounterId::PreparedCancels,
    CounterId::VenueRejects,
    CounterId::RiskRejects,
    CounterId::MarketMessages,
    CounterId::MarketQueueFull,
];

impl InProcess {
    fn new() -> Self {
        Self {
            stages: Stage::ALL
                .iter()
                .map(|_| HistogramSnapshot::empty())
                .collect(),
            counters: IN_PROCESS_COUNTERS.iter().map(|&id| (id, 0)).collect(),
            tick_ns_q32: 0,
            turns: (0, Duration::ZERO),
            p50_per_round: Vec::new(),
        }
    }

    /// Adds what an engine's region holds.
    fn add(&mut self, region: &RegionReader) {
        for (stage, total) in Stage::ALL.iter().zip(&mut self.stages) {
            let run = region.latency_ticks(*stage);
            for (t, n) in total.buckets.iter_mut().zip(run.buckets.iter()) {
                *t += n;
            }
            total.count += run.count;
            total.sum += run.sum;
            total.max = total.max.max(run.max);
        }
        for (id, total) in &mut self.counters {
            *total += region.counter(*id);
        }
        self.tick_ns_q32 = region.ticks_to_ns(1 << 32);
        let run = region.latency_ticks(Stage::TickToTrade);
        self.p50_per_round
            .push((run.count > 0).then(|| region.ticks_to_ns(run.value_at_quantile(0.5))));
    }

    /// Notes a run whose region could not be read (its round has no in-process figures).
    fn add_unread(&mut self) {
        self.p50_per_round.push(None);
    }

    fn ns(&self, ticks: u64) -> u64 {
        ((u128::from(ticks) * u128::from(self.tick_ns_q32)) >> 32) as u64
    }

    /// Adds an engine's hot-thread turns counted over `over`.
    fn add_turns(&mut self, turns: u64, over: Duration) {
        self.turns.0 += turns;
        self.turns.1 += over;
    }

    /// The hot thread's mean turn, ns.
    fn turn_ns(&self) -> u64 {
        (self.turns.1.as_nanos() as u64)
            .checked_div(self.turns.0)
            .unwrap_or(0)
    }

    fn report(&self) -> Value {
        let at = |stage: Stage, q: f64| self.ns(self.stages[stage as usize].value_at_quantile(q));
        let t2t = &self.stages[Stage::TickToTrade as usize];
        let stages: serde_json::Map<String, Value> = Stage::ALL
            .iter()
            .map(|&stage| {
                let count = self.stages[stage as usize].count;
                let (p50, p99) = (at(stage, 0.5), at(stage, 0.99));
                (
                    stage.name().to_string(),
                    json!({ "p50_ns": p50, "p99_ns": p99, "count": count }),
                )
            })
            .collect();
        let counters: serde_json::Map<String, Value> = self
            .counters
            .iter()
            .map(|(id, n)| (id.name().to_string(), json!(n)))
            .collect();
        json!({
            "p50_ns": at(Stage::TickToTrade, 0.5),
            "p99_ns": at(Stage::TickToTrade, 0.99),
            "p999_ns": at(Stage::TickToTrade, 0.999),
            "max_ns": self.ns(t2t.max),
            "samples": t2t.count,
            "per_round_p50_ns": self.p50_per_round,
            "definition": "a market event's socket read done -> the first request it caused, \
                           encoded, handed to the connection's write (the engine's \
                           tick_to_trade stage)",
            "stages": stages,
            "counters": counters,
            "hot_thread_turn_ns": self.turn_ns(),
            "hot_thread_turn_note": "the hot thread's mean turn after the warm-up (time over the \
                                     turns its strategy_loops counter counted): with shared \
                                     threading and busy-spin, a quote arriving at a random \
                                     moment waits on average at least half of it for the \
                                     feed's next read",
        })
    }
}

/// How the bench runs the engine.
struct EngineRun<'a> {
    /// Where its config and run directory go.
    dir: &'a Path,
    placement: &'a Placement,
    /// The harness's warm-up: the hot thread's turns are counted after it.
    warmup: Duration,
    /// The longest a run may take.
    limit: Duration,
    /// Whether to lock its memory (`--mlock`).
    mlock: bool,
    /// The engine binary (`--engine`, else the workspace's release build).
    engine: &'a Path,
}

/// Runs the real engine against `harness` until its window is over; adds its in-process
/// latency histograms, read from its region just before it stops, and its hot thread's turns
/// after the warm-up, to `in_process`; returns its thread count.
///
/// It is started as `scripts/launch.sh` starts it: its memory locked (`--mlock`) when this
/// process may lock memory, and with `--pin split` the process on the housekeeping cpus (the
/// harness's), the strategy thread pinned to the client's cpu (`--strategy-core`), so with
/// shared threading that cpu runs the engine's hot thread alone.
fn run_tickwire(harness: &Harness, run: &EngineRun, in_process: &mut InProcess) -> usize {
    let EngineRun {
        dir,
        placement,
        warmup,
        limit,
        mlock,
        engine,
    } = *run;
    // On tmpfs, as the engine's default is: a region on a disk filesystem is write-protected by
    // writeback every few seconds, and each publish after that takes a page fault.
    let shm = PathBuf::from(format!("/dev/shm/tickwire-t2t-{}", std::process::id()));
    let config = format!(
        r#"
[engine]
instance = "t2t"
run_dir = "{run}"
shm_path = "{shm}"
idle = "{idle}"
threading = "{threading}"
max_park_us = 20
shutdown_timeout_ms = 2000
warmup_events = 1000

[feed]
source = "venue"
url = "ws://{addr}/stream"
rest_url = "http://{addr}"

[gateway]
mode = "sim"
url = "ws://{addr}/ws-api/v3"
api_key = "tickwire"

[risk]
max_position = "1"
max_notional = "100000"
max_orders_per_sec = 5000
price_band_bps = 500
max_open_orders = 4
stale_feed_ms = 2000

[strategy]
kind = "market-maker"
instrument = "BTCUSDT"
half_spread_ticks = {HALF_SPREAD_TICKS}
size = "0.01"
skew_ticks_per_size = 0
requote_threshold_ticks = {REQUOTE_TICKS}

[[instruments]]
symbol = "BTCUSDT"
price_decimals = 2
qty_decimals = 5
tick_size = "0.01"
lot_size = "0.00001"
"#,
        run = dir.join("run").display(),
        shm = shm.display(),
        addr = harness.addr,
        idle = idle_arg(),
        threading = threading_arg(),
    );
    let config_path = dir.join("engine.toml");
    std::fs::write(&config_path, config).expect("config");
    let mut command = Command::new(engine);
    command
        .args(["run", "--config"])
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if mlock {
        command.arg("--mlock");
    }
    if let (Some(cpus), Some(&core)) = (
        placement.harness.clone(),
        placement.client.as_ref().and_then(|c| c.first()),
    ) {
        command.arg("--strategy-core").arg(core.to_string());
        // SAFETY: the closure runs in the forked child before exec and only calls
        // sched_setaffinity(2) on a CPU set built on the stack from the captured list: no
        // allocation, no lock, async-signal-safe. The engine's threads inherit the mask.
        unsafe { command.pre_exec(move || pin_current_thread(&cpus)) };
    }
    let mut child = command.spawn().expect("engine");
    // The hot thread's turn counter, read after the warm-up and at the end (it is published with
    // the strategy's housekeeping, so both readings lag by at most its period).
    std::thread::sleep(warmup);
    let region = RegionReader::open(&shm).ok();
    let turns_from = region
        .as_ref()
        .map(|region| (region.counter(CounterId::StrategyLoops), Instant::now()));
    if !harness.wait_finished(limit) {
        eprintln!("tickwire: the measured window did not end within {limit:?}");
    }
    let threads =
        std::fs::read_dir(format!("/proc/{}/task", child.id())).map_or(0, |tasks| tasks.count());
    match region.map_or_else(|| RegionReader::open(&shm), Ok) {
        Ok(region) => {
            in_process.add(&region);
            if let Some((loops, at)) = turns_from {
                let turns = region
                    .counter(CounterId::StrategyLoops)
                    .saturating_sub(loops);
                in_process.add_turns(turns, at.elapsed());
            }
        }
        Err(e) => {
            eprintln!("tickwire: its region could not be read: {e}");
            in_process.add_unread();
        }
    }
    // SAFETY: kill(2) with SIGTERM on our own child's pid, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let _ = child.wait();
    // The engine removes its region when it stops; this covers one that did not stop cleanly.
    let _ = std::fs::remove_file(&shm);
    threads
}

/// Whether a program this process starts may `mlockall` all its memory: an unlimited
/// `RLIMIT_MEMLOCK`, or root with `CAP_IPC_LOCK` (bit 14) in the bounding set, which root
/// keeps across `exec` and which ignores the limit. (A non-root process's effective
/// capabilities do not survive `exec`.)
fn may_lock_memory() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    let unlimited = tickwire_engine::host::memlock_limit() == Some(u64::MAX);
    // SAFETY: geteuid(2) only returns the calling process's effective user id.
    let root = unsafe { libc::geteuid() } == 0;
    let bounded = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapBnd:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0);
    unlimited || (root && bounded)
}

// ---- the conventional bot ----

#[derive(Debug, Deserialize)]
struct Envelope {
    stream: String,
    data: BookTickerMsg,
}

#[derive(Debug, Deserialize)]
struct BookTickerMsg {
    s: String,
    b: String,
    a: String,
}

#[derive(Debug, Clone)]
struct QuoteUpdate {
    symbol: String,
    bid: f64,
    ask: f64,
}

#[derive(Debug, Clone)]
enum OrderAction {
    Place {
        id: String,
        side: String,
        price: f64,
    },
    Cancel {
        id: String,
    },
}

/// Where one side's order is, as the bot sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Sent,
    Live,
    Cancelling,
}

#[derive(Debug, Default)]
struct BotState {
    next_id: u64,
    /// Per side: (client id, price, phase).
    bid: Option<(String, f64, Phase)>,
    ask: Option<(String, f64, Phase)>,
    last_quote: Option<QuoteUpdate>,
}

/// The same rule as tickwire's market maker: quote mid +- half spread; a live quote that is a
/// tick or more off target is cancelled, and its replacement goes out once the cancel is
/// confirmed (so two never rest together).
fn baseline_decide(state: &mut BotState, q: &QuoteUpdate, tick: f64) -> Vec<OrderAction> {
    if q.symbol != "BTCUSDT" {
        return Vec::new();
    }
    state.last_quote = Some(q.clone());
    let mid = (q.bid + q.ask) / 2.0;
    let mut actions = Vec::new();
    for (side, target) in [
        ("BUY", mid - HALF_SPREAD_TICKS as f64 * tick),
        ("SELL", mid + HALF_SPREAD_TICKS as f64 * tick),
    ] {
        let target = (target / tick).round() * tick;
        let slot = if side == "BUY" {
            &mut state.bid
        } else {
            &mut state.ask
        };
        match slot.clone() {
            None => {
                state.next_id += 1;
                let id = format!("base-{}", state.next_id);
                *slot = Some((id.clone(), target, Phase::Sent));
                actions.push(OrderAction::Place {
                    id,
                    side: side.to_string(),
                    price: target,
                });
            }
            Some((id, price, Phase::Live))
                if (price - target).abs() >= REQUOTE_TICKS as f64 * tick - 1e-9 =>
            {
                *slot = Some((id.clone(), price, Phase::Cancelling));
                actions.push(OrderAction::Cancel { id });
            }
            Some(_) => {}
        }
    }
    actions
}

/// Applies an order-entry response; returns what the bot does next (a replacement after a
/// confirmed cancel).
fn baseline_on_response(
    state: &mut BotState,
    id: &str,
    status: &str,
    tick: f64,
) -> Vec<OrderAction> {
    let mut cancelled = false;
    for slot in [&mut state.bid, &mut state.ask] {
        let Some((live, _, phase)) = slot else {
            continue;
        };
        if live != id {
            continue;
        }
        match status {
            "NEW" if *phase == Phase::Sent => *phase = Phase::Live,
            "CANCELED" | "EXPIRED" | "REJECTED" => {
                *slot = None;
                cancelled = true;
            }
            _ => {}
        }
    }
    match (cancelled, state.last_quote.clone()) {
        (true, Some(q)) => baseline_decide(state, &q, tick),
        _ => Vec::new(),
    }
}

/// Runs the bot against the harness until its window is over, on a thread of its own (pinned
/// to `cpus`, which the runtime's workers inherit); returns the runtime's worker count.
fn run_baseline(harness: &Harness, deadline: Instant, cpus: Option<Vec<usize>>) -> usize {
    let addr = harness.addr;
    let finished = harness.finished_flag();
    std::thread::spawn(move || {
        if let Some(cpus) = &cpus {
            pin_current_thread(cpus).expect("pin the baseline");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("baseline runtime");
        let workers = runtime.metrics().num_workers();
        baseline_session(&runtime, addr, finished, deadline);
        workers
    })
    .join()
    .expect("baseline thread")
}

fn baseline_session(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    finished: impl Fn() -> bool,
    deadline: Instant,
) {
    runtime.block_on(async move {
        let (md, _) = tokio_tungstenite::connect_async(format!(
            "ws://{addr}/stream?streams=btcusdt@bookTicker"
        ))
        .await
        .expect("market data");
        let (orders, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws-api/v3"))
            .await
            .expect("order entry");
        let (mut order_tx_ws, mut order_rx_ws) = orders.split();
        let state = Arc::new(Mutex::new(BotState::default()));
        let (quote_tx, mut quote_rx) = tokio::sync::mpsc::channel::<QuoteUpdate>(1024);
        let (action_tx, mut action_rx) = tokio::sync::mpsc::channel::<OrderAction>(1024);

        let md_task = tokio::spawn(async move {
            let (_, mut read) = md.split();
            while let Some(Ok(msg)) = read.next().await {
                let Ok(text) = msg.into_text() else { continue };
                let Ok(envelope) = serde_json::from_str::<Envelope>(&text) else {
                    continue;
                };
                if !envelope.stream.ends_with("@bookTicker") {
                    continue;
                }
                let (Ok(bid), Ok(ask)) = (envelope.data.b.parse(), envelope.data.a.parse()) else {
                    continue;
                };
                let update = QuoteUpdate {
                    symbol: envelope.data.s.clone(),
                    bid,
                    ask,
                };
                if quote_tx.send(update).await.is_err() {
                    return;
                }
            }
        });
        let strategy_state = Arc::clone(&state);
        let strategy_actions = action_tx.clone();
        let strategy_task = tokio::spawn(async move {
            while let Some(q) = quote_rx.recv().await {
                let actions = {
                    let mut s = strategy_state.lock().expect("state");
                    baseline_decide(&mut s, &q, 0.01)
                };
                for a in actions {
                    if strategy_actions.send(a).await.is_err() {
                        return;
                    }
                }
            }
        });
        let order_task = tokio::spawn(async move {
            let mut request_id = 0u64;
            while let Some(action) = action_rx.recv().await {
                request_id += 1;
                let request = match action {
                    OrderAction::Place { id, side, price } => json!({
                        "id": request_id,
                        "method": "order.place",
                        "params": {
                            "apiKey": "baseline", "symbol": "BTCUSDT", "side": side,
                            "type": "LIMIT_MAKER", "price": format!("{price:.2}"),
                            "quantity": "0.01000", "newClientOrderId": id,
                        },
                    }),
                    OrderAction::Cancel { id } => json!({
                        "id": request_id,
                        "method": "order.cancel",
                        "params": { "apiKey": "baseline", "symbol": "BTCUSDT", "origClientOrderId": id },
                    }),
                };
                let text = serde_json::to_string(&request).expect("JSON");
                if order_tx_ws.send(text.into()).await.is_err() {
                    return;
                }
            }
        });
        let response_state = Arc::clone(&state);
        let response_task = tokio::spawn(async move {
            while let Some(Ok(msg)) = order_rx_ws.next().await {
                let Ok(text) = msg.into_text() else { continue };
                let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                let result = &v["result"];
                let (Some(id), Some(status)) = (
                    result["origClientOrderId"]
                        .as_str()
                        .or(result["clientOrderId"].as_str()),
                    result["status"].as_str(),
                ) else {
                    continue;
                };
                let actions = {
                    let mut s = response_state.lock().expect("state");
                    baseline_on_response(&mut s, id, status, 0.01)
                };
                for a in actions {
                    if action_tx.send(a).await.is_err() {
                        return;
                    }
                }
            }
        });
        while !finished() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        md_task.abort();
        strategy_task.abort();
        order_task.abort();
        response_task.abort();
    });
}

// ---- the floor ----

/// Writes all of `bytes` to a non-blocking socket, spinning while it is full.
fn write_spinning(socket: &mut TcpStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match socket.write(bytes) {
            Ok(0) => panic!("floor order entry: closed"),
            Ok(n) => bytes = &bytes[n..],
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => panic!("floor order entry: {e}"),
        }
    }
}

/// One spinning thread on raw sockets: reads market frames, answers each text frame with one
/// precomputed, premasked `order.place` frame, drains the responses every millisecond.
fn run_floor(harness: &Harness, deadline: Instant, cpus: Option<Vec<usize>>) {
    let addr = harness.addr;
    let finished = harness.finished_flag();
    std::thread::spawn(move || {
        if let Some(cpus) = &cpus {
            pin_current_thread(cpus).expect("pin the floor");
        }
        let (mut md, rest) =
            connect_raw(addr, "/stream?streams=btcusdt@bookTicker").expect("floor market data");
        let (mut orders, _) = connect_raw(addr, "/ws-api/v3").expect("floor order entry");
        md.set_nonblocking(true).expect("nonblocking");
        orders.set_nonblocking(true).expect("nonblocking");
        let order = json!({
            "id": 1, "method": "order.place",
            "params": {
                "apiKey": "floor", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                "timeInForce": "IOC", "price": "1.00", "quantity": "0.01000",
            },
        })
        .to_string();
        let order = client_text_frame(order.as_bytes(), [0x5a, 0x17, 0xc3, 0x81]);
        let mut buf = vec![0u8; 1 << 16];
        buf[..rest.len()].copy_from_slice(&rest);
        let mut have = rest.len();
        let mut responses = vec![0u8; 1 << 16];
        let mut last_drain = Instant::now();
        loop {
            match md.read(&mut buf[have..]) {
                Ok(0) => panic!("floor market data: closed"),
                Ok(n) => {
                    have += n;
                    let mut at = 0;
                    while let Some(head) = FrameHead::parse(&buf[at..have]) {
                        if have - at < head.total() {
                            break;
                        }
                        if head.opcode == 1 {
                            write_spinning(&mut orders, &order);
                        }
                        at += head.total();
                    }
                    buf.copy_within(at..have, 0);
                    have -= at;
                    assert!(have < buf.len(), "floor: a market frame over 64 KiB");
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("floor market data: {e}"),
            }
            let now = Instant::now();
            if now.duration_since(last_drain) >= Duration::from_millis(1) {
                last_drain = now;
                if finished() || now >= deadline {
                    return;
                }
                match orders.read(&mut responses) {
                    Ok(0) => panic!("floor order entry: closed"),
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("floor order entry: {e}"),
                }
            }
        }
    })
    .join()
    .expect("floor thread");
}

fn cpu_list(cpus: &Option<Vec<usize>>) -> Value {
    cpus.as_ref().map_or(Value::Null, |c| json!(c))
}

fn host(
    placement: &Placement,
    nice: Option<i32>,
    mlock: bool,
    engine: &Path,
    threads: &[(&str, usize)],
) -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_default();
    let (idle, threading) = (idle_arg(), threading_arg());
    let count = |name: &str| threads.iter().find(|(n, _)| *n == name).map_or(0, |t| t.1);
    let clients = format!(
        "tickwire: the engine process, {} threads, idle = {idle}, threading = {threading}, \
         memory {}; baseline: a tokio runtime with {} workers plus its block_on thread; floor: one \
         spinning thread",
        count("tickwire"),
        if mlock {
            "locked (--mlock)"
        } else {
            "not locked (no CAP_IPC_LOCK and a memlock limit)"
        },
        count("baseline"),
    );
    let arrangement = match (&placement.harness, &placement.client) {
        (Some(h), Some(c)) => format!(
            "pinned (--pin split): the harness's server thread (SCHED_FIFO 1 when permitted; \
             it sleeps between frames and spins up to 100 us before each frame and up to 250 us \
             after each quote, until the first order) and its acceptor (blocked in \
             accept once clients are connected) on cpu {h:?}; the baseline and the floor on \
             cpu {c:?}; tickwire as scripts/launch.sh starts it, the engine process on the \
             harness's cpu {h:?} and its strategy thread pinned to cpu {c0} ({clients}); the \
             bench's main thread unpinned, asleep while a client runs",
            c0 = c.first().copied().unwrap_or(0),
        ),
        _ => format!(
            "no pinning (--pin none): the harness's server thread (SCHED_OTHER; it sleeps \
             between frames and spins up to 100 us before each frame and up to 250 us after \
             each quote, until the first order), its acceptor and the client ({clients}) \
             share cpus {:?} as the scheduler places them",
            placement.cpus
        ),
    };
    json!({
        "cpu": cpu,
        "kernel": kernel,
        "cores": placement.cpus.len(),
        "pin": placement.pin,
        "harness_cpus": cpu_list(&placement.harness),
        "client_cpus": cpu_list(&placement.client),
        "client_threads": {
            "tickwire": count("tickwire"),
            "baseline_workers": count("baseline"),
            "floor": 1,
        },
        "nice": nice.unwrap_or(0),
        "engine": engine.display().to_string(),
        "arrangement": match nice {
            Some(n) => format!("{arrangement}; harness and client at nice {n}"),
            None => arrangement,
        },
    })
}

fn plot(
    path: &Path,
    series: &[(&str, &Figures, RGBColor)],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_us = series
        .iter()
        .map(|(_, f, _)| quantile(&f.samples, 0.999) as f64 / 1e3)
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "tick-to-trade, wire to wire (harness side)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0f64..99.9f64, (1.0f64..max_us * 1.2).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency, us (log)")
        .draw()?;
    for (name, f, colour) in series {
        if f.samples.is_empty() {
            continue;
        }
        let points: Vec<(f64, f64)> = (0..=999)
            .map(|i| {
                let q = i as f64 / 1000.0;
                (q * 100.0, (quantile(&f.samples, q) as f64 / 1e3).max(1.0))
            })
            .collect();
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    root.present()?;
    Ok(())
}

/// `cargo build --release` of the engine binary.
fn build_engine() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .current_dir(workspace())
        .args([
            "build",
            "--release",
            "--quiet",
            "--bin",
            "engine",
            "-p",
            "tickwire-engine",
        ])
        .status()
        .expect("cargo build");
    assert!(built.success(), "release build of the engine failed");
}

fn main() {
    let secs = arg("--secs", 3);
    let rounds = arg("--rounds", 12).max(1);
    let step = Duration::from_millis(arg("--step-ms", 2));
    let warmup_secs = arg("--warmup-secs", 2);
    let placement = placement();
    let engine = match arg_text("--engine") {
        Some(engine) => {
            let engine = PathBuf::from(engine);
            assert!(
                engine.is_file(),
                "--engine {}: no such file",
                engine.display()
            );
            engine
        }
        None => {
            build_engine();
            release_dir().join("engine")
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let nice = arg_text("--nice").map(|n| {
        let n: i32 = n
            .parse()
            .unwrap_or_else(|_| panic!("--nice takes -20..=19, not {n:?}"));
        // SAFETY: setpriority(2) on the calling thread (Linux nice values are per thread);
        // every thread and process this one starts from now on inherits it.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, n) };
        assert!(
            rc == 0,
            "--nice {n}: {} (a negative value needs CAP_SYS_NICE)",
            std::io::Error::last_os_error()
        );
        n
    });

    let settings = HarnessSettings {
        warmup: Duration::from_secs(warmup_secs),
        measure: Duration::from_secs(secs),
        cpus: placement.harness.clone(),
        fifo: placement.harness.is_some(),
    };
    let market = Arc::new(Market::record(
        &market_settings(step),
        settings.warmup + settings.measure + RECORDED_TAIL,
    ));
    let limit = settings.warmup + settings.measure + CONNECT_GRACE;
    eprintln!(
        "recorded the market: {} quotes, a step every {step:?}; each client: {warmup_secs} s \
         warm-up, {secs} s measured; harness cpus {:?}, client cpus {:?}",
        market.quotes(),
        placement.harness,
        placement.client,
    );
    let start = || Harness::start(Arc::clone(&market), settings.clone()).expect("harness");

    // Rounds interleave the clients, so drift in the machine's load over the run falls on all
    // three alike, and their order goes through all six from round to round (`ORDERS`); each
    // client's samples are pooled over the rounds.
    let tickwire_run = EngineRun {
        dir: dir.path(),
        placement: &placement,
        warmup: settings.warmup,
        limit,
        mlock: may_lock_memory(),
        engine: &engine,
    };
    let mut in_process = InProcess::new();
    let mut figures: [Figures; 3] = Default::default();
    let mut logs: [Vec<ServeLog>; 3] = Default::default();
    let (mut tickwire_threads, mut workers) = (0, 0);
    for round in 1..=rounds {
        for client in ORDERS[(round as usize - 1) % ORDERS.len()] {
            eprintln!("round {round} of {rounds}: {}", CLIENTS[client]);
            let harness = start();
            match client {
                0 => tickwire_threads = run_tickwire(&harness, &tickwire_run, &mut in_process),
                1 => {
                    workers =
                        run_baseline(&harness, Instant::now() + limit, placement.client.clone());
                }
                _ => run_floor(&harness, Instant::now() + limit, placement.client.clone()),
            }
            let log = harness.stop();
            figures[client].add(attribute(&log.measured()));
            logs[client].push(log);
        }
    }
    let [tickwire, baseline, floor] = figures;
    let [mut tickwire_log, mut baseline_log, mut floor_log] = logs.map(ServeLog::merge);
    let in_process = in_process.report();

    let report = json!({
        "tickwire": summary(&tickwire),
        "baseline": summary(&baseline),
        "floor": summary(&floor),
        "above_floor": above_floor(&tickwire, &baseline, &floor),
        "in_process": in_process,
        "harness": {
            "tickwire": harness_summary(&mut tickwire_log),
            "baseline": harness_summary(&mut baseline_log),
            "floor": harness_summary(&mut floor_log),
        },
        "host": host(
            &placement,
            nice,
            tickwire_run.mlock,
            tickwire_run.engine,
            &[("tickwire", tickwire_threads), ("baseline", workers)]
        ),
        "secs_per_client": secs * rounds,
        "rounds": rounds,
        "warmup_secs": warmup_secs,
        "quote_step_ms": step.as_millis() as u64,
    });
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "client", "p50 us", "p99 us", "p99.9 us", "max us", "samples", "missed"
    );
    let clients = [
        ("tickwire", &tickwire),
        ("baseline", &baseline),
        ("floor", &floor),
    ];
    for (name, f) in clients {
        println!(
            "{:<10} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>8} {:>8}",
            name,
            quantile(&f.samples, 0.5) as f64 / 1e3,
            quantile(&f.samples, 0.99) as f64 / 1e3,
            quantile(&f.samples, 0.999) as f64 / 1e3,
            f.samples.last().copied().unwrap_or(0) as f64 / 1e3,
            f.samples.len(),
            f.missed
        );
    }
    for (name, f) in clients {
        for q in ["p50", "p99"] {
            let per_round: Vec<String> = f
                .per_round
                .iter()
                .map(|r| {
                    r.map_or("-".into(), |r| {
                        let ns = if q == "p50" { r.p50 } else { r.p99 };
                        format!("{:.1}", ns as f64 / 1e3)
                    })
                })
                .collect();
            println!("{name} {q} per round, us: {}", per_round.join(" "));
        }
    }
    for (name, f) in [("tickwire", &tickwire), ("baseline", &baseline)] {
        let summary = |pick: fn(&RoundQuantiles) -> u64| {
            spread(&above_per_round(f, &floor, pick)).map_or("no rounds".into(), |(m, lo, hi)| {
                format!(
                    "{:+.1} us ({:+.1}..{:+.1})",
                    m as f64 / 1e3,
                    lo as f64 / 1e3,
                    hi as f64 / 1e3
                )
            })
        };
        println!(
            "{name} above the floor: p50 {:+.1} us, p99 {:+.1} us; per round, median (min..max): \
             p50 {}, p99 {}",
            above(f, &floor, 0.5) as f64 / 1e3,
            above(f, &floor, 0.99) as f64 / 1e3,
            summary(|r| r.p50),
            summary(|r| r.p99),
        );
    }
    println!(
        "added above the floor, baseline / tickwire: {}",
        report["above_floor"]["ratio_baseline_over_tickwire"]
    );
    for (name, log) in [
        ("tickwire", &report["harness"]["tickwire"]),
        ("baseline", &report["harness"]["baseline"]),
        ("floor", &report["harness"]["floor"]),
    ] {
        println!(
            "harness during {name}: quote late p50 {} / p99 {} / max {} ns, its write p50 {} / \
             p99 {} ns; order reads with 2+ orders {}",
            log["send_late_p50_ns"],
            log["send_late_p99_ns"],
            log["send_late_max_ns"],
            log["quote_write_p50_ns"],
            log["quote_write_p99_ns"],
            log["coalesced_order_reads"],
        );
    }
    println!("tickwire in-process (socket read -> order write): {in_process}");
    let p50s: Vec<String> = in_process["per_round_p50_ns"]
        .as_array()
        .map(|rounds| {
            rounds
                .iter()
                .map(|ns| ns.as_u64().map_or("-".into(), |ns| ns.to_string()))
                .collect()
        })
        .unwrap_or_default();
    println!("tickwire in-process p50 per round, ns: {}", p50s.join(" "));
    println!("{}", report["host"]["arrangement"]);
    println!("tickwire's engine binary: {}", report["host"]["engine"]);
    let out = release_dir().parent().expect("target").join("bench");
    std::fs::create_dir_all(&out).expect("target/bench");
    std::fs::write(
        out.join("tick_to_trade.json"),
        serde_json::to_string_pretty(&report).expect("JSON"),
    )
    .expect("write report");
    if let Err(e) = plot(
        &out.join("tick_to_trade.svg"),
        &[
            ("tickwire", &tickwire, BLUE),
            ("baseline", &baseline, RED),
            ("floor", &floor, BLACK),
        ],
    ) {
        eprintln!("plot: {e}");
    }
    println!("wrote {}", out.join("tick_to_trade.json").display());
}
