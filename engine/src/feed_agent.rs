//! The feed thread's agent: produces market events, pushes them to the strategy (and, in paper
//! mode, to the gateway), and publishes market data to the region at a bounded rate.
//!
//! With `feed.source = "synthetic"` the events come from [`SyntheticQuotes`], and every
//! instrument's data source reads `synthetic` in the region: it is never shown as market data.
//! A full ring is never silent: the event is not delivered, `market_queue_full` counts it, and
//! the strategy sees the next quote (quotes conflate; nothing else is pushed on this ring).

use crate::clock::LatencyClock;
use crate::idle::Agent;
use crate::strategy_agent::MarketMsg;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tickwire_feed::synthetic::SyntheticQuotes;
use tickwire_feed::{DataSource, FeedState, FeedStatus, InstrumentId, MarketEvent, Quote};
use tickwire_shm::layout::{CounterId, MarketData, Stage, MAX_INSTRUMENTS};
use tickwire_shm::region::{mono_now_ns, FeedSection};

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
    /// Stops the agent.
    pub stop: Arc<AtomicBool>,
}

/// The feed thread's agent.
#[derive(Debug)]
pub struct FeedAgent {
    sources: Vec<SyntheticQuotes>,
    strategy_tx: rtrb::Producer<MarketMsg>,
    gateway_tx: Option<rtrb::Producer<Quote>>,
    section: FeedSection,
    clock: LatencyClock,
    /// Ticks between quotes per source (0: every turn).
    interval_ticks: u64,
    next_ticks: u64,
    publish_ticks: u64,
    next_publish: u64,
    market: [MarketData; MAX_INSTRUMENTS],
    queue_full: u64,
    stop: Arc<AtomicBool>,
    started: bool,
}

impl FeedAgent {
    /// A synthetic feed producing `rate_hz` quotes per second per source (0: as fast as the
    /// strategy ring takes them).
    pub fn synthetic(sources: Vec<SyntheticQuotes>, rate_hz: u32, wiring: FeedWiring) -> Self {
        let clock = wiring.clock;
        let interval_ticks = if rate_hz == 0 {
            0
        } else {
            clock.ns_to_ticks(1_000_000_000 / u64::from(rate_hz))
        };
        Self {
            sources,
            strategy_tx: wiring.strategy_tx,
            gateway_tx: wiring.gateway_tx,
            section: wiring.section,
            interval_ticks,
            next_ticks: 0,
            publish_ticks: clock.ns_to_ticks(wiring.publish_interval_ns),
            next_publish: 0,
            market: [MarketData::default(); MAX_INSTRUMENTS],
            queue_full: 0,
            clock,
            stop: wiring.stop,
            started: false,
        }
    }

    fn push(&mut self, event: MarketEvent) -> bool {
        let msg = MarketMsg {
            event,
            pushed_ticks: self.clock.ticks(),
        };
        if self.strategy_tx.push(msg).is_ok() {
            return true;
        }
        self.queue_full += 1;
        self.section.counter(CounterId::MarketQueueFull).add(1);
        false
    }

    fn start(&mut self) {
        self.started = true;
        for i in 0..self.sources.len() {
            let status = FeedStatus {
                instrument: InstrumentId(i as u16),
                state: FeedState::Live,
                source: DataSource::Synthetic,
            };
            self.market[i].feed_state = FeedState::Live.code();
            self.market[i].data_source = DataSource::Synthetic.code();
            self.push(MarketEvent::Status(status));
        }
        self.publish();
    }

    fn publish(&mut self) {
        for (i, m) in self.market.iter().enumerate().take(self.sources.len()) {
            self.section.market(i).publish(m);
        }
    }

    /// Events that found the strategy ring full.
    pub fn queue_full(&self) -> u64 {
        self.queue_full
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
        let now = self.clock.ticks();
        if now < self.next_ticks {
            return 0;
        }
        self.next_ticks = if self.next_ticks == 0 || self.interval_ticks == 0 {
            now + self.interval_ticks
        } else {
            self.next_ticks + self.interval_ticks
        };
        let mut work = 0;
        for i in 0..self.sources.len() {
            let read = self.clock.ticks();
            let quote = self.sources[i].next_quote(read);
            let decoded = self.clock.ticks();
            self.section
                .latency(Stage::WireToDecoded)
                .record(decoded.wrapping_sub(read));
            if let Some(tx) = self.gateway_tx.as_mut() {
                if tx.push(quote).is_err() {
                    self.section.counter(CounterId::MarketQueueFull).add(1);
                }
            }
            self.push(MarketEvent::Quote(quote));
            let m = &mut self.market[i];
            m.bid = quote.bid.0;
            m.ask = quote.ask.0;
            m.bid_qty = quote.bid_qty.0;
            m.ask_qty = quote.ask_qty.0;
            m.exchange_seq = quote.exchange_seq;
            m.messages += 1;
            work += 1;
        }
        self.section
            .counter(CounterId::MarketMessages)
            .add(work as u64);
        if now >= self.next_publish {
            self.next_publish = now + self.publish_ticks;
            let mono = mono_now_ns();
            for m in self.market.iter_mut().take(self.sources.len()) {
                m.last_msg_mono_ns = mono;
            }
            self.publish();
        }
        work
    }

    fn is_done(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}
