//! Agents and idle strategies, after Aeron/Agrona.
//!
//! Every engine thread runs an [`Agent`]: `do_work` does whatever is ready and returns how much
//! it did (0 = nothing), and the thread's [`Idle`] strategy decides what to do with a turn that
//! found nothing. [`Idle::BusySpin`] never gives the core away (for an isolated core);
//! [`Idle::Backoff`] spins, then yields, then parks for doubling intervals up to a cap (for
//! laptops and 2-core CI). Any work resets the backoff.

use std::time::Duration;

/// A unit of work run in a loop by one thread.
pub trait Agent {
    /// The thread's role, for thread names and logs.
    fn role_name(&self) -> &'static str;
    /// Does what is ready; returns the amount of work done (0 = nothing was ready).
    fn do_work(&mut self) -> usize;
    /// Whether the agent has finished and its loop should end.
    fn is_done(&self) -> bool;
}

/// What a thread does with a turn that found no work.
#[derive(Debug, Clone)]
pub enum Idle {
    /// Spin with `spin_loop` hints; never yields the core.
    BusySpin,
    /// Spin, then yield, then sleep with doubling intervals up to `max_park`.
    Backoff(Backoff),
}

/// State of the backoff idle strategy.
#[derive(Debug, Clone)]
pub struct Backoff {
    spins: u32,
    yields: u32,
    park: Duration,
    max_park: Duration,
}

const MAX_SPINS: u32 = 100;
const MAX_YIELDS: u32 = 10;
const MIN_PARK: Duration = Duration::from_micros(1);

impl Idle {
    /// A backoff strategy parking at most `max_park`.
    pub fn backoff(max_park: Duration) -> Self {
        Idle::Backoff(Backoff {
            spins: 0,
            yields: 0,
            park: MIN_PARK,
            max_park: max_park.max(MIN_PARK),
        })
    }

    /// Called after each turn with the work it did.
    #[inline]
    pub fn idle(&mut self, work: usize) {
        match self {
            Idle::BusySpin => {
                if work == 0 {
                    std::hint::spin_loop();
                }
            }
            Idle::Backoff(b) => {
                if work > 0 {
                    b.spins = 0;
                    b.yields = 0;
                    b.park = MIN_PARK;
                } else if b.spins < MAX_SPINS {
                    b.spins += 1;
                    std::hint::spin_loop();
                } else if b.yields < MAX_YIELDS {
                    b.yields += 1;
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(b.park);
                    b.park = (b.park * 2).min(b.max_park);
                }
            }
        }
    }
}

/// Several agents taking turns on one thread (Aeron's composite agent): `lead` decides when the
/// whole is done; every turn runs `before`, then `lead`, then `after`, so what the first stage
/// reads can be decided and written within one turn.
pub struct Composite<L> {
    before: Vec<Box<dyn Agent + Send>>,
    lead: L,
    after: Vec<Box<dyn Agent + Send>>,
}

impl<L: Agent> Composite<L> {
    /// `lead` with the agents that run before and after it on its thread.
    pub fn new(
        before: Vec<Box<dyn Agent + Send>>,
        lead: L,
        after: Vec<Box<dyn Agent + Send>>,
    ) -> Self {
        Self {
            before,
            lead,
            after,
        }
    }

    /// The lead agent.
    pub fn lead_mut(&mut self) -> &mut L {
        &mut self.lead
    }
}

impl<L> std::fmt::Debug for Composite<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composite")
            .field("before", &self.before.len())
            .field("after", &self.after.len())
            .finish_non_exhaustive()
    }
}

impl<L: Agent> Agent for Composite<L> {
    fn role_name(&self) -> &'static str {
        self.lead.role_name()
    }

    #[inline]
    fn do_work(&mut self) -> usize {
        let mut work = 0;
        for agent in &mut self.before {
            work += agent.do_work();
        }
        work += self.lead.do_work();
        for agent in &mut self.after {
            work += agent.do_work();
        }
        work
    }

    fn is_done(&self) -> bool {
        self.lead.is_done()
    }
}

/// Sets this thread's timer slack to 1 ns (Linux's default is 50 µs), so a backing-off agent
/// that parks for a few µs wakes when it asked to, not up to 50 µs later.
fn tighten_timer_slack() {
    // SAFETY: prctl(PR_SET_TIMERSLACK) changes only the calling thread's timer slack; it reads
    // and writes no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
}

/// Runs `agent` on the calling thread until it is done.
pub fn run_agent(agent: &mut impl Agent, idle: &mut Idle) {
    if matches!(idle, Idle::Backoff(_)) {
        tighten_timer_slack();
    }
    while !agent.is_done() {
        let work = agent.do_work();
        idle.idle(work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Countdown(u32, u32);

    impl Agent for Countdown {
        fn role_name(&self) -> &'static str {
            "countdown"
        }
        fn do_work(&mut self) -> usize {
            self.0 -= 1;
            self.1 += 1;
            usize::from(self.0.is_multiple_of(2))
        }
        fn is_done(&self) -> bool {
            self.0 == 0
        }
    }

    #[test]
    fn agents_run_until_done_under_either_strategy() {
        for mut idle in [Idle::BusySpin, Idle::backoff(Duration::from_micros(50))] {
            let mut a = Countdown(300, 0);
            run_agent(&mut a, &mut idle);
            assert_eq!(a.1, 300);
        }
    }

    #[test]
    fn backoff_parks_up_to_its_cap_and_resets_on_work() {
        let mut idle = Idle::backoff(Duration::from_micros(8));
        for _ in 0..(MAX_SPINS + MAX_YIELDS + 10) {
            idle.idle(0);
        }
        let Idle::Backoff(b) = &idle else {
            unreachable!()
        };
        assert_eq!(b.park, Duration::from_micros(8));
        idle.idle(1);
        let Idle::Backoff(b) = &idle else {
            unreachable!()
        };
        assert_eq!((b.spins, b.yields, b.park), (0, 0, MIN_PARK));
    }
}
