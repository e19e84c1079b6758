//! The rings between the engine's threads, with their memory resident before they are used.
//!
//! `rtrb` allocates a ring's slots without touching them, so the kernel maps each page on its
//! first write: the producer's first lap takes one minor page fault every 4 KiB of entries, on
//! whatever thread pushes (the hot one for the market, order, report and journal rings). On a
//! VM such a fault costs 10-20 us; it was the in-process tick-to-trade p99 (every 64th market
//! message, ~110 ms apart at the bench's rate, until the ring had gone round once).
//!
//! Invariant: every slot of a ring made by [`ring`] has been written once before the ring is
//! handed out, so no push or pop on it faults unless the kernel reclaims the page, which
//! anonymous memory only suffers with swap under memory pressure (and not once
//! `engine run --mlock` has locked it).
//!
//! A push writes a slot last used a whole lap earlier (8,192 market messages, seconds ago): its
//! cache lines are long gone from the core. [`warm_next_slot`], called on a spinning thread's
//! idle turns, writes the slot the next push will fill without committing it, so that push
//! finds it in the core's cache.

use std::mem::MaybeUninit;

/// An SPSC ring of `capacity` slots whose pages are already written and mapped.
pub fn ring<T>(capacity: usize) -> (rtrb::Producer<T>, rtrb::Consumer<T>) {
    let (mut producer, consumer) = rtrb::RingBuffer::new(capacity);
    // An empty ring lends its whole buffer; the chunk is dropped without a commit, so the
    // zeroed slots never become entries.
    if let Ok(mut chunk) = producer.write_chunk_uninit(capacity) {
        let (first, second) = chunk.as_mut_slices();
        for slot in first.iter_mut().chain(second.iter_mut()) {
            *slot = MaybeUninit::zeroed();
        }
        std::hint::black_box(chunk.as_mut_slices());
    }
    (producer, consumer)
}

/// Writes the slot the producer's next push will fill, and leaves it uncommitted: the consumer
/// never sees it, and the push overwrites it. Does nothing when the ring is full.
pub fn warm_next_slot<T>(producer: &mut rtrb::Producer<T>) {
    if let Ok(mut chunk) = producer.write_chunk_uninit(1) {
        let (first, _) = chunk.as_mut_slices();
        if let Some(slot) = first.first_mut() {
            *slot = MaybeUninit::zeroed();
        }
        std::hint::black_box(chunk.as_mut_slices());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minor page faults this process has taken so far (`getrusage`).
    fn minor_faults() -> i64 {
        // SAFETY: `usage` is a plain C struct that getrusage fills; zeroes are a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: RUSAGE_THREAD with a valid pointer to a rusage the call may write.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
        assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
        usage.ru_minflt
    }

    #[test]
    fn warming_the_next_slot_adds_no_entry_and_changes_no_push() {
        let (mut tx, mut rx) = ring::<u64>(4);
        for lap in 0..3u64 {
            for i in 0..4 {
                warm_next_slot(&mut tx);
                assert_eq!(rx.slots(), i as usize, "a warmed slot is not an entry");
                tx.push(lap * 10 + i).expect("room");
            }
            warm_next_slot(&mut tx);
            assert!(tx.is_full(), "warming a full ring leaves it full");
            for i in 0..4 {
                assert_eq!(rx.pop(), Ok(lap * 10 + i));
            }
            assert!(rx.pop().is_err());
        }
    }

    #[test]
    fn a_new_ring_is_empty_and_carries_entries_in_order() {
        let (mut tx, mut rx) = ring::<u64>(8);
        assert_eq!(rx.slots(), 0);
        assert_eq!(tx.slots(), 8);
        for lap in 0..3u64 {
            for i in 0..8 {
                tx.push(lap * 8 + i).expect("room");
            }
            assert!(tx.push(99).is_err(), "a full ring refuses a push");
            for i in 0..8 {
                assert_eq!(rx.pop(), Ok(lap * 8 + i));
            }
        }
    }

    #[test]
    fn the_first_lap_takes_no_page_faults() {
        // 4 MiB of 64-byte entries: 1024 pages, each a fault on its first write without the
        // pre-touch (checked by removing it: ~1030 faults here).
        const CAPACITY: usize = 65_536;
        let (mut tx, mut rx) = ring::<[u64; 8]>(CAPACITY);
        let before = minor_faults();
        for i in 0..CAPACITY as u64 {
            tx.push([i; 8]).expect("room");
        }
        let mut sum = 0;
        while let Ok(entry) = rx.pop() {
            sum += entry[7];
        }
        let faults = minor_faults() - before;
        assert_eq!(sum, (CAPACITY as u64 - 1) * CAPACITY as u64 / 2);
        assert!(
            faults < 16,
            "{faults} minor faults on the first lap of a pre-touched ring"
        );
    }
}
