//! Tick-to-trade, wire to wire, measured on the venue's side: tickwire against a conventional
//! async bot and against the floor of the harness itself, in one run.
//!
//! The harness is the real venue simulator (the `tickwire-venue` library) on loopback, plain
//! TCP, in this process, with two bench settings: a wire tap that timestamps each bookTicker
//! frame right after it is written to the market socket and each `order.*` request right after
//! it is read from the order socket; and an order sink, so client orders never touch the public
//! book — every client sees the same market, stepped by the same seeded process at a fixed
//! pace, whatever it does. Three clients run in turn, each against a fresh venue:
//!
//! - `tickwire`: the real `engine` binary (release), feed -> ring -> strategy -> gateway, market
//!   maker on the venue's combined streams, orders over the WebSocket API;
//! - `baseline`: a bot written the way most people would: tokio multi-thread runtime,
//!   tokio-tungstenite, serde_json into owned structs with `String` fields, `f64` prices, shared
//!   state behind `Arc<Mutex<_>>`, channels between a market-data task, a strategy task and an
//!   order task; it quotes the same way (mid +- half spread, requote on a move);
//! - `floor`: one spinning thread that reads each frame and writes a precomputed order frame —
//!   the cost of the harness, WebSocket framing and kernel loopback, which no bot can beat.
//!
//! A sample is the time from a quote's send to the first order received before the next quote
//! (the market is paced by the venue's clock, open loop, so there is no coordinated omission:
//! a slow client does not slow the quotes). Quotes with no order before the next one are
//! counted as `missed` (for the bots these are mostly quotes that did not move their price).
//!
//! `cargo bench -p tickwire-benches --bench tick_to_trade [-- --secs N --step-ms N --idle
//! backoff|busy-spin --threading dedicated|shared]` writes
//! target/bench/tick_to_trade.json and target/bench/tick_to_trade.svg.

use futures_util::{SinkExt, StreamExt};
use plotters::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tickwire_benches::{arg, arg_text, release_dir, workspace};
use tickwire_shm::layout::{CounterId, Stage};
use tickwire_shm::region::RegionReader;
use tickwire_venue::flow::FlowParams;
use tickwire_venue::server::{serve, TapEvent, VenueSettings, WireTap};
use tickwire_venue::wire::Symbol;

const TICK: i64 = 1;
const HALF_SPREAD_TICKS: i64 = 2;
const REQUOTE_TICKS: i64 = 1;

/// `--idle backoff|busy-spin`: the engine's idle strategy (default backoff).
/// `--threading dedicated|shared`: the engine's threading (default dedicated).
fn threading_arg() -> String {
    let threading = arg_text("--threading").unwrap_or_else(|| "dedicated".into());
    assert!(
        threading == "dedicated" || threading == "shared",
        "--threading takes dedicated or shared, not {threading:?}"
    );
    threading
}

fn idle_arg() -> String {
    let idle = arg_text("--idle").unwrap_or_else(|| "backoff".into());
    assert!(
        idle == "backoff" || idle == "busy-spin",
        "--idle takes backoff or busy-spin, not {idle:?}"
    );
    idle
}

/// A venue on a free loopback port, in its own runtime thread, with a tap.
struct Venue {
    addr: SocketAddr,
    tap: Arc<WireTap>,
    _runtime: tokio::runtime::Runtime,
}

fn start_venue(step: Duration) -> Venue {
    let tap = Arc::new(WireTap::default());
    let settings = VenueSettings {
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
        order_sink: true,
        tap: Some(Arc::clone(&tap)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("venue")
        .enable_all()
        .build()
        .expect("venue runtime");
    let (tx, rx) = std::sync::mpsc::channel();
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    runtime.spawn(async move {
        let served = serve(settings, any, any, None, move |handle| {
            let _ = tx.send(handle.listen);
        })
        .await;
        if let Err(e) = served {
            eprintln!("venue stopped: {e:#}");
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("venue listening");
    Venue {
        addr,
        tap,
        _runtime: runtime,
    }
}

/// Wire-to-wire figures of one client.
#[derive(Debug, Default)]
struct Figures {
    samples: Vec<u64>,
    missed: u64,
}

/// Pairs each quote with the first order received before the next quote.
fn attribute(events: &[(Instant, TapEvent)]) -> Figures {
    let mut f = Figures::default();
    let mut open: Option<Instant> = None;
    for &(at, event) in events {
        match event {
            TapEvent::QuoteSent => {
                if open.replace(at).is_some() {
                    f.missed += 1;
                }
            }
            TapEvent::OrderReceived => {
                if let Some(sent) = open.take() {
                    f.samples.push(at.duration_since(sent).as_nanos() as u64);
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
    })
}

/// Runs the real engine against `venue` for `secs`; returns its in-process tick-to-trade
/// percentiles read from its region just before it stops.
fn run_tickwire(venue: &Venue, secs: u64, dir: &Path) -> Value {
    let engine = release_dir().join("engine");
    let shm = dir.join("region");
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
        addr = venue.addr,
        idle = idle_arg(),
        threading = threading_arg(),
    );
    let config_path = dir.join("engine.toml");
    std::fs::write(&config_path, config).expect("config");
    let mut child = Command::new(engine)
        .args(["run", "--config"])
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("engine");
    std::thread::sleep(Duration::from_secs(secs));
    let in_process = RegionReader::open(&shm).map_or(Value::Null, |r| {
        let s = r.summarize(&r.latency_ticks(Stage::TickToTrade));
        let stages: serde_json::Map<String, Value> = Stage::ALL
            .iter()
            .map(|stage| {
                let l = r.summarize(&r.latency_ticks(*stage));
                (
                    stage.name().to_string(),
                    json!({ "p50_ns": l.p50_ns, "p99_ns": l.p99_ns, "count": l.count }),
                )
            })
            .collect();
        let counters: serde_json::Map<String, Value> = [
            CounterId::OrdersSent,
            CounterId::VenueRejects,
            CounterId::RiskRejects,
            CounterId::MarketMessages,
            CounterId::MarketQueueFull,
        ]
        .iter()
        .map(|id| (id.name().to_string(), json!(r.counter(*id))))
        .collect();
        json!({
            "p50_ns": s.p50_ns, "p99_ns": s.p99_ns, "p999_ns": s.p999_ns, "max_ns": s.max_ns,
            "samples": s.count, "stages": stages, "counters": counters,
        })
    });
    // SAFETY: kill(2) with SIGTERM on our own child's pid, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let _ = child.wait();
    in_process
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

fn run_baseline(venue: &Venue, secs: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("baseline runtime");
    let addr = venue.addr;
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
        tokio::time::sleep(Duration::from_secs(secs)).await;
        md_task.abort();
        strategy_task.abort();
        order_task.abort();
        response_task.abort();
    });
}

// ---- the floor ----

fn run_floor(venue: &Venue, secs: u64) {
    let connect = |path: &str| {
        let stream = TcpStream::connect(venue.addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (socket, _) =
            tungstenite::client(format!("ws://{}{path}", venue.addr), stream).expect("handshake");
        socket.get_ref().set_nonblocking(true).expect("nonblocking");
        socket
    };
    let mut md = connect("/stream?streams=btcusdt@bookTicker");
    let mut orders = connect("/ws-api/v3");
    let order = tungstenite::Message::text(
        json!({
            "id": 1, "method": "order.place",
            "params": {
                "apiKey": "floor", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                "timeInForce": "IOC", "price": "1.00", "quantity": "0.01000",
            },
        })
        .to_string(),
    );
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        match md.read() {
            Ok(tungstenite::Message::Text(_)) => {
                orders.send(order.clone()).expect("send order");
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("floor market data: {e}"),
        }
        match orders.read() {
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("floor order entry: {e}"),
        }
        match orders.flush() {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("floor flush: {e}"),
        }
    }
}

fn host(idle: &str, threading: &str) -> Value {
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
    json!({
        "cpu": cpu,
        "kernel": kernel,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "arrangement": format!(
            "no pinning: the venue (1 tokio worker) and the client under test share all \
             cores; tickwire runs idle = {idle}, threading = {threading}"
        ),
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
            "tick-to-trade, wire to wire (venue side)",
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

fn main() {
    let secs = arg("--secs", 20);
    let step = Duration::from_millis(arg("--step-ms", 2));
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
    let dir = tempfile::tempdir().expect("tempdir");

    eprintln!("tickwire: {secs} s, a quote step every {step:?}");
    let venue = start_venue(step);
    let in_process = run_tickwire(&venue, secs, dir.path());
    let tickwire = attribute(&venue.tap.take());
    drop(venue);

    eprintln!("baseline (tokio, serde_json, f64, Arc<Mutex>, channels): {secs} s");
    let venue = start_venue(step);
    std::thread::sleep(Duration::from_millis(200));
    venue.tap.take();
    run_baseline(&venue, secs);
    let baseline = attribute(&venue.tap.take());
    drop(venue);

    eprintln!("floor (read a frame, write a precomputed order): {secs} s");
    let venue = start_venue(step);
    std::thread::sleep(Duration::from_millis(200));
    venue.tap.take();
    run_floor(&venue, secs);
    let floor = attribute(&venue.tap.take());
    drop(venue);

    let report = json!({
        "tickwire": summary(&tickwire),
        "baseline": summary(&baseline),
        "floor": summary(&floor),
        "in_process": in_process,
        "host": host(&idle_arg(), &threading_arg()),
        "secs_per_client": secs,
        "quote_step_ms": step.as_millis() as u64,
    });
    let f50 = quantile(&floor.samples, 0.5) as f64;
    let f99 = quantile(&floor.samples, 0.99) as f64;
    let above = |f: &Figures, q: f64, floor: f64| (quantile(&f.samples, q) as f64 - floor).max(1.0);
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "client", "p50 us", "p99 us", "p99.9 us", "max us", "samples", "missed"
    );
    for (name, f) in [
        ("tickwire", &tickwire),
        ("baseline", &baseline),
        ("floor", &floor),
    ] {
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
    println!(
        "added above the floor, baseline / tickwire: p50 x{:.1}, p99 x{:.1}",
        above(&baseline, 0.5, f50) / above(&tickwire, 0.5, f50),
        above(&baseline, 0.99, f99) / above(&tickwire, 0.99, f99)
    );
    println!("tickwire in-process (socket read -> order write): {in_process}");
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
