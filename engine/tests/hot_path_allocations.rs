//! The strategy thread allocates nothing in steady state: the whole pipeline (synthetic feed →
//! ring → strategy → risk → order ring → paper gateway → reports → journal) runs with the
//! counting allocator installed, and the strategy thread's allocation count does not move over
//! one million market events after warm-up — while it quotes, cancels and gets filled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwire_engine::alloc::{thread_allocations, CountingAllocator};
use tickwire_engine::clock::LatencyClock;
use tickwire_engine::config::Config;
use tickwire_engine::idle::{run_agent, Agent, Idle};
use tickwire_engine::log::log_rings;
use tickwire_engine::run::{build_pipeline, ThreadLoggers};
use tickwire_shm::layout::CounterId;
use tickwire_shm::region::{RegionInit, RegionReader, RegionWriter};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const WARMUP_EVENTS: u64 = 20_000;
const STEADY_EVENTS: u64 = 1_000_000;

const CONFIG: &str = r#"
[engine]
instance = "alloc"
idle = "backoff"
max_park_us = 20
warmup_events = 20000

[feed]
source = "synthetic"
synthetic_rate_hz = 300000
seed = 3

[gateway]
mode = "paper"

[risk]
max_position = "0.05"
max_notional = "5000"
max_orders_per_sec = 1000000
price_band_bps = 100
max_open_orders = 4
stale_feed_ms = 1000

[strategy]
kind = "market-maker"
instrument = "BTCUSDT"
half_spread_ticks = 1
size = "0.01"
skew_ticks_per_size = 1
requote_threshold_ticks = 2

[[instruments]]
symbol = "BTCUSDT"
price_decimals = 2
qty_decimals = 5
tick_size = "0.01"
lot_size = "0.00001"
synthetic_start = "50000.00"
"#;

#[test]
fn no_allocation_on_the_strategy_thread_over_a_million_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::parse(std::path::Path::new("alloc.toml"), CONFIG).expect("config");
    let clock = LatencyClock::new();
    let region_path = dir.path().join("region");
    let mut region = RegionWriter::create(
        &region_path,
        &RegionInit {
            instance: "alloc",
            tick_ns_q32: clock.tick_ns_q32(),
            instruments: &[],
        },
    )
    .expect("region");
    let sections = region.take_sections().expect("sections");
    let (_log_writer, mut loggers) = log_rings(&clock, &["strategy", "feed", "gateway"]);
    let stop = Arc::new(AtomicBool::new(false));
    let pipeline = build_pipeline(
        &config,
        &clock,
        sections,
        &dir.path().join("journal.sqlite"),
        Arc::clone(&stop),
        ThreadLoggers {
            strategy: loggers.remove(0),
            feed: loggers.remove(0),
            gateway: loggers.remove(0),
        },
    )
    .expect("pipeline");

    let helpers_stop = Arc::clone(&pipeline.helpers_stop);
    let mut feed = pipeline.feed;
    let mut gateway = pipeline.gateway;
    let mut journal = pipeline.journal;
    let idle = || Idle::backoff(Duration::from_micros(20));
    let feed_thread = std::thread::spawn(move || run_agent(&mut feed, &mut idle()));
    let gateway_thread = std::thread::spawn(move || run_agent(&mut gateway, &mut idle()));
    let journal_stop = Arc::clone(&helpers_stop);
    let journal_thread = std::thread::spawn(move || {
        while !journal_stop.load(Ordering::Acquire) {
            if journal.do_work() == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        journal.do_work();
    });

    let mut strategy = pipeline.strategy;
    let deadline = Instant::now() + Duration::from_secs(300);
    let (allocations, steady_events) = std::thread::spawn(move || {
        let mut idle = idle();
        while strategy.events() < WARMUP_EVENTS && Instant::now() < deadline {
            if let Some(park) = idle.idle(strategy.do_work()) {
                std::thread::sleep(park);
            }
        }
        let before = thread_allocations();
        let start = strategy.events();
        while strategy.events() - start < STEADY_EVENTS && Instant::now() < deadline {
            if let Some(park) = idle.idle(strategy.do_work()) {
                std::thread::sleep(park);
            }
        }
        let allocations = thread_allocations() - before;
        assert_eq!(
            strategy.hot_path_allocations(),
            allocations,
            "the engine's own counter agrees"
        );
        (allocations, strategy.events() - start)
    })
    .join()
    .expect("strategy thread");
    helpers_stop.store(true, Ordering::Release);
    feed_thread.join().expect("feed");
    gateway_thread.join().expect("gateway");
    journal_thread.join().expect("journal");

    assert!(
        steady_events >= STEADY_EVENTS,
        "the run finished its events in time ({steady_events})"
    );
    assert_eq!(
        allocations, 0,
        "heap allocations on the strategy thread in steady state"
    );
    let reader = RegionReader::open(&region_path).expect("reader");
    assert!(
        reader.counter(CounterId::OrdersRequested) > 100,
        "orders were sent"
    );
    assert!(
        reader.fills_written() > 10,
        "fills came back: {} fills, {} venue rejects, {} market queue full",
        reader.fills_written(),
        reader.counter(CounterId::VenueRejects),
        reader.counter(CounterId::MarketQueueFull)
    );
    assert_eq!(reader.counter(CounterId::HotPathAllocations), 0);
}
