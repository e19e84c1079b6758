//! The region's layout: every struct here is `#[repr(C)]`, free of padding, and valid for any bit
//! pattern, so a reader can map a file written by another process — or by nobody it trusts — and
//! never meet undefined behaviour; it can only meet wrong values, which the reader validates.
//!
//! ```text
//!  offset  section                         writer thread   form
//!  ------  ------------------------------  --------------  ------------------------------------
//!  0       Header                          main (create),  plain fields written before the file
//!                                          strategy        is renamed into place; magic stored
//!                                          (heartbeat)     last; heartbeat and flags atomic
//!          engine: EngineStatus            strategy        SeqCell
//!          risk: RiskState                 strategy        SeqCell
//!          storage: StorageStatus          persistence     SeqCell
//!          open_orders: OpenOrders         strategy        SeqCell
//!          instruments[MAX_INSTRUMENTS]    main (create)   SeqCell<InstrumentInfo>
//!          market[MAX_INSTRUMENTS]         feed            SeqCell<MarketData>
//!          books[MAX_INSTRUMENTS]          feed            SeqCell<BookLevels>
//!          positions[MAX_INSTRUMENTS]      strategy        SeqCell<Position>
//!          fills: FillRing                 strategy        written count + SeqCell ring
//!          counters[COUNTERS]              per CounterId   one atomic u64 per 128 bytes
//!          counter_labels[COUNTERS]        main (create)   NUL-padded UTF-8
//!          latency[STAGES]                 per Stage       Histogram (atomic buckets)
//!          stage_labels[STAGES]            main (create)   NUL-padded UTF-8
//!  CONTROL_OFFSET (page aligned)
//!          control: ControlSection         monitor/engine  MPSC command ring with acks
//!  REGION_SIZE
//! ```
//!
//! Every section starts on a 128-byte boundary (two cache lines), so sections written by
//! different threads never share a line or a prefetched pair. The control section starts on a
//! page boundary so a monitor can map the rest of the file read-only and only that page
//! read-write.
//!
//! Enumerations travel as `u32` codes; the `code_enum!`-generated types turn them back into values
//! and answer `None` for codes they do not know, so a reader of a newer or hostile file reports
//! the code instead of misreading it.

use crate::histogram::Histogram;
use crate::primitive::AtomicU64;
use crate::seqlock::SeqCell;
use bytemuck::{Pod, Zeroable};
use core::mem::{align_of, offset_of, size_of};

/// `b"TICKWIRE"` read as a little-endian `u64`: the first word of every region file.
pub const MAGIC: u64 = u64::from_le_bytes(*b"TICKWIRE");
/// Version of this layout; any change to a struct in this module bumps it.
pub const LAYOUT_VERSION: u32 = 3;
/// Instruments one engine trades at most.
pub const MAX_INSTRUMENTS: usize = 8;
/// Book levels per side published per instrument.
pub const BOOK_DEPTH: usize = 10;
/// Open orders shown at most (the engine's own limit may be lower).
pub const MAX_OPEN_ORDERS: usize = 32;
/// Recent fills kept in the region's ring.
pub const FILLS_CAPACITY: usize = 64;
/// Slots in the control ring.
pub const CONTROL_CAPACITY: usize = 16;
/// Bytes of an instrument symbol.
pub const SYMBOL_LEN: usize = 16;
/// Bytes of the instance name.
pub const INSTANCE_LEN: usize = 32;
/// Bytes of a counter or stage label.
pub const LABEL_LEN: usize = 48;

/// Declares a `#[repr(u32)]` enum with its wire code conversion and display name.
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal => $label:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $code,)+
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value for a wire code, `None` for a code this build does not know.
            pub const fn from_code(code: u32) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The wire code.
            pub const fn code(self) -> u32 {
                self as u32
            }

            /// The name operators see (dashboard, metrics labels, `monitor --print`).
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }
        }
    };
}
pub(crate) use code_enum;

code_enum! {
    /// What the engine is doing.
    EngineState {
        /// Starting: threads spawning, reconciling.
        Starting = 0 => "starting",
        /// Quoting normally.
        Running = 1 => "running",
        /// Paused by the operator: no quotes, open orders cancelled.
        Paused = 2 => "paused",
        /// Halted: kill switch or a fatal condition; see the reason. Only a restart resumes.
        Halted = 3 => "halted",
        /// Shutting down after a signal: cancelling, flushing.
        Stopping = 4 => "stopping",
        /// Exited cleanly (the region is about to be unlinked).
        Stopped = 5 => "stopped",
    }
}

code_enum! {
    /// Why the engine is not (fully) trading.
    Reason {
        /// Nothing is wrong.
        None = 0 => "",
        /// The operator paused.
        Operator = 1 => "operator",
        /// The kill switch was thrown (operator or risk).
        KillSwitch = 2 => "kill switch",
        /// The order ring to the gateway was full: an order could not be sent.
        OrderQueueFull = 3 => "order queue full",
        /// The journal cannot write: reduce-only until it can.
        Storage = 4 => "storage",
        /// Market data is stale or disconnected.
        StaleFeed = 5 => "stale feed",
        /// SIGINT or SIGTERM.
        Signal = 6 => "signal",
        /// The gateway lost its venue session.
        GatewayDown = 7 => "gateway down",
    }
}

code_enum! {
    /// State of an instrument's market-data feed.
    FeedState {
        /// No connection.
        Disconnected = 0 => "disconnected",
        /// Connecting or subscribing.
        Connecting = 1 => "connecting",
        /// Connected, book not yet synchronised (waiting for a snapshot).
        Syncing = 2 => "syncing",
        /// Live data flowing.
        Live = 3 => "live",
        /// Connected but no message within the staleness threshold.
        Stale = 4 => "stale",
    }
}

code_enum! {
    /// Where an instrument's market data comes from. `Synthetic` is never market data.
    DataSource {
        /// No source yet.
        None = 0 => "none",
        /// The in-process synthetic quote generator: not market data.
        Synthetic = 1 => "synthetic",
        /// Binance spot.
        Binance = 2 => "binance",
        /// Kraken.
        Kraken = 3 => "kraken",
        /// Coinbase.
        Coinbase = 4 => "coinbase",
        /// The local venue simulator (Binance wire format).
        VenueSim = 5 => "venue-sim",
    }
}

code_enum! {
    /// How orders reach a venue.
    GatewayMode {
        /// The local venue simulator over the wire.
        Sim = 0 => "sim",
        /// Fills simulated against the live book; no orders leave the process.
        Paper = 1 => "paper",
        /// Signed requests to the real venue.
        Live = 2 => "live",
    }
}

code_enum! {
    /// An order's state as the strategy tracks it.
    OrderState {
        /// Sent, not yet acknowledged.
        PendingNew = 0 => "pending_new",
        /// Resting on the venue.
        Live = 1 => "live",
        /// Partly filled and still resting.
        PartiallyFilled = 2 => "partially_filled",
        /// Cancel sent, not yet confirmed.
        PendingCancel = 3 => "pending_cancel",
        /// A new order or cancel went unacknowledged past the ack timeout: a cancel was sent
        /// and the order may or may not rest on the venue until the venue answers. Its quantity
        /// counts as open for risk.
        Unknown = 4 => "unknown",
    }
}

code_enum! {
    /// Order side on the wire of the region.
    SideCode {
        /// Buy.
        Buy = 0 => "buy",
        /// Sell.
        Sell = 1 => "sell",
    }
}

code_enum! {
    /// Counters: each has one writer thread, named in its docs.
    CounterId {
        /// Market-data messages decoded (feed).
        MarketMessages = 0 => "market_messages",
        /// Sequence gaps detected (feed).
        FeedGaps = 1 => "feed_gaps",
        /// Book resynchronisations (feed).
        FeedResyncs = 2 => "feed_resyncs",
        /// Reconnects (feed).
        FeedReconnects = 3 => "feed_reconnects",
        /// Messages rejected by a decoder (feed).
        DecodeErrors = 4 => "decode_errors",
        /// Market events that found the feed → strategy ring full (feed).
        MarketQueueFull = 5 => "market_queue_full",
        /// Strategy loop turns (strategy).
        StrategyLoops = 6 => "strategy_loops",
        /// Order requests the strategy sent to the gateway (strategy).
        OrdersRequested = 7 => "orders_requested",
        /// Orders refused by pre-trade risk (strategy).
        RiskRejects = 8 => "risk_rejects",
        /// Order requests that found the strategy → gateway ring full (strategy).
        OrderQueueFull = 9 => "order_queue_full",
        /// Heap allocations on the strategy thread after warm-up (strategy).
        HotPathAllocations = 10 => "hot_path_allocations",
        /// Control commands handled (strategy).
        ControlCommands = 11 => "control_commands",
        /// Orders written to the venue (gateway).
        OrdersSent = 12 => "orders_sent",
        /// Orders the venue rejected (gateway).
        VenueRejects = 13 => "venue_rejects",
        /// Fills received (gateway).
        Fills = 14 => "fills",
        /// Execution reports that found the gateway → strategy ring full (gateway).
        ReportQueueFull = 15 => "report_queue_full",
        /// Records written to the journal (persistence).
        JournalRecords = 16 => "journal_records",
        /// Journal write retries (persistence).
        JournalRetries = 17 => "journal_retries",
        /// Records that found a journal ring full and were kept by their producer (any thread).
        JournalQueueFull = 18 => "journal_queue_full",
        /// Log records that found a log ring full and were dropped (any thread).
        LogQueueFull = 19 => "log_queue_full",
        /// Wall-clock jumps detected (strategy).
        ClockJumps = 20 => "clock_jumps",
        /// Order requests (new or cancel) unacknowledged past `risk.order_ack_timeout_ms`
        /// (strategy).
        AckTimeouts = 21 => "ack_timeouts",
        /// Cancels sent as the gateway had prepared them on an idle turn, not built when sent
        /// (gateway).
        PreparedCancels = 22 => "prepared_cancels",
    }
}

/// Number of counters.
pub const COUNTERS: usize = CounterId::ALL.len();

code_enum! {
    /// Latency stages: each histogram has one writer thread, named in its docs.
    Stage {
        /// Socket read done → message decoded (feed).
        WireToDecoded = 0 => "wire_to_decoded",
        /// Pushed on the feed ring → popped by the strategy (strategy).
        FeedToStrategy = 1 => "feed_to_strategy",
        /// Event popped → decision made (strategy).
        Decide = 2 => "decide",
        /// Order pushed by the strategy → popped by the gateway (gateway).
        StrategyToGateway = 3 => "strategy_to_gateway",
        /// Order popped → encoded and its write returned (gateway).
        EncodeToWrite = 4 => "encode_to_write",
        /// A market event's socket read → the first request it caused (new order or cancel),
        /// encoded, handed to the connection's write; later requests of the same decision are
        /// not counted, nor is the write's own system call, which is in `encode_to_write`
        /// (gateway).
        TickToTrade = 5 => "tick_to_trade",
    }
}

/// Number of latency stages.
pub const STAGES: usize = Stage::ALL.len();

/// Bits of [`Header::flags`].
pub mod flags {
    /// The engine finished starting and is publishing.
    pub const READY: u64 = 1;
    /// The engine is shutting down.
    pub const STOPPING: u64 = 1 << 1;
    /// The engine exited cleanly; a region without this flag whose pid is gone was abandoned.
    pub const CLEAN_EXIT: u64 = 1 << 2;
}

/// Bits of [`EngineStatus::alarms`].
pub mod alarms {
    /// The journal cannot write.
    pub const STORAGE: u32 = 1;
    /// A ring was found full.
    pub const QUEUE_FULL: u32 = 1 << 1;
    /// At least one feed is stale or disconnected.
    pub const FEED: u32 = 1 << 2;
    /// Heap allocations happened on the strategy thread after warm-up.
    pub const HOT_PATH_ALLOCATION: u32 = 1 << 3;
    /// The wall clock jumped.
    pub const CLOCK_JUMP: u32 = 1 << 4;
    /// An order has been in the unknown state for longer than a second ack timeout: the
    /// venue does not answer for it, and the engine is reduce-only until it does.
    pub const ORDER_UNKNOWN: u32 = 1 << 5;
    /// Every alarm bit with its name, for readers.
    pub const NAMED: [(u32, &str); 6] = [
        (STORAGE, "storage"),
        (QUEUE_FULL, "queue_full"),
        (FEED, "feed"),
        (HOT_PATH_ALLOCATION, "hot_path_allocation"),
        (CLOCK_JUMP, "clock_jump"),
        (ORDER_UNKNOWN, "order_unknown"),
    ];
}

/// 128-byte aligned wrapper so a value owns its two cache lines.
#[derive(Debug, Default)]
#[repr(C, align(128))]
pub struct Padded<T>(pub T);

/// The first section: identity, liveness and layout facts.
#[derive(Debug)]
#[repr(C, align(128))]
pub struct Header {
    /// [`MAGIC`] once the region is complete (stored last, with release).
    pub magic: AtomicU64,
    /// [`LAYOUT_VERSION`] of the writer.
    pub layout_version: u32,
    /// The engine's pid.
    pub pid: u32,
    /// `size_of::<Region>()` of the writer; the file is exactly this long.
    pub layout_size: u64,
    /// Offset of the control section (page aligned).
    pub control_offset: u64,
    /// Wall-clock start time, ns since the Unix epoch.
    pub start_unix_ns: u64,
    /// `CLOCK_MONOTONIC` at start, ns.
    pub start_mono_ns: u64,
    /// Nanoseconds per latency-clock tick, as a Q32 fixed-point number (`ns = ticks * q32 >> 32`).
    pub tick_ns_q32: u64,
    /// Instance name, NUL-padded UTF-8.
    pub instance: [u8; INSTANCE_LEN],
    /// `CLOCK_MONOTONIC` ns at the strategy thread's last heartbeat.
    pub heartbeat_mono_ns: Padded<AtomicU64>,
    /// [`flags`] bits.
    pub flags: Padded<AtomicU64>,
}

/// Engine status (writer: strategy thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct EngineStatus {
    /// [`EngineState`] code.
    pub state: u32,
    /// [`Reason`] code.
    pub reason: u32,
    /// Wall-clock ns when the current state began.
    pub state_since_unix_ns: u64,
    /// [`GatewayMode`] code.
    pub gateway_mode: u32,
    /// `1` when only position-reducing orders are allowed.
    pub reduce_only: u32,
    /// [`alarms`] bits.
    pub alarms: u32,
    /// Core the strategy thread is pinned to, `-1` if none.
    pub strategy_core: i32,
    /// `1` when the strategy thread runs under SCHED_FIFO.
    pub sched_fifo: u32,
    /// `1` busy-spin, `0` backoff.
    pub busy_spin: u32,
    /// Market events the strategy handled.
    pub events: u64,
}

/// Pre-trade risk limits and their use (writer: strategy thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct RiskState {
    /// Largest absolute position per instrument, lots.
    pub max_position: i64,
    /// Largest notional of one order, price units × lots.
    pub max_notional: i64,
    /// Orders per second at most.
    pub max_orders_per_sec: u32,
    /// Order price at most this far from mid, basis points.
    pub price_band_bps: u32,
    /// Open orders at most.
    pub max_open_orders: u32,
    /// Market data older than this is stale, ms.
    pub stale_feed_ms: u32,
    /// Largest absolute position across instruments now, lots.
    pub position_used: i64,
    /// Orders sent in the current one-second window.
    pub orders_this_sec: u32,
    /// Open orders now.
    pub open_orders: u32,
    /// `1` once the kill switch is thrown.
    pub kill_switch: u32,
    /// `1` while reduce-only.
    pub reduce_only: u32,
    /// Orders refused per check, in the order of [`RISK_REJECT_LABELS`].
    pub rejects: [u64; 8],
}

/// What each slot of [`RiskState::rejects`] counts.
pub const RISK_REJECT_LABELS: [&str; 8] = [
    "position",
    "notional",
    "rate",
    "band",
    "open_orders",
    "stale_feed",
    "halted",
    "reduce_only",
];

/// Journal health (writer: persistence thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct StorageStatus {
    /// `1` while writes fail (the engine is reduce-only).
    pub alarm: u32,
    /// The SQLite extended error code of the last failure, 0 if none.
    pub last_error_code: u32,
    /// Records held in memory waiting to be written.
    pub pending_records: u64,
    /// Records written since start.
    pub written_records: u64,
    /// Wall-clock ns the current alarm began, 0 if none.
    pub alarm_since_unix_ns: u64,
}

/// One open order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct OrderEntry {
    /// Client order id.
    pub client_id: u64,
    /// Instrument index.
    pub instrument: u32,
    /// [`SideCode`].
    pub side: u32,
    /// Limit price.
    pub price: i64,
    /// Order quantity.
    pub qty: i64,
    /// Filled so far.
    pub filled: i64,
    /// [`OrderState`] code.
    pub state: u32,
    /// `1` for post-only, `0` limit.
    pub post_only: u32,
    /// Wall-clock ns the order was sent.
    pub created_unix_ns: u64,
}

/// The strategy's open orders (writer: strategy thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct OpenOrders {
    /// Valid entries at the front of `orders` (clamped to [`MAX_OPEN_ORDERS`] by readers).
    pub count: u64,
    /// The orders.
    pub orders: [OrderEntry; MAX_OPEN_ORDERS],
}

impl Default for OpenOrders {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// Static facts about an instrument (writer: main thread, at creation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct InstrumentInfo {
    /// Symbol, NUL-padded UTF-8.
    pub symbol: [u8; SYMBOL_LEN],
    /// Decimals of prices.
    pub price_decimals: u32,
    /// Decimals of quantities.
    pub qty_decimals: u32,
    /// Price increment, price units.
    pub tick_size: i64,
    /// Quantity increment, lots.
    pub lot_size: i64,
    /// `1` if this slot holds a configured instrument.
    pub configured: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// Top of book, last trade and feed health for one instrument (writer: feed thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct MarketData {
    /// Best bid.
    pub bid: i64,
    /// Best ask.
    pub ask: i64,
    /// Best bid quantity.
    pub bid_qty: i64,
    /// Best ask quantity.
    pub ask_qty: i64,
    /// Last trade price, 0 if none.
    pub last: i64,
    /// Last trade quantity.
    pub last_qty: i64,
    /// [`FeedState`] code.
    pub feed_state: u32,
    /// [`DataSource`] code.
    pub data_source: u32,
    /// `CLOCK_MONOTONIC` ns of the last message, 0 if none.
    pub last_msg_mono_ns: u64,
    /// The venue's sequence / update id of the last message.
    pub exchange_seq: u64,
    /// Messages decoded.
    pub messages: u64,
    /// Sequence gaps.
    pub gaps: u64,
    /// Book resynchronisations.
    pub resyncs: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Messages rejected by the decoder.
    pub decode_errors: u64,
}

/// A price level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Level {
    /// Price.
    pub price: i64,
    /// Quantity.
    pub qty: i64,
}

/// Top [`BOOK_DEPTH`] levels per side (writer: feed thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct BookLevels {
    /// Valid bid levels (best first).
    pub bid_count: u32,
    /// Valid ask levels (best first).
    pub ask_count: u32,
    /// Bids, best (highest) first.
    pub bids: [Level; BOOK_DEPTH],
    /// Asks, best (lowest) first.
    pub asks: [Level; BOOK_DEPTH],
}

impl Default for BookLevels {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// Position and PnL for one instrument (writer: strategy thread). PnL is in units of
/// `10^-(price_decimals + qty_decimals)` of the quote currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Position {
    /// Signed position, lots.
    pub qty: i64,
    /// Average entry price of the open position, price units (0 when flat).
    pub avg_price: i64,
    /// Realized PnL.
    pub realized_pnl: i64,
    /// Unrealized PnL at `mark_price`.
    pub unrealized_pnl: i64,
    /// Price used to mark the position (mid).
    pub mark_price: i64,
    /// Traded volume, lots.
    pub volume: i64,
    /// Fills counted.
    pub fills: u64,
}

/// One fill.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct FillEntry {
    /// 1-based sequence number of this fill since start.
    pub seq: u64,
    /// Client order id.
    pub client_id: u64,
    /// Venue trade id.
    pub trade_id: u64,
    /// Instrument index.
    pub instrument: u32,
    /// [`SideCode`].
    pub side: u32,
    /// Fill price.
    pub price: i64,
    /// Fill quantity.
    pub qty: i64,
    /// Wall-clock ns of the fill.
    pub unix_ns: u64,
    /// `1` maker, `0` taker.
    pub maker: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// The recent-fills ring (writer: strategy thread): fill `n` (1-based) lives in
/// `cells[(n - 1) % FILLS_CAPACITY]` and carries `seq == n`, so a reader detects a slot that was
/// overwritten while it read.
#[derive(Debug)]
#[repr(C)]
pub struct FillRing {
    /// Fills written since start.
    pub written: Padded<AtomicU64>,
    /// The slots.
    pub cells: [SeqCell<FillEntry>; FILLS_CAPACITY],
}

/// One control-ring slot (see [`crate::control`] for the protocol).
#[derive(Debug)]
#[repr(C, align(128))]
pub struct ControlSlot {
    /// Vyukov stamp: `pos` free for the producer of position `pos`, `pos + 1` published,
    /// `pos + CONTROL_CAPACITY` consumed and free for the next lap.
    pub stamp: AtomicU64,
    /// Command code.
    pub command: AtomicU64,
    /// The latest acknowledgement in one word, so it can never be read torn:
    /// `(pos + 1) << 8 | ack code` for the command at `pos`; 0 before the first.
    pub ack: AtomicU64,
}

/// The control ring: monitor processes produce, the strategy thread consumes and acknowledges.
#[derive(Debug)]
#[repr(C, align(4096))]
pub struct ControlSection {
    /// Next position to claim (producers, CAS).
    pub head: Padded<AtomicU64>,
    /// Next position to consume (strategy thread).
    pub tail: Padded<AtomicU64>,
    /// The slots.
    pub slots: [ControlSlot; CONTROL_CAPACITY],
}

/// The whole region, as mapped.
#[derive(Debug)]
#[repr(C)]
pub struct Region {
    /// Identity and liveness.
    pub header: Header,
    /// Engine status.
    pub engine: SeqCell<EngineStatus>,
    /// Risk limits and usage.
    pub risk: SeqCell<RiskState>,
    /// Journal health.
    pub storage: SeqCell<StorageStatus>,
    /// Open orders.
    pub open_orders: SeqCell<OpenOrders>,
    /// Instrument facts.
    pub instruments: [SeqCell<InstrumentInfo>; MAX_INSTRUMENTS],
    /// Market data per instrument.
    pub market: [SeqCell<MarketData>; MAX_INSTRUMENTS],
    /// Book per instrument.
    pub books: [SeqCell<BookLevels>; MAX_INSTRUMENTS],
    /// Position per instrument.
    pub positions: [SeqCell<Position>; MAX_INSTRUMENTS],
    /// Recent fills.
    pub fills: FillRing,
    /// Counter values, indexed by [`CounterId`].
    pub counters: [Padded<AtomicU64>; COUNTERS],
    /// Counter labels.
    pub counter_labels: [[u8; LABEL_LEN]; COUNTERS],
    /// Latency histograms, indexed by [`Stage`], in latency-clock ticks.
    pub latency: [Histogram; STAGES],
    /// Stage labels.
    pub stage_labels: [[u8; LABEL_LEN]; STAGES],
    /// The control ring.
    pub control: ControlSection,
}

/// Size of a region file in bytes.
pub const REGION_SIZE: usize = size_of::<Region>();
/// Offset of the control section in the file.
pub const CONTROL_OFFSET: usize = offset_of!(Region, control);
/// Length of the control section.
pub const CONTROL_LEN: usize = size_of::<ControlSection>();

const _: () = {
    assert!(offset_of!(Region, header) == 0);
    assert!(offset_of!(Header, magic) == 0);
    assert!(CONTROL_OFFSET.is_multiple_of(4096));
    assert!(CONTROL_OFFSET + CONTROL_LEN == REGION_SIZE);
    assert!(REGION_SIZE.is_multiple_of(4096));
    assert!(align_of::<Region>() == 4096);
    assert!(offset_of!(Region, engine) % 128 == 0);
    assert!(offset_of!(Region, counters) % 128 == 0);
    assert!(offset_of!(Region, latency) % 128 == 0);
    assert!(size_of::<SeqCell<OpenOrders>>().is_multiple_of(128));
    assert!(COUNTERS <= 64 && STAGES <= 16);
};

/// Writes `text` into a NUL-padded fixed field, truncating at a character boundary.
pub fn write_str<const N: usize>(field: &mut [u8; N], text: &str) {
    *field = [0; N];
    let mut end = text.len().min(N);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    field[..end].copy_from_slice(&text.as_bytes()[..end]);
}

/// Reads a NUL-padded fixed field; invalid UTF-8 is replaced, never trusted.
pub fn read_str(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_none() {
        for s in EngineState::ALL {
            assert_eq!(EngineState::from_code(s.code()), Some(*s));
        }
        assert_eq!(DataSource::from_code(1), Some(DataSource::Synthetic));
        assert_eq!(DataSource::Synthetic.name(), "synthetic");
        assert_eq!(FeedState::from_code(999), None);
    }

    #[test]
    fn strings_are_truncated_on_char_boundaries() {
        let mut f = [0u8; 4];
        write_str(&mut f, "abé");
        assert_eq!(read_str(&f), "abé");
        write_str(&mut f, "abcé");
        assert_eq!(read_str(&f), "abc");
        assert_eq!(read_str(&[0xff, 0x41, 0]), "\u{fffd}A");
    }
}
