//! The gateway thread's agent: takes order requests from the strategy, executes them on the
//! venue, and returns execution reports.
//!
//! Venues:
//! - paper: matched in-process against the feed's quotes ([`PaperExchange`]).
//! - sim / live: the Binance WebSocket API ([`VenueSession`]) — `order.place` /
//!   `order.cancel` requests encoded (and signed) by [`OrderEncoder`], responses and user-data
//!   execution reports decoded by [`OrderEntryDecoder`]. Responses carry acceptances,
//!   rejections and cancels; execution reports carry fills and expiries. An order that cannot
//!   be sent because the session is down is rejected at once, so the strategy never waits on a
//!   request that was not made. A request the venue never answers is timed out by the strategy
//!   (`risk.order_ack_timeout_ms`), which then cancels by client id; the answer to a cancel
//!   settles every earlier request for the same order still awaiting one, so unanswered
//!   requests do not fill the in-flight table. Cancel refusals meaning "the venue does not hold
//!   this order" arrive as [`RejectReason::UnknownOrder`] (see
//!   [`tickwire_gateway::binance::reject_reason`]).
//!
//! # Reconciliation and back-fill
//!
//! On every connection the session asks for the account's balances and open orders: the
//! strategy adopts the venue's position (plus the fills reported after the balance snapshot)
//! and other runs' open orders are cancelled. It also asks for the account's fills after the
//! last trade it reported or the journal holds (`myTrades`; with none, from this run's first
//! connection on a reconnect, or from the journal's first run on a first connection), and
//! reports each one it was not told of as [`ExecKind::BackFill`]: for the journal, since the
//! adopted position has it already (see [`crate::back_fill`]). So neither a dropped session
//! nor a killed engine leaves a fill out of the journal, as long as the journal is the one the
//! earlier runs wrote.
//!
//! # One write per turn
//!
//! The requests popped in one turn (on a shared thread: all those one market event caused) are
//! framed into the connection's send buffer and leave in one `write` at the end of the turn:
//! a requote's two cancels cost one system call, and the second does not wait behind the
//! first's (a loopback `write` runs the receiver's TCP, ~7 µs on a 2-core VM). A write that
//! fails rejects every request in it. Tick-to-trade ends when that write is issued.
//!
//! # Prepared cancels
//!
//! A requote's first request is the cancel of a resting order, and everything in it is known
//! once the venue has accepted the order but the timestamp. On a turn with nothing else to do
//! the gateway builds and signs that cancel ([`OrderEncoder::prepare_cancel`]), and builds it
//! again when it is [`PREPARED_CANCEL_REFRESH_MS`] old; the cancel then goes out as it is
//! while its timestamp is at most
//! [`PREPARED_CANCEL_MAX_AGE_MS`](tickwire_gateway::binance::PREPARED_CANCEL_MAX_AGE_MS) old, else it is built when
//! sent. It is dropped when the order is done or the session is lost.
//!
//! # Quiet reads
//!
//! A busy-spinning thread reads each socket with a system call per turn, and its turn is what
//! a quote waits for, at least half of it on average, before the feed's read takes it. The
//! order-entry connection carries answers to requests, unsolicited execution reports (fills of
//! resting orders, expiries) and pings. So with
//! [`GatewayAgent::reading_quiet_connection_every`] the gateway reads it on every turn that took
//! requests from the strategy (that turn's read is also what finds a failed write), while any
//! request awaits its answer in the in-flight table, while the connection is not open, and on
//! the turn after a read that delivered messages (a read stops at the first that completes a
//! message: more may be waiting); otherwise it reads once every that many turns. With
//! [`QUIET_READ_TURNS`] a busy-spinning turn went from ~1.55 to ~1.2 µs on a 2-core VM, and an
//! unsolicited message is read at most that many turns (~20 µs) later. So are the answers the
//! in-flight table does not track (reconciliation, back-fill, foreign cancels, the user-data
//! subscription), which nothing waits on for less than seconds. A backing-off thread reads
//! every turn: it parks on the connection's socket, and a turn that left a readable socket
//! unread would end the next park at once.
//!
//! Execution reports are never dropped: one that finds the report ring full waits in a
//! pre-allocated backlog (counted as `report_queue_full`) and goes out first on the next turn.

use crate::back_fill::{BackFills, TradesFrom};
use crate::clock::{ExtrapolatedWallClock, LatencyClock};
use crate::idle::{Agent, WakeSet};
use crate::log::Logger;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tickwire_feed::ws::{WsConnection, WsEvent};
use tickwire_feed::{InstrumentId, Qty, Quote, Side};
use tickwire_gateway::binance::{
    reject_reason, OrderEncoder, OrderEntryDecoder, OrderEntryMessage, PREPARED_CANCELS,
};
use tickwire_gateway::paper::PaperExchange;
use tickwire_gateway::{ExecKind, ExecReport, OrderMsg, OrderRequest, RejectReason};
use tickwire_shm::layout::{CounterId, Stage};
use tickwire_shm::region::GatewaySection;

const BACKLOG_CAPACITY: usize = 4096;
/// Request ids of cancels: the client id with this bit set (new orders use the client id).
const CANCEL_ID: u64 = 1 << 62;
/// Request ids of reconciliation: `RECONCILE` = account status, `RECONCILE | (1 + i)` = open
/// orders of instrument `i`, `RECONCILE | FOREIGN | n` = cancels of other runs' orders,
/// `RECONCILE | TRADES | i` = the account's fills on instrument `i` (on a reconnect).
const RECONCILE: u64 = 1 << 61;
const FOREIGN: u64 = 1 << 40;
const TRADES: u64 = 1 << 39;
/// Requests awaiting a response, at most (a full table rejects new orders).
const IN_FLIGHT: usize = 1024;
/// The venue error code reported when the session is down.
pub const SESSION_DOWN: i32 = -1001;
/// Age at which a prepared cancel is prepared again, ms.
pub const PREPARED_CANCEL_REFRESH_MS: u64 = 500;
/// How often idle turns look for a prepared cancel to refresh, ns.
const REFRESH_CHECK_NS: u64 = 10_000_000;
/// Turns between two reads of a quiet order-entry connection on a busy-spinning thread (see
/// "Quiet reads" above).
pub const QUIET_READ_TURNS: u32 = 16;

/// When a quiet connection is read: on a turn that expects something from it or follows a read
/// that delivered messages, else once every `every` turns.
#[derive(Debug, Clone, Copy)]
struct QuietReads {
    every: u32,
    /// Turns since the last read.
    since: u32,
    /// The last read delivered messages, so more may be waiting.
    delivered: bool,
}

impl QuietReads {
    /// Every `every` turns (at least 1).
    fn new(every: u32) -> Self {
        Self {
            every: every.max(1),
            since: 0,
            delivered: false,
        }
    }

    /// Whether this turn reads the connection, given whether it expects something from it.
    fn due(&mut self, expecting: bool) -> bool {
        self.since += 1;
        if expecting || self.delivered || self.since >= self.every {
            self.since = 0;
            true
        } else {
            false
        }
    }

    /// Notes how many messages this turn's read delivered.
    fn read(&mut self, delivered: usize) {
        self.delivered = delivered > 0;
    }
}

/// An order-entry session on a venue's WebSocket API.
pub struct VenueSession {
    /// Holds the registry the connection registers its sockets with; the socket is read
    /// directly (every turn, or as the module docs' "Quiet reads" say) and parked on in `ppoll`, never
    /// waited for here (see the feed's).
    poll: mio::Poll,
    conn: WsConnection,
    encoder: OrderEncoder,
    decoder: OrderEntryDecoder,
    /// Requests sent and not answered: (request id, instrument, side).
    in_flight: Vec<(u64, InstrumentId, Side)>,
    /// Instruments traded (reconciled one by one).
    instruments: usize,
    /// Reconciliation responses still awaited.
    reconcile_pending: u32,
    /// Other runs' orders cancelled during reconciliation, per instrument.
    foreign_cancelled: Vec<u32>,
    /// Numbering of reconciliation cancels.
    foreign_seq: u64,
    /// Whether this connection's balance snapshot has arrived: fills of other runs' orders
    /// before it are in the snapshot, fills after it move the position.
    account_seen: bool,
    /// Signed fill quantity per instrument reported between the balance snapshot and the
    /// `Reconciled` report: the strategy applies those fills as they come, so the position it
    /// adopts must include them (the snapshot does not).
    since_snapshot: Vec<i64>,
    /// Orders the venue accepted whose cancel is still to be prepared.
    to_prepare: Vec<(u64, InstrumentId)>,
    /// Which fills the journal may lack (see [`crate::back_fill`]).
    back_fills: BackFills,
    /// Orders recently reported done: an acceptance read after an order's last fill must not
    /// prepare a cancel for it (the venue's user-data events may overtake its answers).
    done_recently: RecentIds,
    /// Per instrument, other runs' open orders from the last `openOrders.status` result, taken
    /// from the decoder as it came (a later result read in the same turn replaces the
    /// decoder's) and cancelled after the turn's reads.
    taken_foreign: Vec<Vec<(String, InstrumentId)>>,
    /// Latency-clock ticks before which idle turns look for no prepared cancel to refresh.
    next_refresh: u64,
}

impl std::fmt::Debug for VenueSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueSession")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl VenueSession {
    /// A session over `conn` (whose subscriptions subscribe to the user-data stream) trading
    /// `instruments` instruments.
    ///
    /// # Errors
    ///
    /// When the poll cannot be created.
    pub fn new(
        conn: WsConnection,
        encoder: OrderEncoder,
        decoder: OrderEntryDecoder,
        instruments: usize,
    ) -> std::io::Result<Self> {
        Ok(Self {
            poll: mio::Poll::new()?,
            conn,
            encoder,
            decoder,
            in_flight: Vec::with_capacity(IN_FLIGHT),
            instruments,
            reconcile_pending: 0,
            foreign_cancelled: vec![0; instruments],
            foreign_seq: 0,
            account_seen: false,
            since_snapshot: vec![0; instruments],
            to_prepare: Vec::with_capacity(PREPARED_CANCELS),
            next_refresh: 0,
            back_fills: BackFills::new(instruments),
            done_recently: RecentIds::default(),
            taken_foreign: vec![Vec::new(); instruments],
        })
    }

    /// Stops preparing the cancel of an order that is done.
    fn forget_cancel(
        encoder: &mut OrderEncoder,
        to_prepare: &mut Vec<(u64, InstrumentId)>,
        client_id: u64,
    ) {
        encoder.forget_cancel(client_id);
        to_prepare.retain(|(id, _)| *id != client_id);
    }

    /// On a turn that did nothing else: sends the back-fill requests due (a retry), and
    /// prepares one cancel, for an order accepted since the last such turn (unless it was
    /// reported done since), else the oldest prepared one past [`PREPARED_CANCEL_REFRESH_MS`].
    fn on_idle(&mut self, clock: &LatencyClock, wall: &mut ExtrapolatedWallClock) {
        let now = clock.ticks();
        if !self.conn.is_open() || (self.to_prepare.is_empty() && now < self.next_refresh) {
            return;
        }
        let now_ms = wall.unix_ms(now);
        self.request_back_fills(now_ms);
        let accepted = std::iter::from_fn(|| self.to_prepare.pop())
            .find(|(client_id, _)| !self.done_recently.contains(client_id));
        let next = accepted
            .map(|(client_id, instrument)| (client_id, instrument, client_id | CANCEL_ID))
            .or_else(|| {
                self.encoder
                    .stale_cancel(now_ms.saturating_sub(PREPARED_CANCEL_REFRESH_MS))
            });
        match next {
            Some((client_id, instrument, request_id)) => {
                self.encoder
                    .prepare_cancel(client_id, instrument, request_id, now_ms);
            }
            None => self.next_refresh = now + clock.ns_to_ticks(REFRESH_CHECK_NS),
        }
    }

    /// Runs a request's way out short of the write, on a turn that did nothing: keeps its code
    /// and buffers in the core's caches, which the polling loop's system calls evict. Looks a
    /// cancel up among the prepared ones (as a requote's first request is), encodes (and
    /// signs) it as for an order without one, and frames it, then drops it. Nothing is sent and
    /// no state changes: the next request overwrites the encoder's buffer.
    fn keep_warm(&mut self, now_ms: u64) {
        let Self { encoder, conn, .. } = self;
        if let Some((request, _)) =
            encoder.cancel_with_origin(0, InstrumentId(0), CANCEL_ID, now_ms)
        {
            conn.warm_frame(request);
        }
    }

    /// Asks the venue for the account's balances and open orders (on every connect).
    fn start_reconciliation(&mut self) {
        let now = unix_ms();
        self.reconcile_pending = 0;
        self.account_seen = false;
        self.foreign_cancelled.iter_mut().for_each(|n| *n = 0);
        self.since_snapshot.iter_mut().for_each(|q| *q = 0);
        let request = self.encoder.account_status(RECONCILE, now);
        if self.conn.send_text(request).is_ok() {
            self.reconcile_pending += 1;
        }
        for i in 0..self.instruments {
            let id = RECONCILE | (1 + i as u64);
            if let Some(request) = self.encoder.open_orders(InstrumentId(i as u16), id, now) {
                if self.conn.send_text(request).is_ok() {
                    self.reconcile_pending += 1;
                }
            }
        }
        self.back_fills.on_connect(now);
        self.request_back_fills(now);
    }

    /// What an earlier run left in the journal: the last trade id per instrument (0: none) and
    /// when its first run started; the first connection back-fills after them.
    pub fn resume_trades(&mut self, last_trades: &[u64], journal_start_ms: Option<u64>) {
        self.back_fills.resume(last_trades, journal_start_ms);
    }

    /// Sends the trade-list requests due (the back-fill's; not part of reconciliation, which
    /// does not wait for them).
    fn request_back_fills(&mut self, now_ms: u64) {
        while let Some((i, from)) = self.back_fills.due(now_ms) {
            let (from_id, start_ms) = match from {
                TradesFrom::Id(id) => (Some(id), 0),
                TradesFrom::Time(ms) => (None, ms),
            };
            let id = RECONCILE | TRADES | i as u64;
            if let Some(request) =
                self.encoder
                    .my_trades(InstrumentId(i as u16), from_id, start_ms, id, now_ms)
            {
                // Unsent, it is due again after the retry interval.
                let _ = self.conn.send_text(request);
            }
        }
    }

    /// Handles a reconciliation response; reports every instrument once all are in.
    fn on_reconcile_response(&mut self, id: u64, ok: bool, out: &mut ReportOut) {
        if self.reconcile_pending == 0 || self.reconcile_pending == u32::MAX {
            return;
        }
        if !ok {
            // Without the venue's state the engine must not trade: no report, so the strategy
            // stays `starting`; the next connection reconciles again.
            self.reconcile_pending = u32::MAX;
            return;
        }
        self.reconcile_pending -= 1;
        let slot = id & !RECONCILE;
        if slot >= 1 {
            let instrument = (slot - 1) as usize;
            let foreign = self
                .taken_foreign
                .get_mut(instrument)
                .map(std::mem::take)
                .unwrap_or_default();
            for (client_order_id, on) in foreign {
                self.foreign_seq += 1;
                let request_id = RECONCILE | FOREIGN | self.foreign_seq;
                let request =
                    self.encoder
                        .cancel_by_venue_id(&client_order_id, on, request_id, unix_ms());
                if request.is_some_and(|r| self.conn.send_text(r).is_ok()) {
                    if let Some(n) = self.foreign_cancelled.get_mut(instrument) {
                        *n += 1;
                    }
                }
            }
        }
        if self.reconcile_pending == 0 {
            for i in 0..self.instruments {
                let instrument = InstrumentId(i as u16);
                let position = self
                    .decoder
                    .positions()
                    .iter()
                    .find(|(at, _)| *at == instrument)
                    .map_or(0, |(_, q)| *q)
                    .saturating_add(self.since_snapshot[i]);
                out.emit(ExecReport {
                    client_id: 0,
                    instrument,
                    side: Side::Buy,
                    kind: ExecKind::Reconciled {
                        position: Qty(position),
                        foreign_cancelled: self.foreign_cancelled[i],
                    },
                });
            }
        }
    }
}

/// Requests one turn writes at most in one write.
const BATCH: usize = 32;

/// The requests queued in one turn, written together.
#[derive(Debug)]
struct Batch {
    /// The requests queued, in order.
    requests: [Taken; BATCH],
    len: usize,
    /// The session's in-flight count before the first was queued.
    in_flight_from: usize,
}

/// A request taken from the strategy's ring, timed once it is written.
#[derive(Debug, Clone, Copy, Default)]
struct Taken {
    /// Latency-clock ticks when the strategy pushed it.
    pushed: u64,
    /// Ticks when the gateway popped it.
    popped: u64,
    /// Ticks at its cause's socket read (a market event; 0 for none).
    cause: u64,
    /// A new order (counted in `orders_sent`).
    new_order: bool,
    /// A cancel sent as prepared (counted in `prepared_cancels`).
    prepared: bool,
}

/// Records a written request's stages (strategy→gateway, encode→write, and tick-to-trade if it
/// is the first request of its cause) and counts it: after the write, so none of the region's
/// cache lines it touches is on the path to the write.
fn timed(section: &GatewaySection, last_cause: &mut u64, taken: Taken, issued: u64, written: u64) {
    section
        .latency(Stage::StrategyToGateway)
        .record(taken.popped.wrapping_sub(taken.pushed));
    section
        .latency(Stage::EncodeToWrite)
        .record(written.wrapping_sub(taken.popped));
    if taken.cause != 0 && taken.cause != *last_cause {
        *last_cause = taken.cause;
        section
            .latency(Stage::TickToTrade)
            .record(issued.wrapping_sub(taken.cause));
    }
    if taken.new_order {
        section.counter(CounterId::OrdersSent).add(1);
    }
    if taken.prepared {
        section.counter(CounterId::PreparedCancels).add(1);
    }
}

/// The answer to a request (`(request id, instrument, side)` as in flight) that the session
/// cannot carry: a new order rejected, a cancel refused, both with [`SESSION_DOWN`].
fn session_down(id: u64, instrument: InstrumentId, side: Side) -> ExecReport {
    let reason = RejectReason::Venue(SESSION_DOWN);
    ExecReport {
        client_id: id & !CANCEL_ID,
        instrument,
        side,
        kind: if id & CANCEL_ID != 0 {
            ExecKind::CancelRejected(reason)
        } else {
            ExecKind::Rejected(reason)
        },
    }
}

/// The last [`RecentIds::CAPACITY`] ids pushed, in a ring allocated once.
#[derive(Debug)]
struct RecentIds {
    ids: [u64; RecentIds::CAPACITY],
    next: usize,
}

impl Default for RecentIds {
    fn default() -> Self {
        Self {
            ids: [0; RecentIds::CAPACITY],
            next: 0,
        }
    }
}

impl RecentIds {
    const CAPACITY: usize = 256;

    fn push(&mut self, id: u64) {
        self.ids[self.next] = id;
        self.next = (self.next + 1) % Self::CAPACITY;
    }

    fn contains(&self, id: &u64) -> bool {
        self.ids.contains(id)
    }
}

/// Tells the back-fill of a fill reported live.
fn live_fill(back_fills: &mut BackFills, report: &ExecReport) {
    if let ExecKind::Fill { trade_id, .. } = report.kind {
        back_fills.on_live_fill(usize::from(report.instrument.0), trade_id);
    }
}

/// Whether a report leaves the order off the venue's book (its cancel is no longer needed).
fn order_done(kind: ExecKind) -> bool {
    match kind {
        ExecKind::Canceled
        | ExecKind::Rejected(_)
        | ExecKind::CancelRejected(RejectReason::UnknownOrder) => true,
        ExecKind::Fill { leaves, .. } => leaves.0 == 0,
        _ => false,
    }
}

/// Where orders go.
#[derive(Debug)]
pub enum Venue {
    /// In-process paper matching.
    Paper(Box<PaperExchange>),
    /// A venue's WebSocket API.
    Session(Box<VenueSession>),
}

/// The gateway thread's agent.
#[derive(Debug)]
pub struct GatewayAgent {
    venue: Venue,
    order_rx: rtrb::Consumer<OrderMsg>,
    quote_rx: rtrb::Consumer<Quote>,
    out: ReportOut,
    clock: LatencyClock,
    /// Request timestamps' wall clock, read from `clock` on the hot path.
    wall: ExtrapolatedWallClock,
    /// Socket-read ticks of the last event whose first request was timed as tick-to-trade.
    last_cause: u64,
    /// The requests of the turn being written (emptied by each write; kept here so a turn does
    /// not set up its 32 slots again).
    batch: Batch,
    /// When the venue connection is read on turns that expect nothing from it.
    quiet_reads: QuietReads,
    /// Says when the order-entry connection comes and goes, and why (none: not said).
    logger: Option<Logger>,
    stop: Arc<AtomicBool>,
}

#[derive(Debug)]
struct ReportOut {
    ring: rtrb::Producer<ExecReport>,
    backlog: VecDeque<ExecReport>,
    section: GatewaySection,
}

impl ReportOut {
    fn emit(&mut self, report: ExecReport) {
        match report.kind {
            ExecKind::Fill { .. } | ExecKind::BackFill { .. } => {
                self.section.counter(CounterId::Fills).add(1)
            }
            ExecKind::Rejected(_) => self.section.counter(CounterId::VenueRejects).add(1),
            _ => {}
        }
        if !self.backlog.is_empty() || self.ring.push(report).is_err() {
            self.section.counter(CounterId::ReportQueueFull).add(1);
            self.backlog.push_back(report);
        }
    }

    fn flush(&mut self) {
        while let Some(&r) = self.backlog.front() {
            if self.ring.push(r).is_err() {
                return;
            }
            self.backlog.pop_front();
        }
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl GatewayAgent {
    /// A gateway sending to `venue`.
    pub fn new(
        venue: Venue,
        order_rx: rtrb::Consumer<OrderMsg>,
        quote_rx: rtrb::Consumer<Quote>,
        report_tx: rtrb::Producer<ExecReport>,
        section: GatewaySection,
        clock: LatencyClock,
        stop: Arc<AtomicBool>,
    ) -> Self {
        Self {
            venue,
            order_rx,
            quote_rx,
            out: ReportOut {
                ring: report_tx,
                backlog: VecDeque::with_capacity(BACKLOG_CAPACITY),
                section,
            },
            wall: ExtrapolatedWallClock::new(&clock),
            clock,
            last_cause: 0,
            batch: Batch {
                requests: [Taken::default(); BATCH],
                len: 0,
                in_flight_from: 0,
            },
            quiet_reads: QuietReads::new(1),
            logger: None,
            stop,
        }
    }

    /// Logs the order-entry connection's connects and disconnects (with their causes) to
    /// `logger`.
    pub fn logging_to(mut self, logger: Logger) -> Self {
        self.logger = Some(logger);
        self
    }

    /// Reads the venue connection once every `turns` turns (at least 1) while it is quiet, and
    /// on every turn otherwise (see "Quiet reads" above); the default is every turn.
    pub fn reading_quiet_connection_every(mut self, turns: u32) -> Self {
        self.quiet_reads = QuietReads::new(turns);
        self
    }

    /// Frames one request into the session's send buffer, to go out with the turn's other
    /// requests, timestamped `now_ms`; rejects it at once if it cannot be sent. Returns whether
    /// it went in as a prepared cancel.
    fn queue(
        session: &mut VenueSession,
        out: &mut ReportOut,
        request: &OrderRequest,
        now_ms: u64,
    ) -> bool {
        let (id, instrument, side) = match *request {
            OrderRequest::New(o) => (o.client_id, o.instrument, o.side),
            OrderRequest::Cancel {
                client_id,
                instrument,
            } => (client_id | CANCEL_ID, instrument, Side::Buy),
        };
        if session.in_flight.len() >= IN_FLIGHT || !session.conn.is_open() {
            out.emit(session_down(id, instrument, side));
            return false;
        }
        let frame = match request {
            OrderRequest::New(o) => session.encoder.new_order(o, id, now_ms).map(|r| (r, false)),
            OrderRequest::Cancel {
                client_id,
                instrument,
            } => session
                .encoder
                .cancel_with_origin(*client_id, *instrument, id, now_ms),
        };
        let prepared = frame.is_some_and(|(_, prepared)| prepared);
        let queued = frame.is_some_and(|(bytes, _)| session.conn.queue_text(bytes).is_ok());
        if queued {
            session.in_flight.push((id, instrument, side));
        } else {
            out.emit(session_down(id, instrument, side));
        }
        queued && prepared
    }

    /// Writes the requests of `batch` in one write and times them; if the write fails, rejects
    /// every one of them (the connection will reconnect, and reconciliation settles what the
    /// venue got).
    fn write_batch(
        session: &mut VenueSession,
        out: &mut ReportOut,
        clock: &LatencyClock,
        last_cause: &mut u64,
        batch: &mut Batch,
    ) {
        if batch.len == 0 {
            return;
        }
        let issued = clock.ticks();
        if session.conn.flush().is_err() {
            for (id, instrument, side) in session.in_flight.drain(batch.in_flight_from..) {
                out.emit(session_down(id, instrument, side));
            }
        }
        let written = clock.ticks();
        for &taken in &batch.requests[..batch.len] {
            timed(&out.section, last_cause, taken, issued, written);
        }
        batch.len = 0;
    }

    fn session_turn(&mut self) -> usize {
        let Venue::Session(session) = &mut self.venue else {
            return 0;
        };
        let out = &mut self.out;
        let logger = &mut self.logger;
        let mut work = 0;
        let mut reconcile = [(0u64, false); 16];
        let mut reconcile_count = 0;
        let event = {
            let VenueSession {
                poll,
                conn,
                encoder,
                decoder,
                in_flight,
                account_seen,
                since_snapshot,
                reconcile_pending,
                to_prepare,
                back_fills,
                taken_foreign,
                done_recently,
                ..
            } = &mut **session;
            // Fills the strategy applies before it adopts the snapshot's position.
            let reconciling = *reconcile_pending != 0;
            let mut count_fill = |report: &ExecReport, seen: bool| {
                if let (true, true, ExecKind::Fill { qty, .. }) = (reconciling, seen, report.kind) {
                    if let Some(q) = since_snapshot.get_mut(usize::from(report.instrument.0)) {
                        *q = q.saturating_add(report.side.sign() * qty.0);
                    }
                }
            };
            conn.drive(poll.registry(), Instant::now(), &mut |bytes| {
                work += 1;
                match decoder.decode(bytes) {
                    Ok(OrderEntryMessage::Execution(report)) => {
                        count_fill(&report, *account_seen);
                        live_fill(back_fills, &report);
                        if order_done(report.kind) {
                            VenueSession::forget_cancel(encoder, to_prepare, report.client_id);
                            done_recently.push(report.client_id);
                        }
                        out.emit(report);
                    }
                    Ok(OrderEntryMessage::ForeignFill(report)) => {
                        // Before the balance snapshot it is in the snapshot, and not reported
                        // here (a back-fill records it if one is running).
                        if *account_seen {
                            live_fill(back_fills, &report);
                            count_fill(&report, true);
                            out.emit(report);
                        }
                    }
                    Ok(OrderEntryMessage::Response {
                        id: Some(id),
                        outcome,
                    }) if id & RECONCILE != 0 && id & TRADES != 0 => {
                        // A refused request is asked again after the retry interval.
                        if outcome.is_ok() {
                            let i = (id & !(RECONCILE | TRADES)) as usize;
                            back_fills.on_page(i, decoder.trades(), unix_ms(), &mut |t| {
                                out.emit(ExecReport {
                                    client_id: decoder.client_id(t.order_id).unwrap_or(0),
                                    instrument: t.instrument,
                                    side: t.side,
                                    kind: ExecKind::BackFill {
                                        price: t.price,
                                        qty: t.qty,
                                        trade_id: t.trade_id,
                                        maker: t.maker,
                                    },
                                })
                            });
                        }
                    }
                    // Other runs' orders cancelled at reconciliation: nothing to do.
                    Ok(OrderEntryMessage::Response { id: Some(id), .. })
                        if id & RECONCILE != 0 && id & FOREIGN != 0 => {}
                    Ok(OrderEntryMessage::Response {
                        id: Some(id),
                        outcome,
                    }) if id & RECONCILE != 0 => {
                        if id == RECONCILE && outcome.is_ok() {
                            *account_seen = true;
                        }
                        // The result's details are taken now (the next result replaces them)
                        // and handled after the drive, when the session can send.
                        if let Some(slot) = (id & !RECONCILE)
                            .checked_sub(1)
                            .and_then(|i| taken_foreign.get_mut(i as usize))
                            .filter(|_| outcome.is_ok())
                        {
                            *slot = decoder.take_foreign_orders();
                        }
                        if reconcile_count < reconcile.len() {
                            reconcile[reconcile_count] = (id, outcome.is_ok());
                            reconcile_count += 1;
                        }
                    }
                    Ok(OrderEntryMessage::Response {
                        id: Some(id),
                        outcome,
                    }) => {
                        let Some(at) = in_flight.iter().position(|(i, ..)| *i == id) else {
                            return;
                        };
                        let (_, instrument, side) = in_flight.swap_remove(at);
                        let cancel = id & CANCEL_ID != 0;
                        let client_id = id & !CANCEL_ID;
                        if cancel {
                            // A cancel's answer settles the order: requests for it still in
                            // flight were lost (the venue answers in order) or are superseded
                            // (a later cancel's answer is dropped here), and one the venue
                            // never answers must not hold a slot for ever.
                            in_flight.retain(|(i, ..)| *i & !CANCEL_ID != client_id);
                        }
                        let kind = match (cancel, outcome) {
                            (false, Ok(())) => ExecKind::Accepted,
                            (false, Err(code)) => ExecKind::Rejected(reject_reason(code)),
                            (true, Ok(())) => ExecKind::Canceled,
                            (true, Err(code)) => ExecKind::CancelRejected(reject_reason(code)),
                        };
                        if kind == ExecKind::Accepted && to_prepare.len() < PREPARED_CANCELS {
                            to_prepare.push((client_id, instrument));
                        } else if order_done(kind) {
                            VenueSession::forget_cancel(encoder, to_prepare, client_id);
                            done_recently.push(client_id);
                        }
                        out.emit(ExecReport {
                            client_id,
                            instrument,
                            side,
                            kind,
                        });
                    }
                    Ok(_) => {}
                    Err(_) => out.section.counter(CounterId::DecodeErrors).add_shared(1),
                }
            })
        };
        for &(id, ok) in &reconcile[..reconcile_count] {
            session.on_reconcile_response(id, ok, out);
        }
        let logged = match (&event, logger) {
            (Some(event), Some(logger)) => logger.connection(
                event,
                "order entry connected; reconnects so far {}",
                session.conn.reconnects(),
            ),
            _ => true,
        };
        if !logged {
            out.section.counter(CounterId::LogQueueFull).add_shared(1);
        }
        match event {
            Some(WsEvent::Connected) => session.start_reconciliation(),
            Some(WsEvent::Disconnected { .. }) => {
                session.encoder.forget_cancels();
                session.to_prepare.clear();
                session.back_fills.on_disconnect();
                // Requests in flight will not be answered on this connection: reject new
                // orders (reconciliation on reconnect settles what the venue holds) and refuse
                // cancels so the strategy retries them.
                for (id, instrument, side) in session.in_flight.drain(..) {
                    out.emit(session_down(id, instrument, side));
                }
            }
            None => {}
        }
        work
    }
}

impl Agent for GatewayAgent {
    fn role_name(&self) -> &'static str {
        "gateway"
    }

    /// Orders go out before the session is read: on a shared thread they were decided in this
    /// same turn from a quote just read, and answers from the venue can wait one turn (a quiet
    /// connection's unsolicited messages up to its quiet-read interval).
    fn do_work(&mut self) -> usize {
        let mut work = 0;
        while let Ok(quote) = self.quote_rx.pop() {
            if let Venue::Paper(venue) = &mut self.venue {
                let out = &mut self.out;
                venue.on_quote(&quote, quote.recv_tsc, &mut |r| out.emit(r));
            }
            work += 1;
        }
        while let Ok(msg) = self.order_rx.pop() {
            let mut taken = Taken {
                pushed: msg.pushed_tsc,
                popped: self.clock.ticks(),
                cause: msg.cause_recv_tsc,
                new_order: matches!(msg.request, OrderRequest::New(_)),
                prepared: false,
            };
            let out = &mut self.out;
            match &mut self.venue {
                Venue::Paper(venue) => {
                    venue.on_request(&msg.request, taken.popped, &mut |r| out.emit(r));
                    let done = self.clock.ticks();
                    timed(&out.section, &mut self.last_cause, taken, done, done);
                }
                Venue::Session(session) => {
                    let batch = &mut self.batch;
                    if batch.len == 0 {
                        batch.in_flight_from = session.in_flight.len();
                    }
                    let now_ms = self.wall.unix_ms(taken.popped);
                    taken.prepared = Self::queue(session, out, &msg.request, now_ms);
                    batch.requests[batch.len] = taken;
                    batch.len += 1;
                    if batch.len == BATCH {
                        let last_cause = &mut self.last_cause;
                        Self::write_batch(session, out, &self.clock, last_cause, batch);
                    }
                }
            }
            work += 1;
        }
        if let Venue::Session(session) = &mut self.venue {
            let last_cause = &mut self.last_cause;
            let batch = &mut self.batch;
            Self::write_batch(session, &mut self.out, &self.clock, last_cause, batch);
        }
        let expecting = match &self.venue {
            Venue::Session(session) => {
                work > 0 || !session.in_flight.is_empty() || !session.conn.is_open()
            }
            Venue::Paper(_) => false,
        };
        if self.quiet_reads.due(expecting) {
            let delivered = self.session_turn();
            self.quiet_reads.read(delivered);
            work += delivered;
        }
        self.out.flush();
        if work == 0 {
            if let Venue::Session(session) = &mut self.venue {
                session.on_idle(&self.clock, &mut self.wall);
            }
        }
        work
    }

    fn keep_warm(&mut self) {
        if let Venue::Session(session) = &mut self.venue {
            session.keep_warm(self.wall.unix_ms(self.clock.ticks()));
        }
    }

    fn is_done(&self) -> bool {
        self.stop.load(Ordering::Acquire)
            && (self.out.backlog.is_empty() || self.out.ring.is_abandoned())
    }

    fn wake_fds(&self, set: &mut WakeSet) {
        if let Some(fd) = match &self.venue {
            Venue::Session(session) => session.conn.socket_fd(),
            Venue::Paper(_) => None,
        } {
            set.add(fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_feed::Price;
    use tickwire_gateway::{NewOrder, OrderKind};

    fn new_order(client_id: u64) -> OrderRequest {
        OrderRequest::New(NewOrder {
            client_id,
            instrument: InstrumentId(0),
            side: Side::Buy,
            price: Price(1_000),
            qty: Qty(1),
            kind: OrderKind::PostOnly,
        })
    }

    fn cancel(client_id: u64) -> OrderRequest {
        OrderRequest::Cancel {
            client_id,
            instrument: InstrumentId(0),
        }
    }

    #[test]
    fn a_quiet_connection_is_read_every_nth_turn_and_an_expecting_one_every_turn() {
        let mut reads = QuietReads::new(4);
        let quiet: Vec<bool> = (0..8).map(|_| reads.due(false)).collect();
        assert_eq!(
            quiet,
            [false, false, false, true, false, false, false, true]
        );
        assert!(
            reads.due(true) && reads.due(true),
            "expecting: read on every turn"
        );
        let after: Vec<bool> = (0..4).map(|_| reads.due(false)).collect();
        assert_eq!(
            after,
            [false, false, false, true],
            "the count restarts at the last read"
        );
        reads.read(2);
        assert!(
            reads.due(false),
            "a read that delivered is followed by another"
        );
        reads.read(0);
        let drained: Vec<bool> = (0..4).map(|_| reads.due(false)).collect();
        assert_eq!(drained, [false, false, false, true]);
        let mut every_turn = QuietReads::new(0);
        assert!((0..5).all(|_| every_turn.due(false)), "0 means every turn");
    }

    #[test]
    fn tick_to_trade_times_the_first_request_of_each_market_event_cancels_included() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = LatencyClock::new();
        let mut region = crate::test_support::unit_region(dir.path(), &clock);
        let sections = region.take_sections().expect("sections");
        let (mut order_tx, order_rx) = rtrb::RingBuffer::new(16);
        let (_quote_tx, quote_rx) = rtrb::RingBuffer::new(16);
        let (report_tx, _report_rx) = rtrb::RingBuffer::new(64);
        let mut gateway = GatewayAgent::new(
            Venue::Paper(Box::new(PaperExchange::new(16))),
            order_rx,
            quote_rx,
            report_tx,
            sections.gateway,
            clock.clone(),
            Arc::new(AtomicBool::new(false)),
        );
        let read = clock.ticks();
        // One quote's requote (a cancel, then both sides), a timer's cancel, and two quotes that
        // each caused only a cancel.
        for (request, cause) in [
            (cancel(1), read),
            (new_order(2), read),
            (new_order(3), read),
            (cancel(4), 0),
            (cancel(2), read + 1),
            (cancel(3), read + 2),
        ] {
            let pushed = OrderMsg {
                request,
                cause_recv_tsc: cause,
                pushed_tsc: clock.ticks(),
            };
            assert!(order_tx.push(pushed).is_ok());
        }
        assert_eq!(gateway.do_work(), 6);
        let histogram = gateway.out.section.latency(Stage::TickToTrade).snapshot();
        assert_eq!(histogram.count, 3, "one sample per causing event");
        let requests = gateway.out.section.latency(Stage::EncodeToWrite).snapshot();
        assert_eq!(requests.count, 6);
        assert_eq!(gateway.out.section.counter(CounterId::OrdersSent).get(), 2);
    }
}
