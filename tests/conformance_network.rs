//! libvirt's network xml2xml corpus (`../shared/conformance/libvirt-9.0.0/
//! networkxml2xmlin` and `...out`): every definition formats to libvirt's
//! canonical output, the outputs are fixed points, and the four cases
//! libvirt rejects are rejected with an error naming the problem.

use std::path::{Path, PathBuf};

use hangar_core::xml::tree::compare_documents;
use hangar_core::xml::{Element, Network};

/// The corpus lives in `shared/` beside the repository (`../shared` from
/// its root); a git worktree sits deeper, so look upwards for it.
fn corpus() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/conformance/libvirt-9.0.0"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| manifest.join("../../shared/conformance/libvirt-9.0.0"))
}

/// Reads a corpus file. Some are git symlinks checked out as plain files
/// holding the relative path of their target; follow those.
fn read_corpus_file(path: &Path) -> String {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let trimmed = text.trim();
    if !trimmed.starts_with('<') && trimmed.ends_with(".xml") && !trimmed.contains('\n') {
        let target = path.parent().unwrap_or(Path::new(".")).join(trimmed);
        return read_corpus_file(&target);
    }
    text
}

/// Drops `<uuid>` from a document (used when the input had none, so that
/// libvirt generated one from a mocked random source).
fn without_uuid(xml: &str) -> String {
    let mut el = Element::parse(xml).expect("corpus output parses as XML");
    el.children
        .retain(|n| !matches!(n, hangar_core::xml::tree::Node::Element(e) if e.name == "uuid"));
    el.to_xml()
}

const EXPECTED_FAILURES: &[(&str, &[&str])] = &[
    ("routed-network-no-dns-extra-elements", &["disabled", "dns"]),
    ("open-network-with-forward-dev", &["forward dev", "open"]),
    ("hostdev-duplicate", &["0000:03:00.3", "once"]),
    ("passthrough-duplicate", &["eth3", "once"]),
];

#[test]
fn network_xml2xml() {
    let dir_in = corpus().join("networkxml2xmlin");
    let dir_out = corpus().join("networkxml2xmlout");
    let mut names: Vec<String> = std::fs::read_dir(&dir_in)
        .expect("network corpus present")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".xml").map(str::to_string))
        .collect();
    names.sort();

    let mut total = 0;
    let mut passed = 0;
    let mut identical = 0;
    let mut failures = Vec::new();
    for name in &names {
        let out_path = dir_out.join(format!("{name}.xml"));
        if !out_path.exists() {
            continue;
        }
        total += 1;
        let input = read_corpus_file(&dir_in.join(format!("{name}.xml")));
        let expected = read_corpus_file(&out_path);
        let input_has_uuid = Element::parse(&input)
            .map(|e| e.child("uuid").is_some())
            .unwrap_or(false);
        let result = (|| -> Result<bool, String> {
            let net = Network::parse(&input).map_err(|e| format!("parse in: {e}"))?;
            let formatted = net.to_xml();
            let (got, want) = if input_has_uuid {
                (formatted.clone(), expected.clone())
            } else {
                (without_uuid(&formatted), without_uuid(&expected))
            };
            compare_documents(&got, &want).map_err(|e| format!("in -> out: {e}\n{formatted}"))?;
            let again = Network::parse(&expected)
                .map_err(|e| format!("parse out: {e}"))?
                .to_xml();
            compare_documents(&again, &expected).map_err(|e| format!("out -> out: {e}"))?;
            Ok(again == expected)
        })();
        match result {
            Ok(same_bytes) => {
                passed += 1;
                identical += usize::from(same_bytes);
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    println!("network xml2xml: {passed}/{total}");
    println!("network out files reproduced byte for byte: {identical}/{total}");

    let mut failed_ok = 0;
    for (name, words) in EXPECTED_FAILURES {
        let input = read_corpus_file(&dir_in.join(format!("{name}.xml")));
        match Network::parse(&input) {
            Ok(_) => failures.push(format!("{name}: parsed, but libvirt rejects it")),
            Err(e) => {
                let msg = e.to_string();
                if words.iter().all(|w| msg.contains(w)) {
                    failed_ok += 1;
                } else {
                    failures.push(format!("{name}: error does not name the problem: {msg}"));
                }
            }
        }
    }
    println!(
        "network expected failures: {failed_ok}/{}",
        EXPECTED_FAILURES.len()
    );
    assert!(total >= 42, "corpus incomplete: {total} cases");
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}
