//! The control ring: operator commands from monitor processes to the engine, with
//! acknowledgements, inside the region's page-aligned control section.
//!
//! # Protocol (a bounded MPSC queue after Vyukov, with an acknowledgement per slot)
//!
//! Position `pos` uses slot `pos % CONTROL_CAPACITY`. A slot's stamp says where it is:
//!
//! - `stamp == pos`: free for the producer of `pos`. A producer claims `pos` by CAS on `head`
//!   (so any number of monitors may send), stores the command, then publishes with a CAS of the
//!   stamp `pos → pos + 1` (release).
//! - `stamp == pos + 1`: published. The consumer (the strategy thread, the only one) reads the
//!   command, applies it, stores the acknowledgement as one word `(pos + 1) << 8 | code`
//!   (release), then frees the slot for the next lap with `stamp = pos + CONTROL_CAPACITY` and
//!   advances `tail`.
//! - A producer that died between claiming and publishing would block the ring. The consumer
//!   waits [`ABANDON_AFTER_NS`] for such a slot, then takes it back with a CAS of the stamp
//!   `pos → pos + CONTROL_CAPACITY`; the late producer's publishing CAS then fails and it reports
//!   [`ControlError::Abandoned`] instead of having its command half-read.
//!
//! A producer waits for an acknowledgement word naming `pos + 1`; if it names a later position
//! the slot was lapped and its acknowledgement is gone ([`ControlError::Lapped`]) — reported,
//! never mistaken for another command's answer. Nothing here blocks or allocates.
//! The engine never trusts a command code: unknown codes are acknowledged as
//! [`Ack::UnknownCommand`].

use crate::layout::{code_enum, ControlSection, CONTROL_CAPACITY};
use core::sync::atomic::Ordering;

/// How long the consumer waits for a claimed slot to be published before taking it back.
pub const ABANDON_AFTER_NS: u64 = 1_000_000_000;

const CAPACITY: u64 = CONTROL_CAPACITY as u64;
const ACK_CODE_BITS: u32 = 8;
const ACK_CODE_MASK: u64 = (1 << ACK_CODE_BITS) - 1;

fn ack_word(pos: u64, code: u64) -> u64 {
    ((pos + 1) << ACK_CODE_BITS) | (code & ACK_CODE_MASK)
}

code_enum! {
    /// An operator command.
    Command {
        /// Stop quoting and cancel open orders; resumable.
        Pause = 1 => "pause",
        /// Quote again after a pause.
        Resume = 2 => "resume",
        /// Cancel open orders and close the position.
        Flatten = 3 => "flatten",
        /// Kill switch: cancel everything and halt until restart.
        Kill = 4 => "kill",
    }
}

code_enum! {
    /// The engine's answer to a command.
    Ack {
        /// Applied.
        Done = 1 => "done",
        /// Already in the requested state; nothing changed.
        Unchanged = 2 => "unchanged",
        /// Refused in the current state (e.g. resume after the kill switch).
        Refused = 3 => "refused",
        /// The command code is not one this engine knows.
        UnknownCommand = 4 => "unknown command",
    }
}

/// Why a command could not be sent or acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// Every slot holds a command the engine has not consumed yet.
    #[error("control ring full: the engine has not consumed {CONTROL_CAPACITY} earlier commands")]
    Full,
    /// The engine took the slot back before this producer published it.
    #[error("command at position {pos} was abandoned by the engine before it was published")]
    Abandoned {
        /// The position.
        pos: u64,
    },
    /// The slot was reused before the acknowledgement was read.
    #[error("acknowledgement for position {pos} was overwritten before it was read")]
    Lapped {
        /// The position.
        pos: u64,
    },
}

/// A sent command, to poll for its acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// Ring position of the command.
    pub pos: u64,
}

/// Sends `command`. Safe to call from any number of processes at once.
///
/// # Errors
///
/// [`ControlError::Full`] when the engine is not consuming; [`ControlError::Abandoned`] when
/// this producer stalled so long the engine took its slot back.
pub fn send(section: &ControlSection, command: u64) -> Result<Ticket, ControlError> {
    let mut pos = section.head.0.load(Ordering::Relaxed);
    loop {
        let slot = &section.slots[(pos % CAPACITY) as usize];
        let stamp = slot.stamp.load(Ordering::Acquire);
        if stamp == pos {
            match section.head.0.compare_exchange_weak(
                pos,
                pos + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    slot.command.store(command, Ordering::Relaxed);
                    return slot
                        .stamp
                        .compare_exchange(pos, pos + 1, Ordering::Release, Ordering::Relaxed)
                        .map(|_| Ticket { pos })
                        .map_err(|_| ControlError::Abandoned { pos });
                }
                Err(current) => pos = current,
            }
        } else if stamp < pos {
            return Err(ControlError::Full);
        } else {
            pos = section.head.0.load(Ordering::Relaxed);
        }
    }
}

/// The acknowledgement for `ticket`, if the engine gave it yet.
///
/// # Errors
///
/// [`ControlError::Lapped`] when the slot has been reused since.
pub fn poll_ack(section: &ControlSection, ticket: Ticket) -> Result<Option<u64>, ControlError> {
    let slot = &section.slots[(ticket.pos % CAPACITY) as usize];
    let word = slot.ack.load(Ordering::Acquire);
    let acked_pos = word >> ACK_CODE_BITS;
    if acked_pos == ticket.pos + 1 {
        return Ok(Some(word & ACK_CODE_MASK));
    }
    if acked_pos > ticket.pos + 1 {
        return Err(ControlError::Lapped { pos: ticket.pos });
    }
    Ok(None)
}

/// Sets up the slots of a fresh section: slot `i` free for position `i`.
pub(crate) fn init(section: &ControlSection) {
    for (i, slot) in section.slots.iter().enumerate() {
        slot.stamp.store(i as u64, Ordering::Relaxed);
    }
}

/// A command taken from the ring, to be acknowledged with [`ControlConsumer::ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlRequest {
    /// Ring position.
    pub pos: u64,
    /// The command, `None` for a code this engine does not know.
    pub command: Option<Command>,
    /// The raw code as sent.
    pub code: u64,
}

/// The engine's end of the ring: polls and acknowledges; owned by one thread.
#[derive(Debug)]
pub struct ControlConsumer {
    /// Next position to consume (mirrors the section's `tail`, which only this side writes).
    tail: u64,
    /// `CLOCK_MONOTONIC` ns when the slot at `tail` was first seen claimed but unpublished.
    stuck_since_ns: Option<u64>,
    /// Slots taken back from producers that never published.
    abandoned: u64,
}

impl ControlConsumer {
    pub(crate) fn new(section: &ControlSection) -> Self {
        Self {
            tail: section.tail.0.load(Ordering::Relaxed),
            stuck_since_ns: None,
            abandoned: 0,
        }
    }

    /// Slots taken back from producers that never published.
    pub fn abandoned(&self) -> u64 {
        self.abandoned
    }

    /// The next command, if one is published. Wait-free; never blocks on a producer.
    pub fn poll(&mut self, section: &ControlSection, now_mono_ns: u64) -> Option<ControlRequest> {
        let pos = self.tail;
        let slot = &section.slots[(pos % CAPACITY) as usize];
        let stamp = slot.stamp.load(Ordering::Acquire);
        if stamp == pos + 1 {
            self.stuck_since_ns = None;
            let code = slot.command.load(Ordering::Relaxed);
            let command = u32::try_from(code).ok().and_then(Command::from_code);
            return Some(ControlRequest { pos, command, code });
        }
        if stamp == pos && section.head.0.load(Ordering::Acquire) > pos {
            let since = *self.stuck_since_ns.get_or_insert(now_mono_ns);
            if now_mono_ns.saturating_sub(since) >= ABANDON_AFTER_NS
                && slot
                    .stamp
                    .compare_exchange(pos, pos + CAPACITY, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                self.abandoned += 1;
                self.advance(section);
            }
        }
        None
    }

    /// Acknowledges `request` and frees its slot.
    pub fn ack(&mut self, section: &ControlSection, request: ControlRequest, ack: Ack) {
        debug_assert_eq!(
            request.pos, self.tail,
            "acknowledgements must follow poll order"
        );
        let slot = &section.slots[(request.pos % CAPACITY) as usize];
        slot.ack.store(
            ack_word(request.pos, u64::from(ack.code())),
            Ordering::Release,
        );
        slot.stamp.store(request.pos + CAPACITY, Ordering::Release);
        self.advance(section);
    }

    fn advance(&mut self, section: &ControlSection) {
        self.tail += 1;
        self.stuck_since_ns = None;
        section.tail.0.store(self.tail, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> Box<ControlSection> {
        // SAFETY: `ControlSection` is atomics only, for which all-zero bytes are valid.
        let s = unsafe { Box::<ControlSection>::new_zeroed().assume_init() };
        init(&s);
        s
    }

    #[test]
    fn command_round_trip_with_ack() {
        let s = section();
        let mut consumer = ControlConsumer::new(&s);
        assert_eq!(consumer.poll(&s, 0), None);
        let t = send(&s, Command::Pause.code().into()).expect("send");
        assert_eq!(poll_ack(&s, t), Ok(None));
        let req = consumer.poll(&s, 0).expect("published");
        assert_eq!(req.command, Some(Command::Pause));
        consumer.ack(&s, req, Ack::Done);
        assert_eq!(poll_ack(&s, t), Ok(Some(Ack::Done.code().into())));
    }

    #[test]
    fn full_ring_is_an_error_and_drains() {
        let s = section();
        let mut consumer = ControlConsumer::new(&s);
        let tickets: Vec<_> = (0..CONTROL_CAPACITY)
            .map(|_| send(&s, Command::Resume.code().into()).expect("room"))
            .collect();
        assert_eq!(send(&s, 2), Err(ControlError::Full));
        for t in &tickets {
            let req = consumer.poll(&s, 0).expect("published");
            assert_eq!(req.pos, t.pos);
            consumer.ack(&s, req, Ack::Unchanged);
        }
        let t = send(&s, 99).expect("room again");
        let req = consumer.poll(&s, 0).expect("published");
        assert_eq!((req.command, req.code), (None, 99));
        consumer.ack(&s, req, Ack::UnknownCommand);
        assert_eq!(poll_ack(&s, t), Ok(Some(Ack::UnknownCommand.code().into())));
        assert!(matches!(
            poll_ack(&s, tickets[0]),
            Err(ControlError::Lapped { .. })
        ));
    }

    #[test]
    fn a_claimed_but_unpublished_slot_is_taken_back() {
        let s = section();
        let mut consumer = ControlConsumer::new(&s);
        // A producer that claimed position 0 and died before publishing.
        s.head.0.store(1, Ordering::Relaxed);
        assert_eq!(consumer.poll(&s, 10), None);
        assert_eq!(consumer.poll(&s, 10 + ABANDON_AFTER_NS - 1), None);
        assert_eq!(consumer.poll(&s, 10 + ABANDON_AFTER_NS), None);
        assert_eq!(consumer.abandoned(), 1);
        // The dead producer's late publish fails; the next command goes through.
        assert!(s.slots[0]
            .stamp
            .compare_exchange(0, 1, Ordering::Release, Ordering::Relaxed)
            .is_err());
        let t = send(&s, Command::Kill.code().into()).expect("send");
        assert_eq!(t.pos, 1);
        let req = consumer.poll(&s, 0).expect("published");
        assert_eq!(req.command, Some(Command::Kill));
    }

    #[test]
    fn concurrent_producers_each_get_their_own_ack() {
        let s: std::sync::Arc<ControlSection> = section().into();
        let producers: Vec<_> = (0..4u64)
            .map(|p| {
                let s = std::sync::Arc::clone(&s);
                std::thread::spawn(move || {
                    let (mut acked, mut lapped) = (0u32, 0u32);
                    for i in 0..200u64 {
                        let code = 100 + p * 1000 + i;
                        let t = loop {
                            match send(&s, code) {
                                Ok(t) => break t,
                                Err(ControlError::Full) => std::thread::yield_now(),
                                Err(e) => panic!("{e}"),
                            }
                        };
                        loop {
                            match poll_ack(&s, t) {
                                Ok(Some(ack)) => {
                                    assert_eq!(ack, code % 7);
                                    acked += 1;
                                    break;
                                }
                                Ok(None) => std::thread::yield_now(),
                                Err(ControlError::Lapped { .. }) => {
                                    lapped += 1;
                                    break;
                                }
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                    (acked, lapped)
                })
            })
            .collect();
        let mut consumer = ControlConsumer::new(&s);
        let mut seen = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while seen < 800 && std::time::Instant::now() < deadline {
            if let Some(req) = consumer.poll(&s, 0) {
                let slot = &s.slots[(req.pos % CAPACITY) as usize];
                slot.ack
                    .store(ack_word(req.pos, req.code % 7), Ordering::Release);
                slot.stamp.store(req.pos + CAPACITY, Ordering::Release);
                consumer.advance(&s);
                seen += 1;
            } else {
                std::thread::yield_now();
            }
        }
        let (acked, lapped) = producers
            .into_iter()
            .map(|h| h.join().expect("producer"))
            .fold((0, 0), |(a, l), (pa, pl)| (a + pa, l + pl));
        // Every command consumed exactly once; every acknowledgement read was the right one
        // (asserted in the producers); a lapped one is reported, never mistaken.
        assert_eq!(seen, 800);
        assert_eq!(acked + lapped, 800);
        assert!(acked > 0);
    }
}
