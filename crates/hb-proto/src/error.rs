//! Error types of the crate: [`DecodeError`] (malformed bytes), [`AuthError`] (bad key
//! configuration), [`RecvError`] (why [`open`](crate::open) rejected a datagram) and
//! [`ParseMsgFmtError`].
//!
//! Every offset in a [`DecodeError`] is a byte offset from the start of the datagram, so a
//! log line can point at the exact byte that made the datagram unacceptable.

use thiserror::Error;

/// A datagram (or a nested message inside it) is not a well-formed Heartbeat message.
///
/// Returned by [`decode`](crate::decode) and wrapped in [`RecvError::Malformed`] by
/// [`open`](crate::open). 3.0.6 crashes on several of these inputs (a field without `(T)`, an
/// unknown type digit); this crate reports them instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The datagram is longer than the 262143 bytes a 3.0.6 receive buffer can hold.
    #[error("datagram of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Length of the rejected datagram.
        len: usize,
        /// The limit ([`MAX_DATAGRAM`](crate::MAX_DATAGRAM)).
        max: usize,
    },
    /// The first four bytes are neither `###\n` (netstring) nor `>>>\n` (classic).
    #[error("bad magic: the datagram starts with neither \"###\\n\" nor \">>>\\n\"")]
    BadMagic,
    /// A nested message (type 2 value) does not start with the start marker of its encoding.
    #[error("nested message at offset {offset} does not start with its start marker")]
    NestedBadMagic {
        /// Offset of the nested value.
        offset: usize,
    },
    /// Bytes follow the end of a nested message inside its value.
    #[error("bytes after the end of the nested message at offset {offset}")]
    NestedTrailingBytes {
        /// Offset of the first unexpected byte.
        offset: usize,
    },
    /// The input ended in the middle of a field, or before the end marker (`%%%\n`/`<<<\n`),
    /// or a `LEN` points past the end of the data.
    #[error("truncated message at offset {offset}")]
    Truncated {
        /// Offset where more data was needed.
        offset: usize,
    },
    /// A netstring `LEN:` prefix is not a decimal number followed by `:`.
    #[error("bad netstring length at offset {offset}")]
    BadLength {
        /// Offset of the length prefix.
        offset: usize,
    },
    /// A netstring's `LEN` does not end exactly on a `,`.
    #[error("netstring missing its comma at offset {offset}")]
    MissingComma {
        /// Offset where the `,` was expected.
        offset: usize,
    },
    /// A netstring field lacks the mandatory `(T)` type prefix (this kills a 3.0.6 node).
    #[error("field without (type) prefix at offset {offset}")]
    MissingType {
        /// Offset of the field content.
        offset: usize,
    },
    /// A field's type is not one of the wire types 0-4.
    #[error("unknown field type {:?} at offset {offset}", char::from(*digit))]
    UnknownType {
        /// Offset of the type byte.
        offset: usize,
        /// The byte found between the parentheses.
        digit: u8,
    },
    /// A field has no `=` between its name and its value.
    #[error("field without '=' at offset {offset}")]
    MissingEquals {
        /// Offset of the field.
        offset: usize,
    },
    /// A field has an empty name.
    #[error("field with an empty name at offset {offset}")]
    EmptyName {
        /// Offset of the field.
        offset: usize,
    },
    /// A field name is not valid UTF-8.
    #[error("field name at offset {offset} is not valid UTF-8")]
    NonUtf8Name {
        /// Offset of the name.
        offset: usize,
    },
    /// Nested messages are deeper than [`MAX_DEPTH`](crate::MAX_DEPTH) levels.
    #[error("nested message at offset {offset} exceeds the maximum nesting depth of {max}")]
    TooDeep {
        /// Offset of the nested value that was one level too deep.
        offset: usize,
        /// The limit.
        max: usize,
    },
    /// The datagram holds more fields and list items than
    /// [`MAX_ITEMS`](crate::MAX_ITEMS) (a bound on the memory a datagram can make us allocate).
    #[error("more than {max} fields and list items (at offset {offset})")]
    TooManyItems {
        /// Offset of the first item over the limit.
        offset: usize,
        /// The limit.
        max: usize,
    },
    /// A list (type 3) value is not a sequence of `LEN:item,` netstrings.
    #[error("bad list item at offset {offset}")]
    BadListItem {
        /// Offset of the offending list item.
        offset: usize,
    },
    /// A classic binary or compressed value is not valid padded standard base64.
    #[error("bad base64 value at offset {offset}")]
    BadBase64 {
        /// Offset of the value.
        offset: usize,
    },
    /// The signature trailer after `%%%\n` is not `LEN:<index> <digest>,`.
    #[error("malformed signature trailer at offset {offset}")]
    BadTrailer {
        /// Offset of the trailer (or of the bad byte inside it).
        offset: usize,
    },
    /// Bytes follow the signature trailer.
    #[error("{count} unexpected bytes after the signature trailer at offset {offset}")]
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: usize,
        /// How many extra bytes there are.
        count: usize,
    },
}

/// Invalid authentication configuration.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A key index is outside 0..=15.
    #[error("auth key index {0} is out of range 0..=15")]
    IndexOutOfRange(u8),
    /// The signing index has no key configured.
    #[error("signing index {0} has no key configured")]
    SignIndexMissing(u8),
    /// An md5 or sha1 key is empty.
    #[error("auth key index {index} ({method}) has an empty key")]
    EmptyKey {
        /// The offending index.
        index: u8,
        /// Its method.
        method: crate::AuthMethod,
    },
    /// A crc key was given a secret (crc takes no key).
    #[error("auth key index {index} uses crc, which takes no key")]
    CrcWithKey {
        /// The offending index.
        index: u8,
    },
    /// An authentication method name other than `crc`, `md5` or `sha1`.
    #[error("unknown authentication method {0:?} (expected crc, md5 or sha1)")]
    UnknownMethod(String),
}

/// Broad class of a rejected datagram, for counters and rate-limited logging.
///
/// A netstring datagram is authenticated before it is parsed, so a datagram whose signature
/// trailer is present but does not verify is `Unauthenticated` whatever its body holds; one
/// that does not end in `%%%\n` plus a well-formed trailer is `Malformed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectKind {
    /// The bytes are not a well-formed message.
    Malformed,
    /// The signature is missing, names an unknown or refused key, or is wrong.
    Unauthenticated,
}

/// Why [`open`](crate::open) rejected a datagram.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RecvError {
    /// The datagram could not be parsed.
    #[error("malformed datagram: {0}")]
    Malformed(#[from] DecodeError),
    /// A netstring datagram has no signature trailer after `%%%\n`.
    #[error("netstring datagram without signature trailer")]
    MissingTrailer,
    /// A classic datagram has no `auth=` field.
    #[error("classic datagram without auth= field")]
    MissingAuthField,
    /// A classic datagram's `auth=` field is not `<index> <digest>`.
    #[error("classic datagram with an unparsable auth= field")]
    BadAuthField,
    /// The datagram names a key index that is not configured locally.
    #[error("datagram signed with key index {0}, which is not configured")]
    UnknownKeyIndex(u8),
    /// The digest does not match (wrong key, altered bytes, or forged).
    #[error("authentication failed for key index {index}")]
    BadDigest {
        /// The key index named by the datagram.
        index: u8,
    },
    /// The datagram names a crc key while this node signs with md5 or sha1. crc needs no
    /// secret, so anyone can produce it: it is accepted only when `auth N` selects crc (the
    /// operator chose no authentication), never beside a real key.
    #[error(
        "datagram signed with crc (key index {index}), which needs no secret: crc is accepted \
         only when auth selects it"
    )]
    CrcRefused {
        /// The key index named by the datagram.
        index: u8,
    },
}

impl RecvError {
    /// Whether the datagram was malformed or failed authentication.
    #[must_use]
    pub fn kind(&self) -> RejectKind {
        match self {
            RecvError::Malformed(_) => RejectKind::Malformed,
            RecvError::MissingTrailer
            | RecvError::MissingAuthField
            | RecvError::BadAuthField
            | RecvError::UnknownKeyIndex(_)
            | RecvError::BadDigest { .. }
            | RecvError::CrcRefused { .. } => RejectKind::Unauthenticated,
        }
    }
}

/// A `msgfmt` value other than `classic` or `netstring`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown msgfmt {0:?} (expected classic or netstring)")]
pub struct ParseMsgFmtError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recv_error_kinds() {
        assert_eq!(
            RecvError::from(DecodeError::BadMagic).kind(),
            RejectKind::Malformed
        );
        for e in [
            RecvError::MissingTrailer,
            RecvError::MissingAuthField,
            RecvError::BadAuthField,
            RecvError::UnknownKeyIndex(2),
            RecvError::BadDigest { index: 1 },
            RecvError::CrcRefused { index: 2 },
        ] {
            assert_eq!(e.kind(), RejectKind::Unauthenticated, "{e}");
        }
    }

    #[test]
    fn unknown_type_message_shows_the_digit() {
        let e = DecodeError::UnknownType {
            offset: 40,
            digit: b'7',
        };
        assert_eq!(e.to_string(), "unknown field type '7' at offset 40");
    }
}
