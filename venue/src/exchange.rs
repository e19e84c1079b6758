//! The simulated exchange: one instrument's limit order book with price-time priority, the
//! accounts trading on it, and the events each operation produces (trades, book changes,
//! execution reports), in the order a real matching engine would publish them.
//!
//! Prices and quantities are integers at the instrument's decimals. Every operation is
//! deterministic: equal inputs give equal outputs, so a seeded run replays exactly.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Price levels as (price, total quantity), best first.
pub type Levels = Vec<(i64, i64)>;

/// Level changes between two book update ids, each level with its new total (0 = removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepthChanges {
    /// First update id covered.
    pub first_update_id: u64,
    /// Last update id covered.
    pub last_update_id: u64,
    /// Changed bid levels, best first.
    pub bids: Levels,
    /// Changed ask levels, best first.
    pub asks: Levels,
}

/// An account (API key) on the venue.
pub type AccountId = u32;

/// Side of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

/// How an order treats liquidity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeInForce {
    /// Good till cancelled: takes what it can, rests the rest.
    Gtc,
    /// Immediate or cancel.
    Ioc,
    /// Maker only (`LIMIT_MAKER`): rejected if it would take.
    MakerOnly,
}

/// A venue error as the wire reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueError {
    /// Binance error code.
    pub code: i32,
    /// Message.
    pub msg: &'static str,
}

/// "Order would immediately match and take." (`LIMIT_MAKER`).
pub const WOULD_TAKE: VenueError = VenueError {
    code: -2010,
    msg: "Order would immediately match and take.",
};
/// "Duplicate order sent."
pub const DUPLICATE: VenueError = VenueError {
    code: -2010,
    msg: "Duplicate order sent.",
};
/// "Unknown order sent." on cancel.
pub const UNKNOWN_ORDER: VenueError = VenueError {
    code: -2011,
    msg: "Unknown order sent.",
};
/// Price or quantity off the tick/lot grid, or not positive.
pub const FILTER_FAILURE: VenueError = VenueError {
    code: -1013,
    msg: "Filter failure: PRICE_FILTER or LOT_SIZE",
};
/// Injected rejection (admin fault `reject_orders`).
pub const INJECTED_REJECT: VenueError = VenueError {
    code: -2010,
    msg: "This action is disabled on this account.",
};

/// Order status as the wire reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Resting, unfilled.
    New,
    /// Resting, partly filled.
    PartiallyFilled,
    /// Done, fully filled.
    Filled,
    /// Done, cancelled.
    Canceled,
    /// Done, the unfilled rest of an IOC.
    Expired,
}

/// One order as the venue knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderView {
    /// Venue order id.
    pub order_id: u64,
    /// Owner.
    pub account: AccountId,
    /// Client order id.
    pub client_order_id: String,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: i64,
    /// Original quantity.
    pub orig_qty: i64,
    /// Filled quantity.
    pub executed_qty: i64,
    /// Σ price × qty of the fills.
    pub cum_quote: i128,
    /// Time in force.
    pub tif: TimeInForce,
    /// Status.
    pub status: OrderStatus,
    /// Venue time (ms) of creation.
    pub created_ms: u64,
}

/// Something the exchange publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VenueEvent {
    /// A trade between an aggressor and a resting order.
    Trade {
        /// Trade id.
        trade_id: u64,
        /// Price.
        price: i64,
        /// Quantity.
        qty: i64,
        /// Whether the buyer was the maker (the aggressor sold).
        buyer_is_maker: bool,
        /// Venue time, ms.
        time_ms: u64,
    },
    /// An order changed; `account` receives it on its user-data stream.
    Execution {
        /// The order after the change.
        order: OrderView,
        /// `NEW`, `TRADE`, `CANCELED`, `EXPIRED`.
        exec_type: ExecType,
        /// Last fill quantity (0 if not a trade).
        last_qty: i64,
        /// Last fill price (0 if not a trade).
        last_price: i64,
        /// Trade id (-1 if not a trade).
        trade_id: i64,
        /// Whether this side was the maker.
        maker: bool,
        /// Venue time, ms.
        time_ms: u64,
    },
}

/// Kind of an execution event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecType {
    /// Order accepted.
    New,
    /// A fill.
    Trade,
    /// Cancelled.
    Canceled,
    /// IOC rest expired.
    Expired,
}

#[derive(Debug, Clone)]
struct Resting {
    order_id: u64,
    remaining: i64,
}

/// One fill of an account's order, as the WebSocket API's `myTrades` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTrade {
    /// Trade id (the two sides of a trade share it).
    pub trade_id: u64,
    /// The account's order.
    pub order_id: u64,
    /// The order's side.
    pub side: Side,
    /// Price.
    pub price: i64,
    /// Quantity.
    pub qty: i64,
    /// Whether the order was the maker.
    pub maker: bool,
    /// Venue time, ms.
    pub time_ms: u64,
}

/// Per-account totals, for `/admin/account` and reconciliation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// Signed position, lots.
    pub position: i64,
    /// Fills counted.
    pub fills: u64,
    /// Σ signed price × qty of fills (cash flow, negative when buying).
    pub cash: i128,
}

/// The exchange for one instrument.
#[derive(Debug)]
pub struct Exchange {
    tick: i64,
    lot: i64,
    bids: BTreeMap<i64, VecDeque<Resting>>,
    asks: BTreeMap<i64, VecDeque<Resting>>,
    orders: HashMap<u64, OrderView>,
    by_client: HashMap<(AccountId, String), u64>,
    accounts: HashMap<AccountId, Account>,
    /// Every fill of each account, oldest first.
    trades: HashMap<AccountId, Vec<AccountTrade>>,
    next_order_id: u64,
    next_trade_id: u64,
    /// Book update id: bumped by every change to the book.
    update_id: u64,
    /// Levels changed since the last [`Exchange::take_depth_changes`].
    dirty_bids: BTreeSet<i64>,
    dirty_asks: BTreeSet<i64>,
    /// First update id of the pending depth changes.
    first_dirty_update: u64,
    events: Vec<VenueEvent>,
}

impl Exchange {
    /// An empty book with the instrument's tick and lot (both > 0).
    pub fn new(tick: i64, lot: i64) -> Self {
        Self {
            tick,
            lot,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            orders: HashMap::new(),
            by_client: HashMap::new(),
            accounts: HashMap::new(),
            trades: HashMap::new(),
            next_order_id: 1,
            next_trade_id: 1,
            update_id: 1,
            dirty_bids: BTreeSet::new(),
            dirty_asks: BTreeSet::new(),
            first_dirty_update: 2,
            events: Vec::new(),
        }
    }

    /// Best bid (price, total qty).
    pub fn best_bid(&self) -> Option<(i64, i64)> {
        self.bids
            .iter()
            .next_back()
            .map(|(p, q)| (*p, q.iter().map(|r| r.remaining).sum()))
    }

    /// Best ask (price, total qty).
    pub fn best_ask(&self) -> Option<(i64, i64)> {
        self.asks
            .iter()
            .next()
            .map(|(p, q)| (*p, q.iter().map(|r| r.remaining).sum()))
    }

    /// Top `n` levels per side, best first: (bids, asks).
    pub fn depth(&self, n: usize) -> (Levels, Levels) {
        let level = |(p, q): (&i64, &VecDeque<Resting>)| (*p, q.iter().map(|r| r.remaining).sum());
        (
            self.bids.iter().rev().take(n).map(level).collect(),
            self.asks.iter().take(n).map(level).collect(),
        )
    }

    /// The current book update id.
    pub fn update_id(&self) -> u64 {
        self.update_id
    }

    /// Level changes since the last call; `None` when nothing changed.
    pub fn take_depth_changes(&mut self) -> Option<DepthChanges> {
        if self.dirty_bids.is_empty() && self.dirty_asks.is_empty() {
            return None;
        }
        let total = |book: &BTreeMap<i64, VecDeque<Resting>>, p: i64| {
            book.get(&p)
                .map_or(0, |q| q.iter().map(|r| r.remaining).sum())
        };
        let bids = std::mem::take(&mut self.dirty_bids)
            .into_iter()
            .rev()
            .map(|p| (p, total(&self.bids, p)))
            .collect();
        let asks = std::mem::take(&mut self.dirty_asks)
            .into_iter()
            .map(|p| (p, total(&self.asks, p)))
            .collect();
        let first_update_id = self.first_dirty_update;
        self.first_dirty_update = self.update_id + 1;
        Some(DepthChanges {
            first_update_id,
            last_update_id: self.update_id,
            bids,
            asks,
        })
    }

    /// Events produced since the last call.
    pub fn take_events(&mut self) -> Vec<VenueEvent> {
        std::mem::take(&mut self.events)
    }

    /// An account's totals.
    pub fn account(&self, account: AccountId) -> Account {
        self.accounts.get(&account).cloned().unwrap_or_default()
    }

    /// An account's fills, oldest first, at most `limit`: from trade id `from_id` on, else from
    /// time `start_ms` on, else the most recent ones; none after `end_ms` (as `myTrades`
    /// answers).
    pub fn trades(
        &self,
        account: AccountId,
        from_id: Option<u64>,
        (start_ms, end_ms): (Option<u64>, Option<u64>),
        limit: usize,
    ) -> Vec<AccountTrade> {
        let Some(trades) = self.trades.get(&account) else {
            return Vec::new();
        };
        let first = match (from_id, start_ms) {
            (Some(id), _) => trades.partition_point(|t| t.trade_id < id),
            (None, Some(ms)) => trades.partition_point(|t| t.time_ms < ms),
            (None, None) => trades.len().saturating_sub(limit),
        };
        trades[first..]
            .iter()
            .take_while(|t| end_ms.is_none_or(|end| t.time_ms <= end))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Open orders of an account, oldest first.
    pub fn open_orders(&self, account: AccountId) -> Vec<OrderView> {
        let mut v: Vec<OrderView> = self
            .orders
            .values()
            .filter(|o| o.account == account)
            .cloned()
            .collect();
        v.sort_by_key(|o| o.order_id);
        v
    }

    fn touch(&mut self, side: Side, price: i64) {
        self.update_id += 1;
        match side {
            Side::Buy => self.dirty_bids.insert(price),
            Side::Sell => self.dirty_asks.insert(price),
        };
    }

    fn execution(
        &mut self,
        order: &OrderView,
        exec_type: ExecType,
        fill: Option<(i64, i64, u64, bool)>,
        time_ms: u64,
    ) {
        let (last_qty, last_price, trade_id, maker) =
            fill.map_or((0, 0, -1, false), |(q, p, t, m)| (q, p, t as i64, m));
        self.events.push(VenueEvent::Execution {
            order: order.clone(),
            exec_type,
            last_qty,
            last_price,
            trade_id,
            maker,
            time_ms,
        });
    }

    /// Places an order; returns the order after matching.
    ///
    /// # Errors
    ///
    /// [`VenueError`] as the venue would report it; nothing changes on error.
    #[allow(clippy::too_many_arguments)]
    pub fn place(
        &mut self,
        account: AccountId,
        client_order_id: &str,
        side: Side,
        price: i64,
        qty: i64,
        tif: TimeInForce,
        time_ms: u64,
    ) -> Result<OrderView, VenueError> {
        if price <= 0 || qty <= 0 || price % self.tick != 0 || qty % self.lot != 0 {
            return Err(FILTER_FAILURE);
        }
        if self
            .by_client
            .contains_key(&(account, client_order_id.to_string()))
        {
            return Err(DUPLICATE);
        }
        let crosses = match side {
            Side::Buy => self.best_ask().is_some_and(|(a, _)| price >= a),
            Side::Sell => self.best_bid().is_some_and(|(b, _)| price <= b),
        };
        if crosses && tif == TimeInForce::MakerOnly {
            return Err(WOULD_TAKE);
        }
        let order_id = self.next_order_id;
        self.next_order_id += 1;
        let mut order = OrderView {
            order_id,
            account,
            client_order_id: client_order_id.to_string(),
            side,
            price,
            orig_qty: qty,
            executed_qty: 0,
            cum_quote: 0,
            tif,
            status: OrderStatus::New,
            created_ms: time_ms,
        };
        self.execution(&order.clone(), ExecType::New, None, time_ms);
        if crosses {
            self.match_aggressor(&mut order, time_ms);
        }
        let remaining = order.orig_qty - order.executed_qty;
        if remaining > 0 && tif == TimeInForce::Ioc {
            order.status = OrderStatus::Expired;
            self.execution(&order.clone(), ExecType::Expired, None, time_ms);
        } else if remaining > 0 {
            let book = match side {
                Side::Buy => &mut self.bids,
                Side::Sell => &mut self.asks,
            };
            book.entry(price).or_default().push_back(Resting {
                order_id,
                remaining,
            });
            self.touch(side, price);
            self.by_client
                .insert((account, client_order_id.to_string()), order_id);
            self.orders.insert(order_id, order.clone());
        }
        Ok(order)
    }

    fn match_aggressor(&mut self, order: &mut OrderView, time_ms: u64) {
        loop {
            let remaining = order.orig_qty - order.executed_qty;
            if remaining == 0 {
                break;
            }
            let best = match order.side {
                Side::Buy => self
                    .asks
                    .keys()
                    .next()
                    .copied()
                    .filter(|&a| a <= order.price),
                Side::Sell => self
                    .bids
                    .keys()
                    .next_back()
                    .copied()
                    .filter(|&b| b >= order.price),
            };
            let Some(level_price) = best else { break };
            let book = match order.side {
                Side::Buy => &mut self.asks,
                Side::Sell => &mut self.bids,
            };
            let Some(queue) = book.get_mut(&level_price) else {
                break;
            };
            let Some(front) = queue.front_mut() else {
                break;
            };
            let qty = remaining.min(front.remaining);
            front.remaining -= qty;
            let maker_id = front.order_id;
            if front.remaining == 0 {
                queue.pop_front();
            }
            if queue.is_empty() {
                book.remove(&level_price);
            }
            self.touch(order.side.opposite(), level_price);
            let trade_id = self.next_trade_id;
            self.next_trade_id += 1;
            self.events.push(VenueEvent::Trade {
                trade_id,
                price: level_price,
                qty,
                buyer_is_maker: order.side == Side::Sell,
                time_ms,
            });
            let fill = |side, maker| AccountTrade {
                trade_id,
                order_id: 0,
                side,
                price: level_price,
                qty,
                maker,
                time_ms,
            };
            if let Some(mut maker) = self.orders.remove(&maker_id) {
                apply_fill(&mut maker, qty, level_price);
                self.account_fill(
                    maker.account,
                    AccountTrade {
                        order_id: maker_id,
                        ..fill(maker.side, true)
                    },
                );
                self.execution(
                    &maker,
                    ExecType::Trade,
                    Some((qty, level_price, trade_id, true)),
                    time_ms,
                );
                if maker.status == OrderStatus::Filled {
                    self.by_client
                        .remove(&(maker.account, maker.client_order_id.clone()));
                } else {
                    self.orders.insert(maker_id, maker);
                }
            }
            apply_fill(order, qty, level_price);
            self.account_fill(
                order.account,
                AccountTrade {
                    order_id: order.order_id,
                    ..fill(order.side, false)
                },
            );
            self.execution(
                &order.clone(),
                ExecType::Trade,
                Some((qty, level_price, trade_id, false)),
                time_ms,
            );
        }
    }

    fn account_fill(&mut self, account: AccountId, trade: AccountTrade) {
        let a = self.accounts.entry(account).or_default();
        let signed = match trade.side {
            Side::Buy => trade.qty,
            Side::Sell => -trade.qty,
        };
        a.position += signed;
        a.fills += 1;
        a.cash -= i128::from(signed) * i128::from(trade.price);
        self.trades.entry(account).or_default().push(trade);
    }

    /// Cancels an account's order by client order id.
    ///
    /// # Errors
    ///
    /// [`UNKNOWN_ORDER`] when the account has no such open order.
    pub fn cancel(
        &mut self,
        account: AccountId,
        client_order_id: &str,
        time_ms: u64,
    ) -> Result<OrderView, VenueError> {
        let order_id = self
            .by_client
            .remove(&(account, client_order_id.to_string()))
            .ok_or(UNKNOWN_ORDER)?;
        let mut order = self.orders.remove(&order_id).ok_or(UNKNOWN_ORDER)?;
        let book = match order.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if let Some(queue) = book.get_mut(&order.price) {
            queue.retain(|r| r.order_id != order_id);
            if queue.is_empty() {
                book.remove(&order.price);
            }
        }
        self.touch(order.side, order.price);
        order.status = OrderStatus::Canceled;
        self.execution(&order.clone(), ExecType::Canceled, None, time_ms);
        Ok(order)
    }
}

fn apply_fill(order: &mut OrderView, qty: i64, price: i64) {
    order.executed_qty += qty;
    order.cum_quote += i128::from(qty) * i128::from(price);
    order.status = if order.executed_qty == order.orig_qty {
        OrderStatus::Filled
    } else {
        OrderStatus::PartiallyFilled
    };
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MM: AccountId = 1;
    const TAKER: AccountId = 2;

    #[test]
    fn price_time_priority_and_partial_fills() {
        let mut ex = Exchange::new(1, 1);
        ex.place(MM, "a", Side::Sell, 101, 5, TimeInForce::Gtc, 0)
            .expect("a");
        ex.place(MM, "b", Side::Sell, 101, 5, TimeInForce::Gtc, 0)
            .expect("b");
        ex.place(MM, "c", Side::Sell, 100, 2, TimeInForce::Gtc, 0)
            .expect("c");
        ex.take_events();
        let o = ex
            .place(TAKER, "t", Side::Buy, 101, 9, TimeInForce::Ioc, 1)
            .expect("taker");
        assert_eq!((o.executed_qty, o.status), (9, OrderStatus::Filled));
        let trades: Vec<(i64, i64)> = ex
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                VenueEvent::Trade { price, qty, .. } => Some((price, qty)),
                _ => None,
            })
            .collect();
        assert_eq!(
            trades,
            vec![(100, 2), (101, 5), (101, 2)],
            "best price first, then time"
        );
        let open = ex.open_orders(MM);
        assert_eq!(open.len(), 1);
        assert_eq!(
            (open[0].client_order_id.as_str(), open[0].executed_qty),
            ("b", 2)
        );
        assert_eq!(ex.account(TAKER).position, 9);
        assert_eq!(ex.account(MM).position, -9);
        assert_eq!(ex.account(TAKER).cash, -(2 * 100 + 7 * 101));

        // Each account's fills, as `myTrades` lists them: by trade id, by time, or the latest.
        let ids = |trades: Vec<AccountTrade>| -> Vec<(u64, i64, bool)> {
            trades
                .iter()
                .map(|t| (t.trade_id, t.qty, t.maker))
                .collect()
        };
        assert_eq!(
            ids(ex.trades(TAKER, Some(1), (None, None), 10)),
            [(1, 2, false), (2, 5, false), (3, 2, false)]
        );
        assert_eq!(ids(ex.trades(MM, Some(2), (None, None), 1)), [(2, 5, true)]);
        assert_eq!(ex.trades(MM, None, (Some(2), None), 10), []);
        assert_eq!(ids(ex.trades(MM, None, (Some(1), None), 10)).len(), 3);
        assert_eq!(
            ex.trades(MM, None, (Some(0), Some(0)), 10),
            [],
            "all at time 1"
        );
        assert_eq!(
            ids(ex.trades(MM, None, (None, None), 2)),
            [(2, 5, true), (3, 2, true)]
        );
        let maker = &ex.trades(MM, Some(3), (None, None), 1)[0];
        assert_eq!(
            (maker.side, maker.price, maker.time_ms),
            (Side::Sell, 101, 1)
        );
        assert_eq!(ex.trades(99, None, (None, None), 10), []);
    }

    #[test]
    fn maker_only_would_take_is_rejected_and_ioc_expires() {
        let mut ex = Exchange::new(1, 1);
        ex.place(MM, "a", Side::Sell, 101, 1, TimeInForce::Gtc, 0)
            .expect("a");
        assert_eq!(
            ex.place(TAKER, "m", Side::Buy, 101, 1, TimeInForce::MakerOnly, 0),
            Err(WOULD_TAKE)
        );
        let o = ex
            .place(TAKER, "i", Side::Buy, 101, 3, TimeInForce::Ioc, 0)
            .expect("ioc");
        assert_eq!((o.executed_qty, o.status), (1, OrderStatus::Expired));
        assert!(ex.open_orders(TAKER).is_empty());
        assert_eq!(
            ex.place(TAKER, "x", Side::Buy, 101, 0, TimeInForce::Gtc, 0),
            Err(FILTER_FAILURE)
        );
    }

    #[test]
    fn cancel_and_duplicates() {
        let mut ex = Exchange::new(10, 1);
        assert_eq!(
            ex.place(MM, "a", Side::Buy, 105, 1, TimeInForce::Gtc, 0),
            Err(FILTER_FAILURE),
            "off tick"
        );
        ex.place(MM, "a", Side::Buy, 100, 1, TimeInForce::Gtc, 0)
            .expect("a");
        assert_eq!(
            ex.place(MM, "a", Side::Buy, 90, 1, TimeInForce::Gtc, 0),
            Err(DUPLICATE)
        );
        ex.place(TAKER, "a", Side::Buy, 90, 1, TimeInForce::Gtc, 0)
            .expect("ids are per account");
        assert_eq!(
            ex.cancel(MM, "a", 0).map(|o| o.status),
            Ok(OrderStatus::Canceled)
        );
        assert_eq!(ex.cancel(MM, "a", 0), Err(UNKNOWN_ORDER));
        assert_eq!(ex.best_bid(), Some((90, 1)));
    }

    #[test]
    fn depth_changes_cover_every_touched_level_with_update_ids() {
        let mut ex = Exchange::new(1, 1);
        ex.take_depth_changes();
        let start = ex.update_id();
        ex.place(MM, "a", Side::Buy, 99, 3, TimeInForce::Gtc, 0)
            .expect("a");
        ex.place(MM, "b", Side::Sell, 101, 3, TimeInForce::Gtc, 0)
            .expect("b");
        ex.place(TAKER, "t", Side::Sell, 99, 3, TimeInForce::Ioc, 0)
            .expect("t");
        let changes = ex.take_depth_changes().expect("changes");
        assert_eq!(
            (changes.first_update_id, changes.last_update_id),
            (start + 1, ex.update_id())
        );
        assert_eq!(changes.bids, vec![(99, 0)], "level emptied");
        assert_eq!(changes.asks, vec![(101, 3)]);
        assert!(ex.take_depth_changes().is_none());
    }
}
