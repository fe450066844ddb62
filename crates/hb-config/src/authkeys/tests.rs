use std::os::unix::fs::PermissionsExt;

use super::*;

fn parse(text: &str) -> Result<Parsed<KeyRing>, ConfigErrors> {
    parse_authkeys(text, Path::new("authkeys"))
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(p) => panic!("expected errors, parsed {:?}", p.value),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

fn warnings(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(p) => p.warnings.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn ring(sign: u8, keys: &[(u8, AuthMethod, &[u8])]) -> KeyRing {
    let map = keys
        .iter()
        .map(|(i, m, k)| (*i, (*m, k.to_vec())))
        .collect();
    KeyRing::new(sign, map).unwrap()
}

#[test]
fn tutorial_authkeys_loads() {
    let parsed = parse("auth 1\n1 md5 3530ba6f2c7d15fb93dc5b438c22f4a7\n").unwrap();
    assert!(parsed.warnings.is_empty());
    assert_eq!(
        parsed.value,
        ring(
            1,
            &[(1, AuthMethod::Md5, b"3530ba6f2c7d15fb93dc5b438c22f4a7")]
        )
    );
    assert_eq!(parsed.value.sign_index(), 1);
    assert_eq!(parsed.value.method(1), Some(AuthMethod::Md5));
}

#[test]
fn several_keys_comments_and_any_order() {
    let text = "# keys\n\n  2 sha1 HI!\n3 md5 Hello! # old key\n\tauth 2\n1 crc\n0 crc # comment\n";
    let parsed = parse(text).unwrap();
    // Only the crc lines warn (see crc_keys_beside_a_real_key_are_never_accepted).
    assert_eq!(parsed.warnings.len(), 2, "{:?}", parsed.warnings);
    assert!(
        parsed
            .warnings
            .iter()
            .all(|w| w.message.contains("uses crc")),
        "{:?}",
        parsed.warnings
    );
    assert_eq!(
        parsed.value,
        ring(
            2,
            &[
                (0, AuthMethod::Crc, b""),
                (1, AuthMethod::Crc, b""),
                (2, AuthMethod::Sha1, b"HI!"),
                (3, AuthMethod::Md5, b"Hello!"),
            ]
        )
    );
}

#[test]
fn keys_are_bytes_as_written() {
    let parsed = parse_authkeys_bytes(b"auth 15\r\n15 sha1 k\xffey#x\r\n", Path::new("a")).unwrap();
    assert_eq!(
        parsed.value,
        ring(15, &[(15, AuthMethod::Sha1, b"k\xffey#x")])
    );
}

#[test]
fn crc_signing_warns_that_it_authenticates_nothing() {
    assert_eq!(
        warnings("auth 1\n1 crc\n"),
        vec![
            "authkeys:1: auth 1 signs with crc, which authenticates nothing: anyone on the \
             network can forge heartbeats; use sha1 with a secret key"
        ]
    );
}

#[test]
fn crc_keys_beside_a_real_key_are_never_accepted() {
    // The finding: `2 crc` beside `1 sha1` let anyone in, and nothing said so.
    let parsed = parse("auth 1\n1 sha1 secret\n2 crc\n").unwrap();
    assert_eq!(
        parsed
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![
            "authkeys:3: key 2 uses crc, which authenticates nothing, beside the sha1 key that \
             signs: messages signed with it are never accepted; remove this line"
        ]
    );
    assert!(parsed.value.accepts(1));
    assert!(!parsed.value.accepts(2));
}

#[test]
fn every_crc_line_warns() {
    // crc signs: the auth line says so, and each further crc key warns that it authenticates
    // nothing (it is accepted: there is no authentication to weaken).
    assert_eq!(
        warnings("auth 1\n1 crc\n3 crc\n2 md5 k\n"),
        vec![
            "authkeys:1: auth 1 signs with crc, which authenticates nothing: anyone on the \
             network can forge heartbeats; use sha1 with a secret key",
            "authkeys:3: key 3 uses crc, which authenticates nothing: anyone on the network can \
             forge heartbeats with it",
        ]
    );
    assert_eq!(
        warnings("auth 4\n0 crc\n4 md5 k\n15 crc # old\n"),
        vec![
            "authkeys:2: key 0 uses crc, which authenticates nothing, beside the md5 key that \
             signs: messages signed with it are never accepted; remove this line",
            "authkeys:4: key 15 uses crc, which authenticates nothing, beside the md5 key that \
             signs: messages signed with it are never accepted; remove this line",
        ]
    );
}

#[test]
fn odd_but_accepted_lines_warn() {
    assert_eq!(
        warnings("auth 1\n1 sha1 #secret\n"),
        vec!["authkeys:2: key 1 starts with '#': it is used as the key, not read as a comment"]
    );
    assert_eq!(
        warnings("auth 1 extra\n1 sha1 secret more words\n"),
        vec![
            "authkeys:1: text after the last value is ignored",
            "authkeys:2: text after the last value is ignored",
        ]
    );
}

#[test]
fn each_error_class_is_reported_with_its_line() {
    assert_eq!(
        errors("1 md5 k\n"),
        vec!["authkeys: missing 'auth N' line selecting the key that signs outgoing messages"]
    );
    assert_eq!(
        errors("auth 1\nauth 1\n1 md5 k\n"),
        vec!["authkeys:2: 'auth' repeated (first on line 1); give exactly one"]
    );
    assert_eq!(
        errors("auth 2\n1 md5 k\n"),
        vec!["authkeys:1: auth 2 selects key index 2, which is not defined"]
    );
    assert_eq!(
        errors("auth x\n1 md5 k\n"),
        vec![
            "authkeys:1: invalid auth index 'x': expected 0-15",
            "authkeys: missing 'auth N' line selecting the key that signs outgoing messages"
        ]
    );
    assert_eq!(
        errors("auth\n1 md5 k\nauth 1\n"),
        vec!["authkeys:1: 'auth' needs the index of the signing key: auth N"]
    );
    assert_eq!(
        errors("auth 1\n1 md5 k\n16 md5 k\n"),
        vec!["authkeys:3: key index 16 out of range: expected 0-15"]
    );
    assert_eq!(
        errors("auth 1\n1 md5 k\nkey md5 k\n"),
        vec!["authkeys:3: invalid line starting with 'key': expected 'auth N' or 'N METHOD [KEY]'"]
    );
    assert_eq!(
        errors("auth 1\n1 md5 k\n2\n"),
        vec!["authkeys:3: key 2 needs a method: 2 crc|md5|sha1 [KEY]"]
    );
    assert_eq!(
        errors("auth 1\n1 md5 k\n2 sha256 k\n"),
        vec!["authkeys:3: unknown authentication method 'sha256' (expected crc, md5 or sha1)"]
    );
    assert_eq!(
        errors("auth 1\n1 md5\n"),
        vec![
            "authkeys:2: key 1: method md5 needs a key",
            "authkeys:1: auth 1 selects key index 1, which is not defined",
        ]
    );
    assert_eq!(
        errors("auth 1\n1 sha1 k\n2 crc secret\n"),
        vec!["authkeys:3: key 2: method crc takes no key"]
    );
    assert_eq!(
        errors("auth 1\n1 sha1 k\n1 md5 j\n"),
        vec!["authkeys:3: key index 1 defined twice (first on line 2)"]
    );
}

#[test]
fn method_names_are_case_insensitive() {
    assert_eq!(
        parse("auth 1\n1 SHA1 k\n").unwrap().value,
        ring(1, &[(1, AuthMethod::Sha1, b"k")])
    );
}

#[test]
fn secret_file_problem_names_owner_mode_and_fix() {
    assert_eq!(secret_file_problem(0, 0o100600), None);
    assert_eq!(secret_file_problem(0, 0o400), None);
    assert_eq!(
        secret_file_problem(0, 0o644),
        Some("mode is 0644; run chmod 600".into())
    );
    assert_eq!(
        secret_file_problem(0, 0o610),
        Some("mode is 0610; run chmod 600".into())
    );
    assert_eq!(
        secret_file_problem(1000, 0o600),
        Some("owner is uid 1000; run chown root".into())
    );
    assert_eq!(
        secret_file_problem(1000, 0o604),
        Some("owner is uid 1000, mode is 0604; run chown root and chmod 600".into())
    );
}

#[test]
fn permission_check_reads_the_file_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authkeys");
    std::fs::write(&path, "auth 1\n1 sha1 k\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = check_authkeys_permissions(&path).unwrap_err();
    assert_eq!(err.file, path);
    assert_eq!(err.line, None);
    assert!(
        err.message
            .starts_with("must be owned by root and not accessible by group or others ("),
        "{}",
        err.message
    );
    assert!(err.message.contains("mode is 0644"), "{}", err.message);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let owner = std::fs::metadata(&path).unwrap().uid();
    if owner == 0 {
        assert_eq!(check_authkeys_permissions(&path), Ok(()));
    } else {
        eprintln!("not root: a 0600 file owned by uid {owner} must still be refused");
        assert!(check_authkeys_permissions(&path).is_err());
    }

    let missing = dir.path().join("nope");
    assert!(
        check_authkeys_permissions(&missing)
            .unwrap_err()
            .message
            .starts_with("cannot inspect:")
    );
}
