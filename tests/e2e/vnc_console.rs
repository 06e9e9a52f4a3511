//! The app's GTK console against the built-in VNC server, in the sandbox:
//! while the `vnc` scenario's `fb` guest runs, the host starts the real
//! app (tests/ui/sandbox_console.py under Xvfb through tests/ui/run.sh) on
//! the guest's VNC port forwarded out of L1. The console's screenshot
//! matches gvnccapture's capture of the same server and shows the guest's
//! pattern, and a command typed into the console runs in the guest's shell.

use crate::sandbox::{Forwards, HostAction};
use crate::{fact, scenario};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::vnc_tools;

/// What the console types; the `vnc` scenario looks for its output.
const TYPED: &str = "echo gtk typed ok";

/// The host actions of this file (asked for by the `vnc` scenario).
pub fn host_actions() -> Vec<HostAction> {
    vec![HostAction {
        name: "vnc-gtk-console",
        run: gtk_console,
    }]
}

/// The app's debug build, which `cargo build --workspace --all-targets`
/// (the first step of `make test`) makes next to this test.
fn hangar_bin() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|target| target.join("debug/hangar"))
        .unwrap_or_else(|| PathBuf::from("target/debug/hangar"))
}

fn gtk_console(forwards: &Forwards) -> String {
    let Some(port) = forwards.host_port(5900) else {
        return "FACT gtk_console=no forwarded port\n".into();
    };
    let bin = hangar_bin();
    if !bin.is_file() {
        return format!(
            "FACT gtk_console=missing {}: build it with cargo build --workspace --all-targets\n",
            bin.display()
        );
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("hangar-e2e-gtk-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let png = dir.join("console.png");
    let out = Command::new("timeout")
        .arg("300")
        .arg(repo.join("tests/ui/run.sh"))
        .arg("tests/ui/sandbox_console.py")
        .env("HANGAR_BIN", &bin)
        .env("HANGAR_OURS_VNC_PORT", port.to_string())
        .env("HANGAR_OURS_TYPED", TYPED)
        .env("HANGAR_OURS_PNG", &png)
        .output();
    let mut facts = String::new();
    match out {
        Err(e) => facts.push_str(&format!(
            "FACT gtk_console=cannot run tests/ui/run.sh: {e}\n"
        )),
        Ok(out) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // The whole output is on the host's stderr; the fact carries its end.
            eprintln!("--- tests/ui/sandbox_console.py\n{text}---");
            if let Some(n) = text.lines().find_map(|l| {
                l.strip_prefix("screenshot vs gvnccapture: ")
                    .and_then(|r| r.strip_suffix(" differing pixels"))
            }) {
                facts.push_str(&format!("FACT gtk_console_differing={n}\n"));
            }
            let verdict = if out.status.success() && text.contains("PASS") {
                "ok".to_string()
            } else {
                let tail: Vec<&str> = text.lines().rev().take(12).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("failed ({}): {}", out.status, tail.join(" | "))
            };
            facts.push_str(&format!("FACT gtk_console={verdict}\n"));
            let pattern = match vnc_tools::check_pattern(&png) {
                Ok(()) => "ok".to_string(),
                Err(e) => e.replace('\n', " | "),
            };
            facts.push_str(&format!("FACT gtk_console_pattern={pattern}\n"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    facts
}

#[test]
fn the_gtk_console_shows_our_vnc_server_as_gvnccapture_does() {
    let s = scenario("vnc");
    assert_eq!(fact(s, "gtk_console"), "ok", "{}", s.text);
    assert_eq!(fact(s, "gtk_console_pattern"), "ok", "{}", s.text);
    let differing: u64 = fact(s, "gtk_console_differing").parse().expect("number");
    println!("GTK console vs gvnccapture on hangar-vmm's server: {differing} differing pixels");
    assert!(differing <= 64, "{differing} pixels differ");
}

#[test]
fn keys_typed_in_the_gtk_console_reach_a_guest_shell() {
    let s = scenario("vnc");
    assert_eq!(fact(s, "gtk_console"), "ok", "{}", s.text);
    assert_ne!(fact(s, "gtk_typed_output"), "0", "{}", s.text);
}
