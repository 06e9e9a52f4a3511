//! Several `hangarctl` processes writing the same `hangar:///session` store:
//! no definition is lost, and a writer killed with SIGKILL at any moment
//! never leaves a truncated or empty definition file.

mod cli_common;

use cli_common::Sandbox;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

fn domain_xml(name: &str, mib: u64) -> String {
    format!(
        "<domain type='kvm'>\n  <name>{name}</name>\n  <memory unit='MiB'>{mib}</memory>\n  <vcpu>1</vcpu>\n  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n</domain>\n"
    )
}

/// A `hangarctl` shell fed `commands` on stdin, running in the background.
fn spawn_shell(sb: &Sandbox, commands: &str) -> Child {
    let mut child = sb
        .command(&[])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hangarctl");
    if let Some(mut stdin) = child.stdin.take() {
        // The child may already be dead (killed by the test); that is fine.
        let _ = stdin.write_all(commands.as_bytes());
    }
    child
}

fn xml_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            xml_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "xml") {
            found.push(path);
        }
    }
}

fn is_temp_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(".tmp-"))
}

#[test]
fn two_writers_defining_50_domains_each_leave_100() {
    let sb = Sandbox::new("two-writers");
    let mut scripts = Vec::new();
    for writer in ["a", "b"] {
        let mut commands = String::new();
        for i in 0..50 {
            let file = format!("{writer}{i}.xml");
            sb.write(&file, &domain_xml(&format!("{writer}-{i:02}"), 64 + i));
            commands.push_str(&format!("define {file}\n"));
        }
        scripts.push(commands);
    }
    let children: Vec<Child> = scripts.iter().map(|c| spawn_shell(&sb, c)).collect();
    for child in children {
        let out = child.wait_with_output().expect("wait for writer");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let names = sb.run(&["list", "--all", "--name"]);
    assert_eq!(names.code, 0, "{}", names.stderr);
    let listed: Vec<&str> = names.stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(listed.len(), 100, "{}", names.stdout);
    for writer in ["a", "b"] {
        for i in 0..50 {
            let name = format!("{writer}-{i:02}");
            assert!(listed.contains(&name.as_str()), "{name} missing");
        }
    }
}

#[test]
fn killed_writers_never_leave_a_truncated_definition() {
    let sb = Sandbox::new("killed-writer");
    for round in 0..12u64 {
        // Each writer redefines the same domains with new sizes, over and over.
        let mut commands = String::new();
        for i in 0..40 {
            let file = format!("r{round}-{i}.xml");
            sb.write(
                &file,
                &domain_xml(&format!("victim-{}", i % 5), 128 + round * 40 + i),
            );
            commands.push_str(&format!("define {file}\n"));
        }
        let mut child = spawn_shell(&sb, &commands);
        let jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() % 40)
            .unwrap_or(7);
        std::thread::sleep(Duration::from_millis(5 + u64::from(jitter)));
        let _ = child.kill();
        let _ = child.wait();

        // A killed writer may leave its temp file (".tmp-*") behind; it is
        // never read as a definition and the next opener removes it.
        let mut files = Vec::new();
        xml_files(&sb.data(), &mut files);
        let (temps, definitions): (Vec<_>, Vec<_>) =
            files.into_iter().partition(|f| is_temp_file(f));
        for file in &definitions {
            let text = std::fs::read_to_string(file).expect("read definition");
            assert!(!text.trim().is_empty(), "empty {}", file.display());
            assert!(
                hangar_core::xml::Element::parse(&text).is_ok(),
                "truncated {}:\n{text}",
                file.display()
            );
        }
        let list = sb.run(&["list", "--all", "--name"]);
        assert_eq!(list.code, 0, "round {round}: {}", list.stderr);
        for temp in &temps {
            assert!(!temp.exists(), "stale temp kept: {}", temp.display());
        }
    }
    let list = sb.run(&["list", "--all", "--name"]);
    let names: Vec<&str> = list.stdout.lines().filter(|l| !l.is_empty()).collect();
    assert!(names.len() <= 5, "{}", list.stdout);
}
