//! Region files: created and written by the engine, mapped read-only by monitors.
//!
//! # Creation
//!
//! [`RegionWriter::create`] builds the whole region in a temporary file beside the target
//! (mode 0600), stores the magic last, and renames it into place, so a reader never sees a
//! half-initialised region at the path. A stale file left by a killed engine is replaced, not
//! reused: a monitor still mapping it keeps the old inode and notices the path moved on
//! ([`RegionReader::is_current`]).
//!
//! # Ownership
//!
//! [`RegionWriter::take_sections`] hands out one handle per writer thread ([`StrategySection`],
//! [`FeedSection`], [`GatewaySection`], [`StorageSection`], and the [`ControlConsumer`] end of
//! the control ring). The handles are `Send` but not `Sync` or `Clone`, and the writer gives
//! them out once, so each seqlock cell keeps a single writer.
//!
//! # Reading
//!
//! [`RegionReader::open`] checks length, magic, layout version and layout size before it reads
//! anything else, and every later read goes through atomics or [`crate::seqlock`] copies of
//! types valid for any bit pattern: a hostile or truncated file yields an error or odd values,
//! never undefined behaviour. The reader maps the file read-only; only
//! [`RegionReader::control`] maps the control page read-write.

use crate::control::{self, Ack, Command, ControlConsumer, ControlError, Ticket};
use crate::histogram::{Histogram, HistogramSnapshot};
use crate::layout::{
    self, BookLevels, EngineStatus, FillEntry, Header, InstrumentInfo, MarketData, OpenOrders,
    Position, Region, RiskState, StorageStatus, CONTROL_LEN, CONTROL_OFFSET, COUNTERS,
    FILLS_CAPACITY, LAYOUT_VERSION, MAGIC, MAX_INSTRUMENTS, REGION_SIZE,
};
use crate::layout::{CounterId, Stage};
use crate::seqlock::{Contended, SeqCell};
use memmap2::{Mmap, MmapMut, MmapOptions};
use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io;
use std::marker::PhantomData;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Why a region could not be created, opened or trusted.
#[derive(Debug, thiserror::Error)]
pub enum RegionError {
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The file is shorter than a region.
    #[error("{path}: truncated region: {len} bytes, need {need}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The length a region has.
        need: u64,
    },
    /// The first word is not [`MAGIC`] (not a region, or one still being created).
    #[error("{path}: bad magic {found:#018x}: not a tickwire region (expected {MAGIC:#018x})")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The word found.
        found: u64,
    },
    /// Written by a different layout version.
    #[error("{path}: layout version {found}, this build reads version {LAYOUT_VERSION}")]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// The recorded size or the file length disagrees with this build's layout.
    #[error(
        "{path}: layout size {found} / file length {len}, this build's layout is {REGION_SIZE}"
    )]
    Size {
        /// The file.
        path: PathBuf,
        /// The size in the header.
        found: u64,
        /// The file length.
        len: u64,
    },
    /// More instruments than the layout holds.
    #[error("{count} instruments configured, the region holds at most {MAX_INSTRUMENTS}")]
    TooManyInstruments {
        /// How many were given.
        count: usize,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> RegionError + 'a {
    move |source| RegionError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// `CLOCK_MONOTONIC` in ns: the clock every process on the host shares, used for heartbeats
/// and message ages across processes.
pub fn mono_now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux, and
    // clock_gettime(2) only writes to the pointer it is given (a vDSO call, no blocking).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// Wall-clock ns since the Unix epoch (display and records only; never for intervals).
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// What the engine writes into a new region's header.
#[derive(Debug, Clone)]
pub struct RegionInit<'a> {
    /// Instance name.
    pub instance: &'a str,
    /// Nanoseconds per latency-clock tick as Q32.
    pub tick_ns_q32: u64,
    /// Configured instruments, in index order.
    pub instruments: &'a [InstrumentInfo],
}

struct Mapping(MmapMut);

impl Mapping {
    fn region(&self) -> &Region {
        // SAFETY: the mapping is REGION_SIZE bytes (set at creation), page aligned (mmap), so it
        // holds a `Region` at the alignment `Region` needs (4096); every field of `Region` is
        // valid for any bit pattern; the mapping lives as long as `&self`; all mutation after
        // creation goes through atomics or `SeqCell`, which are interior-mutable.
        unsafe { &*self.0.as_ptr().cast::<Region>() }
    }
}

/// The engine's handle on the region it created.
pub struct RegionWriter {
    map: Arc<Mapping>,
    path: PathBuf,
    dev_ino: (u64, u64),
    sections_taken: bool,
}

impl std::fmt::Debug for RegionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RegionWriter {
    /// Creates the region at `path`, replacing any file there.
    ///
    /// # Errors
    ///
    /// [`RegionError::Io`] naming the operation and file, or
    /// [`RegionError::TooManyInstruments`].
    pub fn create(path: &Path, init: &RegionInit<'_>) -> Result<Self, RegionError> {
        if init.instruments.len() > MAX_INSTRUMENTS {
            return Err(RegionError::TooManyInstruments {
                count: init.instruments.len(),
            });
        }
        let pid = std::process::id();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".{pid}.tmp"));
        let tmp = PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        let result = Self::fill(&file, &tmp, pid, init).and_then(|map| {
            std::fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
            let meta = file.metadata().map_err(io_err("stat", path))?;
            Ok(Self {
                map: Arc::new(Mapping(map)),
                path: path.to_path_buf(),
                dev_ino: (meta.dev(), meta.ino()),
                sections_taken: false,
            })
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn fill(
        file: &File,
        tmp: &Path,
        pid: u32,
        init: &RegionInit<'_>,
    ) -> Result<MmapMut, RegionError> {
        file.set_len(REGION_SIZE as u64)
            .map_err(io_err("size", tmp))?;
        // SAFETY: the file was just created by us with O_EXCL and mode 0600; nothing else maps
        // or resizes it before it is renamed into place.
        let mut map = unsafe { MmapOptions::new().len(REGION_SIZE).populate().map_mut(file) }
            .map_err(io_err("map", tmp))?;
        // SAFETY: the mapping is REGION_SIZE bytes, page aligned and zero filled (fresh file);
        // all-zero bytes are a valid `Region`; we hold the only reference to it here.
        let region = unsafe { &mut *map.as_mut_ptr().cast::<Region>() };
        let h: &mut Header = &mut region.header;
        h.layout_version = LAYOUT_VERSION;
        h.pid = pid;
        h.layout_size = REGION_SIZE as u64;
        h.control_offset = CONTROL_OFFSET as u64;
        h.start_unix_ns = unix_now_ns();
        h.start_mono_ns = mono_now_ns();
        h.tick_ns_q32 = init.tick_ns_q32;
        layout::write_str(&mut h.instance, init.instance);
        h.heartbeat_mono_ns
            .0
            .store(h.start_mono_ns, Ordering::Relaxed);
        for (cell, info) in region.instruments.iter().zip(init.instruments) {
            cell.publish(&InstrumentInfo {
                configured: 1,
                ..*info
            });
        }
        for (label, id) in region.counter_labels.iter_mut().zip(CounterId::ALL) {
            layout::write_str(label, id.name());
        }
        for (label, stage) in region.stage_labels.iter_mut().zip(Stage::ALL) {
            layout::write_str(label, stage.name());
        }
        control::init(&region.control);
        region.header.magic.store(MAGIC, Ordering::Release);
        Ok(map)
    }

    /// The region's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hands out the per-thread writer handles; `None` after the first call.
    pub fn take_sections(&mut self) -> Option<Sections> {
        if self.sections_taken {
            return None;
        }
        self.sections_taken = true;
        let section = || SectionHandle {
            map: Arc::clone(&self.map),
            not_sync: PhantomData,
        };
        Some(Sections {
            strategy: StrategySection(section()),
            feed: FeedSection(section()),
            gateway: GatewaySection(section()),
            storage: StorageSection(section()),
            control: ControlEnd {
                consumer: ControlConsumer::new(&self.map.region().control),
                handle: section(),
            },
        })
    }

    /// Sets [`layout::flags`] bits in the header.
    pub fn set_flags(&self, bits: u64) {
        self.map
            .region()
            .header
            .flags
            .0
            .fetch_or(bits, Ordering::Release);
    }

    /// Marks a clean exit and unlinks the file if the path still names this region.
    ///
    /// # Errors
    ///
    /// [`RegionError::Io`] if the unlink fails.
    pub fn remove(self) -> Result<(), RegionError> {
        self.set_flags(layout::flags::CLEAN_EXIT);
        match std::fs::metadata(&self.path) {
            Ok(meta) if (meta.dev(), meta.ino()) == self.dev_ino => {
                std::fs::remove_file(&self.path).map_err(io_err("unlink", &self.path))
            }
            _ => Ok(()),
        }
    }
}

struct SectionHandle {
    map: Arc<Mapping>,
    /// Handles are `Send` but not `Sync`: one thread writes through each.
    not_sync: PhantomData<Cell<()>>,
}

impl SectionHandle {
    fn region(&self) -> &Region {
        self.map.region()
    }
}

/// The writer handles, one per engine thread.
#[allow(missing_debug_implementations)]
pub struct Sections {
    /// Strategy thread.
    pub strategy: StrategySection,
    /// Feed thread.
    pub feed: FeedSection,
    /// Gateway thread.
    pub gateway: GatewaySection,
    /// Persistence thread.
    pub storage: StorageSection,
    /// Strategy thread: the consuming end of the control ring.
    pub control: ControlEnd,
}

/// A counter in the region.
#[derive(Debug, Clone, Copy)]
pub struct Counter<'a>(&'a AtomicU64);

impl Counter<'_> {
    /// Adds `n`; only the counter's owner thread may call this (plain load + store).
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Adds `n` atomically: for counters several threads update (queue-full counters).
    #[inline]
    pub fn add_shared(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

macro_rules! section_common {
    ($name:ident) => {
        impl $name {
            /// A counter of the region (see [`CounterId`] for which thread owns which).
            #[inline]
            pub fn counter(&self, id: CounterId) -> Counter<'_> {
                Counter(&self.0.region().counters[id as usize].0)
            }

            /// A latency histogram of the region (see [`Stage`] for which thread owns which).
            #[inline]
            pub fn latency(&self, stage: Stage) -> &Histogram {
                &self.0.region().latency[stage as usize]
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
}

/// The strategy thread's sections: engine status, heartbeat, risk, orders, positions, fills.
pub struct StrategySection(SectionHandle);
section_common!(StrategySection);

impl StrategySection {
    /// Stores the heartbeat (`CLOCK_MONOTONIC` ns).
    #[inline]
    pub fn heartbeat(&self, mono_ns: u64) {
        self.0
            .region()
            .header
            .heartbeat_mono_ns
            .0
            .store(mono_ns, Ordering::Release);
    }

    /// Engine status cell.
    pub fn engine(&self) -> &SeqCell<EngineStatus> {
        &self.0.region().engine
    }

    /// Risk cell.
    pub fn risk(&self) -> &SeqCell<RiskState> {
        &self.0.region().risk
    }

    /// Open orders cell.
    pub fn open_orders(&self) -> &SeqCell<OpenOrders> {
        &self.0.region().open_orders
    }

    /// Position cell of instrument `index` (`< MAX_INSTRUMENTS`).
    pub fn position(&self, index: usize) -> &SeqCell<Position> {
        &self.0.region().positions[index]
    }

    /// Appends a fill to the recent-fills ring; its `seq` is set here.
    pub fn push_fill(&self, fill: &FillEntry) {
        let ring = &self.0.region().fills;
        let seq = ring.written.0.load(Ordering::Relaxed) + 1;
        ring.cells[((seq - 1) % FILLS_CAPACITY as u64) as usize]
            .publish(&FillEntry { seq, ..*fill });
        ring.written.0.store(seq, Ordering::Release);
    }
}

/// The feed thread's sections: market data and books.
pub struct FeedSection(SectionHandle);
section_common!(FeedSection);

impl FeedSection {
    /// Market-data cell of instrument `index`.
    pub fn market(&self, index: usize) -> &SeqCell<MarketData> {
        &self.0.region().market[index]
    }

    /// Book cell of instrument `index`.
    pub fn book(&self, index: usize) -> &SeqCell<BookLevels> {
        &self.0.region().books[index]
    }
}

/// The gateway thread's sections: its counters and latency stages.
pub struct GatewaySection(SectionHandle);
section_common!(GatewaySection);

/// The persistence thread's section: journal health.
pub struct StorageSection(SectionHandle);
section_common!(StorageSection);

impl StorageSection {
    /// Storage status cell.
    pub fn storage(&self) -> &SeqCell<StorageStatus> {
        &self.0.region().storage
    }
}

/// The engine's end of the control ring.
pub struct ControlEnd {
    consumer: ControlConsumer,
    handle: SectionHandle,
}

impl std::fmt::Debug for ControlEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlEnd")
            .field("consumer", &self.consumer)
            .finish()
    }
}

impl ControlEnd {
    /// The next published command, if any.
    #[inline]
    pub fn poll(&mut self, now_mono_ns: u64) -> Option<control::ControlRequest> {
        self.consumer
            .poll(&self.handle.region().control, now_mono_ns)
    }

    /// Acknowledges the command last polled.
    pub fn ack(&mut self, request: control::ControlRequest, ack: Ack) {
        self.consumer
            .ack(&self.handle.region().control, request, ack);
    }

    /// Slots taken back from producers that never published.
    pub fn abandoned(&self) -> u64 {
        self.consumer.abandoned()
    }
}

/// A monitor's read-only view of a region.
pub struct RegionReader {
    map: Mmap,
    path: PathBuf,
    dev_ino: (u64, u64),
}

impl std::fmt::Debug for RegionReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionReader")
            .field("path", &self.path)
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

/// A summary of one latency stage in ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySummary {
    /// Records.
    pub count: u64,
    /// Median, ns.
    pub p50_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// 99.9th percentile, ns.
    pub p999_ns: u64,
    /// Maximum, ns.
    pub max_ns: u64,
}

impl RegionReader {
    /// Maps the region at `path` read-only and validates its header.
    ///
    /// # Errors
    ///
    /// [`RegionError::Io`] if the file cannot be opened or mapped; [`RegionError::Truncated`],
    /// [`RegionError::BadMagic`], [`RegionError::Version`], [`RegionError::Size`] when it is
    /// not a complete region of this layout.
    pub fn open(path: &Path) -> Result<Self, RegionError> {
        let file = File::open(path).map_err(io_err("open", path))?;
        let meta = file.metadata().map_err(io_err("stat", path))?;
        let len = meta.len();
        if len < std::mem::size_of::<Header>() as u64 {
            return Err(RegionError::Truncated {
                path: path.to_path_buf(),
                len,
                need: REGION_SIZE as u64,
            });
        }
        // SAFETY: read-only shared mapping of a file we only read through atomics and copies of
        // types valid for any bit pattern; the length was checked against the file's size just
        // before (a writer that shrinks the file under us can only cause SIGBUS, which the 0600
        // mode of regions limits to the engine's own user).
        let map = unsafe { MmapOptions::new().len(len as usize).map(&file) }
            .map_err(io_err("map", path))?;
        // SAFETY: the mapping holds at least a `Header`, page aligned; `AtomicU64` is valid for
        // any bits; atomic loads of 8 bytes from read-only memory are plain loads on Linux
        // targets.
        let magic = unsafe { &*map.as_ptr().cast::<AtomicU64>() }.load(Ordering::Acquire);
        if magic != MAGIC {
            return Err(RegionError::BadMagic {
                path: path.to_path_buf(),
                found: magic,
            });
        }
        // SAFETY: as above: the mapping holds a whole `Header`, all of whose fields are valid
        // for any bit pattern.
        let header = unsafe { &*map.as_ptr().cast::<Header>() };
        if header.layout_version != LAYOUT_VERSION {
            return Err(RegionError::Version {
                path: path.to_path_buf(),
                found: header.layout_version,
            });
        }
        if header.layout_size != REGION_SIZE as u64 || len != REGION_SIZE as u64 {
            return Err(RegionError::Size {
                path: path.to_path_buf(),
                found: header.layout_size,
                len,
            });
        }
        Ok(Self {
            map,
            path: path.to_path_buf(),
            dev_ino: (meta.dev(), meta.ino()),
        })
    }

    fn region(&self) -> &Region {
        // SAFETY: `open` checked the mapping is exactly REGION_SIZE bytes, page aligned, with
        // this layout's magic, version and size; every field of `Region` is valid for any bit
        // pattern; this view is only read (the mapping is read-only).
        unsafe { &*self.map.as_ptr().cast::<Region>() }
    }

    /// The file this reader mapped.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the path still names the file this reader mapped (false once the engine removed
    /// it or a new engine replaced it).
    pub fn is_current(&self) -> bool {
        std::fs::metadata(&self.path)
            .map(|m| (m.dev(), m.ino()) == self.dev_ino)
            .unwrap_or(false)
    }

    /// The engine's pid.
    pub fn pid(&self) -> u32 {
        self.region().header.pid
    }

    /// The instance name.
    pub fn instance(&self) -> String {
        layout::read_str(&self.region().header.instance)
    }

    /// Wall-clock start, ns since the epoch.
    pub fn start_unix_ns(&self) -> u64 {
        self.region().header.start_unix_ns
    }

    /// `CLOCK_MONOTONIC` ns of the last heartbeat.
    pub fn heartbeat_mono_ns(&self) -> u64 {
        self.region()
            .header
            .heartbeat_mono_ns
            .0
            .load(Ordering::Acquire)
    }

    /// [`layout::flags`] bits.
    pub fn flags(&self) -> u64 {
        self.region().header.flags.0.load(Ordering::Acquire)
    }

    /// Whether a process with the engine's pid exists (`kill(pid, 0)`).
    pub fn engine_process_alive(&self) -> bool {
        let pid = self.pid();
        if pid == 0 || pid > i32::MAX as u32 {
            return false;
        }
        // SAFETY: kill(2) with signal 0 sends nothing; it only checks the pid exists.
        let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
        rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }

    /// Engine status.
    ///
    /// # Errors
    ///
    /// [`Contended`] if the cell stayed mid-write (see [`SeqCell::read`]).
    pub fn engine(&self) -> Result<EngineStatus, Contended> {
        self.region().engine.read()
    }

    /// Risk limits and usage.
    ///
    /// # Errors
    ///
    /// As [`RegionReader::engine`].
    pub fn risk(&self) -> Result<RiskState, Contended> {
        self.region().risk.read()
    }

    /// Journal health.
    ///
    /// # Errors
    ///
    /// As [`RegionReader::engine`].
    pub fn storage(&self) -> Result<StorageStatus, Contended> {
        self.region().storage.read()
    }

    /// Open orders (entries past `count` are zeroed in the copy).
    ///
    /// # Errors
    ///
    /// As [`RegionReader::engine`].
    pub fn open_orders(&self) -> Result<OpenOrders, Contended> {
        self.region().open_orders.read()
    }

    /// Configured instruments with their indexes.
    ///
    /// # Errors
    ///
    /// As [`RegionReader::engine`].
    pub fn instruments(&self) -> Result<Vec<(usize, InstrumentInfo)>, Contended> {
        let mut out = Vec::new();
        for (i, cell) in self.region().instruments.iter().enumerate() {
            let info = cell.read()?;
            if info.configured == 1 {
                out.push((i, info));
            }
        }
        Ok(out)
    }

    /// Market data of instrument `index` (`< MAX_INSTRUMENTS`).
    ///
    /// # Errors
    ///
    /// As [`RegionReader::engine`].
    pub fn market(&self, index: usize) -> Result<MarketData, Contended> {
        self.region().market[index % MAX_INSTRUMENTS].read()
    }

    /// Book of instrument `index`.
    ///
    /// # Errors
    ///
    /// As [`RegionReader::engine`].
    pub fn book(&self, index: usize) -> Result<BookLevels, Contended> {
        self.region().books[index % MAX_INSTRUMENTS].read()
    }

    /// Position of instrument `index`.
    ///
    /// # Errors
    ///
    /// As [`RegionReader::engine`].
    pub fn position(&self, index: usize) -> Result<Position, Contended> {
        self.region().positions[index % MAX_INSTRUMENTS].read()
    }

    /// The recent fills still in the ring, oldest first; slots overwritten while reading are
    /// skipped.
    pub fn recent_fills(&self) -> Vec<FillEntry> {
        let ring = &self.region().fills;
        let written = ring.written.0.load(Ordering::Acquire);
        let first = written.saturating_sub(FILLS_CAPACITY as u64) + 1;
        (first..=written)
            .filter_map(|seq| {
                let cell = &ring.cells[((seq - 1) % FILLS_CAPACITY as u64) as usize];
                cell.read().ok().filter(|f| f.seq == seq)
            })
            .collect()
    }

    /// Total fills written since start.
    pub fn fills_written(&self) -> u64 {
        self.region().fills.written.0.load(Ordering::Acquire)
    }

    /// Every counter as (label from the region, value).
    pub fn counters(&self) -> Vec<(String, u64)> {
        let r = self.region();
        (0..COUNTERS)
            .map(|i| {
                (
                    layout::read_str(&r.counter_labels[i]),
                    r.counters[i].0.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// The value of one counter.
    pub fn counter(&self, id: CounterId) -> u64 {
        self.region().counters[id as usize]
            .0
            .load(Ordering::Relaxed)
    }

    /// A stage's histogram, in latency-clock ticks.
    pub fn latency_ticks(&self, stage: Stage) -> HistogramSnapshot {
        self.region().latency[stage as usize].snapshot()
    }

    /// The label the region gives a stage.
    pub fn stage_label(&self, stage: Stage) -> String {
        layout::read_str(&self.region().stage_labels[stage as usize])
    }

    /// Converts latency-clock ticks to ns with the header's scale.
    pub fn ticks_to_ns(&self, ticks: u64) -> u64 {
        ((u128::from(ticks) * u128::from(self.region().header.tick_ns_q32)) >> 32) as u64
    }

    /// Percentiles of a histogram snapshot (in ticks), converted to ns.
    pub fn summarize(&self, snapshot: &HistogramSnapshot) -> LatencySummary {
        LatencySummary {
            count: snapshot.count,
            p50_ns: self.ticks_to_ns(snapshot.value_at_quantile(0.50)),
            p99_ns: self.ticks_to_ns(snapshot.value_at_quantile(0.99)),
            p999_ns: self.ticks_to_ns(snapshot.value_at_quantile(0.999)),
            max_ns: self.ticks_to_ns(snapshot.max),
        }
    }

    /// Maps the control page read-write for sending commands.
    ///
    /// # Errors
    ///
    /// [`RegionError::Io`] when the file cannot be opened for writing or mapped.
    pub fn control(&self) -> Result<ControlClient, RegionError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(io_err("open for control", &self.path))?;
        let meta = file.metadata().map_err(io_err("stat", &self.path))?;
        if (meta.dev(), meta.ino()) != self.dev_ino {
            return Err(RegionError::Io {
                op: "open for control",
                path: self.path.clone(),
                source: io::Error::new(io::ErrorKind::NotFound, "the region was replaced"),
            });
        }
        // SAFETY: a shared mapping of the control section only, page aligned (CONTROL_OFFSET
        // is a multiple of 4096, asserted in `layout`), inside a file `open` verified to be
        // REGION_SIZE long; it is accessed only through the atomics of `ControlSection`.
        let map = unsafe {
            MmapOptions::new()
                .offset(CONTROL_OFFSET as u64)
                .len(CONTROL_LEN)
                .map_mut(&file)
        }
        .map_err(io_err("map control section", &self.path))?;
        Ok(ControlClient { map })
    }
}

/// A monitor's handle for sending commands through a region's control ring.
pub struct ControlClient {
    map: MmapMut,
}

impl std::fmt::Debug for ControlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControlClient")
    }
}

impl ControlClient {
    fn section(&self) -> &layout::ControlSection {
        // SAFETY: the mapping is exactly one `ControlSection`, page aligned; all its fields are
        // atomics, valid for any bit pattern and interior-mutable.
        unsafe { &*self.map.as_ptr().cast::<layout::ControlSection>() }
    }

    /// Sends `command` without waiting.
    ///
    /// # Errors
    ///
    /// See [`control::send`].
    pub fn send(&self, command: Command) -> Result<Ticket, ControlError> {
        control::send(self.section(), u64::from(command.code()))
    }

    /// Sends a raw command code (for testing the engine's handling of unknown codes).
    ///
    /// # Errors
    ///
    /// See [`control::send`].
    pub fn send_code(&self, code: u64) -> Result<Ticket, ControlError> {
        control::send(self.section(), code)
    }

    /// Polls for the acknowledgement of `ticket` every 200 µs until `timeout`; `Ok(None)` on
    /// timeout. Returns the raw code when it is not an [`Ack`] this build knows.
    ///
    /// # Errors
    ///
    /// [`ControlError::Lapped`].
    pub fn wait_ack(
        &self,
        ticket: Ticket,
        timeout: Duration,
    ) -> Result<Option<Result<Ack, u64>>, ControlError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(code) = control::poll_ack(self.section(), ticket)? {
                let ack = u32::try_from(code).ok().and_then(Ack::from_code);
                return Ok(Some(ack.ok_or(code)));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}
