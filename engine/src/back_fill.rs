//! Which of the account's fills the journal may lack, and which entries of the venue's trade
//! list (`myTrades`) to record for it.
//!
//! Per instrument, a ledger keeps `journaled_to`: the journal holds every fill of the account
//! with a trade id up to it. While a session is up and nothing is missing, each fill reported
//! moves it. A fill may be missing once no session was up to report it — after a disconnect,
//! or at start with a journal an earlier run wrote — and then the ledger has a *gap*: the
//! session asks for the venue's trade list after `journaled_to` (or from a time, when the
//! journal holds no fill), page by page, and reports each fill it was not told of as a
//! back-fill. Fills reported live while the gap is open are remembered, so the back-fill skips
//! them; the gap closes when a page comes back short, and `journaled_to` moves past everything
//! seen. A request that is not answered (refused, undecodable, lost with the connection) is
//! asked again after [`RETRY_MS`].
//!
//! This relies on the venue reporting an account's fills in trade-id order, each before any
//! later answer on the same connection (the simulator does; Binance's user-data events and
//! answers share the connection).
//!
//! Nothing here allocates after construction: the live fills remembered per instrument are at
//! most [`LIVE_FILLS`]; past that, the back-fill stops short of the first fill not remembered
//! (those after it may have been journaled live).

use tickwire_gateway::binance::{VenueTrade, MY_TRADES_LIMIT};

/// Live fills remembered per instrument while its gap is open.
pub const LIVE_FILLS: usize = 4096;
/// How long a trade-list request may go unanswered before it is asked again, ms.
pub const RETRY_MS: u64 = 10_000;

/// Where a trade-list request starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradesFrom {
    /// From this trade id on.
    Id(u64),
    /// From this Unix ms on.
    Time(u64),
}

#[derive(Debug)]
struct Ledger {
    journaled_to: u64,
    gap: bool,
    /// Trade ids reported live while the gap is open, ascending.
    live: Vec<u64>,
    last_live: u64,
    /// The first live fill not remembered in `live`.
    overflow_from: Option<u64>,
    /// Where the next page starts (after a full one), and when the pending request was made.
    next_page: Option<u64>,
    requested_ms: Option<u64>,
}

/// The back-fill state of a session, per instrument.
#[derive(Debug)]
pub struct BackFills {
    ledgers: Vec<Ledger>,
    /// Unix ms of this run's first connection.
    first_connect_ms: Option<u64>,
    /// Unix ms at which the journal's first run started.
    journal_start_ms: Option<u64>,
}

impl BackFills {
    /// A fresh journal's state for `instruments` instruments: nothing to back-fill.
    pub fn new(instruments: usize) -> Self {
        Self {
            ledgers: (0..instruments)
                .map(|_| Ledger {
                    journaled_to: 0,
                    gap: false,
                    live: Vec::with_capacity(LIVE_FILLS),
                    last_live: 0,
                    overflow_from: None,
                    next_page: None,
                    requested_ms: None,
                })
                .collect(),
            first_connect_ms: None,
            journal_start_ms: None,
        }
    }

    /// What an earlier run left: the last trade id the journal holds per instrument (0: none)
    /// and when the journal's first run started (`None`: no run did). With either, the first
    /// connection back-fills what that run was not told of or did not journal.
    pub fn resume(&mut self, last_trades: &[u64], journal_start_ms: Option<u64>) {
        for (ledger, &last) in self.ledgers.iter_mut().zip(last_trades) {
            ledger.journaled_to = ledger.journaled_to.max(last);
            ledger.gap = last > 0 || journal_start_ms.is_some();
        }
        self.journal_start_ms = journal_start_ms;
    }

    /// A session connected at `now_ms`.
    pub fn on_connect(&mut self, now_ms: u64) {
        self.first_connect_ms.get_or_insert(now_ms);
        for ledger in &mut self.ledgers {
            ledger.requested_ms = None;
            ledger.next_page = None;
        }
    }

    /// The session was lost: fills made until the next one may be missing.
    pub fn on_disconnect(&mut self) {
        for ledger in &mut self.ledgers {
            ledger.gap = true;
            ledger.requested_ms = None;
            ledger.next_page = None;
        }
    }

    /// A fill of instrument `i` was reported live (and so journaled).
    pub fn on_live_fill(&mut self, i: usize, trade_id: u64) {
        let Some(ledger) = self.ledgers.get_mut(i) else {
            return;
        };
        if !ledger.gap {
            ledger.journaled_to = ledger.journaled_to.max(trade_id);
            return;
        }
        ledger.last_live = ledger.last_live.max(trade_id);
        if ledger.overflow_from.is_none() {
            if ledger.live.len() < LIVE_FILLS {
                ledger.live.push(trade_id);
            } else {
                ledger.overflow_from = Some(trade_id);
            }
        }
    }

    /// The next trade-list request due at `now_ms`, if any: the instrument and where it starts.
    /// The caller sends it (or, if it cannot, it is due again after [`RETRY_MS`]).
    pub fn due(&mut self, now_ms: u64) -> Option<(usize, TradesFrom)> {
        let since = self
            .first_connect_ms
            .into_iter()
            .chain(self.journal_start_ms)
            .min();
        for (i, ledger) in self.ledgers.iter_mut().enumerate() {
            let waiting = ledger
                .requested_ms
                .is_some_and(|at| now_ms.saturating_sub(at) < RETRY_MS);
            if !ledger.gap || waiting {
                continue;
            }
            let from = match (ledger.next_page, ledger.journaled_to, since) {
                (Some(id), ..) => TradesFrom::Id(id),
                (None, 0, Some(ms)) => TradesFrom::Time(ms),
                (None, 0, None) => {
                    // No fill was ever journaled and no history to look back on.
                    ledger.gap = false;
                    continue;
                }
                (None, last, _) => TradesFrom::Id(last.saturating_add(1)),
            };
            ledger.requested_ms = Some(now_ms);
            return Some((i, from));
        }
        None
    }

    /// A page of instrument `i`'s trade list came: calls `report` with each fill the journal
    /// lacks. A full page asks for the next; a short one closes the gap.
    pub fn on_page(
        &mut self,
        i: usize,
        trades: &[VenueTrade],
        report: &mut dyn FnMut(&VenueTrade),
    ) {
        let Some(ledger) = self.ledgers.get_mut(i) else {
            return;
        };
        if !ledger.gap {
            return;
        }
        let mut page_last = 0;
        for t in trades.iter().filter(|t| t.instrument.0 as usize == i) {
            page_last = page_last.max(t.trade_id);
            let missing = t.trade_id > ledger.journaled_to
                && ledger.live.binary_search(&t.trade_id).is_err()
                && ledger.overflow_from.is_none_or(|first| t.trade_id < first);
            if missing {
                report(t);
            }
        }
        ledger.requested_ms = None;
        if trades.len() >= MY_TRADES_LIMIT {
            ledger.next_page = Some(page_last.saturating_add(1));
            return;
        }
        ledger.journaled_to = ledger.journaled_to.max(page_last).max(ledger.last_live);
        ledger.gap = false;
        ledger.next_page = None;
        ledger.live.clear();
        ledger.last_live = 0;
        ledger.overflow_from = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_feed::{InstrumentId, Price, Qty, Side};

    fn trade(id: u64) -> VenueTrade {
        VenueTrade {
            instrument: InstrumentId(0),
            trade_id: id,
            order_id: 1,
            side: Side::Buy,
            price: Price(1),
            qty: Qty(1),
            maker: true,
        }
    }

    fn page(b: &mut BackFills, ids: &[u64]) -> Vec<u64> {
        let trades: Vec<VenueTrade> = ids.iter().map(|&id| trade(id)).collect();
        let mut reported = Vec::new();
        b.on_page(0, &trades, &mut |t| reported.push(t.trade_id));
        reported
    }

    #[test]
    fn a_fresh_journal_back_fills_nothing_until_a_session_is_lost() {
        let mut b = BackFills::new(1);
        b.on_connect(1_000);
        assert_eq!(b.due(1_000), None);
        b.on_live_fill(0, 5);
        b.on_live_fill(0, 7);
        b.on_disconnect();
        b.on_connect(2_000);
        assert_eq!(b.due(2_000), Some((0, TradesFrom::Id(8))));
        assert_eq!(b.due(2_001), None, "asked once");
        // Fills 8 and 9 were made while the session was down; 10 came live before the answer.
        b.on_live_fill(0, 10);
        assert_eq!(page(&mut b, &[8, 9, 10]), [8, 9]);
        assert_eq!(b.due(30_000), None, "the gap is closed");
        b.on_live_fill(0, 11);
        b.on_disconnect();
        b.on_connect(40_000);
        assert_eq!(b.due(40_000), Some((0, TradesFrom::Id(12))));
    }

    #[test]
    fn before_any_fill_a_reconnect_looks_back_to_the_first_connection() {
        let mut b = BackFills::new(1);
        b.on_connect(1_000);
        b.on_disconnect();
        b.on_connect(5_000);
        assert_eq!(b.due(5_000), Some((0, TradesFrom::Time(1_000))));
        assert_eq!(page(&mut b, &[3, 4]), [3, 4]);
        b.on_disconnect();
        b.on_connect(9_000);
        assert_eq!(b.due(9_000), Some((0, TradesFrom::Id(5))));
    }

    #[test]
    fn a_journal_with_history_is_completed_on_the_first_connection() {
        let mut b = BackFills::new(1);
        b.resume(&[41], Some(100));
        b.on_connect(9_000);
        assert_eq!(b.due(9_000), Some((0, TradesFrom::Id(42))));
        let mut none = BackFills::new(1);
        none.resume(&[0], Some(100));
        none.on_connect(9_000);
        assert_eq!(none.due(9_000), Some((0, TradesFrom::Time(100))));
    }

    #[test]
    fn full_pages_page_on_and_unanswered_requests_are_asked_again() {
        let mut b = BackFills::new(1);
        b.resume(&[10], None);
        b.on_connect(0);
        assert_eq!(b.due(0), Some((0, TradesFrom::Id(11))));
        assert_eq!(b.due(RETRY_MS - 1), None);
        assert_eq!(b.due(RETRY_MS), Some((0, TradesFrom::Id(11))), "unanswered");
        let full: Vec<u64> = (11..11 + MY_TRADES_LIMIT as u64).collect();
        assert_eq!(page(&mut b, &full).len(), MY_TRADES_LIMIT);
        let next = 11 + MY_TRADES_LIMIT as u64;
        assert_eq!(b.due(RETRY_MS), Some((0, TradesFrom::Id(next))));
        assert_eq!(page(&mut b, &[next]), [next]);
        assert_eq!(b.due(3 * RETRY_MS), None);
    }

    #[test]
    fn live_fills_of_an_open_gap_survive_a_second_disconnect() {
        let mut b = BackFills::new(1);
        b.resume(&[10], None);
        b.on_connect(0);
        assert_eq!(b.due(0), Some((0, TradesFrom::Id(11))));
        // The request is lost with the connection; fills 15 and 16 came live before that.
        b.on_live_fill(0, 15);
        b.on_live_fill(0, 16);
        b.on_disconnect();
        b.on_connect(1);
        assert_eq!(b.due(1), Some((0, TradesFrom::Id(11))));
        assert_eq!(page(&mut b, &[11, 15, 16, 17]), [11, 17]);
        b.on_disconnect();
        b.on_connect(2);
        assert_eq!(b.due(2), Some((0, TradesFrom::Id(18))));
    }

    #[test]
    fn past_the_live_fills_remembered_the_back_fill_stops_short() {
        let mut b = BackFills::new(1);
        b.resume(&[1], None);
        b.on_connect(0);
        assert!(b.due(0).is_some());
        let first_live = 100;
        for id in first_live..first_live + LIVE_FILLS as u64 + 2 {
            b.on_live_fill(0, id);
        }
        let overflow = first_live + LIVE_FILLS as u64;
        let reported = page(&mut b, &[2, first_live, overflow, overflow + 1]);
        assert_eq!(
            reported,
            [2],
            "nothing past what may have been journaled live"
        );
    }
}
