use super::*;

#[test]
fn table_names_are_unique() {
    let mut names: Vec<&str> = DIRECTIVES.iter().map(|d| d.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len());
}

#[test]
fn every_directive_is_documented_in_docs_ha_cf_md() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ha.cf.md"))
        .expect("docs/ha.cf.md exists");
    for d in DIRECTIVES {
        assert!(
            doc.contains(&format!("### `{}`", d.name)),
            "docs/ha.cf.md has no section for '{}'",
            d.name
        );
    }
}

#[test]
fn suggestions_are_within_edit_distance_two() {
    assert_eq!(suggest("keepalvie"), Some("keepalive"));
    assert_eq!(suggest("Node"), Some("node"));
    assert_eq!(suggest("deadtim"), Some("deadtime"));
    assert_eq!(suggest("autofailback"), Some("auto_failback"));
    assert_eq!(suggest("frobnicate"), None);
}
