//! The strategy thread's agent: drains execution reports and market events, runs the strategy,
//! handles operator commands, and publishes its state to the region at a bounded rate.
//!
//! # Per loop turn (hot path)
//!
//! Pop execution reports, then up to [`MARKET_BATCH`] market events; for each, record the ring
//! hop and decide latency into the region's histograms (raw latency-clock ticks). Nothing here
//! allocates, locks, logs through a macro, formats or makes a system call.
//!
//! # Timer (every [`TIMER_INTERVAL_NS`])
//!
//! Heartbeat, control commands, the shutdown flag, order acknowledgement timeouts (unknown
//! orders, cancelled by client id; reduce-only and the `ORDER_UNKNOWN` alarm while one stays
//! unknown — see the `strategy` module), the storage alarm (reduce-only), feed staleness, the
//! strategy's timer, owed cancels, the journal overflow, allocation and wall-clock checks, and —
//! at most every `publish_interval_us` — the seqlock publications. Publishing at a bounded
//! rate keeps a monitor's reads from starving (see DESIGN.md).

use crate::alloc::thread_allocations;
use crate::clock::WallClockWatch;
use crate::idle::Agent;
use crate::journal::{EngineEvent, JournalRecord};
use crate::log::{Level, Logger};
use crate::stage_samples::StageSamples;
use crate::strategy::{side_code, Strategy, TradingContext};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tickwire_feed::{FeedState, InstrumentId, MarketEvent, Price, Qty, Side};
use tickwire_gateway::{ExecKind, ExecReport, OrderKind};
use tickwire_shm::control::{Ack, Command, ControlRequest};
use tickwire_shm::layout::{
    alarms, CounterId, EngineState, EngineStatus, OpenOrders, OrderEntry, Position, Reason,
    RiskState, Stage, MAX_INSTRUMENTS,
};
use tickwire_shm::region::{mono_now_ns, unix_now_ns, ControlEnd};

/// Market events handled per loop turn at most (reports and commands get a turn in between).
pub const MARKET_BATCH: usize = 64;
/// Interval of the timer work, ns.
pub const TIMER_INTERVAL_NS: u64 = 100_000;
const PNL_INTERVAL_NS: u64 = 1_000_000_000;
const CLOCK_CHECK_INTERVAL_NS: u64 = 100_000_000;
/// A wall-clock step this much larger or smaller than monotonic progress is a jump.
pub const CLOCK_JUMP_THRESHOLD_NS: u64 = 1_000_000_000;

/// A market event with the ticks at which the feed pushed it.
#[derive(Debug, Clone, Copy)]
pub struct MarketMsg {
    /// The event.
    pub event: MarketEvent,
    /// Latency-clock ticks at the push.
    pub pushed_ticks: u64,
}

/// The strategy thread's agent.
#[derive(Debug)]
pub struct StrategyAgent<S: Strategy> {
    strategy: S,
    ctx: TradingContext,
    market_rx: rtrb::Consumer<MarketMsg>,
    report_rx: rtrb::Consumer<ExecReport>,
    control: ControlEnd,
    stop: Arc<AtomicBool>,
    storage_alarm: Arc<AtomicBool>,
    logger: Logger,
    timer_ticks: u64,
    next_timer: u64,
    publish_ticks: u64,
    next_publish: u64,
    next_pnl: u64,
    next_clock_check: u64,
    wall_watch: WallClockWatch,
    events: u64,
    loops: u64,
    /// Feed→strategy and decide samples, recorded on a turn without events.
    samples: StageSamples,
    warmup_events: u64,
    alloc_baseline: Option<u64>,
    /// Allocations made inside this agent's own turns (the thread may run other agents too).
    own_allocations: u64,
    hot_allocations: u64,
    alarms: u32,
    journal_full_published: u64,
    stop_deadline: Option<u64>,
    stop_ticks: u64,
    done: bool,
    status_template: EngineStatus,
}

/// Whether the strategy may skip deciding on `event`: it is a quote, and `next`, already queued
/// behind it, is a newer quote of the same instrument. A strategy that has fallen behind the
/// feed decides on the latest quote of a burst, not on each stale one in turn (quotes conflate;
/// trades, book changes and status changes are all delivered).
fn superseded(event: &MarketEvent, next: Option<&MarketMsg>) -> bool {
    match (event, next.map(|m| &m.event)) {
        (MarketEvent::Quote(q), Some(MarketEvent::Quote(n))) => q.instrument == n.instrument,
        _ => false,
    }
}

/// What the agent needs besides the strategy and its context.
#[derive(Debug)]
pub struct StrategyWiring {
    /// Feed → strategy ring.
    pub market_rx: rtrb::Consumer<MarketMsg>,
    /// Gateway → strategy ring.
    pub report_rx: rtrb::Consumer<ExecReport>,
    /// Control ring end.
    pub control: ControlEnd,
    /// Set by the signal handler.
    pub stop: Arc<AtomicBool>,
    /// Set by the persistence thread while the journal cannot write.
    pub storage_alarm: Arc<AtomicBool>,
    /// This thread's logger.
    pub logger: Logger,
    /// Publication interval, ns.
    pub publish_interval_ns: u64,
    /// Longest wait for cancel acknowledgements at shutdown, ns.
    pub shutdown_timeout_ns: u64,
    /// Market events before allocation counting starts.
    pub warmup_events: u64,
    /// Static fields of the published engine status (mode, core, idle).
    pub status_template: EngineStatus,
}

impl<S: Strategy> StrategyAgent<S> {
    /// Wires an agent.
    pub fn new(strategy: S, ctx: TradingContext, w: StrategyWiring) -> Self {
        let clock = ctx.clock.clone();
        let now = clock.ticks();
        Self {
            strategy,
            market_rx: w.market_rx,
            report_rx: w.report_rx,
            control: w.control,
            stop: w.stop,
            storage_alarm: w.storage_alarm,
            logger: w.logger,
            timer_ticks: clock.ns_to_ticks(TIMER_INTERVAL_NS),
            next_timer: now,
            publish_ticks: clock.ns_to_ticks(w.publish_interval_ns),
            next_publish: now,
            next_pnl: now + clock.ns_to_ticks(PNL_INTERVAL_NS),
            next_clock_check: now,
            wall_watch: WallClockWatch::new(CLOCK_JUMP_THRESHOLD_NS),
            events: 0,
            loops: 0,
            samples: StageSamples::default(),
            warmup_events: w.warmup_events,
            alloc_baseline: None,
            own_allocations: 0,
            hot_allocations: 0,
            alarms: 0,
            journal_full_published: 0,
            stop_deadline: None,
            stop_ticks: clock.ns_to_ticks(w.shutdown_timeout_ns),
            done: false,
            status_template: w.status_template,
            ctx,
        }
    }

    /// Records where the strategy thread runs (published in the engine status).
    pub fn set_placement(&mut self, core: i32, sched_fifo: bool) {
        self.status_template.strategy_core = core;
        self.status_template.sched_fifo = u32::from(sched_fifo);
    }

    /// This thread's logger.
    pub fn logger_mut(&mut self) -> &mut Logger {
        &mut self.logger
    }

    /// Logs through the ring; a record that finds it full is counted, not waited on.
    fn log(&mut self, level: Level, template: &'static str, args: [i64; 3]) {
        if !self.logger.log(level, template, args) {
            self.ctx
                .section
                .counter(CounterId::LogQueueFull)
                .add_shared(1);
        }
    }

    /// Heap allocations counted on this thread since warm-up.
    pub fn hot_path_allocations(&self) -> u64 {
        self.hot_allocations
    }

    /// Market events handled.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The trading context (for inspection in tests).
    pub fn context(&self) -> &TradingContext {
        &self.ctx
    }

    /// Handles one market event; a `superseded` quote (a newer quote of its instrument is
    /// already queued behind it) updates the market state without a decision.
    fn on_market(&mut self, msg: MarketMsg, superseded: bool) {
        let now = self.ctx.clock.ticks();
        self.ctx.now_ticks = now;
        let section = &self.ctx.section;
        self.samples.push(
            Stage::FeedToStrategy,
            now.wrapping_sub(msg.pushed_ticks),
            |stage| section.latency(stage),
        );
        let index = usize::from(msg.event.instrument().0) % MAX_INSTRUMENTS;
        match msg.event {
            MarketEvent::Quote(q) => {
                let m = &mut self.ctx.markets[index];
                m.quote = Some(q);
                m.updated_ticks = now;
                if m.state == FeedState::Stale {
                    m.state = FeedState::Live;
                }
                if superseded {
                    self.events += 1;
                    return;
                }
                self.ctx.cause_ticks = q.recv_tsc;
                self.strategy.on_quote(&q, &mut self.ctx);
            }
            MarketEvent::Book(b) => {
                self.ctx.markets[index].updated_ticks = now;
                self.ctx.cause_ticks = b.recv_tsc;
                self.strategy.on_book(&b, &mut self.ctx);
            }
            MarketEvent::Trade(t) => {
                let m = &mut self.ctx.markets[index];
                m.last_trade = Some(t);
                m.updated_ticks = now;
                self.ctx.cause_ticks = t.recv_tsc;
                self.strategy.on_trade(&t, &mut self.ctx);
            }
            MarketEvent::Status(s) => {
                let m = &mut self.ctx.markets[index];
                m.state = s.state;
                m.source = s.source;
                m.updated_ticks = now;
                self.ctx.cause_ticks = 0;
                self.strategy.on_timer(&mut self.ctx);
            }
        }
        let decided = self.ctx.clock.ticks();
        let section = &self.ctx.section;
        self.samples
            .push(Stage::Decide, decided.wrapping_sub(now), |stage| {
                section.latency(stage)
            });
        self.events += 1;
    }

    fn on_report(&mut self, report: ExecReport) {
        self.ctx.now_ticks = self.ctx.clock.ticks();
        self.ctx.cause_ticks = 0;
        if let ExecKind::Rejected(_) = report.kind {
            self.log(
                Level::Warn,
                "order {} rejected by the venue",
                [report.client_id as i64, 0, 0],
            );
        }
        if self.ctx.apply_report(&report) {
            self.strategy.on_fill(&report, &mut self.ctx);
        }
    }

    fn on_command(&mut self, request: ControlRequest) {
        use EngineState as S;
        let state = self.ctx.state;
        let ack = match request.command {
            None => Ack::UnknownCommand,
            Some(_) if state == S::Stopping => Ack::Refused,
            Some(Command::Pause) => match state {
                S::Paused => Ack::Unchanged,
                S::Halted => Ack::Refused,
                _ => {
                    self.ctx.set_state(S::Paused, Reason::Operator);
                    self.ctx.cancel_all(None);
                    Ack::Done
                }
            },
            Some(Command::Resume) => match state {
                S::Paused => {
                    self.ctx.set_state(S::Running, Reason::None);
                    Ack::Done
                }
                S::Running => Ack::Unchanged,
                _ => Ack::Refused,
            },
            Some(Command::Flatten) => self.flatten(),
            Some(Command::Kill) => {
                if state == S::Halted && self.ctx.reason == Reason::KillSwitch {
                    Ack::Unchanged
                } else {
                    self.ctx.kill(Reason::KillSwitch);
                    Ack::Done
                }
            }
        };
        self.control.ack(request, ack);
        self.ctx.section.counter(CounterId::ControlCommands).add(1);
        let unix_ns = self.ctx.unix_ns();
        self.ctx.journal.send(JournalRecord::Event {
            event: EngineEvent::Control,
            a: request.code as i64,
            b: i64::from(ack.code()),
            unix_ns,
        });
        self.log(
            Level::Info,
            "control command {} acknowledged with {}",
            [request.code as i64, i64::from(ack.code()), 0],
        );
    }

    /// Pause, cancel everything, and close each position with an IOC at the touch.
    fn flatten(&mut self) -> Ack {
        if self.ctx.state == EngineState::Halted {
            return Ack::Refused;
        }
        if self.ctx.state != EngineState::Paused {
            self.ctx.set_state(EngineState::Paused, Reason::Operator);
        }
        self.ctx.cancel_all(None);
        for i in 0..MAX_INSTRUMENTS {
            let instrument = InstrumentId(i as u16);
            let position = self.ctx.position(instrument);
            let Some(quote) = self.ctx.markets[i].quote else {
                continue;
            };
            if position == 0 {
                continue;
            }
            let (side, price) = if position > 0 {
                (Side::Sell, quote.bid)
            } else {
                (Side::Buy, quote.ask)
            };
            let placed = self.ctx.place_checked(
                instrument,
                side,
                Price(price.0),
                Qty(position.abs()),
                OrderKind::Ioc,
                true,
            );
            if placed.is_err() {
                return Ack::Refused;
            }
        }
        Ack::Done
    }

    fn timer(&mut self, now: u64) {
        self.next_timer = now + self.timer_ticks;
        self.ctx.now_ticks = now;
        self.ctx.cause_ticks = 0;
        let section = &self.ctx.section;
        self.samples.record(|stage| section.latency(stage));
        let mono = mono_now_ns();
        self.ctx.section.heartbeat(mono);

        while let Some(request) = self.control.poll(mono) {
            self.on_command(request);
        }

        if self.stop.load(Ordering::Relaxed) && self.stop_deadline.is_none() {
            self.stop_deadline = Some(now + self.stop_ticks);
            self.ctx.set_state(EngineState::Stopping, Reason::Signal);
            self.ctx.cancel_all(None);
            self.log(
                Level::Info,
                "stopping: cancelling {} open orders",
                [self.ctx.orders.len() as i64, 0, 0],
            );
        }

        let ack = self.ctx.check_ack_timeouts(now);
        if ack.timed_out > 0 {
            let timeout_ms = self.ctx.clock.ticks_to_ns(self.ctx.ack_timeout_ticks) / 1_000_000;
            self.log(
                Level::Warn,
                "{} order requests unanswered after {} ms: orders unknown, cancelled by client id",
                [i64::from(ack.timed_out), timeout_ms as i64, 0],
            );
        }
        if ack.overdue_changed {
            let overdue = self.ctx.orders_overdue;
            self.set_alarm(alarms::ORDER_UNKNOWN, overdue);
            if overdue {
                self.log(
                    Level::Error,
                    "an order is unknown and its cancel unanswered: reduce-only",
                    [0; 3],
                );
            } else {
                self.log(
                    Level::Info,
                    "unknown orders resolved: reduce-only for them lifted",
                    [0; 3],
                );
            }
        }

        let storage_alarm = self.storage_alarm.load(Ordering::Acquire);
        if storage_alarm != self.ctx.storage_alarm {
            self.ctx.storage_alarm = storage_alarm;
            self.ctx.dirty = true;
            self.set_alarm(alarms::STORAGE, storage_alarm);
        }

        let mut feed_alarm = false;
        for i in 0..MAX_INSTRUMENTS {
            let m = &mut self.ctx.markets[i];
            if m.state == FeedState::Live
                && now.wrapping_sub(m.updated_ticks) > self.ctx.stale_ticks
            {
                m.state = FeedState::Stale;
            }
            feed_alarm |= m.source != tickwire_feed::DataSource::None && m.state != FeedState::Live;
        }
        self.set_alarm(alarms::FEED, feed_alarm);

        self.strategy.on_timer(&mut self.ctx);
        self.ctx.retry_cancels();
        self.ctx.journal.flush_overflow();

        self.check_allocations();
        if now >= self.next_clock_check {
            self.next_clock_check = now + self.ctx.clock.ns_to_ticks(CLOCK_CHECK_INTERVAL_NS);
            if let Some(jump) = self.wall_watch.check(mono, unix_now_ns()) {
                self.ctx.section.counter(CounterId::ClockJumps).add(1);
                self.set_alarm(alarms::CLOCK_JUMP, true);
                let unix_ns = self.ctx.unix_ns();
                self.ctx.journal.send(JournalRecord::Event {
                    event: EngineEvent::ClockJump,
                    a: jump,
                    b: 0,
                    unix_ns,
                });
                self.log(
                    Level::Warn,
                    "wall clock jumped by {} ns; intervals use the monotonic clock",
                    [jump, 0, 0],
                );
            }
        }
        if now >= self.next_pnl {
            self.next_pnl = now + self.ctx.clock.ns_to_ticks(PNL_INTERVAL_NS);
            self.journal_pnl();
        }
        if now >= self.next_publish || (self.ctx.dirty && self.stop_deadline.is_some()) {
            self.next_publish = now + self.publish_ticks;
            self.publish();
        }
        if let Some(deadline) = self.stop_deadline {
            if self.ctx.orders.is_empty() || now >= deadline {
                if !self.ctx.orders.is_empty() {
                    self.log(
                        Level::Error,
                        "shutdown timeout: {} orders not confirmed cancelled",
                        [self.ctx.orders.len() as i64, 0, 0],
                    );
                }
                self.journal_pnl();
                let unix_ns = self.ctx.unix_ns();
                self.ctx.journal.send(JournalRecord::Event {
                    event: EngineEvent::Stopped,
                    a: self.ctx.orders.len() as i64,
                    b: 0,
                    unix_ns,
                });
                self.ctx.set_state(EngineState::Stopped, Reason::Signal);
                self.publish();
                self.done = true;
            }
        }
    }

    fn set_alarm(&mut self, bit: u32, on: bool) {
        let before = self.alarms;
        if on {
            self.alarms |= bit;
        } else {
            self.alarms &= !bit;
        }
        if before != self.alarms {
            self.ctx.dirty = true;
        }
    }

    fn check_allocations(&mut self) {
        match self.alloc_baseline {
            None if self.events >= self.warmup_events => {
                self.alloc_baseline = Some(self.own_allocations);
            }
            Some(baseline) => {
                let now = self.own_allocations - baseline;
                if now > self.hot_allocations {
                    self.ctx
                        .section
                        .counter(CounterId::HotPathAllocations)
                        .add(now - self.hot_allocations);
                    self.hot_allocations = now;
                    self.set_alarm(alarms::HOT_PATH_ALLOCATION, true);
                }
            }
            None => {}
        }
    }

    fn journal_pnl(&mut self) {
        let unix_ns = self.ctx.unix_ns();
        for i in 0..MAX_INSTRUMENTS {
            let instrument = InstrumentId(i as u16);
            let p = *self.ctx.positions.get(instrument);
            if p.fills == 0 {
                continue;
            }
            let mark = self.ctx.markets[i]
                .quote
                .map_or(Price(0), |q| Price(q.mid2().0 / 2));
            self.ctx.journal.send(JournalRecord::Pnl {
                instrument: instrument.0,
                position: p.qty,
                avg_price: p.avg_price().0,
                realized: saturate(p.realized),
                unrealized: saturate(p.unrealized(mark)),
                unix_ns,
            });
        }
    }

    /// Publishes engine status, risk, open orders and positions.
    fn publish(&mut self) {
        let ctx = &mut self.ctx;
        ctx.dirty = false;
        let s = &ctx.section;
        let queue_full =
            s.counter(CounterId::OrderQueueFull).get() > 0 || ctx.journal.ring_full() > 0;
        let alarm_bits = self.alarms | if queue_full { alarms::QUEUE_FULL } else { 0 };
        s.engine().publish(&EngineStatus {
            state: ctx.state.code(),
            reason: ctx.reason.code(),
            state_since_unix_ns: ctx.state_since_unix_ns,
            reduce_only: u32::from(ctx.reduce_only()),
            alarms: alarm_bits,
            events: self.events,
            ..self.status_template
        });
        let mut worst = 0i64;
        for i in 0..MAX_INSTRUMENTS {
            let p = *ctx.positions.get(InstrumentId(i as u16));
            worst = worst.max(p.qty.abs());
            let mark = ctx.markets[i]
                .quote
                .map_or(Price(0), |q| Price(q.mid2().0 / 2));
            s.position(i).publish(&Position {
                qty: p.qty,
                avg_price: p.avg_price().0,
                realized_pnl: saturate(p.realized),
                unrealized_pnl: if mark.0 == 0 {
                    0
                } else {
                    saturate(p.unrealized(mark))
                },
                mark_price: mark.0,
                volume: p.volume,
                fills: p.fills,
            });
        }
        let limits = ctx.limits[0];
        s.risk().publish(&RiskState {
            max_position: limits.max_position,
            max_notional: saturate(limits.max_notional),
            max_orders_per_sec: limits.max_orders_per_sec,
            price_band_bps: limits.price_band_bps,
            max_open_orders: limits.max_open_orders,
            stale_feed_ms: (ctx.clock.ticks_to_ns(ctx.stale_ticks) / 1_000_000) as u32,
            position_used: worst,
            orders_this_sec: ctx.rate.count(),
            open_orders: ctx.orders.len() as u32,
            kill_switch: u32::from(
                ctx.state == EngineState::Halted && ctx.reason == Reason::KillSwitch,
            ),
            reduce_only: u32::from(ctx.reduce_only()),
            rejects: ctx.rejects,
        });
        let mut open = OpenOrders::default();
        for (slot, o) in open.orders.iter_mut().zip(ctx.orders.iter()) {
            *slot = OrderEntry {
                client_id: o.client_id,
                instrument: u32::from(o.instrument.0),
                side: side_code(o.side),
                price: o.price.0,
                qty: o.qty.0,
                filled: o.filled.0,
                state: o.state.code(),
                post_only: u32::from(o.post_only),
                created_unix_ns: o.created_unix_ns,
            };
        }
        open.count = ctx.orders.len() as u64;
        s.open_orders().publish(&open);
        s.counter(CounterId::StrategyLoops).add(self.loops);
        self.loops = 0;
        let journal_full = ctx.journal.ring_full();
        s.counter(CounterId::JournalQueueFull)
            .add_shared(journal_full - self.journal_full_published);
        self.journal_full_published = journal_full;
    }
}

fn saturate(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

impl<S: Strategy> Agent for StrategyAgent<S> {
    fn role_name(&self) -> &'static str {
        "strategy"
    }

    #[inline]
    fn do_work(&mut self) -> usize {
        let allocations_before = thread_allocations();
        let work = self.turn();
        self.own_allocations += thread_allocations() - allocations_before;
        work
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn keep_warm(&mut self) {
        crate::ring::warm_next_slot(&mut self.ctx.order_tx);
        self.strategy.keep_warm(&self.ctx);
    }
}

impl<S: Strategy> StrategyAgent<S> {
    /// One turn: execution reports, a batch of market events, timers (in a turn without events,
    /// or one period late).
    fn turn(&mut self) -> usize {
        self.loops += 1;
        let mut work = 0;
        while let Ok(report) = self.report_rx.pop() {
            self.on_report(report);
            work += 1;
        }
        for popped in 1..=MARKET_BATCH {
            match self.market_rx.pop() {
                Ok(msg) => {
                    // The batch's last event is always decided on, so a flood cannot starve
                    // the strategy of decisions.
                    let superseded =
                        popped < MARKET_BATCH && superseded(&msg.event, self.market_rx.peek().ok());
                    self.on_market(msg, superseded);
                    work += 1;
                }
                Err(_) => break,
            }
        }
        // Housekeeping (stage samples, publication, control, risk clocks) waits for a turn
        // without events, so on a shared thread it never sits between a decision and the
        // gateway's write; under load that leaves no such turn it runs once it is a whole
        // period late (and samples whenever their buffer fills).
        let now = self.ctx.clock.ticks();
        if now >= self.next_timer
            && (work == 0 || now >= self.next_timer.saturating_add(self.timer_ticks))
        {
            self.timer(now);
        }
        work
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_feed::{DataSource, FeedStatus, Quote, Trade};

    fn quote(instrument: u16) -> MarketEvent {
        MarketEvent::Quote(Quote {
            instrument: InstrumentId(instrument),
            bid: Price(100),
            bid_qty: Qty(1),
            ask: Price(101),
            ask_qty: Qty(1),
            exchange_seq: 0,
            recv_tsc: 0,
        })
    }

    fn queued(event: MarketEvent) -> MarketMsg {
        MarketMsg {
            event,
            pushed_ticks: 0,
        }
    }

    #[test]
    fn only_a_quote_followed_by_a_quote_of_its_instrument_is_superseded() {
        let trade = MarketEvent::Trade(Trade {
            instrument: InstrumentId(0),
            price: Price(100),
            qty: Qty(1),
            aggressor: Side::Buy,
            trade_id: 1,
            recv_tsc: 0,
        });
        let status = MarketEvent::Status(FeedStatus {
            instrument: InstrumentId(0),
            state: FeedState::Live,
            source: DataSource::Synthetic,
        });
        assert!(superseded(&quote(0), Some(&queued(quote(0)))));
        assert!(!superseded(&quote(0), None), "the last queued quote");
        assert!(
            !superseded(&quote(0), Some(&queued(quote(1)))),
            "another instrument"
        );
        assert!(
            !superseded(&quote(0), Some(&queued(trade))),
            "a trade behind it"
        );
        assert!(
            !superseded(&trade, Some(&queued(quote(0)))),
            "trades are all delivered"
        );
        assert!(
            !superseded(&status, Some(&queued(quote(0)))),
            "and status changes"
        );
    }
}
