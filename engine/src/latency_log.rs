//! `engine run --latency-log FILE`: the per-stage latency histograms as an HdrHistogram interval
//! log (the `hdrhistogram` crate's writer, V2 compressed histograms, readable by HdrHistogram's
//! standard log tools), one interval per stage per second, tagged with the stage's name, values
//! in nanoseconds.
//!
//! Invariants:
//! - It runs on its own thread and reads the engine's region read-only, as a monitor does: the
//!   hot path neither knows nor waits for it.
//! - Each interval is the difference of two snapshots of the region's cumulative histograms, so
//!   nothing recorded is counted twice or lost between intervals; the last interval is written
//!   when the engine stops.
//! - A bucket is written at its upper bound (capped at the interval's maximum), the value the
//!   region's own percentiles report.

use anyhow::{Context, Result};
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};
use tickwire_shm::histogram::{bucket_upper_bound, HistogramSnapshot};
use tickwire_shm::layout::Stage;
use tickwire_shm::region::RegionReader;

/// Length of one interval.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Starts the log writer for the region at `shm`, writing to `path` until `stop` is set.
///
/// # Errors
///
/// The thread could not be spawned. Errors of the writer itself (file, region) end its thread
/// and come back from `join`.
pub fn spawn(path: PathBuf, shm: PathBuf, stop: Arc<AtomicBool>) -> Result<JoinHandle<Result<()>>> {
    std::thread::Builder::new()
        .name("latency-log".into())
        .spawn(move || write_log(&path, &shm, &stop))
        .context("spawn latency-log thread")
}

fn snapshots(reader: &RegionReader) -> Vec<HistogramSnapshot> {
    Stage::ALL
        .iter()
        .map(|s| reader.latency_ticks(*s))
        .collect()
}

/// An interval of the region's histogram as an HdrHistogram in ns.
fn interval(reader: &RegionReader, window: &HistogramSnapshot) -> Result<Histogram<u64>> {
    let mut h = Histogram::<u64>::new(3).context("create histogram")?;
    for (index, &count) in window.buckets.iter().enumerate() {
        if count > 0 {
            let ns = reader
                .ticks_to_ns(bucket_upper_bound(index).min(window.max))
                .max(1);
            h.record_n(ns, count).context("record into histogram")?;
        }
    }
    Ok(h)
}

fn write_log(path: &Path, shm: &Path, stop: &AtomicBool) -> Result<()> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("create latency log {}", path.display()))?;
    let mut out = BufWriter::new(file);
    let mut serializer = V2DeflateSerializer::new();
    let started = SystemTime::now();
    let reader = RegionReader::open(shm)
        .with_context(|| format!("open region {} for the latency log", shm.display()))?;
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("tickwire per-stage latency in ns; each interval's tag is its stage")
        .with_start_time(started)
        .with_base_time(started)
        .begin_log_with(&mut out, &mut serializer)
        .map_err(|e| anyhow::anyhow!("start latency log {}: {e}", path.display()))?;
    let origin = Instant::now();
    let mut previous = snapshots(&reader);
    let mut interval_start = origin;
    loop {
        let deadline = interval_start + INTERVAL;
        while Instant::now() < deadline && !stop.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let now = Instant::now();
        let current = snapshots(&reader);
        for ((stage, then), snap) in Stage::ALL.iter().zip(&previous).zip(&current) {
            let h = interval(&reader, &snap.since(then))?;
            log.write_histogram(
                &h,
                interval_start.duration_since(origin),
                now.duration_since(interval_start),
                Tag::new(stage.name()),
            )
            .map_err(|e| anyhow::anyhow!("write latency log {}: {e}", path.display()))?;
        }
        previous = current;
        interval_start = now;
        if stop.load(Ordering::Acquire) {
            break;
        }
    }
    drop(log);
    out.flush()
        .with_context(|| format!("flush latency log {}", path.display()))
}
