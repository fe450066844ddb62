//! The classic encoding: `>>>\n` + `name=value\n` lines + `<<<\n`.
//!
//! 3.0.6 never sends it on the network, but accepts it there (verified by its `auth=` field),
//! uses it on the local FIFO, and — most importantly — signs the *classic text* of a message
//! in the inner `auth=` field of every netstring datagram (spec §2.2). That text is produced
//! by [`write_fields`], which streams into any [`Sink`] so that signing allocates nothing.
//!
//! Per field: `[(T)]name=value\n`; the `(T)` prefix only for non-string types; string values
//! have `\n` replaced by 0x13; binary and compressed values are standard padded base64; a list
//! is its packed `LEN:item,` form; a nested message is its own classic form with every `\n`
//! replaced by the substitution byte of its nesting level ([`NEWLINE_SUBST`]).

use std::fmt;

use base64::Engine as _;
use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;

use crate::auth::Sink;
use crate::error::DecodeError;
use crate::message::{Field, Message, Value};
use crate::netstring::{Budget, Decimal, parse_list};
use crate::{MAX_DEPTH, parse_name, parse_type};

/// Newline substitution bytes for nested classic messages, for nesting levels 1..=16.
pub const NEWLINE_SUBST: [u8; MAX_DEPTH] = [
    0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x0F, 0x10, 0x11, 0x12,
];

/// String values carry newlines as this byte in classic text.
const STRING_NEWLINE: u8 = 0x13;

/// The line terminator at nesting `level` (0 = the top-level message).
fn line_end(level: usize) -> u8 {
    match level.checked_sub(1) {
        None => b'\n',
        // Deeper than MAX_DEPTH cannot be decoded by anyone; reuse the last byte.
        Some(i) => NEWLINE_SUBST.get(i).copied().unwrap_or(0x12),
    }
}

/// Streams `bytes` with every `from` byte replaced by `to`.
fn put_mapped<S: Sink>(sink: &mut S, bytes: &[u8], from: u8, to: u8) {
    if from == to {
        sink.put(bytes);
        return;
    }
    for (i, part) in bytes.split(|&b| b == from).enumerate() {
        if i > 0 {
            sink.put(&[to]);
        }
        sink.put(part);
    }
}

/// Adapter so `Base64Display` can stream into a [`Sink`] without an intermediate buffer.
struct SinkWriter<'a, S>(&'a mut S);

impl<S: Sink> fmt::Write for SinkWriter<'_, S> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.put(s.as_bytes());
        Ok(())
    }
}

fn put_base64<S: Sink>(sink: &mut S, bytes: &[u8]) {
    use fmt::Write as _;
    // SinkWriter never fails, so neither can this write.
    let _ = write!(SinkWriter(sink), "{}", Base64Display::new(bytes, &STANDARD));
}

/// Streams the classic text of `msg`'s fields at nesting `level` (no `>>>`/`<<<` markers).
/// With `skip_auth`, fields named `auth` are left out (the text the inner `auth=` signs).
pub(crate) fn write_fields<S: Sink>(sink: &mut S, msg: &Message, level: usize, skip_auth: bool) {
    let nl = line_end(level);
    for Field { name, value } in msg {
        if skip_auth && name == "auth" {
            continue;
        }
        let code = value.type_code();
        if code != 0 {
            sink.put(&[b'(', b'0' + code, b')']);
        }
        put_mapped(sink, name.as_bytes(), b'\n', nl);
        sink.put(b"=");
        match value {
            Value::Str(v) => put_mapped(sink, v, b'\n', STRING_NEWLINE),
            Value::Binary(v) | Value::Compressed(v) => put_base64(sink, v),
            Value::Struct(m) => write_message(sink, m, level + 1),
            Value::List(items) => {
                for item in items {
                    sink.put(Decimal::new(item.len()).as_bytes());
                    sink.put(b":");
                    put_mapped(sink, item, b'\n', nl);
                    sink.put(b",");
                }
            }
        }
        sink.put(&[nl]);
    }
}

/// Streams a complete classic message (`>>>` … `<<<`) at nesting `level`.
pub(crate) fn write_message<S: Sink>(sink: &mut S, msg: &Message, level: usize) {
    let nl = line_end(level);
    sink.put(&[b'>', b'>', b'>', nl]);
    write_fields(sink, msg, level, false);
    sink.put(&[b'<', b'<', b'<', nl]);
}

/// Parses the classic message that starts at `start` and must end (with its `<<<` line)
/// at or before `end`; returns it and the offset just past its end marker.
pub(crate) fn parse(
    buf: &[u8],
    start: usize,
    end: usize,
    level: usize,
    budget: &mut Budget,
) -> Result<(Message, usize), DecodeError> {
    let nl = line_end(level);
    let region = buf.get(start..end).unwrap_or_default();
    if !region.starts_with(&[b'>', b'>', b'>', nl]) {
        return Err(if level == 0 {
            DecodeError::BadMagic
        } else {
            DecodeError::NestedBadMagic { offset: start }
        });
    }
    let mut fields = Vec::new();
    let mut pos = start + 4;
    loop {
        let rest = buf.get(pos..end).unwrap_or_default();
        let Some(len) = rest.iter().position(|&b| b == nl) else {
            return Err(DecodeError::Truncated { offset: end });
        };
        let line = rest.get(..len).unwrap_or_default();
        let line_end_pos = pos + len;
        if line == b"<<<" {
            return Ok((Message::from(fields), line_end_pos + 1));
        }
        if !line.is_empty() {
            budget.take(pos)?;
            fields.push(parse_line(buf, pos, line_end_pos, level, budget)?);
        }
        pos = line_end_pos + 1;
    }
}

/// Parses one `[(T)]name=value` line occupying `buf[start..end]`.
fn parse_line(
    buf: &[u8],
    start: usize,
    end: usize,
    level: usize,
    budget: &mut Budget,
) -> Result<Field, DecodeError> {
    let line = buf.get(start..end).unwrap_or_default();
    let eq = line
        .iter()
        .position(|&b| b == b'=')
        .ok_or(DecodeError::MissingEquals { offset: start })?;
    let head = line.get(..eq).unwrap_or_default();
    let (code, name_off) = match head {
        [b'(', digit, b')', ..] => (parse_type(*digit, start + 1)?, 3),
        _ => (0, 0),
    };
    let name = parse_name(
        head.get(name_off..).unwrap_or_default(),
        start,
        start + name_off,
    )?;
    let vstart = start + eq + 1;
    let raw = buf.get(vstart..end).unwrap_or_default();
    let value = match code {
        0 => Value::Str(
            raw.iter()
                .map(|&b| if b == STRING_NEWLINE { b'\n' } else { b })
                .collect(),
        ),
        1 | 4 => {
            let bytes = STANDARD
                .decode(raw)
                .map_err(|_| DecodeError::BadBase64 { offset: vstart })?;
            if code == 1 {
                Value::Binary(bytes)
            } else {
                Value::Compressed(bytes)
            }
        }
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
        _ => Value::List(parse_list(buf, vstart, end, budget)?),
    };
    Ok(Field { name, value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_ITEMS;

    fn text(msg: &Message, skip_auth: bool) -> Vec<u8> {
        let mut out = Vec::new();
        write_fields(&mut out, msg, 0, skip_auth);
        out
    }

    fn parse_all(buf: &[u8]) -> Result<(Message, usize), DecodeError> {
        parse(buf, 0, buf.len(), 0, &mut Budget::new(MAX_ITEMS))
    }

    #[test]
    fn text_form_of_each_type() {
        let mut inner = Message::new().with("a", "x\ny");
        inner.push_bin("b", [0xffu8]);
        let mut m = Message::new().with("s", "l1\nl2");
        m.push_bin("bin", [0u8, 1, 2, 3]);
        m.push(Field {
            name: "n".into(),
            value: Value::Struct(inner),
        });
        m.push(Field {
            name: "l".into(),
            value: Value::List(vec![b"ab".to_vec(), b"".to_vec()]),
        });
        m.push(Field {
            name: "z".into(),
            value: Value::Compressed(b"zz".to_vec()),
        });
        m.push_str("auth", "1 ignored");
        let expect: &[u8] = b"s=l1\x13l2\n(1)bin=AAECAw==\n\
            (2)n=>>>\x14a=x\x13y\x14(1)b=/w==\x14<<<\x14\n\
            (3)l=2:ab,0:,\n(4)z=eno=\n";
        assert_eq!(text(&m, true), expect);
        let mut with_auth = expect.to_vec();
        with_auth.extend_from_slice(b"auth=1 ignored\n");
        assert_eq!(text(&m, false), with_auth);
    }

    #[test]
    fn nested_levels_use_their_own_newline_byte() {
        let l3 = Message::new().with("c", "3");
        let l2 = Message::from(vec![Field {
            name: "b".into(),
            value: Value::Struct(l3),
        }]);
        let l1 = Message::from(vec![Field {
            name: "a".into(),
            value: Value::Struct(l2),
        }]);
        let mut out = Vec::new();
        write_message(&mut out, &l1, 0);
        assert_eq!(
            out,
            b">>>\n(2)a=>>>\x14(2)b=>>>\x15c=3\x15<<<\x15\x14<<<\x14\n<<<\n"
        );
        let (back, used) = parse_all(&out).unwrap();
        assert_eq!(back, l1);
        assert_eq!(used, out.len());
    }

    #[test]
    fn parse_skips_blank_lines_and_ignores_bytes_after_end() {
        let buf = b">>>\n\nt=ask_resources\n\nrsc_hold=all\ninfo=me\n<<<\ngarbage";
        let (m, used) = parse_all(buf).unwrap();
        assert_eq!(
            m,
            Message::new()
                .with("t", "ask_resources")
                .with("rsc_hold", "all")
                .with("info", "me")
        );
        assert_eq!(used, buf.len() - 7);
    }

    #[test]
    fn parse_converts_string_newlines_and_base64() {
        let (m, _) = parse_all(b">>>\nv=a\x13b=c\n(1)u=AAECAw==\n(0)e=\n(4)z=eno=\n<<<\n").unwrap();
        assert_eq!(m.bytes("v"), Some(&b"a\nb=c"[..]));
        assert_eq!(m.get("u"), Some(&Value::Binary(vec![0, 1, 2, 3])));
        assert_eq!(m.str("e"), Some(""));
        assert_eq!(m.get("z"), Some(&Value::Compressed(b"zz".to_vec())));
    }

    #[test]
    fn parse_errors_are_precise() {
        let cases: &[(&[u8], DecodeError)] = &[
            (
                b">>>\nnoequals\n<<<\n",
                DecodeError::MissingEquals { offset: 4 },
            ),
            (b">>>\na=1\n", DecodeError::Truncated { offset: 8 }),
            (
                b">>>\n(7)x=y\n<<<\n",
                DecodeError::UnknownType {
                    offset: 5,
                    digit: b'7',
                },
            ),
            (b">>>\n(1)x=!!\n<<<\n", DecodeError::BadBase64 { offset: 9 }),
            (b">>>\n=v\n<<<\n", DecodeError::EmptyName { offset: 4 }),
            (
                b">>>\n\xff=v\n<<<\n",
                DecodeError::NonUtf8Name { offset: 4 },
            ),
            (
                b">>>\n(2)n=x\n<<<\n",
                DecodeError::NestedBadMagic { offset: 9 },
            ),
            (
                b">>>\n(2)n=>>>\x14<<<\x14x\n<<<\n",
                DecodeError::NestedTrailingBytes { offset: 17 },
            ),
            (
                b">>>\n(3)l=3:ab,\n<<<\n",
                DecodeError::BadListItem { offset: 9 },
            ),
            (b"<<<\n", DecodeError::BadMagic),
        ];
        for (buf, want) in cases {
            assert_eq!(
                parse_all(buf).unwrap_err(),
                *want,
                "{:?}",
                buf.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn parse_rejects_nesting_deeper_than_16() {
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
        let mut ok = Vec::new();
        write_message(&mut ok, &nest(MAX_DEPTH), 0);
        assert_eq!(parse_all(&ok).unwrap().0, nest(MAX_DEPTH));
        let mut deep = Vec::new();
        write_message(&mut deep, &nest(MAX_DEPTH + 1), 0);
        assert!(matches!(
            parse_all(&deep),
            Err(DecodeError::TooDeep { max: MAX_DEPTH, .. })
        ));
    }
}
