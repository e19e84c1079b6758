//! The strategy interface and the trading context it acts through.
//!
//! A [`Strategy`] reacts to market events, fills and a timer; everything it does to the market
//! goes through [`TradingContext`], which runs pre-trade risk on every new order, tracks the
//! strategy's orders and positions, sends requests to the gateway ring and records them in the
//! journal. All of it runs on the strategy thread: no locks, no allocation, no logging macros,
//! no formatting, no system calls.

use crate::clock::LatencyClock;
use crate::journal::{JournalRecord, JournalSender, OrderEvent};
use crate::risk::{check_order, Exposure, Limits, RateWindow, RiskReject};
use crate::trading::{OrderTable, OwnOrder, PositionBook};
use tickwire_feed::{BookTop, DataSource, FeedState, InstrumentId, Price, Qty, Quote, Side, Trade};
use tickwire_gateway::{ExecReport, NewOrder, OrderKind, OrderMsg, OrderRequest};
use tickwire_shm::layout::{CounterId, EngineState, OrderState, Reason, MAX_INSTRUMENTS};
use tickwire_shm::region::StrategySection;

/// A trading strategy. Every callback runs on the strategy thread and must not block,
/// allocate, lock, log or format.
pub trait Strategy {
    /// The best bid/offer of an instrument changed.
    fn on_quote(&mut self, quote: &Quote, ctx: &mut TradingContext);
    /// The synchronised book of an instrument changed.
    fn on_book(&mut self, _book: &BookTop, _ctx: &mut TradingContext) {}
    /// A trade printed.
    fn on_trade(&mut self, _trade: &Trade, _ctx: &mut TradingContext) {}
    /// One of the strategy's orders was (partly) filled; position already updated.
    fn on_fill(&mut self, fill: &ExecReport, ctx: &mut TradingContext);
    /// Called at the engine's timer interval (staleness, housekeeping).
    fn on_timer(&mut self, ctx: &mut TradingContext);
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
    pub(crate) state_since_unix_ns: u64,
    pub(crate) reduce_only: bool,
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
            reduce_only: self.reduce_only,
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

    /// Requests a cancel; `false` if the order is unknown or already being cancelled. A cancel
    /// that finds the ring full is retried on later loop turns (and throws the kill switch).
    pub fn cancel(&mut self, client_id: u64) -> bool {
        let Some(order) = self.orders.get_mut(client_id) else {
            return false;
        };
        if order.state == OrderState::PendingCancel {
            return false;
        }
        order.state = OrderState::PendingCancel;
        let instrument = order.instrument;
        self.dirty = true;
        if self.push_cancel(client_id, instrument) {
            if let Some(o) = self.orders.get_mut(client_id) {
                o.cancel_sent = true;
            }
        } else {
            self.section.counter(CounterId::OrderQueueFull).add(1);
            self.kill(Reason::OrderQueueFull);
        }
        true
    }

    fn push_cancel(&mut self, client_id: u64, instrument: InstrumentId) -> bool {
        self.order_tx
            .push(OrderMsg {
                request: OrderRequest::Cancel {
                    client_id,
                    instrument,
                },
                cause_recv_tsc: 0,
                pushed_tsc: self.clock.ticks(),
            })
            .is_ok()
    }

    /// Cancels every open order (of one instrument, or all).
    pub fn cancel_all(&mut self, instrument: Option<InstrumentId>) {
        let mut ids = [0u64; tickwire_shm::layout::MAX_OPEN_ORDERS];
        let mut n = 0;
        for o in self.orders.iter() {
            if instrument.is_none_or(|i| i == o.instrument) && o.state != OrderState::PendingCancel
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
        let mut owed = [(0u64, InstrumentId(0)); tickwire_shm::layout::MAX_OPEN_ORDERS];
        let mut n = 0;
        for o in self.orders.iter() {
            if o.state == OrderState::PendingCancel && !o.cancel_sent {
                owed[n] = (o.client_id, o.instrument);
                n += 1;
            }
        }
        for &(id, instrument) in &owed[..n] {
            if !self.push_cancel(id, instrument) {
                break;
            }
            if let Some(o) = self.orders.get_mut(id) {
                o.cancel_sent = true;
            }
            sent += 1;
        }
        sent
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
                    if o.state == OrderState::PendingNew {
                        o.state = OrderState::Live;
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
            ExecKind::CancelRejected(reason) => {
                if let Some(o) = self.orders.get_mut(report.client_id) {
                    o.state = OrderState::Live;
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
                    if o.state == OrderState::Live || o.state == OrderState::PendingNew {
                        o.state = OrderState::PartiallyFilled;
                    }
                }
                if leaves.0 == 0 {
                    self.orders.remove(report.client_id);
                }
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
                    fill_seq: self.positions_fill_seq(),
                    client_id: report.client_id,
                    trade_id,
                    instrument: report.instrument.0,
                    side: report.side,
                    price: price.0,
                    qty: qty.0,
                    maker,
                    unix_ns,
                });
                true
            }
        }
    }

    fn positions_fill_seq(&self) -> u64 {
        (0..MAX_INSTRUMENTS)
            .map(|i| self.positions.get(InstrumentId(i as u16)).fills)
            .sum()
    }
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
