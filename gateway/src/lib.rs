//! Order entry for tickwire: the `Copy` order requests the strategy thread sends, the `Copy`
//! execution reports it gets back, and the venues those requests go to.
//!
//! # Guarantees
//!
//! - Requests and reports are small `Copy` structs of integers: crossing a ring never
//!   allocates. Client order ids are assigned by the strategy thread and unique per run.
//! - Every request the gateway cannot send is answered at once (rejected), and every answer
//!   the venue gives is passed on: a new order is accepted or rejected, a cancel is confirmed
//!   or rejected. A venue can still fail to answer; the strategy thread times such requests
//!   out and cancels by client id (see the engine's `strategy` module), so its view of its
//!   orders converges with the venue's either way.
//! - [`paper::PaperExchange`] allocates its order table once, at construction.
//!
//! # Examples
//!
//! ```
//! use tickwire_feed::{InstrumentId, Price, Qty, Quote, Side};
//! use tickwire_gateway::paper::PaperExchange;
//! use tickwire_gateway::{ExecKind, NewOrder, OrderKind, OrderRequest};
//!
//! let mut venue = PaperExchange::new(16);
//! let mut reports = Vec::new();
//! venue.on_quote(&Quote {
//!     instrument: InstrumentId(0), bid: Price(99), bid_qty: Qty(5),
//!     ask: Price(101), ask_qty: Qty(5), exchange_seq: 1, recv_tsc: 0,
//! }, 0, &mut |r| reports.push(r));
//! venue.on_request(&OrderRequest::New(NewOrder {
//!     client_id: 1, instrument: InstrumentId(0), side: Side::Buy,
//!     price: Price(100), qty: Qty(2), kind: OrderKind::PostOnly,
//! }), 0, &mut |r| reports.push(r));
//! assert_eq!(reports[0].kind, ExecKind::Accepted);
//! ```
#![deny(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

pub mod binance;
pub mod paper;

use tickwire_feed::{InstrumentId, Price, Qty, Side};

/// How an order rests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    /// Rests until filled or cancelled; may take liquidity on arrival.
    Limit,
    /// Rests only: rejected if it would take liquidity on arrival.
    PostOnly,
    /// Immediate or cancel: takes what it can on arrival, the rest is cancelled.
    Ioc,
}

/// A new order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Client order id, unique per run.
    pub client_id: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Quantity (> 0).
    pub qty: Qty,
    /// Time in force / liquidity rule.
    pub kind: OrderKind,
}

/// What the strategy asks the gateway to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderRequest {
    /// Place an order.
    New(NewOrder),
    /// Cancel one order.
    Cancel {
        /// The order.
        client_id: u64,
        /// Its instrument.
        instrument: InstrumentId,
    },
}

/// An [`OrderRequest`] with the timestamps the gateway needs for latency stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderMsg {
    /// The request.
    pub request: OrderRequest,
    /// Latency-clock ticks when the quote that caused it was read from the socket (0 if none).
    pub cause_recv_tsc: u64,
    /// Latency-clock ticks when the strategy pushed it on the ring.
    pub pushed_tsc: u64,
}

/// Why a venue refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// A post-only order would have taken liquidity.
    PostOnlyWouldCross,
    /// The venue does not hold the order: already filled or cancelled, or never placed.
    UnknownOrder,
    /// The order id is already in use.
    DuplicateId,
    /// No market data yet for the instrument (paper mode cannot price it).
    NoMarket,
    /// The venue's order table is full.
    TooManyOrders,
    /// Zero or negative quantity or price.
    InvalidOrder,
    /// A venue error code.
    Venue(i32),
}

/// What happened to an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecKind {
    /// The order rests on the venue.
    Accepted,
    /// The order was refused; it does not exist on the venue.
    Rejected(RejectReason),
    /// A (partial) fill.
    Fill {
        /// Fill price.
        price: Price,
        /// Fill quantity.
        qty: Qty,
        /// Quantity still open after this fill (0: the order is done).
        leaves: Qty,
        /// The venue's trade id.
        trade_id: u64,
        /// Whether the order provided liquidity.
        maker: bool,
    },
    /// The order was cancelled (by request, or the unfilled rest of an IOC).
    Canceled,
    /// A cancel was refused. With [`RejectReason::UnknownOrder`] the venue does not hold the
    /// order (it is done, or was never placed); otherwise the order's state is unchanged.
    CancelRejected(RejectReason),
    /// A fill the venue made while the session was down, found in the account's trade list
    /// when it reconnected: for the record. The position already has it (reconciliation adopts
    /// the venue's) and the order's state comes with the venue's other answers. Client id 0 when
    /// the venue never told this run which order it was.
    BackFill {
        /// Fill price.
        price: Price,
        /// Fill quantity.
        qty: Qty,
        /// The venue's trade id.
        trade_id: u64,
        /// Whether the order provided liquidity.
        maker: bool,
    },
    /// Start-up (or reconnect) reconciliation finished for the instrument: the venue's position,
    /// and how many open orders of other runs were cancelled.
    Reconciled {
        /// The venue's position, lots.
        position: Qty,
        /// Orders of earlier runs found open and cancelled.
        foreign_cancelled: u32,
    },
}

/// An execution report for one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecReport {
    /// Client order id.
    pub client_id: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side of the order.
    pub side: Side,
    /// What happened.
    pub kind: ExecKind,
}
