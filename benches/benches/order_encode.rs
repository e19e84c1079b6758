//! The gateway's order-entry encode, signed as sent to the venue, against the way most bots
//! build the same request: parameters in a `BTreeMap` of owned `String`s, `f64` prices
//! formatted with `format!`, the query string joined, a fresh HMAC keyed per request and
//! hex-encoded into a `String`, then the request built as a `serde_json::Value`.
//!
//! Both produce the same parameters and signature (checked before timing): tickwire's
//! `order.place` and `order.cancel` with `newClientOrderId`/`origClientOrderId`, a 64-character
//! API key, Binance's WebSocket API layout.

use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::hint::black_box;
use tickwire_benches::{order, order_encoder, API_KEY, API_SECRET, ORDER_TIMESTAMP_MS};
use tickwire_feed::InstrumentId;

/// The conventional request: `params` signed and wrapped, every step allocating.
fn conventional(method: &str, id: u64, mut params: BTreeMap<&'static str, String>) -> String {
    params.insert("apiKey", API_KEY.to_string());
    params.insert("timestamp", ORDER_TIMESTAMP_MS.to_string());
    let query = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut mac = Hmac::<Sha256>::new_from_slice(API_SECRET).expect("any key length");
    mac.update(query.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let mut fields = Map::new();
    for (k, v) in params {
        let value = if k == "timestamp" {
            json!(ORDER_TIMESTAMP_MS)
        } else {
            Value::String(v)
        };
        fields.insert(k.to_string(), value);
    }
    fields.insert("signature".into(), Value::String(signature));
    json!({"id": id, "method": method, "params": fields}).to_string()
}

fn conventional_place(client_id: u64, id: u64) -> String {
    let price: f64 = 25_035.19;
    let qty: f64 = 0.01;
    let mut params = BTreeMap::new();
    params.insert("newClientOrderId", format!("tw1-{client_id}"));
    params.insert("newOrderRespType", "RESULT".to_string());
    params.insert("price", format!("{price:.2}"));
    params.insert("quantity", format!("{qty:.8}"));
    params.insert("side", "BUY".to_string());
    params.insert("symbol", "BTCUSDT".to_string());
    params.insert("type", "LIMIT_MAKER".to_string());
    conventional("order.place", id, params)
}

fn conventional_cancel(client_id: u64, id: u64) -> String {
    let mut params = BTreeMap::new();
    params.insert("origClientOrderId", format!("tw1-{client_id}"));
    params.insert("symbol", "BTCUSDT".to_string());
    conventional("order.cancel", id, params)
}

/// Both ways give the same request (as JSON values: field order aside).
fn check_same_requests() {
    let mut e = order_encoder(true);
    let ours: Value = serde_json::from_slice(
        e.new_order(&order(42), 7, ORDER_TIMESTAMP_MS)
            .expect("known symbol"),
    )
    .expect("tickwire's request is JSON");
    let theirs: Value = serde_json::from_str(&conventional_place(42, 7)).expect("JSON");
    assert_eq!(ours, theirs, "order.place differs");
    let ours: Value = serde_json::from_slice(
        e.cancel(42, InstrumentId(0), 7, ORDER_TIMESTAMP_MS)
            .expect("known symbol"),
    )
    .expect("tickwire's request is JSON");
    let theirs: Value = serde_json::from_str(&conventional_cancel(42, 7)).expect("JSON");
    assert_eq!(ours, theirs, "order.cancel differs");
}

fn order_encode(c: &mut Criterion) {
    check_same_requests();
    let mut g = c.benchmark_group("order_encode");
    let mut e = order_encoder(true);
    let mut id = 0u64;
    g.bench_function("place_signed/tickwire", |b| {
        b.iter(|| {
            id += 1;
            black_box(
                e.new_order(&order(id), id, ORDER_TIMESTAMP_MS)
                    .map(<[u8]>::len),
            )
        })
    });
    g.bench_function("place_signed/conventional", |b| {
        b.iter(|| {
            id += 1;
            black_box(conventional_place(id, id).len())
        })
    });
    g.bench_function("cancel_signed/tickwire", |b| {
        b.iter(|| {
            id += 1;
            black_box(
                e.cancel(id, InstrumentId(0), id, ORDER_TIMESTAMP_MS)
                    .map(<[u8]>::len),
            )
        })
    });
    g.bench_function("cancel_signed/conventional", |b| {
        b.iter(|| {
            id += 1;
            black_box(conventional_cancel(id, id).len())
        })
    });
    g.finish();
}

criterion_group!(benches, order_encode);
criterion_main!(benches);
