//! # hb-proto: the Heartbeat 3.0.6 wire codec and authentication
//!
//! This crate turns Heartbeat messages into datagrams and back, byte-compatible with Debian's
//! `heartbeat` 3.0.6 (spec: `heartbeat-wire.md` §1–§3):
//!
//! * [`Message`]: an ordered list of typed fields (string, binary, nested struct, list,
//!   compressed).
//! * [`seal`]: serialise and sign a message exactly as 3.0.6 sends it (netstring framing,
//!   inner `auth=` field with `msgfmt classic`, signature trailer always).
//! * [`open`]: verify and parse a received datagram (netstring by its trailer, checked
//!   before any field is parsed; classic by its `auth=` field), returning the message
//!   without its signature.
//! * [`decode`]: parse without verifying, for tools and tests.
//! * [`KeyRing`], [`AuthMethod`], [`digest`]: the `authkeys` methods crc, md5 and sha1.
//!
//! It is pure computation on byte slices: it must never depend on tokio, sockets, clocks,
//! threads or any other I/O, so it can be fuzzed, property-tested and reused by tools.
//! Decoding never panics, rejects datagrams over [`MAX_DATAGRAM`] bytes, nesting over
//! [`MAX_DEPTH`] levels and more than [`MAX_ITEMS`] fields, so the memory one datagram can
//! make us allocate stays a small multiple of its size.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// It parses network input: no indexing or slicing that could panic (tests may index).
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod auth;
mod classic;
mod error;
mod message;
mod netstring;

use std::fmt;
use std::str::FromStr;

pub use auth::{AuthMethod, KeyRing, MAX_KEY_INDEX, digest};
pub use classic::NEWLINE_SUBST;
pub use error::{AuthError, DecodeError, ParseMsgFmtError, RecvError, RejectKind};
pub use message::{Field, Message, Value};

use auth::ct_eq;
use netstring::Budget;

/// Largest datagram accepted: 3.0.6 receives into a 256 KiB buffer and keeps one byte for
/// the terminating NUL.
pub const MAX_DATAGRAM: usize = 262_143;

/// Deepest nesting of struct (type 2) values accepted: a message may contain nested messages
/// down to 16 levels below it (the classic newline substitution table has 16 entries).
pub const MAX_DEPTH: usize = 16;

/// Most fields plus list items one datagram may hold (all nesting levels together).
///
/// Chosen from what Heartbeat 3.0.6 ever sends (its source: `heartbeat/heartbeat.c`,
/// `hb_resource.c`, `ha_msg_internal.c`, `membership/ccm/ccmmsg.c`, `lib/hbclient`,
/// `contrib/ipfail`, `contrib/drbd-outdate-peer`):
///
/// * every datagram carries at most 10 header fields: `src`, `srcuuid`, `seq`, `hg`, `ts`,
///   `ld`, `ttl` (`add_control_msg_fields`), `dest` and `destuuid` when addressed, `auth`;
/// * the daemon's own messages add at most 5 (`status`, `resource`, `ask_resources`,
///   `stonith`, `repnodes`, `NS_rexmit`, ...), so about 15 fields; heartbeat-rs's own add
///   its `hbrs*` fields, under 20 in all;
/// * of the standard clients, ipfail and dopd add at most 4 fields, the API library's
///   relayed requests a handful; the largest is the CCM membership layer's member list:
///   about 25 fields with the header and the fields the daemon adds when it relays a
///   client's message (`from_id`, `to_id`, the client generation), plus an `uptimelist` list
///   with one item per node, at most `MAXNODE` = 100 — about 125 items;
/// * nothing else nests messages or lists (compression puts a whole message into one field).
///
/// 256 is twice the largest of those. Pacemaker's CIB updates can be far larger, but
/// heartbeat-rs runs only in `haresources` mode (`crm no`) and never shares a cluster with a
/// CRM. The bound caps the parsing work and memory one datagram can cost: a classic datagram
/// is parsed before its signature is checked.
pub const MAX_ITEMS: usize = 256;

/// The `msgfmt` directive of `ha.cf`: which signatures outgoing datagrams carry.
///
/// Either way the framing on the wire is netstring (3.0.6 always sends netstrings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MsgFmt {
    /// Default: an inner `auth=` field (signing the classic text) as the last field, plus
    /// the netstring trailer.
    #[default]
    Classic,
    /// Only the netstring trailer.
    Netstring,
}

impl MsgFmt {
    /// The `ha.cf` spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MsgFmt::Classic => "classic",
            MsgFmt::Netstring => "netstring",
        }
    }
}

impl fmt::Display for MsgFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MsgFmt {
    type Err = ParseMsgFmtError;
    /// Parses `classic` or `netstring`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "classic" => Ok(MsgFmt::Classic),
            "netstring" => Ok(MsgFmt::Netstring),
            other => Err(ParseMsgFmtError(other.to_owned())),
        }
    }
}

/// The encoding a received datagram used (decided by its first four bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// `###\n` … `%%%\n` + trailer: what 3.0.6 sends.
    Netstring,
    /// `>>>\n` … `<<<\n`: accepted on the wire, verified by the `auth=` field.
    Classic,
}

/// A verified datagram, as returned by [`open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The message, without its inner `auth` field(s).
    pub msg: Message,
    /// The encoding it arrived in.
    pub format: WireFormat,
    /// The key index that verified it.
    pub key_index: u8,
}

/// An unverified parse of a datagram, as returned by [`decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Every field, including any `auth` field.
    pub msg: Message,
    /// The encoding.
    pub format: WireFormat,
    /// The netstring signature trailer `(index, digest text)`, if present (never for classic).
    pub trailer: Option<(u8, String)>,
    /// Netstring: the number of leading bytes the trailer signs (through `%%%\n`).
    /// Classic: the length through `<<<\n` (anything after it is ignored).
    pub signed_len: usize,
}

/// Serialises and signs `msg` exactly as 3.0.6 does: netstring framing; with
/// [`MsgFmt::Classic`] the string field `auth=<N> <digest>` is appended as the last field,
/// signing the classic text of all preceding fields (spec §2.2); then the trailer
/// `LEN:<N> <digest>,` signing every byte from `###` through `%%%\n`. `N` is
/// [`KeyRing::sign_index`]. Any `auth` field already present in `msg` is left out first.
///
/// The result is byte-identical to 3.0.6's datagram for the same field list. It is built in
/// one allocation; the classic text is streamed into the digest, never materialised.
/// Fields must have valid names (see [`Message`]) and nesting within [`MAX_DEPTH`], and the
/// result should stay below [`MAX_DATAGRAM`], or peers will drop it.
#[must_use]
pub fn seal(msg: &Message, keys: &KeyRing, fmt: MsgFmt) -> Vec<u8> {
    let index = keys.sign_index();
    // Room for the auth field and the trailer: "NN:(0)auth=NN <40 hex>," and "NN:NN <40 hex>,".
    let capacity = netstring::message_len(msg, true) + 2 * 64;
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(netstring::START);
    netstring::write_fields(&mut out, msg, true);
    // Key the MAC once; cloning the keyed state is cheaper than keying it again.
    let mut signer = keys.sign_signer();
    if fmt == MsgFmt::Classic {
        let mut inner = signer.clone();
        classic::write_fields(&mut inner, msg, 0, true);
        netstring::write_signature(&mut out, index, inner.finish().as_bytes(), true);
    }
    out.extend_from_slice(netstring::END);
    signer.update(&out);
    netstring::write_signature(&mut out, index, signer.finish().as_bytes(), false);
    out
}

/// Serialises and signs `msg` as a classic datagram: `>>>\n`, one `[(T)]name=value` line per
/// field, `auth=<N> <digest>` last, `<<<\n`. 3.0.6 accepts this on the wire (verifying the
/// `auth=` line) but never sends it; it is here for tools and tests.
///
/// Classic text cannot carry everything: string values must not contain byte 0x13 (it stands
/// for `\n`) and names must not contain `\n`.
#[must_use]
pub fn seal_classic(msg: &Message, keys: &KeyRing) -> Vec<u8> {
    let mut signer = keys.sign_signer();
    classic::write_fields(&mut signer, msg, 0, true);
    let hex = signer.finish();
    let mut out = Vec::with_capacity(netstring::message_len(msg, true) + 64);
    out.extend_from_slice(b">>>\n");
    classic::write_fields(&mut out, msg, 0, true);
    out.extend_from_slice(b"auth=");
    out.extend_from_slice(netstring::Decimal::new(usize::from(keys.sign_index())).as_bytes());
    out.push(b' ');
    out.extend_from_slice(hex.as_bytes());
    out.extend_from_slice(b"\n<<<\n");
    out
}

/// The unsigned netstring form `###\n…%%%\n` of `msg` (all fields, no trailer): the form of a
/// nested message, or of a datagram for peers without authentication.
#[must_use]
pub fn encode_netstring(msg: &Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(netstring::message_len(msg, false));
    netstring::write_message(&mut out, msg, false);
    out
}

/// The classic form `>>>\n…<<<\n` of `msg` (all fields, unsigned), as scripts write it into
/// Heartbeat's FIFO.
#[must_use]
pub fn encode_classic(msg: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    classic::write_message(&mut out, msg, 0);
    out
}

/// Parses a datagram without verifying it.
///
/// The first four bytes select the encoding (`###\n` netstring, `>>>\n` classic). Netstring:
/// the fields up to `%%%\n`, then an optional trailer which must end the datagram exactly.
/// Classic: lines up to `<<<\n` (blank lines skipped, later bytes ignored).
///
/// # Errors
/// A [`DecodeError`] naming the first problem and its offset. Never panics.
pub fn decode(datagram: &[u8]) -> Result<Decoded, DecodeError> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(DecodeError::TooLarge {
            len: datagram.len(),
            max: MAX_DATAGRAM,
        });
    }
    let mut budget = Budget::new(MAX_ITEMS);
    if datagram.starts_with(netstring::START) {
        let (msg, end) = netstring::parse(datagram, 0, datagram.len(), 0, &mut budget)?;
        let trailer = netstring::parse_trailer(datagram, end)?;
        Ok(Decoded {
            msg,
            format: WireFormat::Netstring,
            trailer,
            signed_len: end,
        })
    } else if datagram.starts_with(b">>>\n") {
        let (msg, end) = classic::parse(datagram, 0, datagram.len(), 0, &mut budget)?;
        Ok(Decoded {
            msg,
            format: WireFormat::Classic,
            trailer: None,
            signed_len: end,
        })
    } else {
        Err(DecodeError::BadMagic)
    }
}

/// Authenticates and parses a received datagram.
///
/// * Netstring (`###\n`): verified **only** by its trailer, over bytes `0..signed_len`; the
///   inner `auth=` field is ignored whether absent, wrong or right (as 3.0.6 does). The
///   trailer is found from the end of the datagram and verified **before** the fields are
///   parsed, so a forged datagram costs one digest over its bytes and no parsing; the fields
///   must then end exactly where the trailer begins.
/// * Classic (`>>>\n`): verified **only** by its `auth=` field, over the classic text of all
///   other fields. That text is the canonical re-serialisation of the parsed fields (as in
///   3.0.6), so a classic datagram is parsed first; [`MAX_ITEMS`] bounds that work. 3.0.6
///   accepts classic datagrams but never sends them.
///
/// Verification uses the method **and key** of the index `N` the datagram names.
/// 3.0.6 has a bug here (spec §2.5): for netstring trailers it takes the method of `N` but
/// the key of its *own* signing index, so nodes signing with different indexes only
/// understand each other if their keys are equal. Using the named key is the correct
/// behaviour and is indistinguishable whenever all nodes sign with the same index — the only
/// configuration that works with 3.0.6 anyway. A crc key verifies only while crc is also the
/// signing method ([`KeyRing::accepts`]): beside an md5 or sha1 key, crc — which needs no
/// secret — would let anyone in. Digests are compared in constant time.
///
/// On success the message is returned without its top-level `auth` field(s).
///
/// # Errors
/// Decided in this order, each check before the costlier ones:
/// * [`RecvError::Malformed`]: over [`MAX_DATAGRAM`] bytes, bad magic; for netstring, the
///   datagram does not end in `%%%\n` plus one well-formed `LEN:<index> <digest>,` trailer
///   (it cannot be a signed datagram); for classic, any parse error.
/// * Unauthenticated ([`RejectKind::Unauthenticated`]): no trailer or `auth=` field
///   ([`RecvError::MissingTrailer`], [`RecvError::MissingAuthField`],
///   [`RecvError::BadAuthField`]), an index not configured ([`RecvError::UnknownKeyIndex`])
///   or refused ([`RecvError::CrcRefused`]), or a digest mismatch ([`RecvError::BadDigest`]).
///   For netstring this holds whatever the body contains: junk under a wrong signature is
///   unauthenticated, not malformed.
/// * [`RecvError::Malformed`] again for a netstring datagram whose signature verifies but
///   whose fields do not parse, or do not end where the trailer begins (only a key holder
///   can send that).
pub fn open(datagram: &[u8], keys: &KeyRing) -> Result<Opened, RecvError> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(DecodeError::TooLarge {
            len: datagram.len(),
            max: MAX_DATAGRAM,
        }
        .into());
    }
    let (mut msg, format, key_index) = if datagram.starts_with(netstring::START) {
        let (msg, index) = open_netstring(datagram, keys)?;
        (msg, WireFormat::Netstring, index)
    } else if datagram.starts_with(b">>>\n") {
        let (msg, index) = open_classic(datagram, keys)?;
        (msg, WireFormat::Classic, index)
    } else {
        return Err(DecodeError::BadMagic.into());
    };
    msg.remove_all("auth");
    Ok(Opened {
        msg,
        format,
        key_index,
    })
}

/// Netstring: verify the trailer, then parse the signed bytes.
fn open_netstring(datagram: &[u8], keys: &KeyRing) -> Result<(Message, u8), RecvError> {
    let netstring::Trailer {
        signed_len,
        index,
        digest,
    } = netstring::find_trailer(datagram)?.ok_or(RecvError::MissingTrailer)?;
    let signed = datagram.get(..signed_len).unwrap_or_default();
    verify(keys, index, digest, |signer| signer.update(signed))?;
    let mut budget = Budget::new(MAX_ITEMS);
    let (msg, end) = netstring::parse(datagram, 0, signed_len, 0, &mut budget)?;
    if end != signed_len {
        return Err(DecodeError::BadTrailer { offset: end }.into());
    }
    Ok((msg, index))
}

/// Classic: parse (bounded by [`MAX_ITEMS`]), then verify the `auth=` field over the classic
/// text of the other fields.
fn open_classic(datagram: &[u8], keys: &KeyRing) -> Result<(Message, u8), RecvError> {
    let mut budget = Budget::new(MAX_ITEMS);
    let (msg, _) = classic::parse(datagram, 0, datagram.len(), 0, &mut budget)?;
    let value = match msg.get("auth") {
        None => return Err(RecvError::MissingAuthField),
        Some(Value::Str(v)) => v,
        Some(_) => return Err(RecvError::BadAuthField),
    };
    let sp = value
        .iter()
        .position(|&b| b == b' ')
        .ok_or(RecvError::BadAuthField)?;
    let index = netstring::parse_index(value.get(..sp).unwrap_or_default())
        .ok_or(RecvError::BadAuthField)?;
    let received = value.get(sp + 1..).unwrap_or_default();
    verify(keys, index, received, |signer| {
        classic::write_fields(signer, &msg, 0, true);
    })?;
    Ok((msg, index))
}

/// Checks `received` against the digest, with key `index`, of what `feed` streams in. The
/// key is looked up (and refused if [`KeyRing::accepts`] says so) and the digest's length
/// checked before anything is hashed.
fn verify(
    keys: &KeyRing,
    index: u8,
    received: &[u8],
    feed: impl FnOnce(&mut auth::Signer),
) -> Result<(), RecvError> {
    let mut signer = keys.verifier(index)?;
    if !signer.digest_len_fits(received.len()) {
        return Err(RecvError::BadDigest { index });
    }
    feed(&mut signer);
    if ct_eq(signer.finish().as_bytes(), received) {
        Ok(())
    } else {
        Err(RecvError::BadDigest { index })
    }
}

/// Validates a field type byte (`'0'..='4'`); `offset` locates it in the error.
fn parse_type(digit: u8, offset: usize) -> Result<u8, DecodeError> {
    match digit {
        b'0'..=b'4' => Ok(digit - b'0'),
        _ => Err(DecodeError::UnknownType { offset, digit }),
    }
}

/// Validates a field name: non-empty UTF-8.
fn parse_name(
    bytes: &[u8],
    field_offset: usize,
    name_offset: usize,
) -> Result<String, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::EmptyName {
            offset: field_offset,
        });
    }
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| DecodeError::NonUtf8Name {
            offset: name_offset,
        })
}

#[cfg(test)]
mod tests;
