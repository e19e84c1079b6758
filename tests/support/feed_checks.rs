//! What the tests that put a fault-injecting proxy ([`crate::proxy`]) on the engine's
//! market-data connection share: the processes they start ([`ProxiedFeed`]), and checks that
//! each wait a bounded time and panic naming what they waited for.

use crate::proxy::FaultProxy;
use crate::{
    feed_state, test_config, wait_feed_live, wait_for, with_feed, EngineProcess, MonitorProcess,
    VenueProcess,
};
use std::path::Path;
use std::time::Duration;
use tickwire_shm::layout::{alarms, CounterId, FeedState};
use tickwire_shm::region::RegionReader;

/// The venue simulator, the proxy in front of its streams, and an engine reading market data
/// through the proxy (pinging after 300 ms of silence, dead after 1.5 s), with a monitor.
#[derive(Debug)]
///
/// Fields drop in their order: the monitor, the region, the engine, the proxy, the venue, each
/// before what it reads from.
pub struct ProxiedFeed {
    /// A monitor on the engine's region.
    pub monitor: MonitorProcess,
    /// The engine's region.
    pub region: RegionReader,
    /// The engine.
    pub engine: EngineProcess,
    /// The proxy between the engine's feed and the venue.
    pub proxy: FaultProxy,
    /// The venue (killed on drop).
    pub venue: VenueProcess,
}

impl ProxiedFeed {
    /// Starts them in `dir` (the venue with `seed`, over TLS when `tls`; the engine as
    /// `instance`) and waits until the engine quotes on live data.
    pub fn start(dir: &Path, seed: u64, tls: bool, instance: &str) -> Self {
        let venue = if tls {
            VenueProcess::start(dir, seed)
        } else {
            VenueProcess::start_plain(dir, seed)
        };
        let (scheme, upstream) = venue.ws.split_once("://").expect("venue URL");
        let upstream = upstream.parse().expect("venue address");
        let proxy = if tls {
            FaultProxy::start_tls(upstream)
        } else {
            FaultProxy::start(upstream)
        };
        let ca_line = venue.ca_line();
        let feed = format!(
            "[feed]\nsource = \"venue\"\nurl = \"{scheme}://{}/stream\"\nrest_url = \"{}\"\n\
             {ca_line}ping_after_ms = 300\ndead_after_ms = 1500\n",
            proxy.addr, venue.rest
        );
        let config = with_feed(&test_config(dir, instance, ""), &feed);
        let mut engine = EngineProcess::start(dir, &config);
        let region = engine.wait_ready();
        let monitor = MonitorProcess::start(&engine.shm, &[]);
        wait_feed_live(&region, "start");
        wait_for(Duration::from_secs(20), || {
            (region.open_orders().ok()?.count > 0).then_some(())
        })
        .expect("quoting on live data");
        Self {
            monitor,
            region,
            engine,
            proxy,
            venue,
        }
    }
}

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

/// Waits (10 s at most: the engine's log thread writes a moment after the event) until the
/// engine's log from byte `since` on says each of `whys` (the causes of its reconnects).
pub fn assert_log_says(engine: &EngineProcess, since: usize, whys: &[&str]) {
    for why in whys {
        wait_for(Duration::from_secs(10), || {
            engine
                .stderr_text()
                .get(since..)?
                .contains(why)
                .then_some(())
        })
        .unwrap_or_else(|| {
            let log = engine.stderr_text();
            panic!(
                "the log does not say {why:?} after byte {since}:\n{}",
                log.get(since..).unwrap_or(&log)
            )
        });
    }
}
