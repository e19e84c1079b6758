//! The engine's market-data connection over TLS, through the fault-injecting proxy in TLS mode
//! (tests/support/proxy.rs, `FaultProxy::start_tls`) in front of the real venue simulator:
//! a flipped ciphertext byte, a stream ending inside a record without `close_notify`, an RST
//! inside a record, and a venue that accepts connections but never answers a TLS handshake.
//!
//! The proxy holds no key: every fault is one a network or a broken peer can cause, and the
//! engine's TLS layer must refuse it. After each the test asserts that the engine reconnected
//! (none is a decode error: no byte of a damaged record reaches the decoder) and quotes again
//! on a new connection; while the handshakes stall, that it quotes nothing and the alarm shows
//! in the region and on the monitor; that the log names each fault's cause apart (a refused
//! record, a truncation, a reset, a handshake timeout) in the lines written after it; and at
//! the end that SIGTERM still ends the engine cleanly.

use std::time::Duration;
use tickwire_shm::layout::CounterId;
use tickwire_shm::region::RegionReader;
use tickwire_tests::feed_checks::{
    assert_log_says, assert_not_quoting_and_alarmed, wait_applied, wait_counter,
    wait_live_on_a_new_connection, ProxiedFeed,
};
use tickwire_tests::proxy::Fault;
use tickwire_tests::wait_for;

#[test]
fn every_tls_fault_from_the_proxy_is_refused_and_survived() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut feed = ProxiedFeed::start(dir.path(), 37, true, "tlsfault");
    let (proxy, r, monitor, engine) = (&feed.proxy, &feed.region, &feed.monitor, &mut feed.engine);
    let errors = |r: &RegionReader| r.counter(CounterId::DecodeErrors);
    let e0 = errors(r);

    // One-shot record faults: each ends the connection at once; the engine reconnects and
    // logs the cause of that fault.
    for (fault, what, cause) in [
        (
            Fault::CorruptRecord,
            "a flipped ciphertext byte",
            "a TLS record failed to decrypt or broke the protocol",
        ),
        (
            Fault::TruncateRecord,
            "a FIN inside a record",
            "the server's TLS stream ended without close_notify (truncated)",
        ),
        (
            Fault::ResetMidFrame,
            "an RST inside a record",
            "read failed (connection reset?)",
        ),
    ] {
        let (c0, n0) = (r.counter(CounterId::FeedReconnects), proxy.connections());
        let (applied, since) = (proxy.applied(), engine.stderr_text().len());
        proxy.set(fault);
        wait_applied(proxy, applied, what);
        wait_counter(r, CounterId::FeedReconnects, c0, what);
        assert_log_says(engine, since, &[cause]);
        wait_live_on_a_new_connection(r, proxy, n0, what);
        wait_for(Duration::from_secs(20), || {
            (r.open_orders().ok()?.count > 0).then_some(())
        })
        .unwrap_or_else(|| panic!("quoting again after {what}"));
    }

    // Handshakes that go unanswered: the open connection is reset, every new one times out in
    // its handshake; the feed stays down, quotes withdrawn, until the venue answers again.
    let (c0, n0) = (r.counter(CounterId::FeedReconnects), proxy.connections());
    let since = engine.stderr_text().len();
    proxy.set(Fault::StallHandshake);
    assert_not_quoting_and_alarmed(r, monitor, "the stalled handshakes");
    assert_log_says(engine, since, &["handshake timed out; retrying"]);
    assert!(
        proxy.connections() > n0,
        "the engine tried again while the handshakes stalled"
    );
    assert!(r.counter(CounterId::FeedReconnects) > c0);
    let n1 = proxy.connections();
    proxy.set(Fault::Pass);
    wait_live_on_a_new_connection(r, proxy, n1, "the stalled handshakes");
    wait_for(Duration::from_secs(20), || {
        (r.open_orders().ok()?.count > 0).then_some(())
    })
    .expect("quoting again after every fault");

    assert_eq!(
        errors(r),
        e0,
        "no byte of a damaged record reached the decoder"
    );

    engine.stop_cleanly(Duration::from_secs(10));
    assert_eq!(r.counter(CounterId::HotPathAllocations), 0);
    assert!(!engine.shm.exists(), "region removed at exit");
}
