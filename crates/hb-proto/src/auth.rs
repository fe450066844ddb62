//! Authentication: the `authkeys` methods (crc, md5, sha1), the key ring, and the digests.
//!
//! * `sha1` / `md5`: standard HMAC (RFC 2104) keyed with the ASCII key; keys longer than the
//!   64-byte block are hashed first.
//! * `crc`: no key; CRC-32 with polynomial 0x04C11DB7, MSB first, initial value 0, final XOR
//!   0xFFFFFFFF, no reflection (the POSIX `cksum` register without its length suffix).
//!
//! Digests are written as lower-case hex the way Heartbeat prints them: 40 characters for
//! sha1, 32 for md5, and for crc C's `%lx` (no leading zeros, 1 to 8 characters).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;

use crate::error::{AuthError, RecvError};

/// Highest key index `authkeys` accepts.
pub const MAX_KEY_INDEX: u8 = 15;

/// An `authkeys` authentication method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthMethod {
    /// CRC-32 (no key; integrity only, no authenticity).
    Crc,
    /// HMAC-MD5.
    Md5,
    /// HMAC-SHA1.
    Sha1,
}

impl AuthMethod {
    /// The `authkeys` spelling: `crc`, `md5` or `sha1`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Crc => "crc",
            AuthMethod::Md5 => "md5",
            AuthMethod::Sha1 => "sha1",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMethod {
    type Err = AuthError;
    /// Parses `crc`, `md5` or `sha1` (exact, lower case, as in `authkeys`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "crc" => Ok(AuthMethod::Crc),
            "md5" => Ok(AuthMethod::Md5),
            "sha1" => Ok(AuthMethod::Sha1),
            other => Err(AuthError::UnknownMethod(other.to_owned())),
        }
    }
}

/// The keys of `authkeys`: one signing index and every configured `index → (method, key)`.
///
/// Invariants (checked by [`KeyRing::new`]): indexes are 0..=15, the signing index is
/// configured, md5/sha1 keys are non-empty and crc keys are empty. `Debug` never prints key
/// bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRing {
    sign_index: u8,
    keys: BTreeMap<u8, (AuthMethod, Vec<u8>)>,
}

impl KeyRing {
    /// Builds a key ring from the `auth N` index and the `N METHOD [KEY]` lines.
    ///
    /// # Errors
    /// [`AuthError::IndexOutOfRange`] for an index above 15, [`AuthError::SignIndexMissing`]
    /// if `sign_index` has no key, [`AuthError::EmptyKey`] for an md5/sha1 entry without key,
    /// [`AuthError::CrcWithKey`] for a crc entry with one.
    pub fn new(
        sign_index: u8,
        keys: BTreeMap<u8, (AuthMethod, Vec<u8>)>,
    ) -> Result<Self, AuthError> {
        if sign_index > MAX_KEY_INDEX {
            return Err(AuthError::IndexOutOfRange(sign_index));
        }
        for (&index, (method, key)) in &keys {
            if index > MAX_KEY_INDEX {
                return Err(AuthError::IndexOutOfRange(index));
            }
            match method {
                AuthMethod::Crc if !key.is_empty() => return Err(AuthError::CrcWithKey { index }),
                AuthMethod::Md5 | AuthMethod::Sha1 if key.is_empty() => {
                    return Err(AuthError::EmptyKey {
                        index,
                        method: *method,
                    });
                }
                _ => {}
            }
        }
        if !keys.contains_key(&sign_index) {
            return Err(AuthError::SignIndexMissing(sign_index));
        }
        Ok(KeyRing { sign_index, keys })
    }

    /// A ring with a single key, which is also the signing key.
    ///
    /// # Errors
    /// As [`KeyRing::new`].
    pub fn single(index: u8, method: AuthMethod, key: impl AsRef<[u8]>) -> Result<Self, AuthError> {
        let mut keys = BTreeMap::new();
        keys.insert(index, (method, key.as_ref().to_vec()));
        KeyRing::new(index, keys)
    }

    /// The index used to sign outgoing messages (`auth N`).
    #[must_use]
    pub fn sign_index(&self) -> u8 {
        self.sign_index
    }

    /// The method configured for `index`, if any.
    #[must_use]
    pub fn method(&self, index: u8) -> Option<AuthMethod> {
        self.keys.get(&index).map(|(m, _)| *m)
    }

    /// The configured indexes in ascending order.
    pub fn indexes(&self) -> impl Iterator<Item = u8> + '_ {
        self.keys.keys().copied()
    }

    /// Whether a datagram signed with key `index` can be accepted: the index is configured,
    /// and its method is md5 or sha1 — or crc while the signing method is crc too.
    ///
    /// crc needs no secret, so a crc key beside an md5 or sha1 signing key would let anyone
    /// in: such a key never verifies anything. When crc signs, the operator has chosen no
    /// authentication and every configured index is accepted.
    #[must_use]
    pub fn accepts(&self, index: u8) -> bool {
        self.verifier(index).is_ok()
    }

    /// The signer that verifies a datagram naming key `index`, or why none may.
    pub(crate) fn verifier(&self, index: u8) -> Result<Signer, RecvError> {
        let (method, key) = self
            .keys
            .get(&index)
            .ok_or(RecvError::UnknownKeyIndex(index))?;
        if *method == AuthMethod::Crc && self.method(self.sign_index) != Some(AuthMethod::Crc) {
            return Err(RecvError::CrcRefused { index });
        }
        Ok(Signer::new(*method, key))
    }

    /// The signer for the signing index.
    pub(crate) fn sign_signer(&self) -> Signer {
        match self.keys.get(&self.sign_index) {
            Some((method, key)) => Signer::new(*method, key),
            // Unreachable by the constructor's invariant; crc keeps this total without a panic.
            None => Signer::new(AuthMethod::Crc, &[]),
        }
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let methods: BTreeMap<u8, AuthMethod> =
            self.keys.iter().map(|(i, (m, _))| (*i, *m)).collect();
        f.debug_struct("KeyRing")
            .field("sign_index", &self.sign_index)
            .field("methods", &methods)
            .finish_non_exhaustive()
    }
}

/// The digest of `data` with `method` and `key`, as lower-case hex text exactly as Heartbeat
/// prints it (crc: `%lx`, no leading zeros). `key` is ignored for crc.
///
/// ```
/// use hb_proto::{digest, AuthMethod};
/// assert_eq!(digest(AuthMethod::Crc, b"", b"123456789"), "765e7680");
/// ```
#[must_use]
pub fn digest(method: AuthMethod, key: &[u8], data: &[u8]) -> String {
    let mut s = Signer::new(method, key);
    s.update(data);
    s.finish().as_str().to_owned()
}

/// Compares two byte strings without an early exit on the first difference.
#[must_use]
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early-exit compare.
    std::hint::black_box(diff) == 0
}

/// Something bytes can be streamed into: a digest or an output buffer.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Incremental digest computation for one method and key.
#[derive(Clone)]
pub(crate) enum Signer {
    Crc(u32),
    Md5(Box<Hmac<Md5>>),
    Sha1(Box<Hmac<Sha1>>),
}

/// HMAC block size of both MD5 and SHA-1.
const BLOCK: usize = 64;

/// The RFC 2104 block key: the key zero-padded to the block size, or its hash if longer.
/// HMAC with this block is identical to HMAC with the original key.
fn block_key<D: sha1::Digest>(key: &[u8]) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        let h = D::digest(key);
        for (dst, src) in block.iter_mut().zip(h.iter()) {
            *dst = *src;
        }
    } else {
        for (dst, src) in block.iter_mut().zip(key) {
            *dst = *src;
        }
    }
    block
}

impl Signer {
    pub(crate) fn new(method: AuthMethod, key: &[u8]) -> Self {
        match method {
            AuthMethod::Crc => Signer::Crc(0),
            AuthMethod::Md5 => {
                let block = block_key::<Md5>(key);
                Signer::Md5(Box::new(<Hmac<Md5> as KeyInit>::new(&block.into())))
            }
            AuthMethod::Sha1 => {
                let block = block_key::<Sha1>(key);
                Signer::Sha1(Box::new(<Hmac<Sha1> as KeyInit>::new(&block.into())))
            }
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Signer::Crc(crc) => *crc = crc_update(*crc, data),
            Signer::Md5(m) => m.update(data),
            Signer::Sha1(m) => m.update(data),
        }
    }

    /// Whether a digest of `len` hex characters can be one this signer produces (sha1: 40,
    /// md5: 32, crc: 1 to 8): a cheap test that spares computing a digest that cannot match.
    pub(crate) fn digest_len_fits(&self, len: usize) -> bool {
        match self {
            Signer::Crc(_) => (1..=8).contains(&len),
            Signer::Md5(_) => len == 32,
            Signer::Sha1(_) => len == 40,
        }
    }

    pub(crate) fn finish(self) -> DigestHex {
        match self {
            Signer::Crc(crc) => DigestHex::from_u32(crc ^ 0xFFFF_FFFF),
            Signer::Md5(m) => DigestHex::from_bytes(&m.finalize().into_bytes()),
            Signer::Sha1(m) => DigestHex::from_bytes(&m.finalize().into_bytes()),
        }
    }
}

impl Sink for Signer {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// A digest as hex text in a stack buffer (at most 40 characters: SHA-1).
#[derive(Clone, Copy)]
pub(crate) struct DigestHex {
    buf: [u8; 40],
    len: usize,
}

/// The lowercase hex digit of the low four bits of `n`.
fn hex_digit(n: u8) -> u8 {
    match n & 0x0f {
        d @ 0..=9 => b'0' + d,
        d => b'a' + (d - 10),
    }
}

impl DigestHex {
    fn from_bytes(bytes: &[u8]) -> Self {
        let mut d = DigestHex {
            buf: [0; 40],
            len: 0,
        };
        let (pairs, _) = d.buf.as_chunks_mut::<2>();
        for ([hi, lo], b) in pairs.iter_mut().zip(bytes) {
            *hi = hex_digit(b >> 4);
            *lo = hex_digit(*b);
            d.len += 2;
        }
        d
    }

    /// `%lx` formatting: no leading zeros, `0` for zero.
    fn from_u32(v: u32) -> Self {
        let mut d = DigestHex {
            buf: [0; 40],
            len: 0,
        };
        let digits = (8 - v.leading_zeros() as usize / 4).max(1);
        for (i, slot) in d.buf.iter_mut().take(digits).enumerate() {
            let shift = 4 * (digits - 1 - i);
            // The mask keeps four bits, so the cast cannot truncate.
            *slot = hex_digit(((v >> shift) & 0xf) as u8);
        }
        d.len = digits;
        d
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into the buffer.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

/// Lookup table for the MSB-first CRC-32 with polynomial 0x04C11DB7.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut rest: &mut [u32] = &mut table;
    let mut i: u32 = 0;
    while let [slot, tail @ ..] = rest {
        let mut crc = i << 24;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
            bit += 1;
        }
        *slot = crc;
        rest = tail;
        i += 1;
    }
    table
};

fn crc_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        let idx = usize::from((crc >> 24) as u8 ^ b);
        // A byte always indexes the 256-entry table.
        crc = (crc << 8) ^ CRC_TABLE.get(idx).copied().unwrap_or_default();
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn hmac_sha1_rfc2202_vectors() {
        assert_eq!(
            digest(AuthMethod::Sha1, &[0x0b; 20], b"Hi There"),
            "b617318655057264e28bc0b6fb378c8ef146be00"
        );
        // Key longer than the 64-byte block: hashed first.
        assert_eq!(
            digest(
                AuthMethod::Sha1,
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
        // Key of exactly 64 bytes is used as is.
        let long = digest(AuthMethod::Sha1, &[0xaa; 64], b"x");
        assert_ne!(long, digest(AuthMethod::Sha1, &[0xaa; 65], b"x"));
    }

    #[test]
    fn hmac_md5_rfc2202_vectors() {
        assert_eq!(
            digest(AuthMethod::Md5, &[0x0b; 16], b"Hi There"),
            "9294727a3638bb1c13f48ef8158bfc9d"
        );
        assert_eq!(
            digest(
                AuthMethod::Md5,
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"
        );
        assert_eq!(
            digest(AuthMethod::Md5, b"Jefe", b"what do ya want for nothing?"),
            "750c783e6ab0b503eaa86e310a5db738"
        );
    }

    #[test]
    fn heartbeat_signature_vectors_from_the_spec() {
        // [A1 #1] inner auth= field: HMAC-SHA1 over the classic text (spec section 2.2).
        let uuid = unhex("895b6ef79ddb414fa520f7e2ff7afd39");
        let mut text = b"t=status\nst=init\ndt=1770\nprotocol=1\nsrc=node1\n(1)srcuuid=".to_vec();
        use base64::Engine as _;
        text.extend(
            base64::engine::general_purpose::STANDARD
                .encode(&uuid)
                .bytes(),
        );
        text.extend_from_slice(
            b"\nseq=1\nhg=6b059433\nts=6b059432\nld=0.10 0.14 0.07 4/140 1114\nttl=3\n",
        );
        assert_eq!(text.len(), 147);
        assert_eq!(
            digest(AuthMethod::Sha1, b"labsecret", &text),
            "0a037e0b063e39c8d19b912b4bda3c7dae616cb6"
        );
    }

    #[test]
    fn crc_known_answers() {
        // CRC-32/CKSUM check value (same register, no length suffix).
        assert_eq!(digest(AuthMethod::Crc, b"", b"123456789"), "765e7680");
        // Empty input: 0 ^ 0xFFFFFFFF.
        assert_eq!(digest(AuthMethod::Crc, b"", b""), "ffffffff");
        // The key is ignored.
        assert_eq!(
            digest(AuthMethod::Crc, b"key", b"a"),
            digest(AuthMethod::Crc, b"", b"a")
        );
        // A bitwise reference agrees on every single byte.
        for b in 0..=255u8 {
            let mut crc: u32 = u32::from(b) << 24;
            for _ in 0..8 {
                crc = if crc & 0x8000_0000 != 0 {
                    (crc << 1) ^ 0x04C1_1DB7
                } else {
                    crc << 1
                };
            }
            assert_eq!(
                digest(AuthMethod::Crc, b"", &[b]),
                format!("{:x}", crc ^ 0xFFFF_FFFF)
            );
        }
    }

    #[test]
    fn crc_hex_has_no_leading_zeros() {
        assert_eq!(DigestHex::from_u32(0).as_str(), "0");
        assert_eq!(DigestHex::from_u32(0xf).as_str(), "f");
        assert_eq!(DigestHex::from_u32(0x00ab_cdef).as_str(), "abcdef");
        assert_eq!(DigestHex::from_u32(0x1000_0000).as_str(), "10000000");
        assert_eq!(DigestHex::from_u32(u32::MAX).as_str(), "ffffffff");
    }

    #[test]
    fn incremental_equals_one_shot() {
        for m in [AuthMethod::Crc, AuthMethod::Md5, AuthMethod::Sha1] {
            let mut s = Signer::new(m, b"k");
            s.update(b"hello ");
            s.update(b"");
            s.update(b"world");
            assert_eq!(s.finish().as_str(), digest(m, b"k", b"hello world"));
        }
    }

    #[test]
    fn method_names_round_trip() {
        for m in [AuthMethod::Crc, AuthMethod::Md5, AuthMethod::Sha1] {
            assert_eq!(m.to_string().parse::<AuthMethod>(), Ok(m));
        }
        assert_eq!(
            "SHA1".parse::<AuthMethod>(),
            Err(AuthError::UnknownMethod("SHA1".into()))
        );
    }

    #[test]
    fn keyring_validation() {
        let k = |i: u8, m, key: &[u8]| {
            let mut map = BTreeMap::new();
            map.insert(i, (m, key.to_vec()));
            map
        };
        assert!(KeyRing::new(1, k(1, AuthMethod::Sha1, b"s")).is_ok());
        assert_eq!(
            KeyRing::new(2, k(1, AuthMethod::Sha1, b"s")),
            Err(AuthError::SignIndexMissing(2))
        );
        assert_eq!(
            KeyRing::new(16, k(16, AuthMethod::Sha1, b"s")),
            Err(AuthError::IndexOutOfRange(16))
        );
        let mut two = k(1, AuthMethod::Sha1, b"s");
        two.insert(20, (AuthMethod::Crc, vec![]));
        assert_eq!(KeyRing::new(1, two), Err(AuthError::IndexOutOfRange(20)));
        assert_eq!(
            KeyRing::new(3, k(3, AuthMethod::Md5, b"")),
            Err(AuthError::EmptyKey {
                index: 3,
                method: AuthMethod::Md5
            })
        );
        assert_eq!(
            KeyRing::new(3, k(3, AuthMethod::Crc, b"x")),
            Err(AuthError::CrcWithKey { index: 3 })
        );
        let ring = KeyRing::single(15, AuthMethod::Crc, b"").unwrap();
        assert_eq!(ring.sign_index(), 15);
        assert_eq!(ring.method(15), Some(AuthMethod::Crc));
        assert_eq!(ring.method(1), None);
        assert_eq!(ring.indexes().collect::<Vec<_>>(), [15]);
    }

    #[test]
    fn keyring_debug_hides_keys() {
        let ring = KeyRing::single(1, AuthMethod::Sha1, b"topsecretkey").unwrap();
        let dbg = format!("{ring:?}");
        assert!(!dbg.contains("topsecretkey"), "{dbg}");
        assert!(!dbg.contains("116"), "key bytes as numbers: {dbg}");
        assert!(
            dbg.contains("Sha1") && dbg.contains("sign_index: 1"),
            "{dbg}"
        );
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }
}
