//! Field-for-field agreement with the independent decoder `hbdecode.py` (stdlib Python,
//! written for the capture study) on every captured datagram: same datagrams extracted from
//! the pcaps, same field names, types, values and order.
//!
//! Needs `python3`; without it (or without the captures) the test skips loudly, and fails
//! under `CI=true`. Run with `cargo test -p hb-proto --test hbdecode_agreement`.

mod common;

use std::io::Write as _;
use std::process::Command;

use hb_proto::{Field, Message, Value, decode};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The same canonical rendering as `render()` in `hbdecode_adapter.py`.
fn render(msg: &Message) -> String {
    msg.fields()
        .iter()
        .map(|Field { name, value }| {
            let val = match value {
                Value::Str(v) | Value::Binary(v) | Value::Compressed(v) => hex(v),
                Value::Struct(m) => format!("{{{}}}", render(m)),
                Value::List(items) => {
                    let items: Vec<String> = items.iter().map(|i| hex(i)).collect();
                    format!("[{}]", items.join(","))
                }
            };
            format!("{}:{}={}", value.type_code(), hex(name.as_bytes()), val)
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn skip_or_fail(msg: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg} (CI=true: this is a failure)");
    }
    let bar = "!".repeat(78);
    let _ = std::io::stderr().write_all(format!("\n{bar}\n!!! SKIPPED: {msg}\n{bar}\n").as_bytes());
}

#[test]
fn decoder_agrees_with_hbdecode_py_on_every_datagram() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let captures = shared.join("interop/captures");
    let adapter = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hbdecode_adapter.py");
    let output = match Command::new("python3")
        .arg(adapter)
        .arg(captures.join("tools"))
        .arg(&captures)
        .output()
    {
        Ok(o) => o,
        Err(e) => return skip_or_fail(&format!("cannot run python3: {e}")),
    };
    assert!(
        output.status.success(),
        "adapter failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("adapter prints ASCII");
    let reference: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();

    let ours = common::all_datagrams(&shared);
    assert_eq!(
        reference.len(),
        ours.len(),
        "both readers see the same datagrams"
    );

    let mut compared = 0;
    for (line, d) in reference.iter().zip(&ours) {
        let [file, number, payload, rendering] = line.as_slice() else {
            panic!("bad adapter line {line:?}");
        };
        assert_eq!(
            (*file, *number),
            (d.file.as_str(), d.number.to_string().as_str())
        );
        assert_eq!(
            *payload,
            hex(&d.payload),
            "{file} #{number}: payload extraction differs"
        );
        match decode(&d.payload) {
            Ok(decoded) => {
                assert_eq!(
                    render(&decoded.msg),
                    *rendering,
                    "{file} #{number}: field lists differ"
                );
                compared += 1;
            }
            Err(e) => {
                // Only the documented malformed injections may fail here; hbdecode is laxer
                // about type digits (it accepts the (7) field) but rejects the others.
                let want = common::malformed_expectation(d).unwrap_or_else(|| {
                    panic!("{file} #{number}: we fail ({e}), hbdecode: {rendering}")
                });
                assert_eq!(e, want);
                assert!(
                    *rendering == "ERR" || rendering.split(';').any(|f| f.starts_with("7:")),
                    "{file} #{number}: hbdecode parsed it as {rendering}"
                );
            }
        }
    }
    assert!(compared > 2800, "only {compared} datagrams compared");
}
