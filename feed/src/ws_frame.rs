//! WebSocket framing (RFC 6455) for the client side, without allocation: frame headers parsed
//! from and written into caller-owned buffers.
//!
//! # Invariants
//!
//! - [`parse_header`] reads nothing past the bytes it is given and decides on the header
//!   alone: a frame announcing more than the caller's limit is refused before any of its
//!   payload is buffered. Server frames must not be masked, reserved bits must be clear (no
//!   extension is negotiated), opcodes must be defined, and control frames must be final and
//!   at most 125 bytes; anything else is a [`FrameError`] naming the rule.
//! - [`write_client_frame`] never grows its output: a frame that does not fit the spare
//!   capacity is refused ([`FrameError::SendBufferFull`]), so the send path never allocates.
//!   Client frames are always masked, as the RFC requires.

/// Frame opcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// A continuation of a fragmented message.
    Continuation,
    /// UTF-8 text.
    Text,
    /// Binary data.
    Binary,
    /// Close.
    Close,
    /// Ping.
    Ping,
    /// Pong.
    Pong,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    const fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Close, ping and pong.
    pub const fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Final fragment of its message.
    pub fin: bool,
    /// What the frame carries.
    pub opcode: Opcode,
    /// Bytes of the header.
    pub header_len: usize,
    /// Bytes of payload after the header.
    pub payload_len: usize,
}

/// A frame that breaks the protocol or a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A reserved bit is set, and no extension was negotiated.
    #[error("reserved bits set in a frame header (no extension negotiated)")]
    ReservedBits,
    /// The opcode is not defined by RFC 6455.
    #[error("undefined opcode {0:#x}")]
    BadOpcode(u8),
    /// The server masked a frame.
    #[error("the server masked a frame")]
    Masked,
    /// A control frame is fragmented or longer than 125 bytes.
    #[error("control frame fragmented or longer than 125 bytes")]
    BadControl,
    /// A length that does not use the shortest encoding, or has the top bit set.
    #[error("badly encoded payload length")]
    BadLength,
    /// The frame is larger than the limit.
    #[error("a frame of {len} bytes announced, over the {limit}-byte limit")]
    TooLarge {
        /// Announced payload length.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// The frame does not fit the send buffer's spare capacity.
    #[error("send buffer full")]
    SendBufferFull,
}

/// Parses the frame header at the start of `buf`; `Ok(None)` when more bytes are needed.
///
/// # Errors
///
/// [`FrameError`] naming the rule the header breaks, or [`FrameError::TooLarge`] when the
/// payload is over `max_payload`.
pub fn parse_header(buf: &[u8], max_payload: usize) -> Result<Option<FrameHeader>, FrameError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(FrameError::ReservedBits);
    }
    let opcode = Opcode::from_bits(b0 & 0x0f).ok_or(FrameError::BadOpcode(b0 & 0x0f))?;
    let fin = b0 & 0x80 != 0;
    if b1 & 0x80 != 0 {
        return Err(FrameError::Masked);
    }
    let (header_len, len) = match b1 & 0x7f {
        126 => {
            let Some(bytes) = buf.get(2..4) else {
                return Ok(None);
            };
            let len = u64::from(u16::from_be_bytes([bytes[0], bytes[1]]));
            if len < 126 {
                return Err(FrameError::BadLength);
            }
            (4, len)
        }
        127 => {
            let Some(bytes) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut be = [0u8; 8];
            be.copy_from_slice(bytes);
            let len = u64::from_be_bytes(be);
            if len >> 63 != 0 || len <= u64::from(u16::MAX) {
                return Err(FrameError::BadLength);
            }
            (10, len)
        }
        n => (2, u64::from(n)),
    };
    if opcode.is_control() && (!fin || len > 125) {
        return Err(FrameError::BadControl);
    }
    match usize::try_from(len) {
        Ok(payload_len) if payload_len <= max_payload => Ok(Some(FrameHeader {
            fin,
            opcode,
            header_len,
            payload_len,
        })),
        _ => Err(FrameError::TooLarge {
            len,
            limit: max_payload,
        }),
    }
}

/// Appends one final, masked client frame carrying `payload` to `out`, within its spare
/// capacity.
///
/// # Errors
///
/// [`FrameError::SendBufferFull`] when the frame does not fit; `out` is unchanged.
pub fn write_client_frame(
    out: &mut Vec<u8>,
    opcode: Opcode,
    payload: &[u8],
    mask: [u8; 4],
) -> Result<(), FrameError> {
    let len = payload.len();
    let header_len = match len {
        0..=125 => 2,
        126..=0xffff => 4,
        _ => 10,
    } + 4;
    if out.capacity() - out.len() < header_len + len {
        return Err(FrameError::SendBufferFull);
    }
    out.push(0x80 | opcode.bits());
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], mask);
    Ok(())
}

/// XORs `data` with the rotating 4-byte `mask` (masking and unmasking are the same).
pub fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    let word = u32::from_ne_bytes(mask);
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let mut b = [0u8; 4];
        b.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u32::from_ne_bytes(b) ^ word).to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn server_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![b0];
        match payload.len() {
            n @ 0..=125 => f.push(n as u8),
            n @ 126..=0xffff => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn headers_of_each_length_encoding() {
        for len in [0usize, 1, 125, 126, 65_535, 65_536, 70_000] {
            let f = server_frame(0x81, &vec![b'x'; len]);
            let h = parse_header(&f, 1 << 20).expect("valid").expect("complete");
            assert_eq!((h.fin, h.opcode, h.payload_len), (true, Opcode::Text, len));
            assert_eq!(h.header_len + h.payload_len, f.len());
            for cut in 0..h.header_len {
                assert_eq!(parse_header(&f[..cut], 1 << 20), Ok(None), "cut at {cut}");
            }
        }
    }

    #[test]
    fn hostile_headers_are_refused_on_the_header() {
        let mut huge = vec![0x81, 127];
        huge.extend_from_slice(&(256u64 << 20).to_be_bytes());
        assert_eq!(
            parse_header(&huge, 1 << 20),
            Err(FrameError::TooLarge {
                len: 256 << 20,
                limit: 1 << 20
            })
        );
        let mut top_bit = vec![0x81, 127];
        top_bit.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(parse_header(&top_bit, 1 << 20), Err(FrameError::BadLength));
        assert_eq!(
            parse_header(&[0x81, 126, 0, 5], 1 << 20),
            Err(FrameError::BadLength)
        );
        assert_eq!(
            parse_header(&[0xC1, 0], 1 << 20),
            Err(FrameError::ReservedBits)
        );
        assert_eq!(
            parse_header(&[0x83, 0], 1 << 20),
            Err(FrameError::BadOpcode(3))
        );
        assert_eq!(
            parse_header(&[0x81, 0x80], 1 << 20),
            Err(FrameError::Masked)
        );
        assert_eq!(
            parse_header(&[0x09, 0], 1 << 20),
            Err(FrameError::BadControl)
        );
        assert_eq!(
            parse_header(&[0x89, 126, 0, 200], 1 << 20),
            Err(FrameError::BadControl)
        );
    }

    #[test]
    fn a_full_send_buffer_refuses_without_growing() {
        let mut out = Vec::with_capacity(16);
        assert_eq!(
            write_client_frame(&mut out, Opcode::Text, &[b'a'; 11], [1, 2, 3, 4]),
            Err(FrameError::SendBufferFull)
        );
        assert!(out.is_empty());
        write_client_frame(&mut out, Opcode::Text, &[b'a'; 10], [1, 2, 3, 4]).expect("fits");
        assert_eq!((out.len(), out.capacity()), (16, 16));
    }

    proptest! {
        #[test]
        fn client_frames_parse_back_to_their_payload(
            payload in proptest::collection::vec(any::<u8>(), 0..70_000),
            mask in any::<[u8; 4]>(),
            binary in any::<bool>(),
        ) {
            let opcode = if binary { Opcode::Binary } else { Opcode::Text };
            let mut out = Vec::with_capacity(payload.len() + 14);
            write_client_frame(&mut out, opcode, &payload, mask).expect("fits");
            prop_assert_eq!(out[1] & 0x80, 0x80, "masked");
            // A server's view: clear the mask bit, drop the key, unmask.
            let header = match out[1] & 0x7f { 126 => 4, 127 => 10, _ => 2 };
            let mut unmasked = out[..header].to_vec();
            unmasked[1] &= 0x7f;
            let mut body = out[header + 4..].to_vec();
            apply_mask(&mut body, mask);
            unmasked.extend_from_slice(&body);
            let h = parse_header(&unmasked, 1 << 20).expect("valid").expect("complete");
            prop_assert_eq!((h.fin, h.opcode, h.payload_len), (true, opcode, payload.len()));
            prop_assert_eq!(&unmasked[h.header_len..], &payload[..]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            if let Ok(Some(h)) = parse_header(&bytes, 4096) {
                prop_assert!(h.payload_len <= 4096);
                prop_assert!(h.header_len <= 10);
            }
        }
    }
}
