//! Domain XML conformance against libvirt 9.0.0's test corpus in
//! `../shared/conformance/libvirt-9.0.0/domain-xml` (about 1,070 files):
//! every file either round-trips (parse → format → parse gives an equal
//! model, and formatting again gives identical text) or is rejected with an
//! error naming the element or value at fault; none may panic. The seeds'
//! domain, virt-install-style definitions and the test-driver files must load.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use hangar_core::xml::{Domain, Element, XmlError};

/// `../shared` next to the project root (`$CARGO_MANIFEST_DIR/../../shared`);
/// from a git worktree elsewhere, the nearest ancestor holding `shared/`.
fn shared() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let direct = manifest.join("../../shared");
    if direct.join("conformance").is_dir() {
        return direct;
    }
    manifest
        .ancestors()
        .map(|a| a.join("shared"))
        .find(|s| s.join("conformance").is_dir())
        .unwrap_or(direct)
}

/// What happened to one document.
enum Outcome {
    RoundTrip,
    Rejected(XmlError),
    /// Parsed, but formatting did not give back an equal model or a fixed point.
    Unstable(String),
    Panicked,
}

fn check(xml: &str) -> Outcome {
    let run = catch_unwind(AssertUnwindSafe(|| -> Result<Option<String>, XmlError> {
        let first = Domain::parse(xml)?;
        let text = first.to_xml();
        let second = match Domain::parse(&text) {
            Ok(d) => d,
            Err(e) => return Ok(Some(format!("formatted XML does not parse: {e}\n{text}"))),
        };
        if second != first {
            return Ok(Some(format!("model changed through format:\n{text}")));
        }
        let again = second.to_xml();
        if again != text {
            return Ok(Some(format!(
                "formatting is not a fixed point:\n{text}\n---\n{again}"
            )));
        }
        Ok(None)
    }));
    match run {
        Ok(Ok(None)) => Outcome::RoundTrip,
        Ok(Ok(Some(why))) => Outcome::Unstable(why),
        Ok(Err(e)) => Outcome::Rejected(e),
        Err(_) => Outcome::Panicked,
    }
}

/// Groups an error by what it is about, without the offending value.
fn reason(e: &XmlError) -> String {
    match e {
        XmlError::Malformed { .. } => "malformed XML".to_string(),
        XmlError::WrongRoot { found, .. } => format!("wrong root <{found}>"),
        XmlError::MissingElement { parent, element } => {
            format!("missing <{element}> in <{parent}>")
        }
        XmlError::MissingAttribute { element, attribute } => {
            format!("missing '{attribute}' on <{element}>")
        }
        XmlError::Invalid { what, .. } => format!("invalid {what}"),
        XmlError::Conflict(m) => format!("conflict: {}", without_quoted_values(m)),
        XmlError::Unsupported(m) => format!("unsupported: {m}"),
    }
}

/// `m` with every '...' value replaced by '…', so similar errors group together.
fn without_quoted_values(m: &str) -> String {
    let mut out = String::new();
    for (i, part) in m.split('\'').enumerate() {
        out.push_str(if i % 2 == 0 { part } else { "'…'" });
    }
    out
}

/// An error must say which element, attribute or value it is about.
fn names_its_subject(e: &XmlError) -> bool {
    let m = e.to_string();
    m.contains('<') || m.contains('\'')
}

#[test]
fn domain_corpus_round_trips_or_is_rejected_without_panics() {
    let dir = shared().join("conformance/libvirt-9.0.0/domain-xml");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    assert!(
        files.len() > 1000,
        "corpus incomplete: {} files",
        files.len()
    );

    let mut round_trip = 0usize;
    let mut rejected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unstable: Vec<(String, String)> = Vec::new();
    let mut panicked: Vec<String> = Vec::new();
    let mut vague: Vec<(String, String)> = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let xml = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        match check(&xml) {
            Outcome::RoundTrip => round_trip += 1,
            Outcome::Rejected(e) => {
                if !names_its_subject(&e) {
                    vague.push((name.clone(), e.to_string()));
                }
                rejected.entry(reason(&e)).or_default().push(name);
            }
            Outcome::Unstable(why) => unstable.push((name, why)),
            Outcome::Panicked => panicked.push(name),
        }
    }
    let total_rejected: usize = rejected.values().map(Vec::len).sum();
    println!(
        "domain xml: {round_trip} round-trip, {total_rejected} rejected, {} unstable, {} panics (of {} files)",
        unstable.len(),
        panicked.len(),
        files.len()
    );
    let mut by_count: Vec<(&String, &Vec<String>)> = rejected.iter().collect();
    by_count.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    for (why, names) in by_count {
        let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
        let more = if names.len() > 3 { ", ..." } else { "" };
        println!(
            "  rejected {:4}  {why}  ({}{more})",
            names.len(),
            shown.join(", ")
        );
    }
    for (name, why) in unstable.iter().take(5) {
        println!("unstable {name}: {why}");
    }
    assert!(panicked.is_empty(), "parser panicked on: {panicked:?}");
    assert!(
        unstable.is_empty(),
        "{} files parse but do not round-trip: {:?}",
        unstable.len(),
        unstable.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    assert!(vague.is_empty(), "errors that name no element: {vague:?}");
    // Everything a plain KVM guest uses must be accepted; only a small share
    // of the corpus (its negative and exotic cases) may be rejected.
    assert!(
        round_trip * 100 >= files.len() * 90,
        "only {round_trip} of {} files round-trip",
        files.len()
    );
    for must in [
        "minimal.xml",
        "disk-cdrom.xml",
        "net-user.xml",
        "graphics-vnc.xml",
        "graphics-spice.xml",
        "kvmclock.xml",
        "serial-pty.xml",
        "console-compat.xml",
    ] {
        if dir.join(must).exists() {
            assert!(
                matches!(
                    check(&std::fs::read_to_string(dir.join(must)).unwrap_or_default()),
                    Outcome::RoundTrip
                ),
                "{must} must round-trip"
            );
        }
    }
}

/// The `<domain>` documents inside the seed notes (markdown with XML).
fn seed_domains() -> Vec<(String, String)> {
    let dir = shared().join("seeds");
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("<domain ") {
            let Some(len) = rest[start..].find("</domain>") else {
                break;
            };
            let end = start + len + "</domain>".len();
            out.push((path.display().to_string(), rest[start..end].to_string()));
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn seed_domains_round_trip() {
    let seeds = seed_domains();
    assert!(!seeds.is_empty(), "no <domain> found in the seeds");
    for (file, xml) in &seeds {
        match check(xml) {
            Outcome::RoundTrip => {}
            Outcome::Rejected(e) => panic!("seed domain in {file} rejected: {e}"),
            Outcome::Unstable(why) => panic!("seed domain in {file}: {why}"),
            Outcome::Panicked => panic!("seed domain in {file} panicked"),
        }
    }
    println!("seed domains: {} round-trip", seeds.len());
}

fn domains_in_node_file(path: &Path) -> Vec<Element> {
    let xml = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let root = Element::parse(&xml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    root.children_named("domain").cloned().collect()
}

#[test]
fn test_driver_domains_load() {
    let conf = shared().join("conformance");
    let mut count = 0;
    for file in [
        conf.join("virt-manager/testdriver.xml"),
        conf.join("virt-manager/testdefault.xml"),
        conf.join("libvirt-9.0.0/examples-xml-test/testnodeinline.xml"),
    ] {
        for el in domains_in_node_file(&file) {
            let d = Domain::from_element(&el)
                .unwrap_or_else(|e| panic!("{}: domain at line {}: {e}", file.display(), el.line));
            let again = Domain::parse(&d.to_xml())
                .unwrap_or_else(|e| panic!("{}: {} does not reparse: {e}", file.display(), d.name));
            assert_eq!(
                again,
                d,
                "{}: {} changed through format",
                file.display(),
                d.name
            );
            count += 1;
        }
    }
    let examples = conf.join("libvirt-9.0.0/examples-xml-test");
    for name in ["testdomfc4.xml", "testdomfc5.xml", "testdomfv0.xml"] {
        let xml = std::fs::read_to_string(examples.join(name)).unwrap_or_default();
        let d = Domain::parse(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            Domain::parse(&d.to_xml()).ok(),
            Some(d),
            "{name} round-trips"
        );
        count += 1;
    }
    assert!(count >= 17, "only {count} test-driver domains found");
    println!("test-driver domains: {count} load");
}

/// Every (element path, attribute, value) and (element path, text) of `el`.
fn facts(el: &Element, path: &str, out: &mut std::collections::HashSet<String>) {
    let path = format!("{path}/{}", el.name);
    for (k, v) in &el.attrs {
        out.insert(format!("{path} @{k}={v}"));
    }
    let text = el.text();
    if !text.trim().is_empty() {
        out.insert(format!("{path} text={}", text.trim()));
    }
    for c in el.elements() {
        facts(c, &path, out);
    }
}

/// Facts the formatter rewrites on purpose: sizes become KiB with
/// `unit='KiB'`, UUIDs and MACs are written in canonical form.
fn normalised_on_purpose(fact: &str) -> bool {
    let sized = ["/memory", "/currentMemory", "/maxMemory"];
    sized
        .iter()
        .any(|s| fact.starts_with(&format!("/domain{s} ")))
        || fact.starts_with("/domain/uuid text=")
        || fact.contains("/mac @address=")
}

#[test]
fn formatting_loses_nothing_the_user_wrote() {
    let dir = shared().join("conformance/libvirt-9.0.0/domain-xml");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    let mut lost: Vec<String> = Vec::new();
    let mut checked = 0;
    for path in &files {
        let xml = std::fs::read_to_string(path).unwrap_or_default();
        let Ok(d) = Domain::parse(&xml) else { continue };
        let (Ok(input), Ok(output)) = (Element::parse(&xml), Element::parse(&d.to_xml())) else {
            panic!("{}: formatted XML does not parse", path.display());
        };
        let mut before = std::collections::HashSet::new();
        let mut after = std::collections::HashSet::new();
        facts(&input, "", &mut before);
        facts(&output, "", &mut after);
        for f in before.difference(&after) {
            if !normalised_on_purpose(f) {
                lost.push(format!(
                    "{}: {f}",
                    path.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default()
                ));
            }
        }
        checked += 1;
    }
    println!(
        "domain xml: {checked} accepted files checked for lost content, {} facts lost",
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "content lost in formatting:\n{}",
        lost.join("\n")
    );
}
