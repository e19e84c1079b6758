//! Sequence locks: one writer publishes a `Copy` value, any number of readers — in this process
//! or in another one mapping the same file — take consistent copies without ever blocking it.
//!
//! # Stamp encoding
//!
//! Each cell has a 64-bit sequence stamp. It is even while the value is stable and odd while the
//! writer is inside a write; every write adds 2. A reader that saw the same even stamp before and
//! after copying the value got a copy no write overlapped, so a torn read is impossible rather
//! than unlikely.
//!
//! # Memory ordering (Boehm, "Can seqlocks get along with programming language memory models?")
//!
//! Writer: `seq = s + 1` (relaxed); `fence(Release)`; value words (relaxed atomic stores);
//! `seq = s + 2` (release).
//! Reader: `s1 = seq` (acquire); value words (relaxed atomic loads); `fence(Acquire)`;
//! `s2 = seq` (relaxed); the copy is good iff `s1 == s2` and `s1` is even.
//!
//! If the reader loaded any word of a write that began after `s1`, the writer's release fence
//! synchronises with the reader's acquire fence, so the odd stamp is visible to the load of `s2`
//! and the copy is discarded. The value is moved as `u64` words with atomic operations, never as
//! a plain memory copy, so a concurrent write is not a data race under the Rust memory model.
//!
//! # Single writer
//!
//! Two writers on one cell would break the stamp encoding. Cells in a region are reachable only
//! through the section handles of [`crate::region`], which are `Send` but neither `Sync` nor
//! `Clone`, so a second writer cannot be made without `unsafe`.

use crate::primitive::{fence, AtomicU64, Ordering};

/// Writes `src` into `words` under the stamp `seq`. Only one thread may ever write a given cell.
#[inline]
pub(crate) fn write_words(seq: &AtomicU64, words: &[AtomicU64], src: &[u64]) {
    debug_assert_eq!(words.len(), src.len());
    let stamp = seq.load(Ordering::Relaxed);
    debug_assert!(
        stamp.is_multiple_of(2),
        "a seqlock write began while another was open"
    );
    seq.store(stamp.wrapping_add(1), Ordering::Relaxed);
    fence(Ordering::Release);
    for (word, value) in words.iter().zip(src) {
        word.store(*value, Ordering::Relaxed);
    }
    seq.store(stamp.wrapping_add(2), Ordering::Release);
}

/// One attempt to copy `words` into `dst`; `true` if the copy is consistent.
#[inline]
pub(crate) fn try_read_words(seq: &AtomicU64, words: &[AtomicU64], dst: &mut [u64]) -> bool {
    debug_assert_eq!(words.len(), dst.len());
    let before = seq.load(Ordering::Acquire);
    if before % 2 == 1 {
        return false;
    }
    for (out, word) in dst.iter_mut().zip(words) {
        *out = word.load(Ordering::Relaxed);
    }
    fence(Ordering::Acquire);
    seq.load(Ordering::Relaxed) == before
}

#[cfg(not(loom))]
pub use cell::{Contended, SeqCell, SeqWriteGuard, READ_ATTEMPTS};

#[cfg(not(loom))]
mod cell {
    use super::{try_read_words, write_words};
    use bytemuck::Pod;
    use core::cell::UnsafeCell;
    use core::fmt;
    use core::mem::{align_of, size_of};
    use core::ops::{Deref, DerefMut};
    use core::sync::atomic::{AtomicU64, Ordering};

    /// How many times [`SeqCell::read`] tries before it reports [`Contended`]. A writer that
    /// publishes at a bounded rate lets a read through on the first or second attempt; running
    /// out means the writer is rewriting back to back or died inside a write (odd stamp).
    pub const READ_ATTEMPTS: u32 = 4096;

    /// A read found the cell mid-write on every one of [`READ_ATTEMPTS`] attempts.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
    #[error("seqlock cell stayed mid-write for {READ_ATTEMPTS} read attempts (stamp {stamp})")]
    pub struct Contended {
        /// The last stamp seen; odd means a write was open.
        pub stamp: u64,
    }

    /// A seqlock-protected value of type `T`, laid out `#[repr(C)]` so it can live in a
    /// memory-mapped region: the stamp, then `T`, padded to 128 bytes (two cache lines, so the
    /// adjacent-line prefetcher does not couple neighbouring cells written by different threads).
    ///
    /// `T` must be [`Pod`] (no padding, every bit pattern valid, so a copy taken from a file
    /// written by another process is a valid `T`), a whole number of `u64` words and 8-aligned;
    /// both are checked at compile time.
    #[repr(C, align(128))]
    pub struct SeqCell<T> {
        /// Even: stable; odd: a write is open. Only the writer stores it.
        seq: AtomicU64,
        /// Accessed only as `u64` words through atomic operations.
        value: UnsafeCell<T>,
    }

    // SAFETY: every access to `value` goes through `AtomicU64` operations on its words (see
    // `words`), so sharing `&SeqCell<T>` across threads causes no data race; `T: Pod` values
    // carry no references or ownership that could be shared unsoundly.
    unsafe impl<T: Pod + Send> Sync for SeqCell<T> {}

    impl<T: Pod> SeqCell<T> {
        const WORDS: usize = {
            assert!(
                size_of::<T>().is_multiple_of(8),
                "seqlock payload must be whole u64 words"
            );
            assert!(align_of::<T>() >= 8, "seqlock payload must be 8-aligned");
            size_of::<T>() / 8
        };

        /// A cell holding `value`, stamp 0.
        pub fn new(value: T) -> Self {
            Self {
                seq: AtomicU64::new(0),
                value: UnsafeCell::new(value),
            }
        }

        fn words(&self) -> &[AtomicU64] {
            let ptr = self.value.get().cast::<AtomicU64>();
            // SAFETY: `value` is `WORDS` u64 words long and 8-aligned (asserted in `WORDS`);
            // `AtomicU64` has the size and alignment of `u64`; the memory lives as long as
            // `&self`; it is only ever accessed through these atomics, never through a `&T`.
            unsafe { core::slice::from_raw_parts(ptr, Self::WORDS) }
        }

        /// Publishes `value`. Wait-free: a fixed number of stores, no retry.
        #[inline]
        pub fn publish(&self, value: &T) {
            let src: &[u64] = bytemuck::cast_slice(core::slice::from_ref(value));
            write_words(&self.seq, self.words(), src);
        }

        /// Opens a write: the guard holds a copy of the current value, derefs to it, and
        /// publishes it when dropped (crossbeam's `SeqLock::write` shape).
        #[inline]
        pub fn write(&self) -> SeqWriteGuard<'_, T> {
            SeqWriteGuard {
                cell: self,
                value: self.load_published(),
            }
        }

        /// The value last published, read without validation. Correct only on the writer's
        /// thread, where no write can be concurrent.
        #[inline]
        pub fn load_published(&self) -> T {
            let mut out = T::zeroed();
            let dst: &mut [u64] = bytemuck::cast_slice_mut(core::slice::from_mut(&mut out));
            for (out, word) in dst.iter_mut().zip(self.words()) {
                *out = word.load(Ordering::Relaxed);
            }
            out
        }

        /// One attempt at a consistent copy: `None` if a write overlapped.
        #[inline]
        pub fn try_read(&self) -> Option<T> {
            let mut out = T::zeroed();
            let dst: &mut [u64] = bytemuck::cast_slice_mut(core::slice::from_mut(&mut out));
            try_read_words(&self.seq, self.words(), dst).then_some(out)
        }

        /// A consistent copy, retrying up to [`READ_ATTEMPTS`] times.
        ///
        /// # Errors
        ///
        /// [`Contended`] when every attempt overlapped a write, including when the writer
        /// process died inside a write and left the stamp odd: a reader never spins forever.
        pub fn read(&self) -> Result<T, Contended> {
            for _ in 0..READ_ATTEMPTS {
                if let Some(value) = self.try_read() {
                    return Ok(value);
                }
                core::hint::spin_loop();
            }
            Err(Contended {
                stamp: self.seq.load(Ordering::Relaxed),
            })
        }

        /// The current stamp (even when stable); how many writes happened is `stamp / 2`.
        pub fn stamp(&self) -> u64 {
            self.seq.load(Ordering::Acquire)
        }
    }

    impl<T: Pod + fmt::Debug> fmt::Debug for SeqCell<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SeqCell")
                .field("stamp", &self.stamp())
                .field("value", &self.try_read())
                .finish()
        }
    }

    /// An open write on a [`SeqCell`]: edit the copy through `Deref`/`DerefMut`; dropping the
    /// guard publishes it.
    #[derive(Debug)]
    pub struct SeqWriteGuard<'a, T: Pod> {
        cell: &'a SeqCell<T>,
        value: T,
    }

    impl<T: Pod> Deref for SeqWriteGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.value
        }
    }

    impl<T: Pod> DerefMut for SeqWriteGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            &mut self.value
        }
    }

    impl<T: Pod> Drop for SeqWriteGuard<'_, T> {
        fn drop(&mut self) {
            self.cell.publish(&self.value);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;

        #[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        #[repr(C)]
        struct Pair {
            a: u64,
            b: u64,
            c: [u64; 6],
        }

        #[test]
        fn publish_then_read_round_trips() {
            let cell = SeqCell::new(Pair::default());
            let v = Pair {
                a: 1,
                b: 2,
                c: [3; 6],
            };
            cell.publish(&v);
            assert_eq!(cell.read(), Ok(v));
            assert_eq!(cell.stamp(), 2);
        }

        #[test]
        fn write_guard_publishes_on_drop() {
            let cell = SeqCell::new(Pair::default());
            {
                let mut g = cell.write();
                g.a = 7;
                assert_eq!(cell.read().map(|p| p.a), Ok(0), "not visible before drop");
            }
            assert_eq!(cell.read().map(|p| p.a), Ok(7));
        }

        #[test]
        fn odd_stamp_left_by_a_dead_writer_is_reported_not_spun_on() {
            let cell = SeqCell::new(Pair::default());
            cell.seq.store(3, Ordering::Relaxed);
            assert_eq!(cell.read(), Err(Contended { stamp: 3 }));
        }

        #[test]
        fn concurrent_reads_are_never_torn() {
            let cell = Arc::new(SeqCell::new(Pair {
                a: 0,
                b: !0,
                c: [0; 6],
            }));
            let stop = Arc::new(AtomicBool::new(false));
            let writer = {
                let (cell, stop) = (Arc::clone(&cell), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) && i < 2_000_000 {
                        i += 1;
                        cell.publish(&Pair {
                            a: i,
                            b: !i,
                            c: [i; 6],
                        });
                    }
                })
            };
            let mut good = 0u64;
            for _ in 0..200_000 {
                if let Some(p) = cell.try_read() {
                    assert_eq!(p.b, !p.a, "torn read: {p:?}");
                    assert!(p.c.iter().all(|&x| x == p.a), "torn read: {p:?}");
                    good += 1;
                }
            }
            stop.store(true, Ordering::Relaxed);
            writer.join().expect("writer thread panicked");
            assert!(good > 0, "no read ever succeeded");
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::{try_read_words, write_words};
    use crate::primitive::AtomicU64;
    use loom::sync::Arc;

    /// Every interleaving of one writer publishing twice and one reader: a read that validates
    /// holds a value that was published whole.
    #[test]
    fn validated_reads_are_whole_values() {
        loom::model(|| {
            let seq = Arc::new(AtomicU64::new(0));
            let words = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
            let writer = {
                let (seq, words) = (Arc::clone(&seq), Arc::clone(&words));
                loom::thread::spawn(move || {
                    write_words(&seq, &words[..], &[1, 1]);
                    write_words(&seq, &words[..], &[2, 2]);
                })
            };
            let mut dst = [0u64; 2];
            if try_read_words(&seq, &words[..], &mut dst) {
                assert_eq!(dst[0], dst[1], "torn read {dst:?}");
            }
            writer.join().unwrap();
            assert!(try_read_words(&seq, &words[..], &mut dst));
            assert_eq!(dst, [2, 2]);
        });
    }
}
