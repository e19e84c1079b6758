//! The strategy interface and the trading context it acts through.
//!
//! A [`Strategy`] reacts to market events, fills and a timer; everything it does to the market
//! goes through [`TradingContext`], which runs pre-trade risk on every new order, tracks the
//! strategy's orders and positions, sends requests to the gateway ring and records them in the
//! journal. All of it runs on the strategy thread: no locks, no allocation, no logging macros,
//! no formatting, no system calls.
//!
//! # Order states and acknowledgement timeouts
//!
//! Requests go to the gateway over the order ring ([`OrderMsg`]); the venue's answers come back
//! as [`ExecReport`]s. A venue, or the network in between, can fail to answer, and an order
//! whose answer never comes must not stay pending for ever. So every awaited answer has a
//! deadline, `risk.order_ack_timeout_ms` (*T*, default 2000), measured in latency-clock ticks
//! (the TSC, as feed staleness is; never the wall clock) from the moment the request was pushed
//! on the ring, and checked by the timer (every 100 µs) in one scan of the fixed-size table.
//!
//! | state | awaits | answered | no answer for *T* |
//! |---|---|---|---|
//! | `PendingNew` | the new order's answer | accepted → `Live`; rejected → removed | → `Unknown` |
//! | `Live`, `PartiallyFilled` | nothing | fills; the last one removes it | — |
//! | `PendingCancel` | the cancel's answer (once sent) | cancelled → removed; refused → `Live` | → `Unknown` |
//! | `Unknown` | the answer to its cancel | see below | cancel re-sent |
//!
//! **Timeout.** The request is counted (`ack_timeouts`), journaled (event `ack_timeout`: client
//! id, code of the state that timed out), logged, and the order becomes `Unknown`: it may or may
//! not rest on the venue. A cancel for its client id goes out at once — cancelling by client id
//! is idempotent at the venue: it cancels the order if it rests and is refused as an unknown
//! order if it is done or was never placed. The cancel goes out once per timeout period, never
//! per loop turn: if it too goes unanswered for *T* it is counted again and re-sent; if it is
//! refused for another reason (the session is down) it is re-sent a period later, uncounted.
//!
//! **While unknown** the order stays in the table. Its whole open quantity counts as open on its
//! side — in the worst-case position of the risk check and in the open-order limit — and never
//! as free; [`TradingContext::cancel`] and [`TradingContext::cancel_all`] leave it alone (its
//! cancel is out) and the market maker does not quote that side, as while a cancel is pending.
//!
//! **Resolution**, by any answer about the order:
//! - accepted, or a partial fill: it rests, and our cancel is outstanding → `PendingCancel`
//!   (awaiting that cancel, on the same deadline; an owed cancel goes out on the next timer);
//! - cancelled, rejected, a fill that leaves nothing, or a cancel refused as unknown order
//!   ([`RejectReason::UnknownOrder`](tickwire_gateway::RejectReason::UnknownOrder)) → removed.
//!   (A cancel refused as unknown order ends any order: the venue does not hold it.)
//!
//! Fills move the position when their report arrives — once per report, whatever the order's
//! state, and whether or not the order is still in the table — so a fill of an unknown order,
//! or one arriving after the order was resolved, is applied exactly once.
//!
//! **Escalation.** An order still unknown after another *T* — 2*T* after the request that went
//! unanswered, so its cancel went unanswered too — means the order-entry session is not
//! answering and the engine cannot know what it holds on the venue. Until no order is in that
//! state, the engine is reduce-only (pre-trade risk refuses any order that would not reduce the
//! position; the same mode as the storage alarm, each cause held independently) and raises the
//! [`alarms::ORDER_UNKNOWN`](tickwire_shm::layout::alarms::ORDER_UNKNOWN) bit. Reduce-only
//! rather than only keeping the unknown order's side quiet: an unanswering session is not a
//! one-sided problem, and reducing is the only order that cannot add risk.

use crate::clock::LatencyClock;
use crate::journal::{JournalRecord, JournalSender, OrderEvent};
use crate::risk::{check_order, Exposure, Limits, RateWindow, RiskReject};
use crate::trading::{OrderTable, OwnOrder, PositionBook};
use tickwire_feed::{BookTop, DataSource, FeedState, InstrumentId, Price, Qty, Quote, Side, Trade};
use tickwire_gateway::{ExecReport, NewOrder, OrderKind, OrderMsg, OrderRequest};
use tickwire_shm::layout::{
    CounterId, EngineState, OrderState, Reason, MAX_INSTRUMENTS, MAX_OPEN_ORDERS,
};
use tickwire_shm::region::StrategySection;

/// A trading strategy. Every callback runs on the strategy thread and must not block,
/// allocate, lock, log or format.
pub trait Strategy {
    /// The best bid/offer of an instrument changed. Quotes conflate: when a newer quote of the
    /// same instrument is already queued behind this one, this one only updates the market
    /// state (see `strategy_agent`), so a strategy behind the feed sees the latest.
    fn on_quote(&mut self, quote: &Quote, ctx: &mut TradingContext);
    /// The synchronised book of an instrument changed.
    fn on_book(&mut self, _book: &BookTop, _ctx: &mut TradingContext) {}
    /// A trade printed.
    fn on_trade(&mut self, _trade: &Trade, _ctx: &mut TradingContext) {}
    /// One of the strategy's orders was (partly) filled; position already updated.
    fn on_fill(&mut self, fill: &ExecReport, ctx: &mut TradingContext);
    /// Called at the engine's timer interval (staleness, housekeeping).
    fn on_timer(&mut self, ctx: &mut TradingContext);
    /// Works out what [`Strategy::on_quote`] would do on the last quote, and drops it: called
    /// on a busy-spinning thread's idle turns to keep the decision's code and data in the
    /// core's caches (see the engine's `Agent::keep_warm`). Sends nothing, changes nothing.
    fn keep_warm(&self, _ctx: &TradingContext) {}
}

/// What the strategy knows about one instrument's market.
#[derive(Debug, Clone, Copy)]
pub struct MarketView {
    /// The last quote.
    pub quote: Option<Quote>,
    /// The last trade.
    pub last_trade: Option<Trade>,
    /// Latency-clock ticks of the last market event.
    pub updated_ticks: u64,
    /// Feed state.
    pub state: FeedState,
    /// Data source.
    pub source: DataSource,
}

impl Default for MarketView {
    fn default() -> Self {
        Self {
            quote: None,
            last_trade: None,
            updated_ticks: 0,
            state: FeedState::Disconnected,
            source: DataSource::None,
        }
    }
}

/// Why [`TradingContext::place`] sent nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceError {
    /// Refused by pre-trade risk.
    Risk(RiskReject),
    /// The order table is full.
    TableFull,
    /// The ring to the gateway is full; the kill switch was thrown.
    QueueFull,
}

/// Instrument facts the strategy needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstrumentSpec {
    /// Price increment, price units.
    pub tick_size: i64,
    /// Quantity increment, lots.
    pub lot_size: i64,
}

/// The strategy's handle on the market and its own books.
#[derive(Debug)]
pub struct TradingContext {
    pub(crate) clock: LatencyClock,
    /// Latency-clock ticks at the start of the current event.
    pub(crate) now_ticks: u64,
    /// Socket-read ticks of the event being handled (for tick-to-trade).
    pub(crate) cause_ticks: u64,
    pub(crate) stale_ticks: u64,
    pub(crate) wall_anchor: (u64, u64),
    pub(crate) markets: [MarketView; MAX_INSTRUMENTS],
    pub(crate) specs: [InstrumentSpec; MAX_INSTRUMENTS],
    pub(crate) limits: [Limits; MAX_INSTRUMENTS],
    pub(crate) orders: OrderTable,
    pub(crate) positions: PositionBook,
    pub(crate) rate: RateWindow,
    pub(crate) state: EngineState,
    pub(crate) reason: Reason,
    /// Configured instruments.
    pub(crate) instruments: usize,
    /// Which instruments the venue reconciliation has covered.
    pub(crate) reconciled: [bool; MAX_INSTRUMENTS],
    /// Positions the journal recorded before this run, lots.
    pub(crate) journal_positions: [i64; MAX_INSTRUMENTS],
    /// Fills back-filled this run (they number in the run's fill sequence too).
    pub(crate) back_filled: u64,
    pub(crate) state_since_unix_ns: u64,
    /// The journal cannot write (set by the strategy agent from the persistence thread's flag).
    pub(crate) storage_alarm: bool,
    /// Some order has been unknown for longer than the ack timeout (see the module docs).
    pub(crate) orders_overdue: bool,
    /// The ack timeout, latency-clock ticks.
    pub(crate) ack_timeout_ticks: u64,
    pub(crate) rejects: [u64; 8],
    pub(crate) order_tx: rtrb::Producer<OrderMsg>,
    pub(crate) journal: JournalSender,
    pub(crate) next_client_id: u64,
    pub(crate) section: StrategySection,
    /// State changed since the last publication.
    pub(crate) dirty: bool,
}

impl TradingContext {
    /// What the strategy knows of an instrument's market.
    #[inline]
    pub fn market(&self, instrument: InstrumentId) -> &MarketView {
        &self.markets[usize::from(instrument.0) % MAX_INSTRUMENTS]
    }

    /// Tick and lot size of an instrument.
    #[inline]
    pub fn spec(&self, instrument: InstrumentId) -> InstrumentSpec {
        self.specs[usize::from(instrument.0) % MAX_INSTRUMENTS]
    }

    /// Largest absolute position allowed, lots.
    #[inline]
    pub fn max_position(&self, instrument: InstrumentId) -> i64 {
        self.limits[usize::from(instrument.0) % MAX_INSTRUMENTS].max_position
    }

    /// Whether the instrument's feed is live and its last event younger than the staleness
    /// threshold.
    #[inline]
    pub fn feed_fresh(&self, instrument: InstrumentId) -> bool {
        let m = self.market(instrument);
        m.state == FeedState::Live
            && self.now_ticks.wrapping_sub(m.updated_ticks) <= self.stale_ticks
    }

    /// Whether the engine is running (not paused, halted or stopping).
    #[inline]
    pub fn trading(&self) -> bool {
        self.state == EngineState::Running
    }

    /// New orders the rate limit still allows in the current second; a strategy checks this
    /// instead of collecting rejects.
    #[inline]
    pub fn order_budget(&self, instrument: InstrumentId) -> u32 {
        let limits = &self.limits[usize::from(instrument.0) % MAX_INSTRUMENTS];
        self.rate
            .remaining(self.now_ticks, limits.max_orders_per_sec)
    }

    /// Signed position, lots.
    #[inline]
    pub fn position(&self, instrument: InstrumentId) -> i64 {
        self.positions.get(instrument).qty
    }

    /// Whether only position-reducing orders are allowed: the journal cannot write, or an order
    /// has been unknown for longer than the ack timeout.
    #[inline]
    pub fn reduce_only(&self) -> bool {
        self.storage_alarm || self.orders_overdue
    }

    /// Open orders.
    pub fn orders(&self) -> impl Iterator<Item = &OwnOrder> {
        self.orders.iter()
    }

    /// Wall-clock ns now, derived from the latency clock (no system call).
    #[inline]
    pub(crate) fn unix_ns(&self) -> u64 {
        let (ticks, unix) = self.wall_anchor;
        unix + self.clock.ticks_to_ns(self.now_ticks.wrapping_sub(ticks))
    }

    /// Sends a new order after pre-trade risk; returns its client id.
    ///
    /// # Errors
    ///
    /// [`PlaceError`]: refused by risk (counted per reason), table full, or ring full (which
    /// also throws the kill switch).
    pub fn place(
        &mut self,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: Qty,
        kind: OrderKind,
    ) -> Result<u64, PlaceError> {
        self.place_checked(instrument, side, price, qty, kind, self.trading())
    }

    pub(crate) fn place_checked(
        &mut self,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: Qty,
        kind: OrderKind,
        trading: bool,
    ) -> Result<u64, PlaceError> {
        let index = usize::from(instrument.0) % MAX_INSTRUMENTS;
        let exposure = Exposure {
            position: self.positions.get(instrument).qty,
            open_same_side: self.orders.open_qty(instrument, side),
            open_orders: self.orders.len(),
            mid: self.markets[index].quote.map(|q| Price(q.mid2().0 / 2)),
            feed_fresh: self.feed_fresh(instrument),
            trading,
            reduce_only: self.reduce_only(),
        };
        if let Err(reject) = check_order(
            &self.limits[index],
            &mut self.rate,
            self.now_ticks,
            side,
            price,
            qty,
            &exposure,
        ) {
            self.rejects[reject as usize] += 1;
            self.section.counter(CounterId::RiskRejects).add(1);
            self.dirty = true;
            return Err(PlaceError::Risk(reject));
        }
        let client_id = self.next_client_id;
        let unix_ns = self.unix_ns();
        let order = OwnOrder {
            client_id,
            instrument,
            side,
            price,
            qty,
            filled: Qty(0),
            state: OrderState::PendingNew,
            post_only: kind == OrderKind::PostOnly,
            created_unix_ns: unix_ns,
            cancel_sent: false,
            sent_ticks: self.now_ticks,
            unknown_since_ticks: 0,
        };
        if !self.orders.insert(order) {
            return Err(PlaceError::TableFull);
        }
        let msg = OrderMsg {
            request: OrderRequest::New(NewOrder {
                client_id,
                instrument,
                side,
                price,
                qty,
                kind,
            }),
            cause_recv_tsc: self.cause_ticks,
            pushed_tsc: self.clock.ticks(),
        };
        if self.order_tx.push(msg).is_err() {
            self.orders.remove(client_id);
            self.section.counter(CounterId::OrderQueueFull).add(1);
            self.kill(Reason::OrderQueueFull);
            return Err(PlaceError::QueueFull);
        }
        self.next_client_id += 1;
        self.section.counter(CounterId::OrdersRequested).add(1);
        self.journal.send(JournalRecord::Order {
            client_id,
            instrument: instrument.0,
            side,
            price: price.0,
            qty: qty.0,
            post_only: order.post_only,
            unix_ns,
        });
        self.dirty = true;
        Ok(client_id)
    }

    /// Requests a cancel; `false` if the order is not in the table, already being cancelled, or
    /// [`OrderState::Unknown`] (its cancel is already out). A cancel that finds the ring full is
    /// retried on later loop turns (and throws the kill switch).
    pub fn cancel(&mut self, client_id: u64) -> bool {
        let Some(order) = self.orders.get_mut(client_id) else {
            return false;
        };
        if order.state == OrderState::PendingCancel || order.state == OrderState::Unknown {
            return false;
        }
        order.state = OrderState::PendingCancel;
        let instrument = order.instrument;
        self.dirty = true;
        if self.push_cancel(client_id, instrument, self.cause_ticks) {
            let now = self.now_ticks;
            if let Some(o) = self.orders.get_mut(client_id) {
                o.cancel_sent = true;
                o.sent_ticks = now;
            }
        } else {
            self.section.counter(CounterId::OrderQueueFull).add(1);
            self.kill(Reason::OrderQueueFull);
        }
        true
    }

    /// Pushes a cancel caused by the event read at `cause_ticks` (0: by a timer or a retry).
    fn push_cancel(&mut self, client_id: u64, instrument: InstrumentId, cause_ticks: u64) -> bool {
        self.order_tx
            .push(OrderMsg {
                request: OrderRequest::Cancel {
                    client_id,
                    instrument,
                },
                cause_recv_tsc: cause_ticks,
                pushed_tsc: self.clock.ticks(),
            })
            .is_ok()
    }

    /// Cancels every open order (of one instrument, or all) not already being cancelled.
    pub fn cancel_all(&mut self, instrument: Option<InstrumentId>) {
        let mut ids = [0u64; MAX_OPEN_ORDERS];
        let mut n = 0;
        for o in self.orders.iter() {
            if instrument.is_none_or(|i| i == o.instrument)
                && o.state != OrderState::PendingCancel
                && o.state != OrderState::Unknown
            {
                ids[n] = o.client_id;
                n += 1;
            }
        }
        for &id in &ids[..n] {
            self.cancel(id);
        }
    }

    /// Re-sends cancels that found the ring full; returns how many went out.
    pub(crate) fn retry_cancels(&mut self) -> usize {
        let mut sent = 0;
        let mut owed = [(0u64, InstrumentId(0)); MAX_OPEN_ORDERS];
        let mut n = 0;
        for o in self.orders.iter() {
            if o.state == OrderState::PendingCancel && !o.cancel_sent {
                owed[n] = (o.client_id, o.instrument);
                n += 1;
            }
        }
        for &(id, instrument) in &owed[..n] {
            if !self.push_cancel(id, instrument, 0) {
                break;
            }
            let now = self.now_ticks;
            if let Some(o) = self.orders.get_mut(id) {
                o.cancel_sent = true;
                o.sent_ticks = now;
            }
            sent += 1;
        }
        sent
    }

    /// Times out unanswered requests at `now` (latency-clock ticks) as the module docs describe:
    /// a new order or cancel unanswered for longer than the ack timeout makes its order
    /// [`OrderState::Unknown`] and sends a cancel for it; the cancel of an unknown order is
    /// re-sent once per timeout period. Updates whether an order is overdue (unknown for longer
    /// than the timeout: reduce-only). Fixed-size scan, no allocation.
    pub(crate) fn check_ack_timeouts(&mut self, now: u64) -> AckCheck {
        let timeout = self.ack_timeout_ticks;
        let mut due = [(0u64, InstrumentId(0)); MAX_OPEN_ORDERS];
        let mut n = 0;
        let mut overdue = false;
        for o in self.orders.iter() {
            let awaiting = match o.state {
                OrderState::PendingNew | OrderState::Unknown => true,
                OrderState::PendingCancel => o.cancel_sent,
                OrderState::Live | OrderState::PartiallyFilled => false,
            };
            if awaiting && now.saturating_sub(o.sent_ticks) > timeout {
                due[n] = (o.client_id, o.instrument);
                n += 1;
            }
            overdue |= o.state == OrderState::Unknown
                && now.saturating_sub(o.unknown_since_ticks) > timeout;
        }
        let mut check = AckCheck {
            timed_out: 0,
            overdue_changed: overdue != self.orders_overdue,
        };
        if check.overdue_changed {
            self.orders_overdue = overdue;
            self.dirty = true;
        }
        for &(client_id, instrument) in &due[..n] {
            let Some(o) = self.orders.get_mut(client_id) else {
                continue;
            };
            let was = o.state;
            // A refused cancel of an unknown order is owed, not unanswered: re-sent, uncounted.
            let unanswered = was != OrderState::Unknown || o.cancel_sent;
            if was != OrderState::Unknown {
                o.unknown_since_ticks = now;
            }
            o.state = OrderState::Unknown;
            o.sent_ticks = now;
            o.cancel_sent = false;
            self.dirty = true;
            let pushed = self.push_cancel(client_id, instrument, 0);
            if let Some(o) = self.orders.get_mut(client_id) {
                o.cancel_sent = pushed;
            }
            if unanswered {
                check.timed_out += 1;
                self.section.counter(CounterId::AckTimeouts).add(1);
                let unix_ns = self.unix_ns();
                self.journal.send(JournalRecord::Event {
                    event: crate::journal::EngineEvent::AckTimeout,
                    a: client_id as i64,
                    b: i64::from(was.code()),
                    unix_ns,
                });
            }
            if !pushed {
                self.section.counter(CounterId::OrderQueueFull).add(1);
                self.kill(Reason::OrderQueueFull);
            }
        }
        check
    }

    /// Throws the kill switch: halts and cancels everything. Only a restart trades again.
    pub fn kill(&mut self, reason: Reason) {
        if self.state != EngineState::Halted {
            self.set_state(EngineState::Halted, reason);
        }
        self.cancel_all(None);
    }

    pub(crate) fn set_state(&mut self, state: EngineState, reason: Reason) {
        self.state = state;
        self.reason = reason;
        self.state_since_unix_ns = self.unix_ns();
        self.dirty = true;
        self.journal.send(JournalRecord::Event {
            event: crate::journal::EngineEvent::State,
            a: i64::from(state.code()),
            b: i64::from(reason.code()),
            unix_ns: self.state_since_unix_ns,
        });
    }

    /// Records the outcome of an order-entry report in the books; returns it for the strategy
    /// when it is a fill.
    pub(crate) fn apply_report(&mut self, report: &ExecReport) -> bool {
        use tickwire_gateway::ExecKind;
        let unix_ns = self.unix_ns();
        let update = |event, detail| JournalRecord::OrderUpdate {
            client_id: report.client_id,
            event,
            detail,
            unix_ns,
        };
        self.dirty = true;
        match report.kind {
            ExecKind::Accepted => {
                if let Some(o) = self.orders.get_mut(report.client_id) {
                    match o.state {
                        OrderState::PendingNew => o.state = OrderState::Live,
                        // It rests; the cancel sent on the timeout is still to be answered.
                        OrderState::Unknown => o.state = OrderState::PendingCancel,
                        _ => {}
                    }
                }
                self.journal.send(update(OrderEvent::Accepted, 0));
                false
            }
            ExecKind::Rejected(reason) => {
                self.orders.remove(report.client_id);
                self.journal
                    .send(update(OrderEvent::Rejected, reject_code(reason)));
                false
            }
            ExecKind::Canceled => {
                self.orders.remove(report.client_id);
                self.journal.send(update(OrderEvent::Canceled, 0));
                false
            }
            ExecKind::CancelRejected(tickwire_gateway::RejectReason::UnknownOrder) => {
                // The venue does not hold the order: it is done or was never placed. A fill
                // still on its way moves the position when it arrives.
                self.orders.remove(report.client_id);
                self.journal.send(update(
                    OrderEvent::CancelRejected,
                    reject_code(tickwire_gateway::RejectReason::UnknownOrder),
                ));
                false
            }
            ExecKind::CancelRejected(reason) => {
                if let Some(o) = self.orders.get_mut(report.client_id) {
                    if o.state != OrderState::Unknown {
                        o.state = OrderState::Live;
                    }
                    // Unknown: still unknown, its cancel owed and re-sent a period later.
                    o.cancel_sent = false;
                }
                self.journal
                    .send(update(OrderEvent::CancelRejected, reject_code(reason)));
                false
            }
            ExecKind::Reconciled {
                position,
                foreign_cancelled,
            } => {
                let i = usize::from(report.instrument.0) % MAX_INSTRUMENTS;
                let mark = self.markets[i]
                    .quote
                    .map_or(Price(0), |q| Price(q.mid2().0 / 2));
                self.positions.reset_to(report.instrument, position.0, mark);
                self.journal.send(JournalRecord::Event {
                    event: crate::journal::EngineEvent::Reconciled,
                    a: position.0,
                    b: self.journal_positions[i],
                    unix_ns,
                });
                if foreign_cancelled > 0 {
                    self.journal.send(JournalRecord::Event {
                        event: crate::journal::EngineEvent::ForeignOrdersCancelled,
                        a: i64::from(foreign_cancelled),
                        b: i as i64,
                        unix_ns,
                    });
                }
                self.reconciled[i] = true;
                if self.state == EngineState::Starting
                    && self.reconciled[..self.instruments].iter().all(|r| *r)
                {
                    self.set_state(EngineState::Running, Reason::None);
                }
                false
            }
            ExecKind::Fill {
                price,
                qty,
                leaves,
                trade_id,
                maker,
            } => {
                self.positions
                    .apply_fill(report.instrument, report.side, price, qty);
                if let Some(o) = self.orders.get_mut(report.client_id) {
                    o.filled = Qty(o.filled.0 + qty.0);
                    match o.state {
                        OrderState::Live | OrderState::PendingNew => {
                            o.state = OrderState::PartiallyFilled;
                        }
                        // It rests; the cancel sent on the timeout is still to be answered.
                        OrderState::Unknown => o.state = OrderState::PendingCancel,
                        OrderState::PartiallyFilled | OrderState::PendingCancel => {}
                    }
                }
                if leaves.0 == 0 {
                    self.orders.remove(report.client_id);
                }
                self.record_fill(report, (price, qty, trade_id, maker), unix_ns);
                true
            }
            ExecKind::BackFill {
                price,
                qty,
                trade_id,
                maker,
            } => {
                // The position has it already (reconciliation adopted the venue's), and the
                // order's state follows the venue's answers: only the record is owed.
                self.back_filled += 1;
                self.record_fill(report, (price, qty, trade_id, maker), unix_ns);
                false
            }
        }
    }

    /// Publishes a fill to the region's fill ring and journals it.
    fn record_fill(
        &mut self,
        report: &ExecReport,
        (price, qty, trade_id, maker): (Price, Qty, u64, bool),
        unix_ns: u64,
    ) {
        let fill = tickwire_shm::layout::FillEntry {
            client_id: report.client_id,
            trade_id,
            instrument: u32::from(report.instrument.0),
            side: side_code(report.side),
            price: price.0,
            qty: qty.0,
            unix_ns,
            maker: u32::from(maker),
            ..Default::default()
        };
        self.section.push_fill(&fill);
        self.journal.send(JournalRecord::Fill {
            fill_seq: self.fill_seq(),
            client_id: report.client_id,
            trade_id,
            instrument: report.instrument.0,
            side: report.side,
            price: price.0,
            qty: qty.0,
            maker,
            unix_ns,
        });
    }

    /// The run's fills so far, back-fills included: the last fill's 1-based sequence number.
    fn fill_seq(&self) -> u64 {
        (0..MAX_INSTRUMENTS)
            .map(|i| self.positions.get(InstrumentId(i as u16)).fills)
            .sum::<u64>()
            + self.back_filled
    }
}

/// What one [`TradingContext::check_ack_timeouts`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckCheck {
    /// Requests found unanswered past the timeout (each counted, journaled, and followed by a
    /// cancel).
    pub(crate) timed_out: u32,
    /// Whether `orders_overdue` (reduce-only, alarm) changed.
    pub(crate) overdue_changed: bool,
}

/// The region's side code.
pub(crate) fn side_code(side: Side) -> u32 {
    match side {
        Side::Buy => tickwire_shm::layout::SideCode::Buy.code(),
        Side::Sell => tickwire_shm::layout::SideCode::Sell.code(),
    }
}

fn reject_code(reason: tickwire_gateway::RejectReason) -> i64 {
    use tickwire_gateway::RejectReason as R;
    match reason {
        R::PostOnlyWouldCross => 1,
        R::UnknownOrder => 2,
        R::DuplicateId => 3,
        R::NoMarket => 4,
        R::TooManyOrders => 5,
        R::InvalidOrder => 6,
        R::Venue(code) => 1000 + i64::from(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{tests::VALID, Config};
    use crate::journal::{journal_ring, EngineEvent};
    use crate::market_maker::MarketMaker;
    use tickwire_gateway::{ExecKind, RejectReason};
    use tickwire_shm::region::RegionWriter;

    /// The ack timeout in these tests, latency-clock ticks.
    const T: u64 = 1_000;
    /// When the first order goes out.
    const T0: u64 = 10_000;
    const LOT: i64 = 1_000;
    const BID: i64 = 5_000_000;
    const ASK: i64 = 5_000_010;

    /// A trading context over a real region and real rings, on a clock the test sets.
    struct Harness {
        ctx: TradingContext,
        orders: rtrb::Consumer<OrderMsg>,
        journal: rtrb::Consumer<JournalRecord>,
        _region: RegionWriter,
        _dir: tempfile::TempDir,
    }

    impl Harness {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let config = Config::parse(std::path::Path::new("unit.toml"), VALID).expect("config");
            let clock = LatencyClock::new();
            let mut region = crate::test_support::unit_region(dir.path(), &clock);
            let sections = region.take_sections().expect("sections");
            let (order_tx, orders) = rtrb::RingBuffer::new(64);
            let (journal_tx, journal) = journal_ring();
            let mut ctx = crate::run::trading_context(
                &config,
                &clock,
                order_tx,
                journal_tx,
                sections.strategy,
            );
            ctx.ack_timeout_ticks = T;
            ctx.stale_ticks = u64::MAX;
            ctx.wall_anchor = (0, 1_000_000);
            ctx.now_ticks = T0;
            ctx.markets[0] = MarketView {
                quote: Some(Quote {
                    instrument: InstrumentId(0),
                    bid: Price(BID),
                    bid_qty: Qty(LOT),
                    ask: Price(ASK),
                    ask_qty: Qty(LOT),
                    exchange_seq: 1,
                    recv_tsc: 0,
                }),
                last_trade: None,
                updated_ticks: 0,
                state: FeedState::Live,
                source: DataSource::VenueSim,
            };
            let mut h = Self {
                ctx,
                orders,
                journal,
                _region: region,
                _dir: dir,
            };
            h.timeout_events();
            h
        }

        /// Places a post-only order at the touch of `side`, `lots` lots, at `T0`.
        fn place(&mut self, side: Side, lots: i64) -> u64 {
            self.ctx.now_ticks = T0;
            let price = Price(if side == Side::Buy { BID } else { ASK });
            let id = self
                .ctx
                .place(InstrumentId(0), side, price, Qty(lots), OrderKind::PostOnly)
                .expect("placed");
            assert_eq!(self.requests(), [OrderRequest::New(self.new_order(id))]);
            id
        }

        fn new_order(&self, id: u64) -> NewOrder {
            let o = self.order(id).expect("in the table");
            NewOrder {
                client_id: id,
                instrument: o.instrument,
                side: o.side,
                price: o.price,
                qty: o.qty,
                kind: OrderKind::PostOnly,
            }
        }

        /// The timer's scan at `now`.
        fn at(&mut self, now: u64) -> AckCheck {
            self.ctx.now_ticks = now;
            self.ctx.check_ack_timeouts(now)
        }

        fn report(&mut self, client_id: u64, side: Side, kind: ExecKind) -> bool {
            self.ctx.apply_report(&ExecReport {
                client_id,
                instrument: InstrumentId(0),
                side,
                kind,
            })
        }

        fn order(&self, client_id: u64) -> Option<OwnOrder> {
            self.ctx
                .orders()
                .find(|o| o.client_id == client_id)
                .copied()
        }

        /// The client id of the order on `side`.
        fn id_on(&self, side: Side) -> u64 {
            self.ctx
                .orders()
                .find(|o| o.side == side)
                .map(|o| o.client_id)
                .expect("an order on that side")
        }

        fn state(&self, client_id: u64) -> Option<OrderState> {
            self.order(client_id).map(|o| o.state)
        }

        /// Requests sent to the gateway since the last call.
        fn requests(&mut self) -> Vec<OrderRequest> {
            let mut out = Vec::new();
            while let Ok(msg) = self.orders.pop() {
                out.push(msg.request);
            }
            out
        }

        /// `ack_timeout` events journaled since the last call: (client id, state code).
        fn timeout_events(&mut self) -> Vec<(i64, i64)> {
            let mut out = Vec::new();
            while let Ok(record) = self.journal.pop() {
                if let JournalRecord::Event {
                    event: EngineEvent::AckTimeout,
                    a,
                    b,
                    ..
                } = record
                {
                    out.push((a, b));
                }
            }
            out
        }

        fn ack_timeouts(&self) -> u64 {
            self.ctx.section.counter(CounterId::AckTimeouts).get()
        }
    }

    fn cancel(client_id: u64) -> OrderRequest {
        OrderRequest::Cancel {
            client_id,
            instrument: InstrumentId(0),
        }
    }

    fn fill(qty: i64, leaves: i64, trade_id: u64) -> ExecKind {
        ExecKind::Fill {
            price: Price(BID),
            qty: Qty(qty),
            leaves: Qty(leaves),
            trade_id,
            maker: true,
        }
    }

    const QUIET: AckCheck = AckCheck {
        timed_out: 0,
        overdue_changed: false,
    };

    #[test]
    fn an_unanswered_new_order_times_out_at_the_deadline_and_is_cancelled_once_per_period() {
        let mut h = Harness::new();
        let id = h.place(Side::Buy, LOT);
        assert_eq!(h.state(id), Some(OrderState::PendingNew));

        assert_eq!(h.at(T0 + T), QUIET, "not longer than the timeout yet");
        assert_eq!(h.state(id), Some(OrderState::PendingNew));
        assert!(h.requests().is_empty());

        let check = h.at(T0 + T + 1);
        assert_eq!((check.timed_out, check.overdue_changed), (1, false));
        assert_eq!(h.state(id), Some(OrderState::Unknown));
        assert_eq!(h.requests(), [cancel(id)], "cancelled by client id");
        assert_eq!(h.ack_timeouts(), 1);
        let pending_new = i64::from(OrderState::PendingNew.code());
        assert_eq!(h.timeout_events(), [(id as i64, pending_new)]);
        assert!(!h.ctx.reduce_only());

        // Every loop turn of the next period: no second cancel, nothing counted.
        for now in (T0 + T + 2..=T0 + 2 * T + 1).step_by(7) {
            assert_eq!(h.at(now), QUIET, "at {now}");
        }
        assert_eq!(h.at(T0 + 2 * T + 1), QUIET);
        assert!(h.requests().is_empty(), "the cancel went out once");
        assert_eq!(h.ack_timeouts(), 1);

        // Its cancel unanswered too: counted again, re-sent, and the engine goes reduce-only.
        let check = h.at(T0 + 2 * T + 2);
        assert_eq!((check.timed_out, check.overdue_changed), (1, true));
        assert_eq!(h.requests(), [cancel(id)]);
        assert_eq!(h.ack_timeouts(), 2);
        let unknown = i64::from(OrderState::Unknown.code());
        assert_eq!(h.timeout_events(), [(id as i64, unknown)]);
        assert!(h.ctx.reduce_only() && h.ctx.orders_overdue);
        assert_eq!(
            h.ctx.place(
                InstrumentId(0),
                Side::Sell,
                Price(ASK),
                Qty(LOT),
                OrderKind::PostOnly
            ),
            Err(PlaceError::Risk(RiskReject::ReduceOnly))
        );
        assert_eq!(h.at(T0 + 2 * T + 50), QUIET, "overdue is reported once");

        // The venue answers: resolved, removed, reduce-only lifted.
        assert!(!h.report(id, Side::Buy, ExecKind::Canceled));
        assert_eq!(h.state(id), None);
        let check = h.at(T0 + 2 * T + 60);
        assert_eq!((check.timed_out, check.overdue_changed), (0, true));
        assert!(!h.ctx.reduce_only());
        assert!(h.requests().is_empty());
    }

    #[test]
    fn a_late_ack_resolves_an_unknown_order_and_its_cancel_keeps_its_deadline() {
        let mut h = Harness::new();
        let id = h.place(Side::Sell, LOT);
        h.at(T0 + T + 1);
        assert_eq!(h.requests(), [cancel(id)]);

        // The ack arrives late: the order rests, and the timeout's cancel is still out.
        assert!(!h.report(id, Side::Sell, ExecKind::Accepted));
        let o = h.order(id).expect("kept");
        assert_eq!((o.state, o.cancel_sent), (OrderState::PendingCancel, true));
        assert!(h.requests().is_empty(), "no second cancel");
        assert!(!h.ctx.cancel(id), "already being cancelled");

        // That cancel is timed from when it was sent.
        assert_eq!(h.at(2 * T + T0 + 1), QUIET);
        assert_eq!(h.at(2 * T + T0 + 2).timed_out, 1);
        assert_eq!(h.state(id), Some(OrderState::Unknown));
        assert_eq!(h.requests(), [cancel(id)]);
        let pending_cancel = i64::from(OrderState::PendingCancel.code());
        assert_eq!(h.timeout_events()[1], (id as i64, pending_cancel));

        assert!(!h.report(id, Side::Sell, ExecKind::Canceled));
        assert_eq!(h.state(id), None);
        assert_eq!(h.ack_timeouts(), 2);
    }

    #[test]
    fn a_late_reject_or_an_unknown_order_answer_removes_an_unknown_order() {
        let mut h = Harness::new();
        let rejected = h.place(Side::Buy, LOT);
        let never_placed = h.place(Side::Sell, LOT);
        h.at(T0 + T + 1);
        assert_eq!(h.requests(), [cancel(rejected), cancel(never_placed)]);
        assert_eq!(h.ack_timeouts(), 2);

        h.report(
            rejected,
            Side::Buy,
            ExecKind::Rejected(RejectReason::PostOnlyWouldCross),
        );
        h.report(
            never_placed,
            Side::Sell,
            ExecKind::CancelRejected(RejectReason::UnknownOrder),
        );
        assert!(h.ctx.orders.is_empty());
        assert_eq!(h.at(T0 + 10 * T), QUIET, "nothing left to time out");
        assert!(h.requests().is_empty());
    }

    #[test]
    fn fills_on_unknown_orders_are_applied_exactly_once() {
        let mut h = Harness::new();
        let id = h.place(Side::Buy, LOT);
        h.at(T0 + T + 1);
        h.requests();

        // A partial fill proves the order rests: it waits on the timeout's cancel.
        assert!(h.report(id, Side::Buy, fill(400, 600, 1)));
        let o = h.order(id).expect("kept");
        assert_eq!((o.state, o.filled), (OrderState::PendingCancel, Qty(400)));
        assert_eq!(h.ctx.position(InstrumentId(0)), 400);
        assert_eq!(h.ctx.orders.open_qty(InstrumentId(0), Side::Buy), 600);

        // The rest fills before the cancel lands; the cancel's late answers change nothing.
        assert!(h.report(id, Side::Buy, fill(600, 0, 2)));
        assert_eq!(h.state(id), None);
        h.report(id, Side::Buy, ExecKind::Canceled);
        h.report(
            id,
            Side::Buy,
            ExecKind::CancelRejected(RejectReason::UnknownOrder),
        );
        let p = *h.ctx.positions.get(InstrumentId(0));
        assert_eq!((p.qty, p.fills, p.volume), (LOT, 2, LOT));

        // An unknown order resolved as gone whose fill was still on its way: applied once.
        let sell = h.place(Side::Sell, LOT);
        h.at(T0 + T + 1);
        assert_eq!(h.requests(), [cancel(sell)]);
        h.report(
            sell,
            Side::Sell,
            ExecKind::CancelRejected(RejectReason::UnknownOrder),
        );
        assert_eq!(h.state(sell), None);
        assert!(h.report(sell, Side::Sell, fill(LOT, 0, 3)));
        let p = *h.ctx.positions.get(InstrumentId(0));
        assert_eq!((p.qty, p.fills), (0, 3));
        let journaled = std::iter::from_fn(|| h.journal.pop().ok())
            .filter(|r| matches!(r, JournalRecord::Fill { .. }))
            .count();
        assert_eq!(journaled, 3, "each fill journaled once");
    }

    #[test]
    fn a_back_fill_is_recorded_and_moves_neither_position_nor_order() {
        let mut h = Harness::new();
        let id = h.place(Side::Buy, LOT);
        while h.journal.pop().is_ok() {}
        let back_fill = ExecKind::BackFill {
            price: Price(BID),
            qty: Qty(LOT),
            trade_id: 41,
            maker: true,
        };
        assert!(!h.report(id, Side::Buy, back_fill), "no strategy callback");
        let p = *h.ctx.positions.get(InstrumentId(0));
        assert_eq!(
            (p.qty, p.fills),
            (0, 0),
            "reconciliation brings the position"
        );
        assert_eq!(h.state(id), Some(OrderState::PendingNew));
        let journaled: Vec<(u64, u64, i64)> = std::iter::from_fn(|| h.journal.pop().ok())
            .filter_map(|r| match r {
                JournalRecord::Fill {
                    client_id,
                    trade_id,
                    qty,
                    ..
                } => Some((client_id, trade_id, qty)),
                _ => None,
            })
            .collect();
        assert_eq!(journaled, [(id, 41, LOT)]);
        // It numbers in the run's fill sequence: the next fill comes after it.
        assert!(h.report(id, Side::Buy, fill(LOT, 0, 42)));
        let seqs: Vec<u64> = std::iter::from_fn(|| h.journal.pop().ok())
            .filter_map(|r| match r {
                JournalRecord::Fill { fill_seq, .. } => Some(fill_seq),
                _ => None,
            })
            .collect();
        assert_eq!(seqs, [2]);
    }

    #[test]
    fn unknown_quantity_is_never_free_risk() {
        let mut h = Harness::new();
        let id = h.place(Side::Buy, 3 * LOT);
        h.at(T0 + T + 1);
        assert_eq!(h.state(id), Some(OrderState::Unknown));
        assert_eq!(h.ctx.orders.open_qty(InstrumentId(0), Side::Buy), 3 * LOT);
        // max_position is 5 lots: 3 unknown + 3 more would be 6 in the worst case.
        h.ctx.now_ticks = T0 + T + 2;
        assert_eq!(
            h.ctx.place(
                InstrumentId(0),
                Side::Buy,
                Price(BID),
                Qty(3 * LOT),
                OrderKind::PostOnly
            ),
            Err(PlaceError::Risk(RiskReject::Position))
        );
        // The other side is still free to quote while the order is only unknown.
        assert!(h
            .ctx
            .place(
                InstrumentId(0),
                Side::Sell,
                Price(ASK),
                Qty(LOT),
                OrderKind::PostOnly
            )
            .is_ok());
    }

    #[test]
    fn a_cancel_refused_for_another_reason_keeps_the_order_unknown_and_is_retried_per_period() {
        let mut h = Harness::new();
        let id = h.place(Side::Buy, LOT);
        h.report(id, Side::Buy, ExecKind::Accepted);
        h.ctx.now_ticks = T0 + 100;
        assert!(h.ctx.cancel(id));
        assert_eq!(h.requests(), [cancel(id)]);

        assert_eq!(h.at(T0 + 100 + T), QUIET, "the cancel's own deadline");
        assert_eq!(h.at(T0 + 100 + T + 1).timed_out, 1);
        assert_eq!(h.requests(), [cancel(id)]);
        let pending_cancel = i64::from(OrderState::PendingCancel.code());
        assert_eq!(h.timeout_events(), [(id as i64, pending_cancel)]);

        // The session is down: the probe is refused, the order stays unknown.
        h.report(
            id,
            Side::Buy,
            ExecKind::CancelRejected(RejectReason::Venue(-1001)),
        );
        let o = h.order(id).expect("kept");
        assert_eq!((o.state, o.cancel_sent), (OrderState::Unknown, false));
        assert!(
            !h.ctx.cancel(id),
            "cancel() leaves unknown orders to the timer"
        );
        h.ctx.cancel_all(None);
        h.ctx.retry_cancels();
        assert!(h.requests().is_empty());
        for now in (T0 + 101 + T..=T0 + 101 + 2 * T).step_by(13) {
            assert_eq!(h.at(now).timed_out, 0);
        }
        assert!(h.requests().is_empty(), "not re-sent within the period");
        let check = h.at(T0 + 102 + 2 * T);
        assert_eq!(
            check.timed_out, 0,
            "a refused cancel is owed, not unanswered"
        );
        assert!(check.overdue_changed && h.ctx.reduce_only());
        assert_eq!(
            h.requests(),
            [cancel(id)],
            "re-sent once the period is over"
        );
        assert_eq!(h.ack_timeouts(), 1);

        h.report(id, Side::Buy, ExecKind::Canceled);
        assert!(h.ctx.orders.is_empty());
    }

    #[test]
    fn the_market_makers_keep_warm_sends_and_changes_nothing() {
        let mut h = Harness::new();
        let config = Config::parse(std::path::Path::new("unit.toml"), VALID).expect("config");
        let mut mm = MarketMaker::new(&config.strategy);
        let drained = |h: &mut Harness| while h.journal.pop().is_ok() {};
        drained(&mut h);
        mm.keep_warm(&h.ctx);
        assert!(h.requests().is_empty() && h.ctx.orders.is_empty());
        assert!(h.journal.is_empty());

        mm.on_timer(&mut h.ctx);
        assert_eq!(h.requests().len(), 2, "both sides quoted");
        let (bid, ask) = (h.id_on(Side::Buy), h.id_on(Side::Sell));
        drained(&mut h);
        // The market moves far enough for both quotes to be cancelled: warming decides so and
        // does nothing; the quote itself cancels.
        let moved = Quote {
            bid: Price(BID + 1_000),
            ask: Price(ASK + 1_000),
            ..h.ctx.markets[0].quote.expect("quote")
        };
        h.ctx.markets[0].quote = Some(moved);
        let states = |h: &Harness| [bid, ask].map(|id| h.order(id).map(|o| o.state));
        let before = states(&h);
        for _ in 0..3 {
            mm.keep_warm(&h.ctx);
        }
        assert!(h.requests().is_empty());
        assert!(h.journal.is_empty());
        assert_eq!(states(&h), before);
        mm.on_quote(&moved, &mut h.ctx);
        assert_eq!(h.requests(), [cancel(bid), cancel(ask)]);
    }

    #[test]
    fn the_market_maker_does_not_quote_a_side_with_an_unknown_order_nor_add_risk_when_reduce_only()
    {
        let mut h = Harness::new();
        let config = Config::parse(std::path::Path::new("unit.toml"), VALID).expect("config");
        let mut mm = MarketMaker::new(&config.strategy);
        h.ctx.now_ticks = T0;
        mm.on_timer(&mut h.ctx);
        let sent = h.requests();
        assert_eq!(sent.len(), 2, "both sides quoted: {sent:?}");
        let (bid, ask) = (h.id_on(Side::Buy), h.id_on(Side::Sell));

        h.at(T0 + T + 1);
        assert_eq!(h.requests(), [cancel(bid), cancel(ask)]);
        for _ in 0..10 {
            mm.on_timer(&mut h.ctx);
        }
        assert!(h.requests().is_empty(), "no quote beside an unknown order");

        // The bid is resolved: that side is quoted again; the ask side still waits.
        h.report(bid, Side::Buy, ExecKind::Canceled);
        mm.on_timer(&mut h.ctx);
        let sent = h.requests();
        assert!(
            matches!(
                sent[..],
                [OrderRequest::New(NewOrder {
                    side: Side::Buy,
                    ..
                })]
            ),
            "{sent:?}"
        );
        let new_bid = h.id_on(Side::Buy);
        h.report(new_bid, Side::Buy, ExecKind::Canceled);

        // The ask's cancel goes unanswered as well: reduce-only, and flat, nothing is quoted —
        // without collecting risk rejects.
        assert!(h.at(T0 + 2 * T + 2).overdue_changed);
        assert!(h.ctx.reduce_only());
        assert_eq!(h.requests(), [cancel(ask)]);
        for _ in 0..10 {
            mm.on_timer(&mut h.ctx);
        }
        assert!(h.requests().is_empty());
        assert_eq!(h.ctx.rejects, [0; 8]);

        // Long, reduce-only: only the reducing side (a sell) would go out — but the ask side is
        // the unknown one, so nothing does until it is resolved.
        h.report(0, Side::Buy, fill(LOT, 0, 9));
        mm.on_timer(&mut h.ctx);
        assert!(h.requests().is_empty());
        h.report(ask, Side::Sell, ExecKind::Canceled);
        h.at(T0 + 2 * T + 3);
        assert!(!h.ctx.reduce_only());
        mm.on_timer(&mut h.ctx);
        let sides: Vec<Side> = h
            .requests()
            .iter()
            .filter_map(|r| match r {
                OrderRequest::New(o) => Some(o.side),
                OrderRequest::Cancel { .. } => None,
            })
            .collect();
        assert_eq!(
            sides,
            [Side::Buy, Side::Sell],
            "both sides again once resolved"
        );

        // Reduce-only (here from storage) while long: only the reducing sell is quoted.
        let (bid, ask) = (h.id_on(Side::Buy), h.id_on(Side::Sell));
        h.report(bid, Side::Buy, ExecKind::Canceled);
        h.report(ask, Side::Sell, ExecKind::Canceled);
        h.ctx.storage_alarm = true;
        mm.on_timer(&mut h.ctx);
        let sent = h.requests();
        assert!(
            matches!(
                sent[..],
                [OrderRequest::New(NewOrder {
                    side: Side::Sell,
                    ..
                })]
            ),
            "{sent:?}"
        );
        assert_eq!(h.ctx.rejects, [0; 8], "no risk reject collected");
    }

    #[test]
    fn a_full_order_ring_throws_the_kill_switch_and_owed_cancels_go_out_once_it_drains() {
        let mut h = Harness::new();
        let live = h.place(Side::Buy, LOT);
        assert!(!h.report(live, Side::Buy, ExecKind::Accepted));
        assert_eq!(h.state(live), Some(OrderState::Live));
        // The gateway stops draining: fill the ring to the last slot.
        let filler = OrderMsg {
            request: cancel(u64::MAX),
            cause_recv_tsc: 0,
            pushed_tsc: 0,
        };
        let mut queued = 0;
        while h.ctx.order_tx.push(filler).is_ok() {
            queued += 1;
        }
        assert!(queued > 0);

        let refused = h.ctx.place(
            InstrumentId(0),
            Side::Sell,
            Price(ASK),
            Qty(LOT),
            OrderKind::PostOnly,
        );
        assert!(matches!(refused, Err(PlaceError::QueueFull)), "{refused:?}");
        assert_eq!(
            h.ctx.section.counter(CounterId::OrderQueueFull).get(),
            2,
            "both refused pushes counted: the new order and the kill switch's cancel"
        );
        assert_eq!(h.ctx.state, EngineState::Halted, "kill switch thrown");
        assert_eq!(h.ctx.reason, Reason::OrderQueueFull);
        assert!(
            h.ctx.orders().all(|o| o.side == Side::Buy),
            "the refused order is not in the table"
        );
        assert_eq!(
            h.state(live),
            Some(OrderState::PendingCancel),
            "the kill switch cancels the live order"
        );
        assert!(
            !h.order(live).expect("still known").cancel_sent,
            "no room for the cancel"
        );

        // The gateway drains: the owed cancel goes out on the next retry, once.
        let drained = h.requests();
        assert_eq!(drained.len(), queued);
        assert_eq!(h.ctx.retry_cancels(), 1);
        assert_eq!(h.requests(), [cancel(live)]);
        assert_eq!(h.ctx.retry_cancels(), 0);
        assert_eq!(
            h.ctx.state,
            EngineState::Halted,
            "only a restart trades again"
        );
    }
}
