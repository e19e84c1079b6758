//! The feed thread's agent: produces market events, pushes them to the strategy (and, in paper
//! mode, quotes to the gateway), and publishes market data, books and feed health to the region
//! at a bounded rate.
//!
//! Sources:
//! - synthetic ([`SyntheticQuotes`]): every instrument's data source reads `synthetic` in the
//!   region; it is never shown as market data.
//! - a venue ([`VenueFeed`]): the Binance combined stream over TLS WebSocket
//!   ([`tickwire_feed::ws`]), decoded in place, books kept in sync from depth diffs and REST
//!   snapshots fetched by the snapshot thread. Feed state goes `connecting → syncing → live`,
//!   `stale` when no message arrives within the threshold, `disconnected` on loss; each change
//!   reaches the strategy as a status event, so it stops quoting on anything but live data.
//!
//! A full ring is never silent: the event is not delivered, `market_queue_full` counts it, and
//! the strategy sees the next one (market data conflates).

use crate::clock::LatencyClock;
use crate::idle::{Agent, WakeSet};
use crate::log::Logger;
use crate::snapshot::{SnapshotClient, SnapshotRequest};
use crate::stage_samples::StageSamples;
use crate::strategy_agent::MarketMsg;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwire_feed::binance::{BinanceDecoder, BinanceMessage};
use tickwire_feed::depth_sync::{DepthSync, DiffOutcome, SnapshotOutcome};
use tickwire_feed::synthetic::SyntheticQuotes;
use tickwire_feed::ws::{WsConnection, WsEvent};
use tickwire_feed::{DataSource, FeedState, FeedStatus, InstrumentId, MarketEvent, Quote, Side};
use tickwire_shm::layout::{
    BookLevels, CounterId, Level, MarketData, Stage, BOOK_DEPTH, MAX_INSTRUMENTS,
};
use tickwire_shm::region::{mono_now_ns, FeedSection};

/// Levels per side each synchronised book holds.
pub const BOOK_CAPACITY: usize = 5000;

/// Where a feed agent delivers, and how it paces publication.
#[derive(Debug)]
pub struct FeedWiring {
    /// Feed → strategy ring.
    pub strategy_tx: rtrb::Producer<MarketMsg>,
    /// Feed → gateway quote ring (paper mode).
    pub gateway_tx: Option<rtrb::Producer<Quote>>,
    /// The feed's region section.
    pub section: FeedSection,
    /// The latency clock.
    pub clock: LatencyClock,
    /// Minimum interval between market-data publications, ns.
    pub publish_interval_ns: u64,
    /// Market data older than this is stale.
    pub stale_after: Duration,
    /// Stops the agent.
    pub stop: Arc<AtomicBool>,
}

/// A venue connection with its decoder, books and snapshot client.
#[derive(Debug)]
pub struct VenueFeed {
    /// Holds the registry the connection registers its sockets with; the agent reads its socket
    /// on every turn and parks on it in `ppoll` ([`crate::idle::WakeSet`]), so it never waits
    /// in this poll (a zero-timeout `epoll_wait` per turn would cost a system call for nothing).
    poll: mio::Poll,
    conn: WsConnection,
    decoder: BinanceDecoder,
    books: Vec<DepthSync>,
    snapshots: SnapshotClient,
    snapshot_in_flight: Vec<bool>,
    source: DataSource,
    last_message: Vec<Instant>,
    logger: Logger,
    /// The first bookTicker message received, decoded again (result dropped) by
    /// [`Agent::keep_warm`] on a spinning thread's turns that found no work: the system calls of
    /// a busy-polling loop evict the decoder's code and data from the core's caches, and a quote
    /// decoded cold takes several times longer than a warm one. `warm_len == 0` until a
    /// bookTicker has arrived.
    warm_message: Box<[u8; WARM_CAPACITY]>,
    warm_len: usize,
    /// Where the warm message is decoded (the decoder parses in place).
    warm_scratch: Box<[u8; WARM_CAPACITY]>,
}

/// Largest bookTicker message kept for warming the decoder.
const WARM_CAPACITY: usize = 512;

impl VenueFeed {
    /// A venue source for `instruments` books.
    ///
    /// # Errors
    ///
    /// When the poll cannot be created.
    pub fn new(
        conn: WsConnection,
        decoder: BinanceDecoder,
        instruments: usize,
        snapshots: SnapshotClient,
        source: DataSource,
        logger: Logger,
    ) -> std::io::Result<Self> {
        Ok(Self {
            poll: mio::Poll::new()?,
            conn,
            decoder,
            books: (0..instruments)
                .map(|i| DepthSync::new(InstrumentId(i as u16), BOOK_CAPACITY))
                .collect(),
            snapshots,
            snapshot_in_flight: vec![false; instruments],
            source,
            last_message: vec![Instant::now(); instruments],
            logger,
            warm_message: Box::new([0; WARM_CAPACITY]),
            warm_len: 0,
            warm_scratch: Box::new([0; WARM_CAPACITY]),
        })
    }
}

enum Source {
    Synthetic {
        generators: Vec<SyntheticQuotes>,
        /// Ticks between quotes per generator (0: every turn).
        interval_ticks: u64,
        next_ticks: u64,
    },
    Venue(Box<VenueFeed>),
}

/// Everything a source writes to: rings, region, local copies of the published cells.
struct Outputs {
    strategy_tx: rtrb::Producer<MarketMsg>,
    gateway_tx: Option<rtrb::Producer<Quote>>,
    section: FeedSection,
    clock: LatencyClock,
    market: [MarketData; MAX_INSTRUMENTS],
    book_dirty: [bool; MAX_INSTRUMENTS],
    instruments: usize,
    /// Wire→decoded samples, recorded on a turn that read nothing.
    samples: StageSamples,
    /// Market messages not yet added to the region's counter (added with the samples).
    messages_uncounted: u64,
}

impl Outputs {
    /// Records the held samples and adds the uncounted messages to the region's counter.
    fn record_samples(&mut self) {
        let section = &self.section;
        self.samples.record(|stage| section.latency(stage));
        section
            .counter(CounterId::MarketMessages)
            .add(self.messages_uncounted);
        self.messages_uncounted = 0;
    }

    fn push(&mut self, event: MarketEvent) {
        let msg = MarketMsg {
            event,
            pushed_ticks: self.clock.ticks(),
        };
        if self.strategy_tx.push(msg).is_err() {
            self.section.counter(CounterId::MarketQueueFull).add(1);
        }
    }

    fn quote(&mut self, quote: Quote, decoded_ticks: u64) {
        let section = &self.section;
        self.samples.push(
            Stage::WireToDecoded,
            decoded_ticks.wrapping_sub(quote.recv_tsc),
            |stage| section.latency(stage),
        );
        if let Some(tx) = self.gateway_tx.as_mut() {
            if tx.push(quote).is_err() {
                self.section.counter(CounterId::MarketQueueFull).add(1);
            }
        }
        self.push(MarketEvent::Quote(quote));
        let m = &mut self.market[usize::from(quote.instrument.0) % MAX_INSTRUMENTS];
        m.bid = quote.bid.0;
        m.ask = quote.ask.0;
        m.bid_qty = quote.bid_qty.0;
        m.ask_qty = quote.ask_qty.0;
        m.exchange_seq = quote.exchange_seq;
    }

    fn status(&mut self, instrument: usize, state: FeedState, source: DataSource) {
        let m = &mut self.market[instrument];
        if m.feed_state == state.code() && m.data_source == source.code() {
            return;
        }
        m.feed_state = state.code();
        m.data_source = source.code();
        self.push(MarketEvent::Status(FeedStatus {
            instrument: InstrumentId(instrument as u16),
            state,
            source,
        }));
    }

    fn publish(&mut self, books: Option<&[DepthSync]>) {
        self.record_samples();
        for i in 0..self.instruments {
            self.section.market(i).publish(&self.market[i]);
            if let Some(sync) = books.and_then(|b| b.get(i)) {
                if std::mem::take(&mut self.book_dirty[i]) {
                    let mut levels = BookLevels::default();
                    for (n, (p, q)) in sync.book().top(Side::Buy, BOOK_DEPTH).enumerate() {
                        levels.bids[n] = Level {
                            price: p.0,
                            qty: q.0,
                        };
                        levels.bid_count = n as u32 + 1;
                    }
                    for (n, (p, q)) in sync.book().top(Side::Sell, BOOK_DEPTH).enumerate() {
                        levels.asks[n] = Level {
                            price: p.0,
                            qty: q.0,
                        };
                        levels.ask_count = n as u32 + 1;
                    }
                    self.section.book(i).publish(&levels);
                }
            }
        }
    }
}

/// The feed thread's agent.
pub struct FeedAgent {
    source: Source,
    out: Outputs,
    publish_ticks: u64,
    next_publish: u64,
    stale_after: Duration,
    stop: Arc<AtomicBool>,
    started: bool,
}

impl std::fmt::Debug for FeedAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedAgent")
            .field("instruments", &self.out.instruments)
            .finish_non_exhaustive()
    }
}

impl FeedAgent {
    fn with_source(source: Source, instruments: usize, wiring: FeedWiring) -> Self {
        let clock = wiring.clock;
        Self {
            source,
            out: Outputs {
                strategy_tx: wiring.strategy_tx,
                gateway_tx: wiring.gateway_tx,
                section: wiring.section,
                market: [MarketData::default(); MAX_INSTRUMENTS],
                book_dirty: [false; MAX_INSTRUMENTS],
                instruments: instruments.min(MAX_INSTRUMENTS),
                clock: clock.clone(),
                samples: StageSamples::default(),
                messages_uncounted: 0,
            },
            publish_ticks: clock.ns_to_ticks(wiring.publish_interval_ns),
            next_publish: 0,
            stale_after: wiring.stale_after,
            stop: wiring.stop,
            started: false,
        }
    }

    /// A synthetic feed producing `rate_hz` quotes per second per generator (0: as fast as the
    /// strategy ring takes them).
    pub fn synthetic(generators: Vec<SyntheticQuotes>, rate_hz: u32, wiring: FeedWiring) -> Self {
        let interval_ticks = if rate_hz == 0 {
            0
        } else {
            wiring.clock.ns_to_ticks(1_000_000_000 / u64::from(rate_hz))
        };
        let instruments = generators.len();
        Self::with_source(
            Source::Synthetic {
                generators,
                interval_ticks,
                next_ticks: 0,
            },
            instruments,
            wiring,
        )
    }

    /// A feed from a venue connection.
    pub fn venue(feed: VenueFeed, wiring: FeedWiring) -> Self {
        let instruments = feed.books.len();
        Self::with_source(Source::Venue(Box::new(feed)), instruments, wiring)
    }

    fn start(&mut self) {
        self.started = true;
        for i in 0..self.out.instruments {
            match &self.source {
                Source::Synthetic { .. } => {
                    self.out.status(i, FeedState::Live, DataSource::Synthetic)
                }
                Source::Venue(v) => self.out.status(i, FeedState::Connecting, v.source),
            }
        }
        self.out.publish(None);
    }

    fn synthetic_turn(&mut self, now: u64) -> usize {
        let Source::Synthetic {
            generators,
            interval_ticks,
            next_ticks,
        } = &mut self.source
        else {
            return 0;
        };
        if now < *next_ticks {
            return 0;
        }
        *next_ticks = if *next_ticks == 0 || *interval_ticks == 0 {
            now + *interval_ticks
        } else {
            *next_ticks + *interval_ticks
        };
        let mut work = 0;
        for g in generators.iter_mut() {
            let read = self.out.clock.ticks();
            let quote = g.next_quote(read);
            let decoded = self.out.clock.ticks();
            self.out.quote(quote, decoded);
            self.out.market[usize::from(quote.instrument.0) % MAX_INSTRUMENTS].messages += 1;
            work += 1;
        }
        self.out.messages_uncounted += work as u64;
        work
    }

    fn venue_turn(&mut self) -> usize {
        let Source::Venue(v) = &mut self.source else {
            return 0;
        };
        let out = &mut self.out;
        let mut work = 0;
        let now = Instant::now();
        let VenueFeed {
            poll,
            conn,
            decoder,
            books,
            snapshots,
            snapshot_in_flight,
            source,
            last_message,
            logger,
            warm_message,
            warm_len,
            warm_scratch,
            ..
        } = &mut **v;
        let source = *source;
        let event = conn.drive(poll.registry(), now, &mut |bytes| {
            work += 1;
            let recv = out.clock.ticks();
            // Until a bookTicker has been kept for warming, each message is a candidate (the
            // decoder parses in place: copied before it is decoded).
            let candidate = *warm_len == 0 && bytes.len() <= WARM_CAPACITY;
            if candidate {
                warm_scratch[..bytes.len()].copy_from_slice(bytes);
            }
            let message = match decoder.decode(bytes, recv) {
                Ok(m) => m,
                Err(_) => {
                    out.section.counter(CounterId::DecodeErrors).add(1);
                    return;
                }
            };
            let decoded = out.clock.ticks();
            out.messages_uncounted += 1;
            let i = match message {
                BinanceMessage::BookTicker(q) => usize::from(q.instrument.0),
                BinanceMessage::Trade(t) => usize::from(t.instrument.0),
                BinanceMessage::DepthUpdate(d) => usize::from(d.instrument.0),
            };
            if i >= out.instruments {
                return;
            }
            last_message[i] = now;
            out.market[i].messages += 1;
            match message {
                BinanceMessage::BookTicker(q) => {
                    if q.is_valid() {
                        out.quote(q, decoded);
                    }
                    if candidate {
                        warm_message[..bytes.len()].copy_from_slice(&warm_scratch[..bytes.len()]);
                        *warm_len = bytes.len();
                    }
                }
                BinanceMessage::Trade(t) => {
                    out.market[i].last = t.price.0;
                    out.market[i].last_qty = t.qty.0;
                    out.push(MarketEvent::Trade(t));
                }
                BinanceMessage::DepthUpdate(d) => {
                    let outcome = books[i].on_diff(
                        d.first_update_id,
                        d.last_update_id,
                        decoder.bids(),
                        decoder.asks(),
                    );
                    match outcome {
                        DiffOutcome::Applied => {
                            out.book_dirty[i] = true;
                            if let Some(top) = books[i].book().book_top(recv) {
                                out.push(MarketEvent::Book(top));
                            }
                        }
                        DiffOutcome::Gap => {
                            out.market[i].gaps += 1;
                            out.section.counter(CounterId::FeedGaps).add(1);
                            out.status(i, FeedState::Syncing, source);
                            if !snapshot_in_flight[i]
                                && snapshots
                                    .requests
                                    .push(SnapshotRequest {
                                        instrument: i as u16,
                                    })
                                    .is_ok()
                            {
                                snapshot_in_flight[i] = true;
                            }
                        }
                        DiffOutcome::Buffered | DiffOutcome::Stale => {}
                    }
                }
            }
            if out.market[i].feed_state == FeedState::Stale.code() && books[i].is_synced() {
                out.status(i, FeedState::Live, source);
            }
        });
        let logged = event.as_ref().is_none_or(|event| {
            logger.connection(
                event,
                "connected, subscribed; reconnects so far {}",
                conn.reconnects(),
            )
        });
        if !logged {
            out.section.counter(CounterId::LogQueueFull).add_shared(1);
        }
        match event {
            Some(WsEvent::Connected) => {
                for (i, in_flight) in snapshot_in_flight.iter_mut().enumerate() {
                    out.status(i, FeedState::Syncing, source);
                    last_message[i] = now;
                    if !*in_flight
                        && snapshots
                            .requests
                            .push(SnapshotRequest {
                                instrument: i as u16,
                            })
                            .is_ok()
                    {
                        *in_flight = true;
                    }
                }
            }
            Some(WsEvent::Disconnected { .. }) => {
                out.section.counter(CounterId::FeedReconnects).add(1);
                for (i, sync) in books.iter_mut().enumerate() {
                    *sync = DepthSync::new(InstrumentId(i as u16), BOOK_CAPACITY);
                    out.market[i].reconnects += 1;
                    out.status(i, FeedState::Disconnected, source);
                }
            }
            None => {}
        }
        while let Ok(reply) = snapshots.replies.pop() {
            work += 1;
            let i = usize::from(reply.instrument);
            if i >= out.instruments {
                continue;
            }
            snapshot_in_flight[i] = false;
            let outcome = match reply.body {
                Ok(mut body) => {
                    match decoder.decode_snapshot(&mut body, InstrumentId(reply.instrument)) {
                        Ok(snap) => Some(books[i].on_snapshot(
                            snap.last_update_id,
                            decoder.bids(),
                            decoder.asks(),
                        )),
                        Err(_) => {
                            out.section.counter(CounterId::DecodeErrors).add(1);
                            None
                        }
                    }
                }
                Err(_) => None,
            };
            match outcome {
                Some(SnapshotOutcome::Synced { .. }) => {
                    out.market[i].resyncs += 1;
                    out.section.counter(CounterId::FeedResyncs).add(1);
                    out.book_dirty[i] = true;
                    out.status(i, FeedState::Live, source);
                }
                _ if conn.is_open()
                    && snapshots
                        .requests
                        .push(SnapshotRequest {
                            instrument: i as u16,
                        })
                        .is_ok() =>
                {
                    snapshot_in_flight[i] = true;
                }
                _ => {}
            }
        }
        for (i, last) in last_message.iter().enumerate().take(out.instruments) {
            if out.market[i].feed_state == FeedState::Live.code()
                && now.saturating_duration_since(*last) > self.stale_after
            {
                out.status(i, FeedState::Stale, source);
            }
        }
        work
    }
}

impl Agent for FeedAgent {
    fn role_name(&self) -> &'static str {
        "feed"
    }

    fn do_work(&mut self) -> usize {
        if !self.started {
            self.start();
        }
        let now = self.out.clock.ticks();
        let work = match self.source {
            Source::Synthetic { .. } => self.synthetic_turn(now),
            Source::Venue(_) => self.venue_turn(),
        };
        // Publication (with the stage samples and the message count) waits for a turn that read
        // nothing, so on a shared thread it never sits between a quote and the decision on it;
        // under load it runs once a period late (and samples whenever their buffer fills).
        if now >= self.next_publish
            && (work == 0 || now >= self.next_publish.saturating_add(self.publish_ticks))
        {
            self.next_publish = now + self.publish_ticks;
            let mono = mono_now_ns();
            let books = match &self.source {
                Source::Venue(v) => {
                    for (m, last) in self.out.market.iter_mut().zip(&v.last_message) {
                        m.last_msg_mono_ns = mono.saturating_sub(last.elapsed().as_nanos() as u64);
                    }
                    Some(v.books.as_slice())
                }
                Source::Synthetic { .. } => {
                    for m in self.out.market.iter_mut().take(self.out.instruments) {
                        m.last_msg_mono_ns = mono;
                    }
                    None
                }
            };
            self.out.publish(books);
        }
        work
    }

    fn is_done(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn wake_fds(&self, set: &mut WakeSet) {
        if let Some(fd) = match &self.source {
            Source::Venue(v) => v.conn.socket_fd(),
            Source::Synthetic { .. } => None,
        } {
            set.add(fd);
        }
    }

    /// Decodes the kept bookTicker again (from a copy: the decoder parses in place).
    fn keep_warm(&mut self) {
        crate::ring::warm_next_slot(&mut self.out.strategy_tx);
        if let Source::Venue(v) = &mut self.source {
            if v.warm_len > 0 {
                let scratch = &mut v.warm_scratch[..v.warm_len];
                scratch.copy_from_slice(&v.warm_message[..v.warm_len]);
                let _ = std::hint::black_box(v.decoder.decode(scratch, 0));
            }
        }
    }
}
