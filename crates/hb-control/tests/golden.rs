//! docs/control.md against the types: every JSON example of the document decodes into
//! hb-control's types, and encoding what was decoded gives back the same JSON value, so the
//! document and the protocol cannot drift apart.

use std::path::PathBuf;

use hb_control::{Reply, Request, Status, decode_request, encode_request};
use serde_json::Value;

fn document() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/control.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The contents of the ```json blocks.
fn json_blocks(doc: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```json") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unterminated ```json block");
    blocks
}

/// The inline code spans that are complete JSON objects with a `version` (the request
/// examples of the command table; spans with `...` are patterns, not examples).
fn inline_objects(doc: &str) -> Vec<Value> {
    doc.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("{\"version\"") && !span.contains("..."))
        .filter_map(|span| serde_json::from_str(span).ok())
        .collect()
}

#[test]
fn the_status_example_decodes_and_encodes_back_to_the_same_json() {
    let doc = document();
    let blocks = json_blocks(&doc);
    assert_eq!(blocks.len(), 1, "docs/control.md has one JSON example");
    for block in blocks {
        let written: Value = serde_json::from_str(&block).expect("the example is JSON");
        let reply: Reply<Status> =
            serde_json::from_value(written.clone()).expect("the example decodes as a status reply");
        assert!(reply.ok);
        let status = &reply.body;
        assert_eq!(status.node.as_deref(), Some("node1"));
        assert_eq!(status.groups[0].resources[0].monitors, 12);
        assert!(
            !status.nodes.is_empty() && !status.groups.is_empty(),
            "the example shows nodes and groups"
        );
        let encoded = serde_json::to_value(&reply).unwrap();
        assert_eq!(
            encoded, written,
            "encoding the decoded example differs from docs/control.md"
        );
    }
}

#[test]
fn the_request_examples_decode_and_encode_back() {
    let doc = document();
    let requests: Vec<Value> = inline_objects(&doc)
        .into_iter()
        .filter(|v| v.get("command").is_some())
        .collect();
    let commands: Vec<&str> = requests
        .iter()
        .filter_map(|v| v["command"].as_str())
        .collect();
    for c in ["status", "cleanup", "shutdown"] {
        assert!(commands.contains(&c), "no {c} example in {commands:?}");
    }
    for written in requests {
        let request: Request =
            decode_request(&written.to_string()).unwrap_or_else(|e| panic!("{written}: {e}"));
        let line = encode_request(&request).unwrap();
        let encoded: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(encoded, written);
    }
}
