//! The sampler: the one place the monitor touches the region. A plain thread (not the HTTP
//! runtime) attaches to the region path, re-attaches when the engine restarts with a new
//! region, reads a [`State`] at the push rate, serialises it once, and publishes it for every
//! route and client to share. Once a second it also cuts a latency window (the histogram
//! difference since the last cut) for the charts over time.
//!
//! Invariants:
//! - Readers of the published state never wait on the region or on each other: they clone an
//!   `Arc` out of a `watch` channel.
//! - The last good state is kept: when the engine dies or stops, its region stays mapped and is
//!   shown with the verdict (`dead`, `stopped`); when the path holds a new region, the monitor
//!   switches to it; when nothing readable is there and nothing was ever attached, the state
//!   says why (`no region`, `bad header`) and shows no values.
//! - The status and reason shown for an engine that is not live are the monitor's verdict
//!   (`dead`, `stalled`), also when the region's cells cannot be read (an engine killed inside
//!   a write leaves one mid-write for good): from the pid and the heartbeat, never from a cell.
//! - Latency history is bounded ([`HISTORY_POINTS`]).

use crate::state::{self, Context, LatencyPoint, Liveness, State};
use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tickwire_shm::histogram::HistogramSnapshot;
use tickwire_shm::layout::Stage;
use tickwire_shm::region::{unix_now_ns, RegionError, RegionReader};
use tokio::sync::watch;

/// Latency windows kept: ten minutes of one-second points.
pub const HISTORY_POINTS: usize = 600;
/// Length of one latency window.
const WINDOW: Duration = Duration::from_secs(1);

/// A state and its JSON, serialised once per sample.
#[derive(Debug)]
pub struct Published {
    /// The state.
    pub state: State,
    /// `state` as JSON.
    pub json: String,
}

/// What the sampler shares with the server.
#[derive(Debug)]
pub struct Shared {
    /// The latest state.
    pub latest: watch::Sender<Arc<Published>>,
    /// Latency windows, oldest first.
    pub history: Mutex<VecDeque<LatencyPoint>>,
}

impl Shared {
    /// The latest state.
    pub fn latest(&self) -> Arc<Published> {
        self.latest.borrow().clone()
    }

    /// A copy of the latency history.
    pub fn history(&self) -> Vec<LatencyPoint> {
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

/// The sampler's state.
#[derive(Debug)]
pub struct Sampler {
    path: PathBuf,
    region: String,
    stale_ms: u64,
    reader: Option<RegionReader>,
    attach_error: Option<String>,
    detached_liveness: Liveness,
    window: Option<(Instant, Vec<HistogramSnapshot>)>,
    last_good: Option<State>,
    seq: u64,
}

impl Sampler {
    /// A sampler for the region at `path`; `stale_ms` is the stalled threshold.
    pub fn new(path: PathBuf, stale_ms: u64) -> Self {
        Self {
            region: path.display().to_string(),
            path,
            stale_ms,
            reader: None,
            attach_error: None,
            detached_liveness: Liveness::NoRegion,
            window: None,
            last_good: None,
            seq: 0,
        }
    }

    /// (Re)attaches when there is no region mapped or the path names a different file now.
    fn attach(&mut self) {
        if self.reader.as_ref().is_some_and(RegionReader::is_current) {
            return;
        }
        match RegionReader::open(&self.path) {
            Ok(reader) => {
                self.reader = Some(reader);
                self.attach_error = None;
                self.window = None;
                self.last_good = None;
            }
            Err(e) => {
                self.detached_liveness = match &e {
                    RegionError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                        Liveness::NoRegion
                    }
                    RegionError::Io { .. } => Liveness::NoRegion,
                    _ => Liveness::BadHeader,
                };
                self.attach_error = Some(e.to_string());
            }
        }
    }

    /// Takes one sample; cuts a latency window into `history` when one is due.
    pub fn sample(&mut self, history: &Mutex<VecDeque<LatencyPoint>>) -> State {
        self.attach();
        self.seq += 1;
        let ctx = Context {
            region: &self.region,
            stale_ms: self.stale_ms,
            seq: self.seq,
            attach_error: self.attach_error.clone(),
        };
        let Some(reader) = &self.reader else {
            return state::detached(ctx, self.detached_liveness);
        };
        let snapshots: Vec<HistogramSnapshot> = Stage::ALL
            .iter()
            .map(|s| reader.latency_ticks(*s))
            .collect();
        let now = Instant::now();
        match &self.window {
            None => self.window = Some((now, snapshots.clone())),
            Some((start, earlier)) if now.duration_since(*start) >= WINDOW => {
                let windows: Vec<HistogramSnapshot> = snapshots
                    .iter()
                    .zip(earlier)
                    .map(|(now, then)| now.since(then))
                    .collect();
                let stages = state::latency_views(reader, &windows)
                    .into_iter()
                    .map(|(name, l)| (name, [l.count, l.p50_ns, l.p99_ns, l.p999_ns, l.max_ns]))
                    .collect();
                let mut h = history.lock().unwrap_or_else(PoisonError::into_inner);
                if h.len() == HISTORY_POINTS {
                    h.pop_front();
                }
                h.push_back(LatencyPoint {
                    unix_ms: unix_now_ns() / 1_000_000,
                    stages,
                });
                self.window = Some((now, snapshots.clone()));
            }
            Some(_) => {}
        }
        let window = history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .back()
            .cloned();
        match state::read(reader, ctx, &snapshots) {
            Ok(mut s) => {
                s.latency_window = window;
                self.last_good = Some(s.clone());
                s
            }
            Err(error) => {
                let live = state::liveness(reader, self.stale_ms);
                let mut s = match &self.last_good {
                    Some(good) => {
                        let mut s = good.clone();
                        s.monitor.error = Some(error);
                        s.monitor.seq = self.seq;
                        s.monitor.liveness = live;
                        s.monitor.unix_ms = unix_now_ns() / 1_000_000;
                        s
                    }
                    // Nothing read yet to show.
                    None => state::detached(
                        Context {
                            region: &self.region,
                            stale_ms: self.stale_ms,
                            seq: self.seq,
                            attach_error: Some(error),
                        },
                        if live == Liveness::Live {
                            Liveness::BadHeader
                        } else {
                            live
                        },
                    ),
                };
                // A dead or stalled engine is shown as such, with the monitor's reason (the
                // read error stays in `monitor.error`).
                if let Some((status, reason)) = state::verdict(reader, live, self.stale_ms) {
                    s.engine.status = status;
                    s.engine.reason = reason;
                }
                s
            }
        }
    }
}

/// Serialises a state for publication.
pub fn publish(state: State) -> Published {
    let json = serde_json::to_string(&state).unwrap_or_else(|e| {
        format!(
            "{{\"monitor\":{{\"error\":{}}}}}",
            serde_json::Value::String(format!("serialising the state: {e}"))
        )
    });
    Published { state, json }
}

/// Starts the sampling thread; it runs until the process exits.
///
/// # Errors
///
/// The thread could not be spawned.
pub fn spawn(mut sampler: Sampler, period: Duration) -> io::Result<Arc<Shared>> {
    let history = Mutex::new(VecDeque::with_capacity(HISTORY_POINTS));
    let first = publish(sampler.sample(&history));
    let (latest, _) = watch::channel(Arc::new(first));
    let shared = Arc::new(Shared { latest, history });
    let out = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("sampler".into())
        .spawn(move || loop {
            std::thread::sleep(period);
            let state = sampler.sample(&shared.history);
            shared.latest.send_replace(Arc::new(publish(state)));
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use tickwire_shm::layout::{EngineState, EngineStatus, Region};
    use tickwire_shm::region::{mono_now_ns, RegionInit, RegionWriter};

    const DYING_WRITER: &str = "TICKWIRE_TEST_DYING_WRITER";

    /// The engine's half: publishes a running status and heartbeats until `<region>.go`
    /// appears, then exits without cleaning up, as after a `kill -9`. Does nothing unless
    /// started by the test below.
    #[test]
    fn dying_writer() {
        let Some(path) = std::env::var_os(DYING_WRITER) else {
            return;
        };
        let path = Path::new(&path);
        let mut writer = RegionWriter::create(
            path,
            &RegionInit {
                instance: "dying",
                tick_ns_q32: 1 << 32,
                instruments: &[],
            },
        )
        .expect("create region");
        let sections = writer.take_sections().expect("sections");
        sections.strategy.engine().publish(&EngineStatus {
            state: EngineState::Running.code(),
            ..EngineStatus::default()
        });
        let go = path.with_extension("go");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !go.exists() && Instant::now() < deadline {
            sections.strategy.heartbeat(mono_now_ns());
            std::thread::sleep(Duration::from_millis(5));
        }
        // No destructor runs: the region stays.
        std::process::exit(0);
    }

    #[test]
    fn an_engine_killed_inside_a_write_is_shown_dead() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("region");
        let mut child = Writer(
            Command::new(std::env::current_exe().expect("test exe"))
                .args([
                    "--exact",
                    "sampler::tests::dying_writer",
                    "--test-threads=1",
                ])
                .env(DYING_WRITER, &path)
                .stdout(Stdio::null())
                .spawn()
                .expect("spawn the writer"),
        );
        let history = Mutex::new(VecDeque::new());
        let mut sampler = Sampler::new(path.clone(), 1_000);
        let deadline = Instant::now() + Duration::from_secs(20);
        let running = loop {
            let s = sampler.sample(&history);
            if s.engine.status == "running" || Instant::now() > deadline {
                break s;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(running.engine.status, "running", "{:?}", running.monitor);
        assert_eq!(running.monitor.liveness, Liveness::Live);

        std::fs::write(path.with_extension("go"), b"").expect("go");
        assert!(child.0.wait().expect("writer exit").success());
        // What a writer killed inside a write of the engine cell leaves: its stamp odd for
        // good (the cell's stamp is its first word; `Region` and `SeqCell` are `repr(C)`).
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open the region");
        let stamp_at = std::mem::offset_of!(Region, engine) as u64;
        std::os::unix::fs::FileExt::write_all_at(&file, &3u64.to_ne_bytes(), stamp_at)
            .expect("write the stamp");

        // The engine cell can no longer be read; the monitor still says the engine is dead,
        // and so does a monitor that attaches only now, with nothing read before.
        let assert_dead = |s: &State, which: &str| {
            assert_eq!(s.monitor.liveness, Liveness::Dead, "{which}");
            assert_eq!(s.engine.status, "dead", "{which}");
            assert!(
                s.engine.reason.contains("is gone"),
                "{which}: {}",
                s.engine.reason
            );
            assert!(
                s.monitor
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("engine status")),
                "{which}: {:?}",
                s.monitor.error
            );
        };
        assert_dead(&sampler.sample(&history), "the attached monitor");
        assert_dead(
            &Sampler::new(path, 1_000).sample(&history),
            "a monitor attached after the death",
        );
    }

    /// The writer process, killed and reaped if the test ends before it exits.
    struct Writer(std::process::Child);

    impl Drop for Writer {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
