//! Agents and idle strategies, after Aeron/Agrona.
//!
//! Every engine thread runs an [`Agent`]: `do_work` does whatever is ready and returns how much
//! it did (0 = nothing), and the thread's [`Idle`] strategy decides what to do with a turn that
//! found nothing. [`Idle::BusySpin`] never gives the core away (for an isolated core);
//! [`Idle::Backoff`] spins, then yields, then parks for doubling intervals up to a cap (for
//! laptops and 2-core CI). Any work resets the backoff.
//!
//! A park ends early when a socket of the agent's becomes readable ([`WakeSet`], `ppoll` with a
//! nanosecond timeout: epoll's is in milliseconds). An agent parks only after a turn that did
//! nothing, which for a socket means a read that would have blocked, so level-triggered
//! readiness cannot be missed: a thread asleep in its backoff wakes with its market data, not
//! at the end of its park. Rings between threads have no such signal; their consumers see them
//! within one park (`max_park_us`).

use std::os::fd::RawFd;
use std::time::Duration;

/// A unit of work run in a loop by one thread.
pub trait Agent {
    /// The thread's role, for thread names and logs.
    fn role_name(&self) -> &'static str;
    /// Does what is ready; returns the amount of work done (0 = nothing was ready).
    fn do_work(&mut self) -> usize;
    /// Whether the agent has finished and its loop should end.
    fn is_done(&self) -> bool;
    /// Adds the sockets whose readability should end this agent's park (none by default).
    fn wake_fds(&self, _set: &mut WakeSet) {}
    /// Runs the agent's hot path on data it then drops, after a turn that found no work on a
    /// busy-spinning thread: keeps that code and its buffers in the core's caches, which the
    /// polling loop's system calls evict. Nothing is sent and no state that others see changes.
    /// Not called on a thread that backs off: it would only burn the turns before a park.
    fn keep_warm(&mut self) {}
}

/// Descriptors whose readability ends a park; at most [`WakeSet::CAPACITY`] (more are ignored,
/// and only end their park at its timeout).
#[derive(Debug)]
pub struct WakeSet {
    fds: [libc::pollfd; WakeSet::CAPACITY],
    len: usize,
}

impl Default for WakeSet {
    fn default() -> Self {
        Self {
            fds: [libc::pollfd {
                fd: -1,
                events: 0,
                revents: 0,
            }; WakeSet::CAPACITY],
            len: 0,
        }
    }
}

impl WakeSet {
    /// Descriptors a set holds.
    pub const CAPACITY: usize = 4;

    /// Adds a descriptor to wait on for readability.
    pub fn add(&mut self, fd: RawFd) {
        if let Some(slot) = self.fds.get_mut(self.len) {
            *slot = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            self.len += 1;
        }
    }

    /// Sleeps for `timeout`, or until one of the descriptors is readable (or hung up, or in
    /// error: whatever the next read would report without blocking); then empties the set.
    pub fn park(&mut self, timeout: Duration) {
        if self.len == 0 {
            std::thread::sleep(timeout);
            return;
        }
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: ppoll(2) reads and writes `self.len` pollfd structs of `self.fds` (len never
        // exceeds its capacity) and reads `ts`; all outlive the call, and a null sigmask leaves
        // the signal mask alone. An error (EINTR) only ends the park early.
        unsafe {
            libc::ppoll(
                self.fds.as_mut_ptr(),
                self.len as libc::nfds_t,
                &ts,
                std::ptr::null(),
            )
        };
        self.len = 0;
    }
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

    /// Called after each turn with the work it did; spins or yields here, or returns how long
    /// the thread should park.
    #[inline]
    pub fn idle(&mut self, work: usize) -> Option<Duration> {
        match self {
            Idle::BusySpin => {
                if work == 0 {
                    std::hint::spin_loop();
                }
                None
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
                    let park = b.park;
                    b.park = (b.park * 2).min(b.max_park);
                    return Some(park);
                }
                None
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

    fn wake_fds(&self, set: &mut WakeSet) {
        for agent in &self.before {
            agent.wake_fds(set);
        }
        self.lead.wake_fds(set);
        for agent in &self.after {
            agent.wake_fds(set);
        }
    }

    fn keep_warm(&mut self) {
        for agent in &mut self.before {
            agent.keep_warm();
        }
        self.lead.keep_warm();
        for agent in &mut self.after {
            agent.keep_warm();
        }
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
    let mut wake = WakeSet::default();
    let spinning = matches!(idle, Idle::BusySpin);
    while !agent.is_done() {
        let work = agent.do_work();
        if work == 0 && spinning {
            agent.keep_warm();
        }
        if let Some(park) = idle.idle(work) {
            agent.wake_fds(&mut wake);
            wake.park(park);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Turns left, turns run, `keep_warm` calls.
    struct Countdown(u32, u32, u32);

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
        fn keep_warm(&mut self) {
            self.2 += 1;
        }
    }

    #[test]
    fn agents_run_until_done_under_either_strategy() {
        for mut idle in [Idle::BusySpin, Idle::backoff(Duration::from_micros(50))] {
            let mut a = Countdown(300, 0, 0);
            run_agent(&mut a, &mut idle);
            assert_eq!(a.1, 300);
        }
    }

    #[test]
    fn only_a_spinning_thread_keeps_warm_and_only_after_idle_turns() {
        let mut spinning = Countdown(300, 0, 0);
        run_agent(&mut spinning, &mut Idle::BusySpin);
        assert_eq!(spinning.2, 150, "one call per turn that found no work");
        let mut parking = Countdown(300, 0, 0);
        run_agent(&mut parking, &mut Idle::backoff(Duration::from_micros(50)));
        assert_eq!(parking.2, 0);
    }

    #[test]
    fn backoff_parks_up_to_its_cap_and_resets_on_work() {
        let mut idle = Idle::backoff(Duration::from_micros(8));
        let parks: Vec<Duration> = (0..(MAX_SPINS + MAX_YIELDS + 5))
            .filter_map(|_| idle.idle(0))
            .collect();
        assert_eq!(
            parks,
            [1, 2, 4, 8, 8].map(Duration::from_micros),
            "parks double up to the cap, after the spins and yields"
        );
        let Idle::Backoff(b) = &idle else {
            unreachable!()
        };
        assert_eq!(b.park, Duration::from_micros(8));
        assert_eq!(idle.idle(1), None);
        let Idle::Backoff(b) = &idle else {
            unreachable!()
        };
        assert_eq!((b.spins, b.yields, b.park), (0, 0, MIN_PARK));
    }

    #[test]
    fn a_park_ends_when_a_socket_becomes_readable_and_at_its_timeout_otherwise() {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let socket =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut peer, _) = listener.accept().expect("accept");
        let mut set = WakeSet::default();

        let started = std::time::Instant::now();
        set.add(socket.as_raw_fd());
        set.park(Duration::from_millis(50));
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "nothing to read: timeout"
        );

        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            peer.write_all(b"x").expect("write");
            peer
        });
        let started = std::time::Instant::now();
        set.add(socket.as_raw_fd());
        set.park(Duration::from_secs(60));
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "readable: the park ends long before its timeout"
        );
        drop(writer.join().expect("writer"));
        assert_eq!(set.len, 0, "a park empties the set");
    }
}
