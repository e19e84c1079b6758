//! Checks shared by the tests that put a fault-injecting proxy ([`crate::proxy`]) on the
//! engine's market-data connection: each waits a bounded time and panics naming what it
//! waited for.

use crate::proxy::FaultProxy;
use crate::{feed_state, wait_feed_live, wait_for, MonitorProcess};
use std::time::Duration;
use tickwire_shm::layout::{alarms, CounterId, FeedState};
use tickwire_shm::region::RegionReader;

/// Waits until counter `id` exceeds `above`.
pub fn wait_counter(r: &RegionReader, id: CounterId, above: u64, what: &str) {
    wait_for(Duration::from_secs(20), || {
        (r.counter(id) > above).then_some(())
    })
    .unwrap_or_else(|| panic!("{what}: {id:?} stayed at {}", r.counter(id)));
}

/// Waits for the feed to be live on a connection made after the proxy had accepted `accepted`.
/// The region's feed state is published a moment after the reconnect counter moves, so
/// "live" alone could still be the failed connection's last state.
pub fn wait_live_on_a_new_connection(
    r: &RegionReader,
    proxy: &FaultProxy,
    accepted: u64,
    what: &str,
) {
    wait_for(Duration::from_secs(20), || {
        (proxy.connections() > accepted).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "{what}: no new connection through the proxy ({} in all)",
            proxy.connections()
        )
    });
    wait_feed_live(r, what);
}

/// Waits until the proxy has carried out a one-shot fault after the `before`th.
pub fn wait_applied(proxy: &FaultProxy, before: u64, what: &str) {
    wait_for(Duration::from_secs(20), || {
        (proxy.applied() > before).then_some(())
    })
    .unwrap_or_else(|| panic!("the proxy never applied {what}"));
}

/// While the feed is not live: no open orders, the feed alarm raised in the region and on
/// the monitor.
pub fn assert_not_quoting_and_alarmed(r: &RegionReader, monitor: &MonitorProcess, what: &str) {
    wait_for(Duration::from_secs(10), || {
        (feed_state(r) != Some(FeedState::Live)).then_some(())
    })
    .unwrap_or_else(|| panic!("feed still live during {what}"));
    wait_for(Duration::from_secs(5), || {
        (r.open_orders().ok()?.count == 0).then_some(())
    })
    .unwrap_or_else(|| panic!("quotes not cancelled during {what}"));
    wait_for(Duration::from_secs(5), || {
        (r.engine().ok()?.alarms & alarms::FEED != 0).then_some(())
    })
    .unwrap_or_else(|| panic!("no feed alarm in the region during {what}"));
    wait_for(Duration::from_secs(5), || {
        let (_, state) = monitor.get_json("/api/state");
        state["engine"]["alarms"]
            .as_array()?
            .iter()
            .any(|a| a == "feed")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no feed alarm on /api/state during {what}"));
}
