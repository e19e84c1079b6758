//! The engine's market-data connection through a fault-injecting TCP proxy (tests/support/
//! proxy.rs) in front of the real venue simulator: a data stall with a live connection, a
//! half-open connection, a slow drip, a reset in the middle of a frame, an oversize frame
//! header, malformed JSON, a sequence gap, a duplicated and a reordered depth diff.
//!
//! After each fault the test asserts what the engine did (counted, reconnected or not,
//! resynchronised or not), that nothing was quoted on stale data, that the alarm was visible
//! in the region and on the monitor's `/api/state`, that the feed is live again, and at the end
//! that memory stayed bounded and a SIGTERM still ends the engine cleanly.

use std::time::Duration;
use tickwire_shm::layout::{CounterId, FeedState};
use tickwire_shm::region::RegionReader;
use tickwire_tests::feed_checks::{
    assert_log_says, assert_not_quoting_and_alarmed, wait_applied, wait_counter,
    wait_live_on_a_new_connection, ProxiedFeed,
};
use tickwire_tests::proxy::Fault;
use tickwire_tests::{feed_state, wait_feed_live, wait_for};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn every_stream_fault_from_the_proxy_is_survived_and_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut feed = ProxiedFeed::start(dir.path(), 31, false, "ffault");
    let (proxy, r, monitor, engine) = (&feed.proxy, &feed.region, &feed.monitor, &mut feed.engine);
    let pid = engine.child.id();
    let rss_start = rss_kib(pid);
    let errors = |r: &RegionReader| r.counter(CounterId::DecodeErrors);
    let reconnects = |r: &RegionReader| r.counter(CounterId::FeedReconnects);
    let gaps = |r: &RegionReader| r.counter(CounterId::FeedGaps);

    // Malformed JSON: counted, the connection carries on.
    let (e0, c0) = (errors(r), reconnects(r));
    let applied = proxy.applied();
    proxy.set(Fault::Malformed);
    wait_applied(proxy, applied, "malformed");
    wait_counter(r, CounterId::DecodeErrors, e0, "malformed JSON");
    wait_feed_live(r, "malformed JSON");
    assert_eq!(
        reconnects(r),
        c0,
        "a malformed message is no reason to reconnect"
    );

    // A dropped depth diff: a gap, a new snapshot, no reconnect.
    let (g0, c0) = (gaps(r), reconnects(r));
    let resyncs = r.counter(CounterId::FeedResyncs);
    let applied = proxy.applied();
    proxy.set(Fault::DropDepth);
    wait_applied(proxy, applied, "drop depth");
    wait_counter(r, CounterId::FeedGaps, g0, "dropped diff");
    wait_counter(r, CounterId::FeedResyncs, resyncs, "resync after the gap");
    wait_feed_live(r, "gap");
    assert_eq!(
        reconnects(r),
        c0,
        "a gap is resynchronised without reconnecting"
    );

    // A duplicated diff is stale the second time: ignored, no gap, no error.
    let (g0, e0) = (gaps(r), errors(r));
    let applied = proxy.applied();
    proxy.set(Fault::DuplicateDepth);
    wait_applied(proxy, applied, "duplicate depth");
    let messages = r.counter(CounterId::MarketMessages);
    wait_counter(
        r,
        CounterId::MarketMessages,
        messages + 50,
        "data after the duplicate",
    );
    assert_eq!(gaps(r), g0, "a duplicated diff is not a gap");
    assert_eq!(errors(r), e0, "a duplicated diff is not an error");
    assert_eq!(feed_state(r), Some(FeedState::Live));
    let m = r.market(0).expect("market");
    assert!(m.bid > 0 && m.ask > m.bid, "book consistent: {m:?}");

    // Two diffs swapped: the later one shows the gap; resynchronised.
    let g0 = gaps(r);
    let applied = proxy.applied();
    proxy.set(Fault::SwapDepth);
    wait_applied(proxy, applied, "swap depth");
    wait_counter(r, CounterId::FeedGaps, g0, "reordered diffs");
    wait_feed_live(r, "reordered diffs");

    // Stall: data stops but pings are answered. Stale, no quotes, alarm; no reconnect.
    let c0 = reconnects(r);
    proxy.set(Fault::Stall);
    assert_not_quoting_and_alarmed(r, monitor, "the stall");
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(
        reconnects(r),
        c0,
        "a connection that answers pings is kept through a stall longer than dead_after"
    );
    proxy.set(Fault::Pass);
    wait_feed_live(r, "stall");
    wait_for(Duration::from_secs(10), || {
        (r.open_orders().ok()?.count > 0).then_some(())
    })
    .expect("quoting again after the stall");

    // Half-open: nothing either way. Dead after dead_after_ms, reconnected.
    let (c0, n0) = (reconnects(r), proxy.connections());
    proxy.set(Fault::Blackhole);
    assert_not_quoting_and_alarmed(r, monitor, "the half-open connection");
    wait_counter(r, CounterId::FeedReconnects, c0, "half-open connection");
    proxy.set(Fault::Pass);
    wait_live_on_a_new_connection(r, proxy, n0, "half-open connection");

    // Slow drip: a frame never completes within dead_after_ms; reconnected, nothing decoded
    // from the partial frame.
    let (c0, e0, n0) = (reconnects(r), errors(r), proxy.connections());
    proxy.set(Fault::Drip(25));
    assert_not_quoting_and_alarmed(r, monitor, "the slow drip");
    wait_counter(r, CounterId::FeedReconnects, c0, "slow drip");
    proxy.set(Fault::Pass);
    wait_live_on_a_new_connection(r, proxy, n0, "slow drip");
    assert_eq!(errors(r), e0, "a dripped frame is not an error");

    // Reset in the middle of a frame: reconnected and resynchronised; the half frame never
    // reaches the decoder.
    let (c0, e0, n0) = (reconnects(r), errors(r), proxy.connections());
    let resyncs = r.counter(CounterId::FeedResyncs);
    let applied = proxy.applied();
    proxy.set(Fault::ResetMidFrame);
    wait_applied(proxy, applied, "reset");
    wait_counter(r, CounterId::FeedReconnects, c0, "reset mid-frame");
    wait_counter(r, CounterId::FeedResyncs, resyncs, "resync after the reset");
    wait_live_on_a_new_connection(r, proxy, n0, "reset mid-frame");
    assert_eq!(errors(r), e0, "a half frame is not decoded");

    // A frame header announcing 256 MiB: refused on the header, reconnected, memory bounded.
    let (c0, n0) = (reconnects(r), proxy.connections());
    let applied = proxy.applied();
    proxy.set(Fault::OversizeFrame);
    wait_applied(proxy, applied, "oversize frame");
    wait_counter(r, CounterId::FeedReconnects, c0, "oversize frame");
    wait_live_on_a_new_connection(r, proxy, n0, "oversize frame");

    wait_for(Duration::from_secs(20), || {
        (r.open_orders().ok()?.count > 0).then_some(())
    })
    .expect("quoting again after every fault");
    let rss_end = rss_kib(pid);
    assert!(
        rss_end < rss_start + 32 * 1024,
        "memory grew from {rss_start} KiB to {rss_end} KiB"
    );
    assert!(
        proxy.connections() >= 5,
        "the engine reconnected through the proxy: {} connections, {} reconnects; stderr:\n{}",
        proxy.connections(),
        reconnects(r),
        engine.stderr_text()
    );

    // The operator can read why the feed reconnected each time.
    assert_log_says(
        engine,
        0,
        &[
            "connection dead: nothing received, not even a pong",
            "read failed (connection reset?)",
            "over the size limit",
        ],
    );

    engine.stop_cleanly(Duration::from_secs(10));
    assert_eq!(r.counter(CounterId::HotPathAllocations), 0);
    assert!(!engine.shm.exists(), "region removed at exit");
}
