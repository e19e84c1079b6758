//! Which of the account's fills the journal may lack, and which entries of the venue's trade
//! list (`myTrades`) to record for it.
//!
//! Per instrument, a ledger keeps `journaled_to`: the journal holds every fill of the account
//! with a trade id up to it. While a session is up and nothing is missing, each fill reported
//! moves it. A fill may be missing once no session was up to report it — after a disconnect,
//! or at start with a journal an earlier run wrote — and then the ledger has a *gap*: the
//! session asks for the venue's trade list after `journaled_to` (or from a time, when the
//! journal holds no fill, one [`MY_TRADES_SPAN_MS`] window at a time, then by trade id), page
//! by page, and reports each fill it was not told of as a back-fill. Fills reported live while
//! the gap is open are remembered, so the back-fill skips them; each page moves `journaled_to`
//! to its last fill, so a page read twice (a late answer, or one read again after a reconnect)
//! reports nothing twice; the gap closes on a short page, and `journaled_to` moves past
//! everything seen. A request that is not answered (refused, undecodable, lost with the
//! connection) is asked again after [`RETRY_MS`].
//!
//! This relies on the venue reporting an account's fills in trade-id order, each before any
//! later answer on the same connection (the simulator does; Binance's user-data events and
//! answers share the connection).
//!
//! Nothing here allocates after construction. Live fills are remembered as runs, one per
//! connection, at most [`LIVE_RUNS`] per instrument; past that the last run stretches, and
//! fills between it and the next live one may be left out of the back-fill.

use tickwire_gateway::binance::{VenueTrade, MY_TRADES_LIMIT, MY_TRADES_SPAN_MS};

/// Runs of live fills remembered per instrument while its gap is open: one per connection
/// (on one connection every fill between its first and last live one was reported live).
pub const LIVE_RUNS: usize = 16;
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
    /// Runs `(first, last)` of trade ids reported live while the gap is open, ascending; the
    /// last one still growing while `run_open`.
    live: Vec<(u64, u64)>,
    run_open: bool,
    /// While no fill was ever journaled: the time the next request by time starts at (each
    /// covers [`MY_TRADES_SPAN_MS`]).
    since_ms: Option<u64>,
    /// When the pending request was made.
    requested_ms: Option<u64>,
}

impl Ledger {
    fn reported_live(&self, trade_id: u64) -> bool {
        self.live
            .iter()
            .any(|&(first, last)| first <= trade_id && trade_id <= last)
    }

    /// The journal holds every fill up to `to`: forgets the runs below it.
    fn journaled_up_to(&mut self, to: u64) {
        self.journaled_to = self.journaled_to.max(to);
        let journaled_to = self.journaled_to;
        self.live.retain(|&(_, last)| last > journaled_to);
    }

    fn close(&mut self) {
        let last_live = self.live.last().map_or(0, |&(_, last)| last);
        self.journaled_up_to(last_live);
        self.gap = false;
        self.live.clear();
        self.run_open = false;
        self.since_ms = None;
        self.requested_ms = None;
    }
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
                    live: Vec::with_capacity(LIVE_RUNS),
                    run_open: false,
                    since_ms: None,
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
            ledger.run_open = false;
        }
    }

    /// The session was lost: fills made until the next one may be missing.
    pub fn on_disconnect(&mut self) {
        for ledger in &mut self.ledgers {
            ledger.gap = true;
            ledger.requested_ms = None;
            ledger.run_open = false;
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
        let stretch = ledger.run_open || ledger.live.len() == LIVE_RUNS;
        match ledger.live.last_mut() {
            Some(run) if stretch => {
                // Past the runs remembered, the last one stretches: the fills between are taken
                // as reported, which may leave some out of the back-fill.
                run.1 = run.1.max(trade_id);
            }
            _ => ledger.live.push((trade_id, trade_id)),
        }
        ledger.run_open = true;
    }

    /// The next trade-list request due at `now_ms`, if any: the instrument and where it starts.
    /// The caller sends it (or, if it cannot, it is due again after [`RETRY_MS`]).
    pub fn due(&mut self, now_ms: u64) -> Option<(usize, TradesFrom)> {
        let history = self
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
            let from = if ledger.journaled_to > 0 {
                TradesFrom::Id(ledger.journaled_to.saturating_add(1))
            } else if let Some(since) = ledger.since_ms.or(history) {
                ledger.since_ms = Some(since);
                TradesFrom::Time(since)
            } else {
                // No fill was ever journaled and there is no history to look back on.
                ledger.close();
                continue;
            };
            ledger.requested_ms = Some(now_ms);
            return Some((i, from));
        }
        None
    }

    /// A page of instrument `i`'s trade list came, at `now_ms`: calls `report` with each fill
    /// the journal lacks. The gap closes on a short page by trade id; a full one, or any page
    /// by time, asks for what follows. Pages that come late or twice report nothing again.
    pub fn on_page(
        &mut self,
        i: usize,
        trades: &[VenueTrade],
        now_ms: u64,
        report: &mut dyn FnMut(&VenueTrade),
    ) {
        let Some(ledger) = self.ledgers.get_mut(i) else {
            return;
        };
        if !ledger.gap {
            return;
        }
        let by_time = ledger.journaled_to == 0;
        let mut page_last = 0;
        for t in trades.iter().filter(|t| usize::from(t.instrument.0) == i) {
            page_last = page_last.max(t.trade_id);
            if t.trade_id > ledger.journaled_to && !ledger.reported_live(t.trade_id) {
                report(t);
            }
        }
        ledger.requested_ms = None;
        // Every fill up to the page's last is journaled now, live or back-filled.
        ledger.journaled_up_to(page_last);
        if by_time {
            if page_last == 0 {
                // Nothing in this window: the next one, until the present.
                match ledger.since_ms {
                    Some(since) if since.saturating_add(MY_TRADES_SPAN_MS) < now_ms => {
                        ledger.since_ms = Some(since + MY_TRADES_SPAN_MS);
                    }
                    _ => ledger.close(),
                }
            }
            // Otherwise the rest is asked for by trade id.
            return;
        }
        if trades.len() < MY_TRADES_LIMIT {
            ledger.close();
        }
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

    /// Feeds a page of these trade ids at `now_ms`; returns the ids reported.
    fn page_at(b: &mut BackFills, ids: &[u64], now_ms: u64) -> Vec<u64> {
        let trades: Vec<VenueTrade> = ids.iter().map(|&id| trade(id)).collect();
        let mut reported = Vec::new();
        b.on_page(0, &trades, now_ms, &mut |t| reported.push(t.trade_id));
        reported
    }

    fn page(b: &mut BackFills, ids: &[u64]) -> Vec<u64> {
        page_at(b, ids, 0)
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
    fn before_any_fill_the_back_fill_looks_back_by_time_then_goes_on_by_id() {
        let mut b = BackFills::new(1);
        b.on_connect(1_000);
        b.on_disconnect();
        b.on_connect(5_000);
        assert_eq!(b.due(5_000), Some((0, TradesFrom::Time(1_000))));
        assert_eq!(page_at(&mut b, &[3, 4], 5_000), [3, 4]);
        // A page by time covers one window: the rest is asked for by trade id.
        assert_eq!(b.due(5_000), Some((0, TradesFrom::Id(5))));
        assert_eq!(page_at(&mut b, &[], 5_000), Vec::<u64>::new());
        assert_eq!(b.due(5_000), None, "closed");
    }

    #[test]
    fn an_empty_window_by_time_moves_on_a_day_until_the_present() {
        let mut b = BackFills::new(1);
        b.resume(&[0], Some(0));
        let now = 2 * MY_TRADES_SPAN_MS + 5;
        b.on_connect(now);
        assert_eq!(b.due(now), Some((0, TradesFrom::Time(0))));
        assert!(page_at(&mut b, &[], now).is_empty());
        assert_eq!(b.due(now), Some((0, TradesFrom::Time(MY_TRADES_SPAN_MS))));
        assert!(page_at(&mut b, &[], now).is_empty());
        assert_eq!(
            b.due(now),
            Some((0, TradesFrom::Time(2 * MY_TRADES_SPAN_MS)))
        );
        assert!(page_at(&mut b, &[], now).is_empty());
        assert_eq!(b.due(now), None, "reached the present");
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
        // The first request's late answer, the same full page: nothing again.
        assert!(page(&mut b, &full).is_empty());
        let next = 11 + MY_TRADES_LIMIT as u64;
        assert_eq!(b.due(RETRY_MS), Some((0, TradesFrom::Id(next))));
        // Lost with the connection: asked again from where the journal is complete.
        b.on_disconnect();
        b.on_connect(RETRY_MS);
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
        // The request is lost with the connection; fills 15 and 16 came live before that, 18
        // on the next connection.
        b.on_live_fill(0, 15);
        b.on_live_fill(0, 16);
        b.on_disconnect();
        b.on_connect(1);
        assert_eq!(b.due(1), Some((0, TradesFrom::Id(11))));
        b.on_live_fill(0, 18);
        assert_eq!(page(&mut b, &[11, 15, 16, 17, 18]), [11, 17]);
        b.on_disconnect();
        b.on_connect(2);
        assert_eq!(b.due(2), Some((0, TradesFrom::Id(19))));
    }

    #[test]
    fn past_the_runs_remembered_the_last_one_stretches() {
        let mut b = BackFills::new(1);
        b.resume(&[1], None);
        for n in 0..LIVE_RUNS as u64 + 1 {
            b.on_connect(n);
            b.on_live_fill(0, 100 + 10 * n);
            b.on_disconnect();
        }
        b.on_connect(1_000);
        assert!(b.due(1_000).is_some());
        let last_run = 100 + 10 * (LIVE_RUNS as u64 - 1);
        let reported = page(
            &mut b,
            &[2, 105, last_run, last_run + 5, last_run + 10, 500],
        );
        assert_eq!(
            reported,
            [2, 105, 500],
            "the last run covers up to its last fill"
        );
    }
}
