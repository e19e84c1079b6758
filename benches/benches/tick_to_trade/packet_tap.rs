//! A passive tap on the loopback interface for the harness's order side: every TCP segment a
//! client sends to the harness's port, with the kernel's timestamp of the moment the loopback
//! device passed it to the receive path (`netif_rx`, inside the client's `write`).
//!
//! Why: a TCP socket's receive timestamp is per read, not per segment — segments that queue up
//! unread are merged, keeping the latest time — so a client that writes two orders a few
//! microseconds apart while the harness is busy (its own `write` of the quote runs the
//! loopback receive path for several microseconds) would have its first order stamped with the
//! second's time. The tap sees each segment on its own and never merges them.
//!
//! It is an `AF_PACKET` socket for IPv4 bound to `lo` (needs CAP_NET_RAW), which gets each
//! packet once, as received, with a classic BPF filter, so the kernel copies only the TCP
//! segments to the harness's port, and only their first [`SNAP_LEN`] bytes (headers; the
//! lengths come from the IP header). It costs every loopback packet on the host a filter run
//! while it is open.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Bytes of each segment the kernel copies: IPv4 and TCP headers with options.
const SNAP_LEN: u32 = 128;
/// TCP's SYN flag.
const TCP_SYN: u8 = 0x02;

/// The segments of one client's stream, by stream offset.
#[derive(Debug, Default)]
struct Flow {
    /// The client's initial sequence number (from its SYN).
    isn: Option<u32>,
    /// (offset of the first byte, length, send time as `CLOCK_REALTIME` ns), in send order.
    segments: VecDeque<(u64, u32, u64)>,
}

/// Segments sent to one port on `lo`, with their send times.
#[derive(Debug)]
pub struct PacketTap {
    socket: OwnedFd,
    /// Keyed by the client's port.
    flows: HashMap<u16, Flow>,
    /// Segments seen without their flow's SYN (the tap opened too late for that flow).
    pub orphans: u64,
}

fn filter_op(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sets a `SOL_SOCKET` option whose value is a C `int`.
pub fn set_socket_int(fd: RawFd, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: setsockopt(2) reads `size_of::<c_int>()` bytes of `value`, which lives across the
    // call; a bad descriptor or option is reported through the return value.
    check(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
}

impl PacketTap {
    /// Opens a tap on `lo` for segments sent to `port`.
    ///
    /// # Errors
    ///
    /// Without CAP_NET_RAW, or when `lo` is missing.
    pub fn open(port: u16) -> io::Result<Self> {
        // Protocol 0 until the filter is attached: no packet is queued unfiltered.
        // SAFETY: socket(2) with constant arguments; the result is checked below.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        check(fd)?;
        // SAFETY: `fd` was just returned by socket(2) and is owned by nothing else.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        use libc::{BPF_ABS, BPF_B, BPF_H, BPF_IND, BPF_JEQ, BPF_JMP, BPF_JSET, BPF_K};
        use libc::{BPF_LD, BPF_LDX, BPF_MSH, BPF_RET};
        // SOCK_DGRAM: offset 0 is the IP header. Accepts TCP, not a fragment, to `port`.
        let mut program = [
            filter_op(BPF_LD | BPF_B | BPF_ABS, 0, 0, 9),
            filter_op(BPF_JMP | BPF_JEQ | BPF_K, 0, 6, libc::IPPROTO_TCP as u32),
            filter_op(BPF_LD | BPF_H | BPF_ABS, 0, 0, 6),
            filter_op(BPF_JMP | BPF_JSET | BPF_K, 4, 0, 0x1fff),
            filter_op(BPF_LDX | BPF_B | BPF_MSH, 0, 0, 0),
            filter_op(BPF_LD | BPF_H | BPF_IND, 0, 0, 2),
            filter_op(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, u32::from(port)),
            filter_op(BPF_RET | BPF_K, 0, 0, SNAP_LEN),
            filter_op(BPF_RET | BPF_K, 0, 0, 0),
        ];
        let fprog = libc::sock_fprog {
            len: program.len() as libc::c_ushort,
            filter: program.as_mut_ptr(),
        };
        // SAFETY: setsockopt(2) on our socket; the kernel copies the program `fprog` points
        // at (`program`, alive across the call, `len` instructions long).
        check(unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&fprog as *const libc::sock_fprog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        })?;
        set_socket_int(socket.as_raw_fd(), libc::SO_TIMESTAMPNS, 1)?;
        set_socket_int(socket.as_raw_fd(), libc::SO_RCVBUF, 8 << 20)?;
        // SAFETY: if_nametoindex(3) reads the NUL-terminated name, a static C string.
        let ifindex = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `sockaddr_ll` is plain data, for which all zeroes is valid.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        addr.sll_ifindex = ifindex as libc::c_int;
        // SAFETY: bind(2) on our socket with a `sockaddr_ll` of its true size, alive across
        // the call.
        check(unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(Self {
            socket,
            flows: HashMap::new(),
            orphans: 0,
        })
    }

    /// Reads every segment the kernel has queued for the tap.
    pub fn drain(&mut self) {
        loop {
            let mut packet = [0u8; SNAP_LEN as usize];
            let Ok((n, stamp)) = recv_stamped(self.socket.as_raw_fd(), &mut packet, 0) else {
                return;
            };
            if let Some(stamp) = stamp {
                self.record(&packet[..n.min(packet.len())], stamp);
            }
        }
    }

    /// Files one captured segment (IPv4 header onwards) under its flow.
    fn record(&mut self, ip: &[u8], stamp: u64) {
        let be16 = |b: &[u8], at: usize| Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]));
        let parse = || {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let total = usize::from(be16(ip, 2)?);
            let tcp = ip.get(ihl..)?;
            let port = be16(tcp, 0)?;
            let seq = u32::from_be_bytes(tcp.get(4..8)?.try_into().ok()?);
            let doff = usize::from(tcp.get(12)? >> 4) * 4;
            let flags = *tcp.get(13)?;
            let payload = total.checked_sub(ihl + doff)? as u32;
            Some((port, seq, flags, payload))
        };
        let Some((port, seq, flags, payload)) = parse() else {
            return;
        };
        let flow = self.flows.entry(port).or_default();
        if flags & TCP_SYN != 0 {
            *flow = Flow {
                isn: Some(seq),
                segments: VecDeque::new(),
            };
            return;
        }
        if payload == 0 {
            return;
        }
        let Some(isn) = flow.isn else {
            self.orphans += 1;
            return;
        };
        let offset = u64::from(seq.wrapping_sub(isn.wrapping_add(1)));
        flow.segments.push_back((offset, payload, stamp));
    }

    /// When the byte at `offset` of the stream from `client_port` (0: the first byte after the
    /// TCP handshake) came through the loopback device, `CLOCK_REALTIME` ns. Offsets asked for
    /// must not decrease: segments wholly before `offset` are forgotten.
    pub fn sent_at(&mut self, client_port: u16, offset: u64) -> Option<u64> {
        let flow = self.flows.get_mut(&client_port)?;
        while let Some(&(start, len, _)) = flow.segments.front() {
            if start + u64::from(len) <= offset {
                flow.segments.pop_front();
            } else {
                break;
            }
        }
        flow.segments
            .iter()
            .find(|&&(start, len, _)| start <= offset && offset < start + u64::from(len))
            .map(|&(_, _, stamp)| stamp)
    }
}

/// `recvmsg(2)` on `fd` into `buf` with `flags`: the bytes read, and the kernel's receive time
/// (`SCM_TIMESTAMPNS`, `CLOCK_REALTIME` ns) when the socket has `SO_TIMESTAMPNS` on.
pub fn recv_stamped(
    fd: std::os::fd::RawFd,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<(usize, Option<u64>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // u64s: the control buffer must be aligned for `cmsghdr`.
    let mut control = [0u64; 16];
    // SAFETY: `msghdr` is plain data, for which all zeroes is valid (no name, no buffers).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: recvmsg(2) on the caller's socket; `msg` points at one iovec over `buf` and at
    // `control`, both alive and exclusively borrowed across the call, with their true lengths.
    let n = unsafe { libc::recvmsg(fd, &mut msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: `msg` was filled by recvmsg(2): CMSG_FIRSTHDR/CMSG_NXTHDR walk the control
    // bytes it wrote, within `msg_controllen`, and return null at the end.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: `cmsg` is non-null and points at a header inside `control` (see above).
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_TIMESTAMPNS {
            // SAFETY: an SCM_TIMESTAMPNS message carries one `timespec` after its header;
            // CMSG_DATA points at it, possibly unaligned, hence `read_unaligned`.
            let ts: libc::timespec =
                unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast()) };
            stamp = Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
        }
        // SAFETY: as for CMSG_FIRSTHDR: `cmsg` is a header of this message.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    Ok((n as usize, stamp))
}
