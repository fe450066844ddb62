//! `authkeys`: `auth N` selects the signing key, `N crc|md5|sha1 [KEY]` defines keys.
//!
//! Keys are bytes (the file is read as bytes, so a key is used exactly as written). As in
//! Heartbeat, a line is read as its first words: `auth` and the index, or the index, the
//! method and the key; the key is the first blank-free word, and anything after it is
//! ignored (with a warning unless it is a `#` comment).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{ConfigErrors, Diagnostic, Diags, Parsed};
use crate::proto::{AuthMethod, KeyRing, MAX_KEY_INDEX};

/// Parses `authkeys` text. `file` only names the file in diagnostics.
///
/// # Errors
/// Every problem found, each as `file:line: message`.
pub fn parse_authkeys(text: &str, file: &Path) -> Result<Parsed<KeyRing>, ConfigErrors> {
    parse_authkeys_bytes(text.as_bytes(), file)
}

/// Parses `authkeys` bytes (keys need not be UTF-8).
///
/// # Errors
/// Every problem found, each as `file:line: message`.
pub fn parse_authkeys_bytes(data: &[u8], file: &Path) -> Result<Parsed<KeyRing>, ConfigErrors> {
    let mut diags = Diags::new(file);
    let ring = parse_into(data, &mut diags);
    diags.finish(ring)
}

fn show(word: &[u8]) -> String {
    String::from_utf8_lossy(word).into_owned()
}

fn parse_index(word: &[u8]) -> Option<u8> {
    if word.is_empty() || !word.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(word)
        .ok()?
        .parse::<u8>()
        .ok()
        .filter(|i| *i <= MAX_KEY_INDEX)
}

pub(crate) fn parse_into(data: &[u8], diags: &mut Diags) -> Option<KeyRing> {
    let mut sign: Option<(u8, usize)> = None;
    let mut keys: BTreeMap<u8, (AuthMethod, Vec<u8>)> = BTreeMap::new();
    let mut key_lines: BTreeMap<u8, usize> = BTreeMap::new();
    for (idx, raw) in data.split(|b| *b == b'\n').enumerate() {
        let lineno = idx + 1;
        let at = Some(lineno);
        let words: Vec<&[u8]> = raw
            .split(u8::is_ascii_whitespace)
            .filter(|w| !w.is_empty())
            .collect();
        let Some((first, rest)) = words.split_first() else {
            continue;
        };
        if first.starts_with(b"#") {
            continue;
        }
        if *first == b"auth" {
            let Some(word) = rest.first() else {
                diags.error(at, "'auth' needs the index of the signing key: auth N");
                continue;
            };
            let Some(index) = parse_index(word) else {
                diags.error(
                    at,
                    format!(
                        "invalid auth index '{}': expected 0-{MAX_KEY_INDEX}",
                        show(word)
                    ),
                );
                continue;
            };
            if let Some((_, first_line)) = sign {
                diags.error(
                    at,
                    format!("'auth' repeated (first on line {first_line}); give exactly one"),
                );
                continue;
            }
            warn_trailing(rest.get(1..).unwrap_or_default(), lineno, diags);
            sign = Some((index, lineno));
            continue;
        }
        let Some(index) = parse_index(first) else {
            if first.iter().all(u8::is_ascii_digit) {
                diags.error(
                    at,
                    format!(
                        "key index {} out of range: expected 0-{MAX_KEY_INDEX}",
                        show(first)
                    ),
                );
            } else {
                diags.error(
                    at,
                    format!(
                        "invalid line starting with '{}': expected 'auth N' or 'N METHOD [KEY]'",
                        show(first)
                    ),
                );
            }
            continue;
        };
        let Some(method_word) = rest.first() else {
            diags.error(
                at,
                format!("key {index} needs a method: {index} crc|md5|sha1 [KEY]"),
            );
            continue;
        };
        let method_name = show(method_word).to_ascii_lowercase();
        let Ok(method) = method_name.parse::<AuthMethod>() else {
            diags.error(
                at,
                format!(
                    "unknown authentication method '{}' (expected crc, md5 or sha1)",
                    show(method_word)
                ),
            );
            continue;
        };
        let after_method = rest.get(1..).unwrap_or_default();
        let key: Vec<u8> = match (method, after_method.split_first()) {
            (AuthMethod::Crc, Some((word, _))) if !word.starts_with(b"#") => {
                diags.error(at, format!("key {index}: method crc takes no key"));
                continue;
            }
            (AuthMethod::Crc, _) => Vec::new(),
            (_, None) => {
                diags.error(at, format!("key {index}: method {method_name} needs a key"));
                continue;
            }
            (_, Some((word, trailing))) => {
                if word.starts_with(b"#") {
                    diags.warn(
                        at,
                        format!(
                            "key {index} starts with '#': it is used as the key, not read as a \
                             comment"
                        ),
                    );
                }
                warn_trailing(trailing, lineno, diags);
                word.to_vec()
            }
        };
        if let Some(first_line) = key_lines.get(&index) {
            diags.error(
                at,
                format!("key index {index} defined twice (first on line {first_line})"),
            );
            continue;
        }
        key_lines.insert(index, lineno);
        keys.insert(index, (method, key));
    }

    let Some((sign_index, sign_line)) = sign else {
        diags.error(
            None,
            "missing 'auth N' line selecting the key that signs outgoing messages",
        );
        return None;
    };
    let Some((method, _)) = keys.get(&sign_index) else {
        diags.error(
            Some(sign_line),
            format!("auth {sign_index} selects key index {sign_index}, which is not defined"),
        );
        return None;
    };
    if *method == AuthMethod::Crc {
        diags.warn(
            Some(sign_line),
            format!(
                "auth {sign_index} signs with crc, which authenticates nothing: anyone on the \
                 network can forge heartbeats; use sha1 with a secret key"
            ),
        );
    }
    if diags.has_errors() {
        return None;
    }
    match KeyRing::new(sign_index, keys) {
        Ok(ring) => {
            warn_crc_keys(&ring, &key_lines, diags);
            Some(ring)
        }
        Err(e) => {
            diags.error(None, e.to_string());
            None
        }
    }
}

/// One warning on every crc key line other than the signing one (the `auth` line has its
/// own): crc needs no secret, so it authenticates nothing. Whether such a key is accepted at
/// all is the key ring's rule ([`KeyRing::accepts`]): only while crc also signs.
fn warn_crc_keys(ring: &KeyRing, key_lines: &BTreeMap<u8, usize>, diags: &mut Diags) {
    let sign = ring.sign_index();
    for (&index, &line) in key_lines {
        if index == sign || ring.method(index) != Some(AuthMethod::Crc) {
            continue;
        }
        let message = if ring.accepts(index) {
            format!(
                "key {index} uses crc, which authenticates nothing: anyone on the network can \
                 forge heartbeats with it"
            )
        } else {
            format!(
                "key {index} uses crc, which authenticates nothing, beside the {} key that \
                 signs: messages signed with it are never accepted; remove this line",
                ring.method(sign).map(|m| m.as_str()).unwrap_or_default()
            )
        };
        diags.warn(Some(line), message);
    }
}

fn warn_trailing(trailing: &[&[u8]], lineno: usize, diags: &mut Diags) {
    if trailing.first().is_some_and(|w| !w.starts_with(b"#")) {
        diags.warn(Some(lineno), "text after the last value is ignored");
    }
}

/// Refuses an `authkeys` file that is not owned by root or that group or others may access.
///
/// # Errors
/// A diagnostic naming the file, its owner and mode, and the fix.
pub fn check_authkeys_permissions(path: &Path) -> Result<(), Diagnostic> {
    let meta = fs::metadata(path)
        .map_err(|e| Diagnostic::new(path, None, format!("cannot inspect: {e}")))?;
    match secret_file_problem(meta.uid(), meta.mode()) {
        None => Ok(()),
        Some(why) => Err(Diagnostic::new(
            path,
            None,
            format!("must be owned by root and not accessible by group or others ({why})"),
        )),
    }
}

/// Why a secret file with this owner and mode is refused, if it is.
pub(crate) fn secret_file_problem(uid: u32, mode: u32) -> Option<String> {
    let mode = mode & 0o7777;
    match (uid != 0, mode & 0o077 != 0) {
        (false, false) => None,
        (false, true) => Some(format!("mode is {mode:04o}; run chmod 600")),
        (true, false) => Some(format!("owner is uid {uid}; run chown root")),
        (true, true) => Some(format!(
            "owner is uid {uid}, mode is {mode:04o}; run chown root and chmod 600"
        )),
    }
}

#[cfg(test)]
mod tests;
