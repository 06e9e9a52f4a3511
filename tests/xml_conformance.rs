//! Conformance of the XML model against libvirt's own test corpus in
//! `../shared/conformance/` (see its README for the rules).

#[test]
fn corpus_is_present() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
    assert!(
        dir.join("libvirt-9.0.0").is_dir(),
        "conformance data missing at {}",
        dir.display()
    );
}
