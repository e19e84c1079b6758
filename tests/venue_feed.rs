//! The engine on the venue simulator's market data over TLS: book synchronisation, quoting and
//! paper fills; and the venue's feed faults — a dropped connection, a sequence gap, a stall and
//! a malformed frame — each ending with the feed live again, with nothing quoted on stale data.

use std::time::Duration;
use tickwire_shm::layout::{CounterId, DataSource, FeedState};
use tickwire_tests::{
    feed_state, test_config, wait_feed_live, wait_for, with_feed, EngineProcess, VenueProcess,
};

#[test]
fn trades_on_venue_data_and_recovers_from_every_feed_fault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let venue = VenueProcess::start(dir.path(), 21);
    let config = with_feed(&test_config(dir.path(), "vfeed", ""), &venue.feed_config());
    let mut engine = EngineProcess::start(dir.path(), &config);
    let r = engine.wait_ready();
    wait_feed_live(&r, "start");
    // Live means the book is synchronised from the snapshot; the top of book in the market
    // cell comes with the first bookTicker after it.
    let m = wait_for(Duration::from_secs(10), || {
        r.market(0).ok().filter(|m| m.bid > 0)
    })
    .unwrap_or_else(|| panic!("no quote after the feed went live: {:?}", r.market(0)));
    assert_eq!(
        DataSource::from_code(m.data_source),
        Some(DataSource::VenueSim)
    );
    assert!(m.bid > 0 && m.ask > m.bid, "{m:?}");
    assert!(r.book(0).expect("book").bid_count > 0, "book published");
    assert!(
        r.counter(CounterId::FeedResyncs) >= 1,
        "synchronised from a snapshot"
    );
    wait_for(Duration::from_secs(30), || {
        (r.fills_written() > 0).then_some(())
    })
    .unwrap_or_else(|| panic!("no fills; stderr:\n{}", engine.stderr_text()));

    // Disconnect: reconnect, resubscribe, resync.
    let resyncs = r.counter(CounterId::FeedResyncs);
    assert_eq!(venue.fault(r#"{"kind":"disconnect"}"#), 200);
    wait_for(Duration::from_secs(30), || {
        (r.counter(CounterId::FeedReconnects) >= 1).then_some(())
    })
    .expect("reconnect counted");
    // The counters move at once, the feed state with the next publication: wait for the resync
    // itself, then for the state it publishes.
    wait_for(Duration::from_secs(30), || {
        (r.counter(CounterId::FeedResyncs) > resyncs).then_some(())
    })
    .expect("resynchronised after reconnecting");
    wait_feed_live(&r, "disconnect");

    // Gap: detected, resynchronised from a new snapshot.
    assert_eq!(venue.fault(r#"{"kind":"gap"}"#), 200);
    wait_for(Duration::from_secs(30), || {
        (r.counter(CounterId::FeedGaps) >= 1).then_some(())
    })
    .expect("gap detected");
    wait_feed_live(&r, "gap");

    // Malformed frame: counted, the connection carries on.
    assert_eq!(venue.fault(r#"{"kind":"malformed"}"#), 200);
    wait_for(Duration::from_secs(30), || {
        (r.counter(CounterId::DecodeErrors) >= 1).then_some(())
    })
    .expect("decode error counted");
    wait_feed_live(&r, "malformed frame");

    // Latency: every frame delayed 20 ms; data keeps flowing and the feed stays live.
    assert_eq!(venue.fault(r#"{"kind":"latency","us":20000}"#), 200);
    let before = r.counter(CounterId::MarketMessages);
    wait_for(Duration::from_secs(30), || {
        (r.counter(CounterId::MarketMessages) > before + 20).then_some(())
    })
    .expect("messages still arrive with added latency");
    assert_eq!(feed_state(&r), Some(FeedState::Live));
    assert_eq!(venue.fault(r#"{"kind":"latency","us":0}"#), 200);

    // Stall longer than the staleness threshold (1 s): stale, no open orders, then live again.
    assert_eq!(venue.fault(r#"{"kind":"stall","ms":2500}"#), 200);
    wait_for(Duration::from_secs(10), || {
        (feed_state(&r) == Some(FeedState::Stale)).then_some(())
    })
    .expect("stale during the stall");
    wait_for(Duration::from_secs(5), || {
        (r.open_orders().ok()?.count == 0).then_some(())
    })
    .expect("quotes cancelled while stale");
    wait_feed_live(&r, "stall");
    wait_for(Duration::from_secs(10), || {
        (r.open_orders().ok()?.count > 0).then_some(())
    })
    .expect("quoting again on live data");

    engine.stop_cleanly(Duration::from_secs(10));
    assert_eq!(r.counter(CounterId::HotPathAllocations), 0);
}
