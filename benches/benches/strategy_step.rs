//! The per-event work of the strategy and gateway threads: pre-trade risk, the market maker's
//! quote targets, and the paper venue matching a quote against resting orders.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tickwire_engine::risk::RateWindow;
use tickwire_feed::{InstrumentId, Price, Qty, Side};
use tickwire_gateway::paper::PaperExchange;
use tickwire_gateway::{NewOrder, OrderKind, OrderRequest};

fn strategy_step(c: &mut Criterion) {
    let (mut quotes, mm, limits) = tickwire_benches::strategy_fixture();
    let mut g = c.benchmark_group("strategy_step");
    g.bench_function("quote_targets_and_risk", |b| {
        let mut rate = RateWindow::new(u64::MAX);
        b.iter(|| {
            black_box(tickwire_benches::strategy_step(
                &mut quotes,
                &mm,
                &limits,
                &mut rate,
            ))
        })
    });
    g.bench_function("paper_venue_quote_with_8_resting", |b| {
        let mut venue = PaperExchange::new(64);
        let mut id = 0u64;
        b.iter(|| {
            let q = quotes.next_quote(0);
            let mut reports = 0u32;
            venue.on_quote(&q, 0, &mut |_| reports += 1);
            while venue.resting() < 8 {
                id += 1;
                let side = if id.is_multiple_of(2) {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let price = match side {
                    Side::Buy => Price(q.bid.0 - 1),
                    Side::Sell => Price(q.ask.0 + 1),
                };
                let order = OrderRequest::New(NewOrder {
                    client_id: id,
                    instrument: InstrumentId(0),
                    side,
                    price,
                    qty: Qty(50),
                    kind: OrderKind::PostOnly,
                });
                venue.on_request(&order, 0, &mut |_| reports += 1);
            }
            black_box(reports)
        })
    });
    g.finish();
}

criterion_group!(benches, strategy_step);
criterion_main!(benches);
