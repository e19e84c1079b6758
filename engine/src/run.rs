//! Starting and stopping an engine: claim the instance, create the region and token, spawn the
//! threads (helpers first, the strategy thread last, so only it is pinned and raised), wait for
//! a signal, then stop in order — strategy (cancels, confirms), gateway and feed, persistence
//! (drains the journal), log — join every thread, and remove the region and token.

use crate::clock::LatencyClock;
use crate::config::{Config, IdleKind, ModeKind, SourceKind, Threading};
use crate::feed_agent::{FeedAgent, FeedWiring, VenueFeed};
use crate::gateway_agent::{GatewayAgent, Venue, VenueSession, QUIET_READ_TURNS};
use crate::idle::{run_agent, Agent, Composite, Idle};
use crate::instance::{InstanceLock, TokenFile};
use crate::journal::{journal_ring, EngineEvent, JournalRecord, JournalWriter};
use crate::log::{log_rings, Level, Logger};
use crate::market_maker::MarketMaker;
use crate::ring::ring;
use crate::risk::{Limits, RateWindow};
use crate::snapshot::SnapshotFetcher;
use crate::strategy::{InstrumentSpec, MarketView, TradingContext};
use crate::strategy_agent::{StrategyAgent, StrategyWiring};
use crate::trading::{OrderTable, PositionBook};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tickwire_feed::binance::{BinanceDecoder, SymbolSpec as BinanceSymbol};
use tickwire_feed::synthetic::{SyntheticParams, SyntheticQuotes};
use tickwire_feed::ws::{WsConnection, WsSettings};
use tickwire_feed::DataSource;
use tickwire_feed::{InstrumentId, Price, Qty};
use tickwire_gateway::binance::{
    Credentials, OrderEncoder, OrderEntryDecoder, SymbolSpec as GatewaySymbol,
};
use tickwire_gateway::paper::PaperExchange;
use tickwire_shm::layout::{
    flags, write_str, EngineState, EngineStatus, GatewayMode, InstrumentInfo, Reason,
    MAX_INSTRUMENTS,
};
use tickwire_shm::region::{unix_now_ns, RegionInit, RegionWriter, Sections};

/// Ring capacities.
const MARKET_RING: usize = 8192;
const ORDER_RING: usize = 1024;
const REPORT_RING: usize = 4096;
const QUOTE_RING: usize = 8192;

/// Where a running engine keeps its files.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The region.
    pub shm: PathBuf,
    /// The token file.
    pub token: PathBuf,
    /// The journal.
    pub journal: PathBuf,
}

fn idle_for(config: &Config) -> Idle {
    match config.engine.idle {
        IdleKind::BusySpin => Idle::BusySpin,
        IdleKind::Backoff => Idle::backoff(Duration::from_micros(config.engine.max_park_us)),
    }
}

fn spawn_agent<A: Agent + Send + 'static>(mut agent: A, mut idle: Idle) -> Result<JoinHandle<()>> {
    let name = agent.role_name();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || run_agent(&mut agent, &mut idle))
        .with_context(|| format!("spawn {name} thread"))
}

/// The filesystem type (`statfs`'s magic) of `path` when it is not held in memory (tmpfs,
/// hugetlbfs, ramfs); `None` for those, or when it cannot be told.
fn disk_filesystem(path: &Path) -> Option<i64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs is a plain C struct that the call fills; zeroes are a valid value.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: statfs(2) with a NUL-terminated path and a valid pointer to a struct it may write.
    if unsafe { libc::statfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    let kind = stat.f_type;
    // ramfs's magic, from linux/magic.h (the libc crate does not carry it).
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    let memory = [libc::TMPFS_MAGIC, libc::HUGETLBFS_MAGIC, RAMFS_MAGIC];
    (!memory.contains(&kind)).then_some(kind)
}

/// Pins the calling thread and raises it to SCHED_FIFO as configured; returns (core, fifo).
fn place_strategy_thread(config: &Config, logger: &mut Logger) -> (i32, bool) {
    let mut core = -1;
    if let Some(id) = config.engine.strategy_core {
        if core_affinity::set_for_current(core_affinity::CoreId { id }) {
            core = id as i32;
        } else {
            logger.log(
                Level::Warn,
                "could not pin the strategy thread to core {}",
                [id as i64, 0, 0],
            );
        }
    }
    let mut fifo = false;
    if config.engine.sched_fifo {
        let param = libc::sched_param { sched_priority: 10 };
        // SAFETY: sched_setscheduler(2) on the calling thread (pid 0) with a valid param struct
        // that outlives the call; failure is reported through the return value only.
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
        fifo = rc == 0;
        if !fifo {
            logger.log(
                Level::Warn,
                "SCHED_FIFO not permitted (errno {}); running SCHED_OTHER",
                [
                    i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)),
                    0,
                    0,
                ],
            );
        }
    }
    (core, fifo)
}

/// Runs an engine until SIGINT/SIGTERM, then stops it cleanly.
///
/// # Errors
///
/// [`crate::instance::InstanceError`] (as the error itself, so callers can downcast it) when
/// the instance cannot be claimed; any other start-up failure, with context.
pub fn run(config: Config) -> Result<()> {
    // Handlers first: a signal that arrives during start-up stops the engine cleanly too.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping terminates at once (the operator insists).
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .context("install signal handler")?;
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("install signal handler")?;
    }
    let e = &config.engine;
    let lock = InstanceLock::acquire(&e.run_dir, &e.instance)?;
    let paths = Paths {
        shm: e.shm_path.clone(),
        token: e.run_dir.join(format!("{}.token", e.instance)),
        journal: e.run_dir.join(format!("{}.sqlite", e.instance)),
    };
    let clock = LatencyClock::new();

    let mut infos = Vec::with_capacity(config.instruments.len());
    for ins in &config.instruments {
        let mut info = InstrumentInfo {
            price_decimals: ins.price_decimals,
            qty_decimals: ins.qty_decimals,
            tick_size: ins.tick_size,
            lot_size: ins.lot_size,
            ..Default::default()
        };
        write_str(&mut info.symbol, &ins.symbol);
        infos.push(info);
    }
    let mut region = RegionWriter::create(
        &paths.shm,
        &RegionInit {
            instance: &e.instance,
            tick_ns_q32: clock.tick_ns_q32(),
            instruments: &infos,
        },
    )
    .context("create shared-memory region")?;
    let token = match TokenFile::create(&e.run_dir, &e.instance) {
        Ok(t) => t,
        Err(err) => {
            let _ = region.remove();
            return Err(err.into());
        }
    };
    let result = run_threads(&config, &clock, &mut region, &paths, stop);
    token.remove();
    let removed = region.remove();
    drop(lock);
    result?;
    removed.context("remove shared-memory region")?;
    Ok(())
}

/// The agents and the journal writer of one engine, wired to each other and to the region but
/// not yet running: [`run`] puts each on its thread; tests can drive them directly.
#[derive(Debug)]
pub struct Pipeline {
    /// Feed agent.
    pub feed: FeedAgent,
    /// Snapshot thread's agent (venue sources only).
    pub snapshot: Option<SnapshotFetcher>,
    /// Gateway agent.
    pub gateway: GatewayAgent,
    /// Strategy agent.
    pub strategy: StrategyAgent<MarketMaker>,
    /// Journal writer (persistence thread).
    pub journal: JournalWriter,
    /// Stops the feed and gateway agents (set once the strategy agent is done).
    pub helpers_stop: Arc<AtomicBool>,
}

/// The loggers of the threads [`build_pipeline`] makes agents for.
#[derive(Debug)]
pub struct ThreadLoggers {
    /// The strategy's.
    pub strategy: Logger,
    /// The feed's.
    pub feed: Logger,
    /// The gateway's (its order-entry connection).
    pub gateway: Logger,
}

/// Wires the agents of `config` to `sections` of a region.
///
/// # Errors
///
/// When the journal cannot be opened.
pub fn build_pipeline(
    config: &Config,
    clock: &LatencyClock,
    sections: Sections,
    journal_path: &Path,
    stop: Arc<AtomicBool>,
    loggers: ThreadLoggers,
) -> Result<Pipeline> {
    let ThreadLoggers {
        strategy: strategy_log,
        feed: feed_log,
        gateway: gateway_log,
    } = loggers;
    let storage_alarm = Arc::new(AtomicBool::new(false));
    let (journal_tx, journal_rx) = journal_ring();
    let journal = JournalWriter::open(
        journal_path,
        journal_rx,
        &config.instruments,
        sections.storage,
        Arc::clone(&storage_alarm),
    )?;
    let (market_tx, market_rx) = ring(MARKET_RING);
    let (order_tx, order_rx) = ring(ORDER_RING);
    let (report_tx, report_rx) = ring(REPORT_RING);
    let (quote_tx, quote_rx) = ring(QUOTE_RING);
    let helpers_stop = Arc::new(AtomicBool::new(false));
    let publish_ns = config.engine.publish_interval_us * 1000;

    let venue = match config.gateway.mode {
        ModeKind::Paper => Venue::Paper(Box::new(PaperExchange::new(config.gateway.max_resting))),
        ModeKind::Sim | ModeKind::Live => {
            let mut session = venue_session(config)?;
            session.resume_trades(
                &journal.last_trades().context("read journal trade ids")?,
                journal.first_start_ms().context("read journal start")?,
            );
            Venue::Session(Box::new(session))
        }
    };
    let gateway = GatewayAgent::new(
        venue,
        order_rx,
        quote_rx,
        report_tx,
        sections.gateway,
        clock.clone(),
        Arc::clone(&helpers_stop),
    )
    .logging_to(gateway_log);
    let gateway = match config.engine.idle {
        IdleKind::BusySpin => gateway.reading_quiet_connection_every(QUIET_READ_TURNS),
        IdleKind::Backoff => gateway,
    };
    let wiring = FeedWiring {
        strategy_tx: market_tx,
        gateway_tx: (config.gateway.mode == ModeKind::Paper).then_some(quote_tx),
        section: sections.feed,
        clock: clock.clone(),
        publish_interval_ns: publish_ns.min(100_000),
        stale_after: Duration::from_millis(u64::from(config.risk.stale_feed_ms)),
        stop: Arc::clone(&helpers_stop),
    };
    let (feed, snapshot) = match config.feed.source {
        SourceKind::Synthetic => (synthetic_feed(config, wiring), None),
        SourceKind::Venue | SourceKind::Binance => {
            let (feed, fetcher) = venue_feed(config, wiring, Arc::clone(&helpers_stop), feed_log)?;
            (feed, Some(fetcher))
        }
    };
    let journal_positions = journal.positions().context("read journal positions")?;
    let mut ctx = trading_context(config, clock, order_tx, journal_tx, sections.strategy);
    for (i, q) in journal_positions.iter().enumerate().take(MAX_INSTRUMENTS) {
        ctx.journal_positions[i] = *q;
    }
    if config.gateway.mode != ModeKind::Paper {
        // Quote only after the venue's orders and balances are reconciled.
        ctx.state = EngineState::Starting;
    }
    let wiring = StrategyWiring {
        market_rx,
        report_rx,
        control: sections.control,
        stop,
        storage_alarm,
        logger: strategy_log,
        publish_interval_ns: publish_ns,
        shutdown_timeout_ns: config.engine.shutdown_timeout_ms * 1_000_000,
        warmup_events: config.engine.warmup_events,
        status_template: EngineStatus {
            gateway_mode: match config.gateway.mode {
                ModeKind::Paper => GatewayMode::Paper,
                ModeKind::Sim => GatewayMode::Sim,
                ModeKind::Live => GatewayMode::Live,
            }
            .code(),
            strategy_core: -1,
            busy_spin: u32::from(config.engine.idle == IdleKind::BusySpin),
            ..EngineStatus::default()
        },
    };
    let strategy = StrategyAgent::new(MarketMaker::new(&config.strategy), ctx, wiring);
    Ok(Pipeline {
        feed,
        snapshot,
        gateway,
        strategy,
        journal,
        helpers_stop,
    })
}

fn synthetic_feed(config: &Config, wiring: FeedWiring) -> FeedAgent {
    let generators = config
        .instruments
        .iter()
        .enumerate()
        .map(|(i, ins)| {
            SyntheticQuotes::new(SyntheticParams {
                instrument: InstrumentId(i as u16),
                start_mid: Price(ins.synthetic_start.unwrap_or(ins.tick_size * 10_000)),
                tick: ins.tick_size,
                max_step_ticks: 2,
                base_qty: Qty(ins.lot_size.max(1) * 100),
                seed: config.feed.seed.wrapping_add(i as u64),
            })
        })
        .collect();
    FeedAgent::synthetic(generators, config.feed.synthetic_rate_hz, wiring)
}

/// The combined-stream URL for every configured instrument.
pub fn stream_url(base: &str, symbols: impl Iterator<Item = String>) -> String {
    let streams: Vec<String> = symbols
        .flat_map(|s| {
            let s = s.to_ascii_lowercase();
            [
                format!("{s}@bookTicker"),
                format!("{s}@depth@100ms"),
                format!("{s}@trade"),
            ]
        })
        .collect();
    format!(
        "{}?streams={}",
        base.trim_end_matches('/'),
        streams.join("/")
    )
}

fn venue_feed(
    config: &Config,
    wiring: FeedWiring,
    stop: Arc<AtomicBool>,
    logger: Logger,
) -> Result<(FeedAgent, SnapshotFetcher)> {
    let feed = &config.feed;
    let url = feed.url.as_deref().context("feed.url")?;
    let rest = feed.rest_url.as_deref().context("feed.rest_url")?;
    let symbols: Vec<String> = config
        .instruments
        .iter()
        .map(|i| i.symbol.clone())
        .collect();
    let mut settings = WsSettings::new(&stream_url(url, symbols.iter().cloned()));
    settings.ca_file = feed.ca_file.clone();
    settings.ping_after = feed.ping_after;
    settings.idle_timeout = feed.dead_after;
    let conn = WsConnection::new(settings, mio::Token(0)).context("feed connection")?;
    let endpoint = tickwire_feed::ws::parse_url(rest).context("feed.rest_url")?;
    let tls = if endpoint.tls {
        Some(tickwire_feed::ws::tls_config(feed.ca_file.as_ref()).context("feed TLS")?)
    } else {
        None
    };
    let (fetcher, client) = SnapshotFetcher::new(endpoint, tls, symbols, stop);
    let decoder = BinanceDecoder::new(
        config
            .instruments
            .iter()
            .enumerate()
            .map(|(i, ins)| BinanceSymbol {
                symbol: ins.symbol.clone(),
                instrument: InstrumentId(i as u16),
                price_decimals: ins.price_decimals,
                qty_decimals: ins.qty_decimals,
            })
            .collect(),
    );
    let source = match feed.source {
        SourceKind::Binance => DataSource::Binance,
        _ => DataSource::VenueSim,
    };
    let venue = VenueFeed::new(
        conn,
        decoder,
        config.instruments.len(),
        client,
        source,
        logger,
    )
    .context("feed poll")?;
    Ok((FeedAgent::venue(venue, wiring), fetcher))
}

fn venue_session(config: &Config) -> Result<VenueSession> {
    let g = &config.gateway;
    let url = g.url.as_deref().context("gateway.url")?;
    let credentials = match g.mode {
        ModeKind::Live => match &g.credentials_file {
            Some(path) => Credentials::from_file(path)?,
            None => Credentials::from_env("TICKWIRE_API_KEY", "TICKWIRE_API_SECRET")?,
        },
        _ => Credentials::new(g.api_key.as_deref().unwrap_or("tickwire-sim"), b""),
    };
    let subscribe = format!(
        r#"{{"id":"user-data","method":"userDataStream.subscribe","params":{{"apiKey":"{}"}}}}"#,
        credentials.api_key()
    );
    let mut settings = WsSettings::new(url);
    settings.ca_file = g.ca_file.clone();
    settings.subscriptions = vec![subscribe];
    settings.idle_timeout = Duration::from_secs(3600);
    let conn = WsConnection::new(settings, mio::Token(1)).context("gateway connection")?;
    let symbols: Vec<GatewaySymbol> = config
        .instruments
        .iter()
        .map(|i| GatewaySymbol {
            name: i.symbol.clone(),
            price_decimals: i.price_decimals,
            qty_decimals: i.qty_decimals,
        })
        .collect();
    // Client order ids name this run, so they never collide with a previous run's orders.
    let prefix = format!("tw{:x}-", (unix_now_ns() / 1_000_000) % 0xff_ffff_ffff);
    let encoder = OrderEncoder::new(symbols.clone(), &prefix, Some(credentials));
    let decoder = OrderEntryDecoder::new(symbols, &prefix);
    VenueSession::new(conn, encoder, decoder, config.instruments.len()).context("gateway poll")
}

fn run_journal(mut journal: JournalWriter) {
    loop {
        let n = journal.do_work();
        if journal.finished() {
            return;
        }
        if journal.abandoned_with_pending() && n == 0 {
            // Shutdown with storage failing: retry for a while, then spill to a file.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while !journal.finished() && std::time::Instant::now() < deadline {
                journal.do_work();
                std::thread::sleep(Duration::from_millis(20));
            }
            if !journal.finished() {
                match journal.spill() {
                    Ok(path) => eprintln!("journal: unwritten records saved to {}", path.display()),
                    Err(e) => eprintln!(
                        "journal: could not save {} unwritten records: {e}",
                        journal.pending()
                    ),
                }
            }
            return;
        }
        if n == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn run_threads(
    config: &Config,
    clock: &LatencyClock,
    region: &mut RegionWriter,
    paths: &Paths,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let sections = region
        .take_sections()
        .context("region sections already taken")?;

    let (mut log_writer, mut loggers) =
        log_rings(clock, &["strategy", "feed", "gateway", "engine"]);
    let mut engine_log = loggers.pop().context("engine logger")?;
    let gateway_log = loggers.pop().context("gateway logger")?;
    let feed_log = loggers.pop().context("feed logger")?;
    let strategy_log = loggers.pop().context("strategy logger")?;
    let log_handle = std::thread::Builder::new()
        .name("log".into())
        .spawn(move || {
            let mut stderr = std::io::stderr();
            loop {
                let n = log_writer.drain(&mut stderr);
                if log_writer.finished() {
                    break;
                }
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        })
        .context("spawn log thread")?;

    let pipeline = build_pipeline(
        config,
        clock,
        sections,
        &paths.journal,
        stop,
        ThreadLoggers {
            strategy: strategy_log,
            feed: feed_log,
            gateway: gateway_log,
        },
    )?;
    let journal = pipeline.journal;
    let persistence = std::thread::Builder::new()
        .name("persistence".into())
        .spawn(move || run_journal(journal))
        .context("spawn persistence thread")?;
    let snapshot_handle = match pipeline.snapshot {
        Some(fetcher) => Some(spawn_agent(
            fetcher,
            Idle::backoff(Duration::from_millis(1)),
        )?),
        None => None,
    };
    let strategy = pipeline.strategy;
    // Dedicated: feed and gateway get threads of their own. Shared: they take turns with the
    // strategy on its thread, feed before it and gateway after it, so a quote read in a turn is
    // decided and its order written in the same turn. (Helper threads are spawned before the
    // strategy thread pins itself, so they keep the process's affinity.)
    type Agents = Vec<Box<dyn Agent + Send>>;
    let (before, after, helper_handles): (Agents, Agents, _) = match config.engine.threading {
        Threading::Dedicated => (
            Vec::new(),
            Vec::new(),
            vec![
                ("gateway", spawn_agent(pipeline.gateway, idle_for(config))?),
                ("feed", spawn_agent(pipeline.feed, idle_for(config))?),
            ],
        ),
        Threading::Shared => (
            vec![Box::new(pipeline.feed)],
            vec![Box::new(pipeline.gateway)],
            Vec::new(),
        ),
    };
    let strategy_config = config.clone();
    let strategy_handle = std::thread::Builder::new()
        .name("strategy".into())
        .spawn(move || {
            let mut hot = Composite::new(before, strategy, after);
            let (core, fifo) = place_strategy_thread(&strategy_config, hot.lead_mut().logger_mut());
            hot.lead_mut().set_placement(core, fifo);
            run_agent(&mut hot, &mut idle_for(&strategy_config));
        })
        .context("spawn strategy thread")?;

    let latency_log = match &config.engine.latency_log {
        Some(path) => Some(crate::latency_log::spawn(
            path.clone(),
            paths.shm.clone(),
            Arc::clone(&pipeline.helpers_stop),
        )?),
        None => None,
    };
    region.set_flags(flags::READY);
    engine_log.log(
        Level::Info,
        "engine running (pid {})",
        [i64::from(std::process::id()), 0, 0],
    );
    if let Some(kind) = disk_filesystem(&paths.shm) {
        engine_log.log(
            Level::Warn,
            "shm_path is on a disk filesystem (statfs type {}): writeback write-protects the \
             region's pages every few seconds and each publish after that faults on the hot \
             thread; put it on /dev/shm",
            [kind, 0, 0],
        );
    }
    while !strategy_handle.is_finished() {
        std::thread::sleep(Duration::from_millis(5));
    }
    region.set_flags(flags::STOPPING);
    let strategy_result = strategy_handle.join();
    pipeline.helpers_stop.store(true, Ordering::Release);
    let helper_results: Vec<_> = helper_handles
        .into_iter()
        .map(|(name, handle)| (name, handle.join()))
        .collect();
    let snapshot_result = snapshot_handle.map_or(Ok(()), JoinHandle::join);
    let latency_log_result = latency_log.map(JoinHandle::join);
    let persistence_result = persistence.join();
    engine_log.log(Level::Info, "engine stopped", [0; 3]);
    drop(engine_log);
    let log_result = log_handle.join();
    for (name, result) in [
        ("strategy", strategy_result),
        ("snapshot", snapshot_result),
        ("persistence", persistence_result),
        ("log", log_result),
    ]
    .into_iter()
    .chain(helper_results)
    {
        if result.is_err() {
            anyhow::bail!("{name} thread panicked");
        }
    }
    match latency_log_result {
        Some(Ok(Err(e))) => return Err(e.context("latency log")),
        Some(Err(_)) => anyhow::bail!("latency-log thread panicked"),
        Some(Ok(Ok(()))) | None => {}
    }
    Ok(())
}

/// Builds the strategy's trading context from a validated config.
pub fn trading_context(
    config: &Config,
    clock: &LatencyClock,
    order_tx: rtrb::Producer<tickwire_gateway::OrderMsg>,
    mut journal: crate::journal::JournalSender,
    section: tickwire_shm::region::StrategySection,
) -> TradingContext {
    let mut specs = [InstrumentSpec::default(); MAX_INSTRUMENTS];
    let mut limits = [Limits {
        max_position: 0,
        max_notional: 0,
        max_orders_per_sec: config.risk.max_orders_per_sec,
        price_band_bps: config.risk.price_band_bps,
        max_open_orders: config.risk.max_open_orders,
    }; MAX_INSTRUMENTS];
    for (i, ins) in config.instruments.iter().enumerate() {
        specs[i] = InstrumentSpec {
            tick_size: ins.tick_size,
            lot_size: ins.lot_size,
        };
        limits[i].max_position = ins.max_position;
        limits[i].max_notional = ins.max_notional;
    }
    let now = clock.ticks();
    let unix_ns = unix_now_ns();
    journal.send(JournalRecord::Event {
        event: EngineEvent::Started,
        a: i64::from(std::process::id()),
        b: 0,
        unix_ns,
    });
    TradingContext {
        clock: clock.clone(),
        now_ticks: now,
        cause_ticks: 0,
        stale_ticks: clock.ns_to_ticks(u64::from(config.risk.stale_feed_ms) * 1_000_000),
        wall_anchor: (now, unix_ns),
        markets: [MarketView::default(); MAX_INSTRUMENTS],
        specs,
        limits,
        orders: OrderTable::default(),
        positions: PositionBook::default(),
        rate: RateWindow::new(clock.ns_to_ticks(1_000_000_000)),
        state: EngineState::Running,
        reason: Reason::None,
        instruments: config.instruments.len(),
        reconciled: [false; MAX_INSTRUMENTS],
        journal_positions: [0; MAX_INSTRUMENTS],
        back_filled: 0,
        state_since_unix_ns: unix_ns,
        storage_alarm: false,
        orders_overdue: false,
        ack_timeout_ticks: clock
            .ns_to_ticks(u64::from(config.risk.order_ack_timeout_ms) * 1_000_000),
        rejects: [0; 8],
        order_tx,
        journal,
        next_client_id: 1,
        section,
        dirty: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_passes_and_another_filesystem_is_named_by_its_type() {
        assert_eq!(disk_filesystem(Path::new("/dev/shm")), None);
        assert_eq!(disk_filesystem(Path::new("/proc")), Some(0x9fa0));
        assert_eq!(disk_filesystem(Path::new("/no/such/dir")), None);
    }
}
