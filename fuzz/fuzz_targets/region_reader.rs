//! `RegionReader::open` on a file holding the fuzz input, and, whenever it opens, every read
//! accessor: a hostile or truncated region may yield errors or odd values, never a panic.
//!
//! The first byte picks how the input becomes a file, the rest is the payload:
//!
//! | mode | file                                                                                |
//! |------|-------------------------------------------------------------------------------------|
//! | 0    | the payload as is (mostly fails the length and magic checks)                         |
//! | 1    | `REGION_SIZE` bytes of the payload repeated, then a valid header (magic, version,     |
//! |      | layout size) written over the start, so the reader gets past its checks              |
//! | 2    | `REGION_SIZE` zero bytes with a valid header; the payload after a 4-byte offset is    |
//! |      | written at that offset, so one section can be aimed at                               |
//! | 3    | as 1, but only the magic is fixed (version and size come from the payload) and the   |
//! |      | length is `REGION_SIZE` plus a signed 16-bit delta from the payload                  |
//! | 4    | the payload as is with the magic written over its first 8 bytes                      |
//!
//! The file is created once per process in `std::env::temp_dir()`, unlinked at once and reached
//! through `/proc/self/fd`, so nothing is left behind however the process ends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::fs::{File, OpenOptions};
use std::mem::offset_of;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::sync::OnceLock;
use tickwire_shm::layout::{
    CounterId, Header, Stage, LAYOUT_VERSION, MAGIC, MAX_INSTRUMENTS, REGION_SIZE,
};
use tickwire_shm::region::RegionReader;

/// The per-process scratch file (already unlinked) and the path that still reaches it.
fn scratch() -> &'static (File, PathBuf) {
    static SCRATCH: OnceLock<(File, PathBuf)> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("tickwire-fuzz-region-{}", std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("unlink {}: {e}", path.display()));
        let fd_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        (file, fd_path)
    })
}

/// `REGION_SIZE` bytes of `payload` repeated (zeros for an empty payload).
fn repeated(payload: &[u8]) -> Vec<u8> {
    if payload.is_empty() {
        return vec![0; REGION_SIZE];
    }
    payload.iter().copied().cycle().take(REGION_SIZE).collect()
}

fn put(buf: &mut [u8], offset: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(offset..offset + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

fn put_magic(buf: &mut [u8]) {
    put(buf, offset_of!(Header, magic), &MAGIC.to_le_bytes());
}

/// Magic, version and layout size as a writer of this build leaves them.
fn put_valid_header(buf: &mut [u8]) {
    put_magic(buf);
    put(
        buf,
        offset_of!(Header, layout_version),
        &LAYOUT_VERSION.to_le_bytes(),
    );
    put(
        buf,
        offset_of!(Header, layout_size),
        &(REGION_SIZE as u64).to_le_bytes(),
    );
}

/// The file contents for an input, per the table in the crate docs.
fn file_for(data: &[u8]) -> Vec<u8> {
    let Some((&mode, payload)) = data.split_first() else {
        return Vec::new();
    };
    match mode % 5 {
        0 => payload.to_vec(),
        1 => {
            let mut buf = repeated(payload);
            put_valid_header(&mut buf);
            buf
        }
        2 => {
            let mut buf = vec![0; REGION_SIZE];
            put_valid_header(&mut buf);
            if let Some((offset, rest)) = payload.split_first_chunk::<4>() {
                let offset = u32::from_le_bytes(*offset) as usize % REGION_SIZE;
                let end = (offset + rest.len()).min(REGION_SIZE);
                buf[offset..end].copy_from_slice(&rest[..end - offset]);
            }
            buf
        }
        3 => {
            let (delta, rest) = payload
                .split_first_chunk::<2>()
                .map_or((0, payload), |(d, rest)| (i16::from_le_bytes(*d), rest));
            let mut buf = repeated(rest);
            buf.resize(REGION_SIZE.saturating_add_signed(isize::from(delta)), 0);
            put_magic(&mut buf);
            buf
        }
        _ => {
            let mut buf = payload.to_vec();
            put_magic(&mut buf);
            buf
        }
    }
}

/// Every read accessor of the reader.
fn read_everything(reader: &RegionReader) {
    let _ = format!("{reader:?}");
    let _ = reader.path();
    let _ = reader.is_current();
    let _ = reader.pid();
    let _ = reader.instance();
    let _ = reader.start_unix_ns();
    let _ = reader.heartbeat_mono_ns();
    let _ = reader.flags();
    let _ = reader.engine_process_alive();
    let _ = reader.engine();
    let _ = reader.risk();
    let _ = reader.storage();
    let _ = reader.open_orders();
    if let Ok(instruments) = reader.instruments() {
        assert!(instruments.len() <= MAX_INSTRUMENTS);
    }
    // One past MAX_INSTRUMENTS too: the accessors wrap the index.
    for i in 0..=MAX_INSTRUMENTS {
        let _ = reader.market(i);
        let _ = reader.book(i);
        let _ = reader.position(i);
    }
    let _ = reader.market(usize::MAX);
    let fills = reader.recent_fills();
    assert!(fills.len() <= tickwire_shm::layout::FILLS_CAPACITY);
    let _ = reader.fills_written();
    let counters = reader.counters();
    assert_eq!(counters.len(), CounterId::ALL.len());
    for &id in CounterId::ALL {
        let _ = reader.counter(id);
    }
    for &stage in Stage::ALL {
        let _ = reader.stage_label(stage);
        let snapshot = reader.latency_ticks(stage);
        let summary = reader.summarize(&snapshot);
        assert_eq!(summary.count, snapshot.count);
        let _ = snapshot.since(&snapshot);
        let _ = reader.ticks_to_ns(u64::MAX);
    }
}

fuzz_target!(|data: &[u8]| {
    let (file, path) = scratch();
    let contents = file_for(data);
    file.set_len(contents.len() as u64)
        .expect("resize the scratch file");
    file.write_all_at(&contents, 0)
        .expect("write the scratch file");
    match RegionReader::open(path) {
        Ok(reader) => read_everything(&reader),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
