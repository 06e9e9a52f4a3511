//! What the `cli_*` tests share: a private data and runtime folder per test,
//! running the real `hangarctl` binary, and line-by-line comparison.

#![allow(dead_code)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The `hangarctl` binary Cargo built for this test run.
pub const HANGARCTL: &str = env!("CARGO_BIN_EXE_hangarctl");

/// A private `XDG_DATA_HOME`, `XDG_RUNTIME_DIR` and working folder, removed on drop.
pub struct Sandbox {
    root: PathBuf,
}

/// What one `hangarctl` run printed and returned.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Sandbox {
    /// A new sandbox named after the test.
    pub fn new(test: &str) -> Sandbox {
        let root = std::env::temp_dir().join(format!(
            "hangarctl-{test}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        for sub in ["data", "run", "work", "home"] {
            std::fs::create_dir_all(root.join(sub)).expect("create sandbox folder");
        }
        std::fs::set_permissions(root.join("run"), std::fs::Permissions::from_mode(0o700))
            .expect("chmod runtime dir");
        Sandbox { root }
    }

    /// The working folder commands run in (relative file names resolve here).
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    /// The sandbox's `XDG_DATA_HOME`.
    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Writes `contents` to `name` in the working folder and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.work().join(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    /// Writes an executable shell script (an `$EDITOR` for the edit commands).
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.write(name, &format!("#!/bin/sh\nset -e\n{body}\n"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod script");
        path
    }

    /// A `hangarctl` command with the sandbox's environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(HANGARCTL);
        cmd.args(args)
            .current_dir(self.work())
            .env("XDG_DATA_HOME", self.data())
            .env("XDG_RUNTIME_DIR", self.root.join("run"))
            .env("HOME", self.root.join("home"))
            .env_remove("HANGAR_DEFAULT_URI")
            .env_remove("VISUAL")
            .env_remove("EDITOR")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `hangarctl ARGS...`.
    pub fn run(&self, args: &[&str]) -> Run {
        output(self.command(args))
    }

    /// Runs `hangarctl ARGS...` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &Path)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        output(cmd)
    }

    /// Runs the interactive shell with `input` piped on stdin.
    pub fn shell(&self, args: &[&str], input: &str, env: &[(&str, &Path)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start hangarctl");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).expect("write commands");
        }
        let out = child.wait_with_output().expect("wait for hangarctl");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn output(mut cmd: Command) -> Run {
    let out = cmd.output().expect("run hangarctl");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Run {
    /// Asserts success with exactly `stdout` (virsh's trailing blank line included) and no stderr.
    #[track_caller]
    pub fn ok(&self, stdout: &str) {
        assert_eq!(self.code, 0, "exit code; stderr:\n{}", self.stderr);
        assert_lines(&self.stdout, stdout);
        assert_eq!(self.stderr, "", "stderr");
    }

    /// Asserts failure (exit 1) with exactly these `error:` lines.
    #[track_caller]
    pub fn fails(&self, stderr: &str) {
        assert_eq!(self.code, 1, "exit code; stdout:\n{}", self.stdout);
        assert_lines(&self.stderr, stderr);
    }

    /// The value of a `Label:   value` line.
    pub fn field(&self, label: &str) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {label} line in:\n{}", self.stdout))
    }
}

/// Compares two outputs line by line, naming the first line that differs.
#[track_caller]
pub fn assert_lines(actual: &str, expected: &str) {
    let a: Vec<&str> = actual.split('\n').collect();
    let e: Vec<&str> = expected.split('\n').collect();
    for (i, (x, y)) in a.iter().zip(&e).enumerate() {
        assert_eq!(
            x,
            y,
            "line {} differs\n--- actual ---\n{actual}\n--- expected ---\n{expected}",
            i + 1
        );
    }
    assert_eq!(
        a.len(),
        e.len(),
        "line count differs\n--- actual ---\n{actual}\n--- expected ---\n{expected}"
    );
}

/// The seed's `192.168.10.0.xml` (`../shared/seeds/003_*.txt`).
pub const SEED_NETWORK: &str = "<network>
  <name>192.168.10.0</name>
  <forward mode='nat'/>
  <bridge name='bridge1' stp='on' delay='0'/>
  <domain name='8.8.8.8'/>
  <ip address='192.168.10.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.10.2' end='192.168.10.254'/>
    </dhcp>
  </ip>
</network>
";

/// The seed's `file_storage_pool.xml` (`../shared/seeds/001_*.txt`) with its
/// target moved to `target`.
pub fn seed_pool(target: &Path) -> String {
    format!(
        "<pool type=\"dir\">\n<name>file_virtimages</name>\n<target>\n<path>{}</path>\n</target>\n</pool>\n",
        target.display()
    )
}

/// The value of the first `attr='...'` in `xml` after `element`.
pub fn xml_attr(xml: &str, element: &str, attr: &str) -> String {
    let start = xml
        .find(&format!("<{element} "))
        .unwrap_or_else(|| panic!("no <{element}> in:\n{xml}"));
    let rest = &xml[start..];
    let key = format!("{attr}='");
    let from = rest
        .find(&key)
        .map(|i| i + key.len())
        .unwrap_or_else(|| panic!("no {attr} in:\n{rest}"));
    let len = rest[from..].find('\'').unwrap_or(0);
    rest[from..from + len].to_string()
}
