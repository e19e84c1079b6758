//! A reusable simd-json tape and typed accessors over it: the shared machinery of the venue
//! decoders (market data in this crate, order entry in the gateway).
//!
//! [`TapeParser`] keeps simd-json's scratch buffers and the tape between messages, so parsing
//! allocates nothing once they have grown to the largest message. [`Obj`] reads an object's
//! fields by key with errors that name the field.

use crate::fixed::{parse_decimal, DecimalError};
pub use simd_json::{Node, StaticNode};

/// Largest frame accepted, bytes.
pub const MAX_MESSAGE: usize = 4 << 20;

/// What was wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// Absent.
    #[error("missing")]
    Missing,
    /// Present with another JSON type.
    #[error("wrong type")]
    WrongType,
    /// A decimal string that does not convert.
    #[error("{0}")]
    Decimal(DecimalError),
    /// Zero or negative where only positive values are valid.
    #[error("not positive")]
    NotPositive,
    /// Negative where only non-negative values are valid.
    #[error("negative")]
    Negative,
}

/// Why a frame was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Longer than [`MAX_MESSAGE`].
    #[error("frame of {len} bytes exceeds {MAX_MESSAGE}")]
    Oversize {
        /// Its length.
        len: usize,
    },
    /// Not valid JSON (or not UTF-8).
    #[error("invalid JSON at byte {at}")]
    Json {
        /// Byte offset the parser stopped at.
        at: usize,
    },
    /// Valid JSON that is not an object.
    #[error("not a JSON object")]
    NotObject,
    /// An object of no kind this decoder knows.
    #[error("unknown message kind")]
    UnknownKind,
    /// A field is wrong.
    #[error("field {field:?}: {problem}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: FieldProblem,
    },
    /// A depth level is wrong.
    #[error("{side} level {index}: {problem}")]
    Level {
        /// `"b"`, `"a"`, `"bids"` or `"asks"`.
        side: &'static str,
        /// Index of the level.
        index: usize,
        /// What is wrong.
        problem: FieldProblem,
    },
    /// More levels than the decoder accepts.
    #[error("{side}: more than {max} levels")]
    TooManyLevels {
        /// The side.
        side: &'static str,
        /// The limit.
        max: usize,
    },
    /// A symbol not in the decoder's table.
    #[error("unknown symbol")]
    UnknownSymbol,
    /// A depth diff whose first update id is after its last.
    #[error("update ids out of order (U > u)")]
    UpdateIdsReversed,
}

/// A field error.
pub fn field(field: &'static str, problem: FieldProblem) -> DecodeError {
    DecodeError::Field { field, problem }
}

/// A view of one tape object: the node index of each value by key.
#[derive(Debug, Clone, Copy)]
pub struct Obj<'t, 'i> {
    /// The tape.
    pub nodes: &'t [Node<'i>],
    /// Index of the object header.
    at: usize,
}

/// Index just past the value starting at `i`.
pub fn skip(nodes: &[Node<'_>], i: usize) -> usize {
    match nodes.get(i) {
        Some(Node::Object { count, .. } | Node::Array { count, .. }) => i + 1 + count,
        _ => i + 1,
    }
}

impl<'t, 'i> Obj<'t, 'i> {
    /// The object whose header is at node `at`, if it is an object.
    pub fn at(nodes: &'t [Node<'i>], at: usize) -> Option<Self> {
        matches!(nodes.get(at), Some(Node::Object { .. })).then_some(Self { nodes, at })
    }

    /// The node index of the value for `key`.
    pub fn get(&self, key: &str) -> Option<usize> {
        let Some(Node::Object { len, .. }) = self.nodes.get(self.at) else {
            return None;
        };
        let mut i = self.at + 1;
        for _ in 0..*len {
            let k = self.nodes.get(i)?;
            let value = i + 1;
            if matches!(k, Node::String(s) if *s == key) {
                return Some(value);
            }
            i = skip(self.nodes, value);
        }
        None
    }

    /// A string field.
    ///
    /// # Errors
    ///
    /// Missing or of another type.
    pub fn str(&self, key: &'static str) -> Result<&'i str, DecodeError> {
        match self.get(key).map(|i| self.nodes[i]) {
            Some(Node::String(s)) => Ok(s),
            Some(_) => Err(field(key, FieldProblem::WrongType)),
            None => Err(field(key, FieldProblem::Missing)),
        }
    }

    /// A non-negative integer field.
    ///
    /// # Errors
    ///
    /// Missing, negative or of another type.
    pub fn u64(&self, key: &'static str) -> Result<u64, DecodeError> {
        match self.get(key).map(|i| self.nodes[i]) {
            Some(Node::Static(StaticNode::U64(v))) => Ok(v),
            Some(Node::Static(StaticNode::I64(v))) => {
                u64::try_from(v).map_err(|_| field(key, FieldProblem::Negative))
            }
            Some(_) => Err(field(key, FieldProblem::WrongType)),
            None => Err(field(key, FieldProblem::Missing)),
        }
    }

    /// A boolean field.
    ///
    /// # Errors
    ///
    /// Missing or of another type.
    pub fn bool(&self, key: &'static str) -> Result<bool, DecodeError> {
        match self.get(key).map(|i| self.nodes[i]) {
            Some(Node::Static(StaticNode::Bool(b))) => Ok(b),
            Some(_) => Err(field(key, FieldProblem::WrongType)),
            None => Err(field(key, FieldProblem::Missing)),
        }
    }

    /// A decimal-string field at `decimals`.
    ///
    /// # Errors
    ///
    /// Missing, of another type, or not exactly convertible.
    pub fn decimal(&self, key: &'static str, decimals: u32) -> Result<i64, DecodeError> {
        let s = self.str(key)?;
        parse_decimal(s.as_bytes(), decimals).map_err(|e| field(key, FieldProblem::Decimal(e)))
    }

    /// A decimal-string field that must be greater than zero.
    ///
    /// # Errors
    ///
    /// As [`Obj::decimal`], or zero/negative.
    pub fn positive(&self, key: &'static str, decimals: u32) -> Result<i64, DecodeError> {
        let v = self.decimal(key, decimals)?;
        if v <= 0 {
            return Err(field(key, FieldProblem::NotPositive));
        }
        Ok(v)
    }
}

/// simd-json's buffers and tape, reused for every message.
pub struct TapeParser {
    buffers: simd_json::Buffers,
    /// Kept between messages for its allocation (empty between calls).
    tape: Option<simd_json::tape::Tape<'static>>,
}

impl std::fmt::Debug for TapeParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TapeParser")
    }
}

impl Default for TapeParser {
    fn default() -> Self {
        Self {
            buffers: simd_json::Buffers::new(4096),
            tape: Some(simd_json::tape::Tape::null().reset()),
        }
    }
}

impl TapeParser {
    /// Parses `input` (modified in place) and runs `walk` over the tape.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Oversize`], [`DecodeError::Json`] with the byte offset, or `walk`'s
    /// error.
    pub fn parse<R>(
        &mut self,
        input: &mut [u8],
        walk: impl FnOnce(&[Node<'_>]) -> Result<R, DecodeError>,
    ) -> Result<R, DecodeError> {
        if input.len() > MAX_MESSAGE {
            return Err(DecodeError::Oversize { len: input.len() });
        }
        let mut tape = self
            .tape
            .take()
            .unwrap_or_else(|| simd_json::tape::Tape::null().reset())
            .reset();
        let result = match simd_json::fill_tape(input, &mut self.buffers, &mut tape) {
            Ok(()) => walk(&tape.0),
            Err(e) => Err(DecodeError::Json { at: e.index() }),
        };
        self.tape = Some(tape.reset());
        result
    }
}
