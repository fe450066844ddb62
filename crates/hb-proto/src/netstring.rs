//! The netstring encoding, which is what 3.0.6 puts on the network:
//! `###\n` + `LEN:(T)name=value,` per field + `%%%\n` [+ trailer `LEN:<index> <digest>,`].
//!
//! `LEN` is the decimal length of what lies between `:` and `,`; values are raw bytes with no
//! escaping. A nested message (type 2) is a complete `###\n`…`%%%\n` message without trailer;
//! a list (type 3) is a concatenation of `LEN:item,`.

use crate::error::DecodeError;
use crate::message::{Field, Message, Value};
use crate::{MAX_DEPTH, parse_name, parse_type};

/// Start marker of a netstring message.
pub(crate) const START: &[u8; 4] = b"###\n";
/// End marker of a netstring message.
pub(crate) const END: &[u8; 4] = b"%%%\n";

/// Most digits accepted in a `LEN` (more than any datagram can need).
const MAX_LEN_DIGITS: usize = 9;

/// Counts down the fields and list items a datagram may still create.
#[derive(Debug)]
pub(crate) struct Budget {
    left: usize,
    max: usize,
}

impl Budget {
    pub(crate) fn new(max: usize) -> Self {
        Budget { left: max, max }
    }

    /// Consumes one item; `offset` locates the item in the error.
    pub(crate) fn take(&mut self, offset: usize) -> Result<(), DecodeError> {
        match self.left.checked_sub(1) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(DecodeError::TooManyItems {
                offset,
                max: self.max,
            }),
        }
    }
}

/// A number formatted as decimal ASCII in a stack buffer.
pub(crate) struct Decimal {
    buf: [u8; 20],
    start: usize,
}

impl Decimal {
    pub(crate) fn new(mut n: usize) -> Self {
        let mut d = Decimal {
            buf: [0; 20],
            start: 20,
        };
        loop {
            d.start -= 1;
            if let Some(slot) = d.buf.get_mut(d.start) {
                // n % 10 < 10, so the cast cannot truncate.
                *slot = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || d.start == 0 {
                break;
            }
        }
        d
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }
}

/// Appends `n` in decimal.
pub(crate) fn write_decimal(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(Decimal::new(n).as_bytes());
}

fn decimal_len(n: usize) -> usize {
    Decimal::new(n).as_bytes().len()
}

/// Length of a netstring holding `content` bytes: `LEN:` + content + `,`.
fn netstring_len(content: usize) -> usize {
    decimal_len(content) + 1 + content + 1
}

/// Encoded length of a field value (without any framing).
fn value_len(value: &Value) -> usize {
    match value {
        Value::Str(v) | Value::Binary(v) | Value::Compressed(v) => v.len(),
        Value::Struct(m) => message_len(m, false),
        Value::List(items) => items.iter().map(|i| netstring_len(i.len())).sum(),
    }
}

/// Length of the `(T)name=value` content of a field.
fn item_len(name: &str, value_len: usize) -> usize {
    3 + name.len() + 1 + value_len
}

/// Encoded length of the fields of `msg` (no markers), optionally without `auth` fields.
pub(crate) fn fields_len(msg: &Message, skip_auth: bool) -> usize {
    msg.iter()
        .filter(|f| !(skip_auth && f.name == "auth"))
        .map(|f| netstring_len(item_len(&f.name, value_len(&f.value))))
        .sum()
}

/// Encoded length of `msg` including its `###\n`/`%%%\n` markers.
pub(crate) fn message_len(msg: &Message, skip_auth: bool) -> usize {
    START.len() + fields_len(msg, skip_auth) + END.len()
}

/// Writes `LEN:(T)name=` for a field whose value is `value_len` bytes long; the caller then
/// writes the value and the closing `,`.
pub(crate) fn write_field_head(out: &mut Vec<u8>, code: u8, name: &str, value_len: usize) {
    write_decimal(out, item_len(name, value_len));
    out.extend_from_slice(&[b':', b'(', b'0' + code, b')']);
    out.extend_from_slice(name.as_bytes());
    out.push(b'=');
}

/// Writes the fields of `msg` (no markers), optionally leaving out fields named `auth`.
pub(crate) fn write_fields(out: &mut Vec<u8>, msg: &Message, skip_auth: bool) {
    for Field { name, value } in msg {
        if skip_auth && name == "auth" {
            continue;
        }
        write_field_head(out, value.type_code(), name, value_len(value));
        match value {
            Value::Str(v) | Value::Binary(v) | Value::Compressed(v) => out.extend_from_slice(v),
            Value::Struct(m) => write_message(out, m, false),
            Value::List(items) => {
                for item in items {
                    write_decimal(out, item.len());
                    out.push(b':');
                    out.extend_from_slice(item);
                    out.push(b',');
                }
            }
        }
        out.push(b',');
    }
}

/// Writes `###\n` + fields + `%%%\n`.
pub(crate) fn write_message(out: &mut Vec<u8>, msg: &Message, skip_auth: bool) {
    out.extend_from_slice(START);
    write_fields(out, msg, skip_auth);
    out.extend_from_slice(END);
}

/// Writes the signature `"<index> <digest>"` as a netstring (the trailer) or, with
/// `as_field`, as the string field `auth`.
pub(crate) fn write_signature(out: &mut Vec<u8>, index: u8, digest: &[u8], as_field: bool) {
    let index = Decimal::new(usize::from(index));
    let content = index.as_bytes().len() + 1 + digest.len();
    if as_field {
        write_field_head(out, 0, "auth", content);
    } else {
        write_decimal(out, content);
        out.push(b':');
    }
    out.extend_from_slice(index.as_bytes());
    out.push(b' ');
    out.extend_from_slice(digest);
    out.push(b',');
}

/// Reads the netstring starting at `pos` (which must end before `end`); returns the bounds
/// `(start, end)` of its content. The next netstring starts at content end + 1.
pub(crate) fn peel(buf: &[u8], pos: usize, end: usize) -> Result<(usize, usize), DecodeError> {
    let mut len: usize = 0;
    let mut digits = 0;
    let mut i = pos;
    loop {
        if i >= end {
            return Err(DecodeError::Truncated { offset: end });
        }
        match buf.get(i).copied() {
            Some(b':') if digits > 0 => break,
            Some(d @ b'0'..=b'9') if digits < MAX_LEN_DIGITS => {
                len = len * 10 + usize::from(d - b'0');
                digits += 1;
            }
            _ => return Err(DecodeError::BadLength { offset: pos }),
        }
        i += 1;
    }
    let start = i + 1;
    let stop = start
        .checked_add(len)
        .filter(|&s| s < end)
        .ok_or(DecodeError::Truncated { offset: end })?;
    match buf.get(stop) {
        Some(b',') => Ok((start, stop)),
        _ => Err(DecodeError::MissingComma { offset: stop }),
    }
}

/// Parses a list value occupying exactly `buf[start..end]`.
pub(crate) fn parse_list(
    buf: &[u8],
    start: usize,
    end: usize,
    budget: &mut Budget,
) -> Result<Vec<Vec<u8>>, DecodeError> {
    let mut items = Vec::new();
    let mut pos = start;
    while pos < end {
        budget.take(pos)?;
        let (s, e) = peel(buf, pos, end).map_err(|_| DecodeError::BadListItem { offset: pos })?;
        items.push(buf.get(s..e).unwrap_or_default().to_vec());
        pos = e + 1;
    }
    Ok(items)
}

/// Parses the netstring message starting at `start` that must end at or before `end`;
/// returns it and the offset just past its `%%%\n`.
pub(crate) fn parse(
    buf: &[u8],
    start: usize,
    end: usize,
    level: usize,
    budget: &mut Budget,
) -> Result<(Message, usize), DecodeError> {
    if !buf.get(start..end).unwrap_or_default().starts_with(START) {
        return Err(if level == 0 {
            DecodeError::BadMagic
        } else {
            DecodeError::NestedBadMagic { offset: start }
        });
    }
    let mut fields = Vec::new();
    let mut pos = start + START.len();
    loop {
        let rest = buf.get(pos..end).unwrap_or_default();
        if rest.starts_with(END) {
            return Ok((Message::from(fields), pos + END.len()));
        }
        if !rest.is_empty() && END.starts_with(rest) {
            return Err(DecodeError::Truncated { offset: end });
        }
        let (s, e) = peel(buf, pos, end)?;
        budget.take(pos)?;
        fields.push(parse_item(buf, s, e, level, budget)?);
        pos = e + 1;
    }
}

/// Parses the `(T)name=value` content `buf[start..end]` of one field.
fn parse_item(
    buf: &[u8],
    start: usize,
    end: usize,
    level: usize,
    budget: &mut Budget,
) -> Result<Field, DecodeError> {
    let item = buf.get(start..end).unwrap_or_default();
    let [b'(', digit, b')', rest @ ..] = item else {
        return Err(DecodeError::MissingType { offset: start });
    };
    let code = parse_type(*digit, start + 1)?;
    let eq = rest
        .iter()
        .position(|&b| b == b'=')
        .ok_or(DecodeError::MissingEquals { offset: start })?;
    let name = parse_name(rest.get(..eq).unwrap_or_default(), start, start + 3)?;
    let vstart = start + 3 + eq + 1;
    let raw = || buf.get(vstart..end).unwrap_or_default().to_vec();
    let value = match code {
        0 => Value::Str(raw()),
        1 => Value::Binary(raw()),
        2 => {
            if level >= MAX_DEPTH {
                return Err(DecodeError::TooDeep {
                    offset: vstart,
                    max: MAX_DEPTH,
                });
            }
            let (m, after) = parse(buf, vstart, end, level + 1, budget)?;
            if after != end {
                return Err(DecodeError::NestedTrailingBytes { offset: after });
            }
            Value::Struct(m)
        }
        3 => Value::List(parse_list(buf, vstart, end, budget)?),
        _ => Value::Compressed(raw()),
    };
    Ok(Field { name, value })
}

/// Parses the optional signature trailer at `pos` (right after the top-level `%%%\n`).
pub(crate) fn parse_trailer(buf: &[u8], pos: usize) -> Result<Option<(u8, String)>, DecodeError> {
    if pos >= buf.len() {
        return Ok(None);
    }
    let (index, digest) = trailer_at(buf, pos)?;
    Ok(Some((
        index,
        digest.iter().map(|&b| char::from(b)).collect(),
    )))
}

/// Parses the signature trailer `LEN:<index> <digest>,` that starts at `pos` and must end
/// the datagram; returns the index and the digest text.
fn trailer_at(buf: &[u8], pos: usize) -> Result<(u8, &[u8]), DecodeError> {
    let bad = DecodeError::BadTrailer { offset: pos };
    let (s, e) = peel(buf, pos, buf.len()).map_err(|_| bad.clone())?;
    if e + 1 < buf.len() {
        return Err(DecodeError::TrailingBytes {
            offset: e + 1,
            count: buf.len() - e - 1,
        });
    }
    let content = buf.get(s..e).unwrap_or_default();
    let sp = content.iter().position(|&b| b == b' ').ok_or(bad.clone())?;
    let (index, digest) = (
        content.get(..sp).unwrap_or_default(),
        content.get(sp + 1..).unwrap_or_default(),
    );
    let index = parse_index(index).ok_or(bad.clone())?;
    if digest.is_empty() || !digest.iter().all(u8::is_ascii_graphic) {
        return Err(bad);
    }
    Ok((index, digest))
}

/// Longest signature trailer that can verify: a `LEN` of at most [`MAX_LEN_DIGITS`] digits,
/// `:`, an index of at most 3 digits, a space, a digest of at most 40 hex digits (sha1), `,`.
pub(crate) const MAX_TRAILER: usize = MAX_LEN_DIGITS + 1 + 3 + 1 + 40 + 1;

/// The signature trailer of a netstring datagram, located from the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trailer<'a> {
    /// The bytes the trailer signs: `0..signed_len`, through the top-level `%%%\n`.
    pub(crate) signed_len: usize,
    /// The key index it names.
    pub(crate) index: u8,
    /// The digest text.
    pub(crate) digest: &'a [u8],
}

/// Finds the signature trailer of the netstring datagram `buf` from its end, without
/// parsing the fields before it, so that a forged datagram is rejected for the price of one
/// digest.
///
/// A trailer holds no newline, and one that can verify is at most [`MAX_TRAILER`] bytes
/// long, so the `%%%\n` that precedes it ends at the last newline within that many bytes of
/// the end. `Ok(None)`: the datagram ends with `%%%\n` (no trailer). Whether the fields
/// really end at that `%%%\n` is for the parse that follows verification to check.
///
/// # Errors
/// [`DecodeError::BadTrailer`] if no `%%%\n` ends within reach of the end, or what follows
/// it is not one `LEN:<index> <digest>,` netstring; [`DecodeError::TrailingBytes`] if bytes
/// follow that netstring.
pub(crate) fn find_trailer(buf: &[u8]) -> Result<Option<Trailer<'_>>, DecodeError> {
    if buf.ends_with(END) {
        return Ok(None);
    }
    let from = buf.len().saturating_sub(MAX_TRAILER + 1);
    let newline = buf
        .get(from..)
        .unwrap_or_default()
        .iter()
        .rposition(|&b| b == b'\n')
        .ok_or(DecodeError::BadTrailer { offset: from })?;
    let signed_len = from + newline + 1;
    if !buf.get(..signed_len).unwrap_or_default().ends_with(END) {
        return Err(DecodeError::BadTrailer { offset: signed_len });
    }
    let (index, digest) = trailer_at(buf, signed_len)?;
    Ok(Some(Trailer {
        signed_len,
        index,
        digest,
    }))
}

/// A key index as written in a signature: 1 to 3 decimal digits fitting in a `u8`.
pub(crate) fn parse_index(text: &[u8]) -> Option<u8> {
    if text.is_empty() || text.len() > 3 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_ITEMS;

    fn parse_all(buf: &[u8]) -> Result<(Message, usize), DecodeError> {
        parse(buf, 0, buf.len(), 0, &mut Budget::new(MAX_ITEMS))
    }

    fn encode(msg: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        write_message(&mut out, msg, false);
        out
    }

    #[test]
    fn decimal_formatting() {
        for n in [0usize, 7, 10, 99, 100, 262_143, usize::MAX] {
            assert_eq!(Decimal::new(n).as_bytes(), n.to_string().as_bytes());
        }
    }

    #[test]
    fn encodes_every_type_with_exact_lengths() {
        let inner = Message::new().with("a", "1");
        let mut m = Message::new().with("t", "x=,\n");
        m.push_bin("u", [0u8, b',', 0xff]);
        m.push(Field {
            name: "n".into(),
            value: Value::Struct(inner),
        });
        m.push(Field {
            name: "l".into(),
            value: Value::List(vec![b"ab".to_vec(), Vec::new()]),
        });
        m.push(Field {
            name: "z".into(),
            value: Value::Compressed(vec![1, 2]),
        });
        let bytes = encode(&m);
        assert_eq!(
            bytes,
            b"###\n9:(0)t=x=,\n,8:(1)u=\x00,\xff,22:(2)n=###\n6:(0)a=1,%%%\n,\
              13:(3)l=2:ab,0:,,7:(4)z=\x01\x02,%%%\n"
        );
        assert_eq!(bytes.len(), message_len(&m, false));
        let (back, used) = parse_all(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(used, bytes.len());
    }

    #[test]
    fn skip_auth_leaves_out_auth_fields_only() {
        let m = Message::new()
            .with("t", "x")
            .with("auth", "1 00")
            .with("authx", "y");
        let mut out = Vec::new();
        write_fields(&mut out, &m, true);
        assert_eq!(out, b"6:(0)t=x,10:(0)authx=y,");
        assert_eq!(out.len(), fields_len(&m, true));
    }

    #[test]
    fn signature_forms() {
        let mut out = Vec::new();
        write_signature(&mut out, 3, b"1c2d", false);
        write_signature(&mut out, 12, b"ab", true);
        assert_eq!(out, b"6:3 1c2d,13:(0)auth=12 ab,");
    }

    #[test]
    fn peel_errors() {
        assert_eq!(peel(b"3:abc,", 0, 6), Ok((2, 5)));
        assert_eq!(
            peel(b"03:abc,", 0, 7),
            Ok((3, 6)),
            "leading zeros are tolerated"
        );
        assert_eq!(
            peel(b":abc,", 0, 5),
            Err(DecodeError::BadLength { offset: 0 })
        );
        assert_eq!(
            peel(b"x:abc,", 0, 6),
            Err(DecodeError::BadLength { offset: 0 })
        );
        assert_eq!(
            peel(b"-3:abc,", 0, 7),
            Err(DecodeError::BadLength { offset: 0 })
        );
        assert_eq!(
            peel(b"1234567890:", 0, 11),
            Err(DecodeError::BadLength { offset: 0 })
        );
        assert_eq!(peel(b"12", 0, 2), Err(DecodeError::Truncated { offset: 2 }));
        assert_eq!(
            peel(b"3:abc", 0, 5),
            Err(DecodeError::Truncated { offset: 5 })
        );
        assert_eq!(
            peel(b"9:abc,", 0, 6),
            Err(DecodeError::Truncated { offset: 6 })
        );
        assert_eq!(
            peel(b"2:abc,", 0, 6),
            Err(DecodeError::MissingComma { offset: 4 })
        );
        assert_eq!(
            peel(b"999999999:x", 0, 11),
            Err(DecodeError::Truncated { offset: 11 })
        );
    }

    #[test]
    fn parse_errors_are_precise() {
        let cases: &[(&[u8], DecodeError)] = &[
            (b"###\n3:t=x,%%%\n", DecodeError::MissingType { offset: 6 }),
            (
                b"###\n6:(7)x=y,%%%\n",
                DecodeError::UnknownType {
                    offset: 7,
                    digit: b'7',
                },
            ),
            (
                b"###\n6:(5)x=y,%%%\n",
                DecodeError::UnknownType {
                    offset: 7,
                    digit: b'5',
                },
            ),
            (
                b"###\n5:(0)xy,%%%\n",
                DecodeError::MissingEquals { offset: 6 },
            ),
            (b"###\n5:(0)=y,%%%\n", DecodeError::EmptyName { offset: 6 }),
            (
                b"###\n6:(0)\xff=y,%%%\n",
                DecodeError::NonUtf8Name { offset: 9 },
            ),
            (b"###\n7:(0)a=b,", DecodeError::Truncated { offset: 13 }),
            (b"###\n", DecodeError::Truncated { offset: 4 }),
            (b"###\n%%%", DecodeError::Truncated { offset: 7 }),
            (
                b"###\n6:(2)n=x,%%%\n",
                DecodeError::NestedBadMagic { offset: 11 },
            ),
            (
                b"###\n15:(2)n=###\n%%%\nxx,%%%\n",
                DecodeError::NestedTrailingBytes { offset: 20 },
            ),
            (
                b"###\n8:(3)l=1:a,,%%%\n",
                DecodeError::BadListItem { offset: 11 },
            ),
            (
                b"###\n9:(3)l=1:ab,,%%%\n",
                DecodeError::BadListItem { offset: 11 },
            ),
            (b">>>\n", DecodeError::BadMagic),
        ];
        for (buf, want) in cases {
            assert_eq!(parse_all(buf).unwrap_err(), *want, "{}", buf.escape_ascii());
        }
    }

    #[test]
    fn end_marker_inside_a_value_is_data() {
        let m = Message::new().with("v", "%%%\n###\n");
        let bytes = encode(&m);
        assert_eq!(parse_all(&bytes).unwrap().0, m);
    }

    #[test]
    fn budget_limits_items() {
        let buf = b"###\n6:(0)a=1,6:(0)b=2,%%%\n";
        let err = parse(buf, 0, buf.len(), 0, &mut Budget::new(1)).unwrap_err();
        assert_eq!(err, DecodeError::TooManyItems { offset: 13, max: 1 });
        let buf = b"###\n13:(3)l=1:a,1:b,,%%%\n";
        let err = parse(buf, 0, buf.len(), 0, &mut Budget::new(2)).unwrap_err();
        assert_eq!(err, DecodeError::TooManyItems { offset: 16, max: 2 });
    }

    #[test]
    fn nesting_limit() {
        fn nest(depth: usize) -> Message {
            let mut m = Message::new().with("leaf", "1");
            for _ in 0..depth {
                m = Message::from(vec![Field {
                    name: "n".into(),
                    value: Value::Struct(m),
                }]);
            }
            m
        }
        assert_eq!(
            parse_all(&encode(&nest(MAX_DEPTH))).unwrap().0,
            nest(MAX_DEPTH)
        );
        assert!(matches!(
            parse_all(&encode(&nest(MAX_DEPTH + 1))),
            Err(DecodeError::TooDeep { max: MAX_DEPTH, .. })
        ));
    }

    #[test]
    fn trailer_parsing() {
        let t = |b: &[u8]| parse_trailer(b, 0);
        assert_eq!(t(b""), Ok(None));
        assert_eq!(t(b"6:3 1c2d,"), Ok(Some((3, "1c2d".into()))));
        assert_eq!(
            t(b"6:3 1c2d,x"),
            Err(DecodeError::TrailingBytes {
                offset: 9,
                count: 1
            })
        );
        assert_eq!(t(b"6:3 1c2d"), Err(DecodeError::BadTrailer { offset: 0 }));
        assert_eq!(t(b"5:31c2d,"), Err(DecodeError::BadTrailer { offset: 0 }));
        assert_eq!(t(b"6:x 1c2d,"), Err(DecodeError::BadTrailer { offset: 0 }));
        assert_eq!(
            t(b"8:256 1c2d,"),
            Err(DecodeError::BadTrailer { offset: 0 })
        );
        assert_eq!(t(b"2:3 ,"), Err(DecodeError::BadTrailer { offset: 0 }));
        assert_eq!(t(b"4:3 a b,"), Err(DecodeError::BadTrailer { offset: 0 }));
        assert_eq!(parse_index(b"15"), Some(15));
        assert_eq!(parse_index(b"+1"), None);
    }
}
