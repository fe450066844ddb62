//! Junk datagrams for hostile-input tests and benchmarks: well-formed enough to reach the
//! signature check, signed with nothing a key ring accepts.

/// A netstring datagram of exactly `len` bytes: `fields` one-letter fields (`5:(0)a=,`), one
/// padding field that fills the rest, and a well-formed sha1 trailer for key index 1 whose
/// digest (forty zeros) does not verify.
///
/// # Panics
/// If `len` has no room for the fields, the trailer and a padding field.
#[must_use]
pub fn netstring(len: usize, fields: usize) -> Vec<u8> {
    let trailer = format!("42:1 {},", "0".repeat(40));
    let mut buf = b"###\n".to_vec();
    for _ in 0..fields {
        buf.extend_from_slice(b"5:(0)a=,");
    }
    // One padding field `N:(0)p=<v bytes>,` with N = 5 + v fills the rest exactly.
    let room = len
        .checked_sub(buf.len() + 4 + trailer.len())
        .expect("room for the fields and the trailer");
    let v = (0..room)
        .rev()
        .find(|v| (5 + v).to_string().len() + 2 + 5 + v == room)
        .expect("room for the padding field");
    buf.extend_from_slice(format!("{}:(0)p=", 5 + v).as_bytes());
    buf.resize(buf.len() + v, b'x');
    buf.push(b',');
    buf.extend_from_slice(b"%%%\n");
    buf.extend_from_slice(trailer.as_bytes());
    debug_assert_eq!(buf.len(), len);
    buf
}

/// A classic datagram of about `len` bytes: `fields` lines `a=`, a padding line, then a sha1
/// `auth=1` line that does not verify.
#[must_use]
pub fn classic(len: usize, fields: usize) -> Vec<u8> {
    let mut buf = b">>>\n".to_vec();
    for _ in 0..fields {
        buf.extend_from_slice(b"a=\n");
    }
    let pad = len.saturating_sub(buf.len() + 2 + 1 + 5 + 48 + 4);
    buf.extend_from_slice(b"p=");
    buf.resize(buf.len() + pad, b'x');
    buf.extend_from_slice(format!("\nauth=1 {}\n<<<\n", "0".repeat(40)).as_bytes());
    buf
}

#[cfg(test)]
mod tests {
    #[test]
    fn netstring_junk_has_the_asked_length_and_a_trailer() {
        for (len, fields) in [(1_472, 100), (32 * 1024 + 128, 4095), (65_507, 4095)] {
            let d = super::netstring(len, fields);
            assert_eq!(d.len(), len);
            assert!(d.starts_with(b"###\n"));
            assert!(d.ends_with(format!("42:1 {},", "0".repeat(40)).as_bytes()));
        }
        assert!(super::classic(32 * 1024, 10).ends_with(b"<<<\n"));
    }
}
