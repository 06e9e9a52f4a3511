//! Rootless networks for `hangar:///session`: a user and network namespace
//! that belongs to the user, kept open by a holder process (`unshare
//! --user --map-root-user --net sleep infinity`), with `pasta` (Debian
//! `passt`) as its uplink. Inside it the user is root of that namespace
//! only, so bridges, nftables tables and dnsmasq work exactly as in system
//! mode; every change is made by `hangar-net-helper` entered into the
//! namespace with `nsenter`, because a threaded program cannot join a
//! user namespace itself.
//!
//! The host's own namespace cannot reach into it: guests reach out through
//! pasta (NAT to the host's address), and routed or open networks are only
//! routed inside the user's namespace.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::RuntimeError;

/// The user's network namespace and its uplink, recorded in one folder.
#[derive(Debug, Clone)]
pub struct SessionNamespace {
    dir: PathBuf,
}

/// The helper program run inside the namespace: `HANGAR_NET_HELPER`, else
/// `hangar-net-helper` next to the running program, else from `PATH`.
pub fn helper_program() -> PathBuf {
    if let Some(p) = std::env::var_os("HANGAR_NET_HELPER") {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name("hangar-net-helper"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("hangar-net-helper"))
}

fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl SessionNamespace {
    /// The namespace recorded in `dir` (`<runtime>/netns`).
    pub fn new(dir: impl Into<PathBuf>) -> SessionNamespace {
        SessionNamespace { dir: dir.into() }
    }

    /// The folder recording the namespace (`<runtime>/netns`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn holder_file(&self) -> PathBuf {
        self.dir.join("holder.pid")
    }

    /// The holder's pid if it still runs: a `sleep infinity` whose working
    /// folder is ours (unshare's `--wd`), so a reused pid is never taken for it.
    pub fn holder(&self) -> Option<u32> {
        let pid = read_pid(&self.holder_file())?;
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
        let ours = std::fs::canonicalize(&self.dir).ok()?;
        (cmdline(pid) == ["sleep", "infinity"] && cwd == ours).then_some(pid)
    }

    /// The holder's pid, creating the namespace and its pasta uplink first
    /// if they do not exist.
    pub fn ensure(&self) -> Result<u32, RuntimeError> {
        if let Some(pid) = self.holder() {
            return Ok(pid);
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| RuntimeError::io(format!("cannot create {}", self.dir.display()), &e))?;
        let mut cmd = Command::new("unshare");
        cmd.arg("--user")
            .arg("--map-root-user")
            .arg("--net")
            .arg(format!("--wd={}", self.dir.display()))
            .arg("--")
            .arg("sleep")
            .arg("infinity")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe and only detaches the child
        // from our session, so the holder outlives a closed terminal.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| RuntimeError::io("cannot run unshare", &e))?;
        let pid = child.id();
        // The child is reaped by nobody on purpose: it lives until the
        // session ends; dropping the handle does not kill it.
        drop(child);
        std::fs::write(self.holder_file(), format!("{pid}\n"))
            .map_err(|e| RuntimeError::io("cannot record the namespace holder", &e))?;
        // Wait until unshare has made the namespaces and exec'd sleep.
        let deadline = Instant::now() + Duration::from_secs(5);
        while cmdline(pid).first().map(String::as_str) != Some("sleep") {
            if Instant::now() > deadline {
                return Err(RuntimeError::Tool {
                    tool: "unshare",
                    message: "the user namespace did not come up".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.helper(pid, &["up"], None)?;
        self.start_pasta(pid)?;
        Ok(pid)
    }

    /// pasta gives the namespace the host's addresses and routes on a tap
    /// of its own and carries its traffic out through host sockets (NAT to
    /// the host's address); no port of the host is forwarded inward, and
    /// the gateway's address means the real gateway, not the host's
    /// loopback (`--no-map-gw`).
    fn start_pasta(&self, pid: u32) -> Result<(), RuntimeError> {
        let pid_file = self.dir.join("pasta.pid");
        let out = Command::new("pasta")
            .args([
                "--config-net",
                "--quiet",
                "--no-map-gw",
                "-t",
                "none",
                "-u",
                "none",
            ])
            .args(["-T", "none", "-U", "none", "--pid"])
            .arg(&pid_file)
            .arg(pid.to_string())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| RuntimeError::io("cannot run pasta", &e))?;
        if !out.status.success() {
            return Err(RuntimeError::Tool {
                tool: "pasta",
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(())
    }

    /// Runs `hangar-net-helper <args>` inside the namespace, feeding `input`.
    pub fn helper(
        &self,
        pid: u32,
        args: &[&str],
        input: Option<&str>,
    ) -> Result<String, RuntimeError> {
        let mut child = Command::new("nsenter")
            .arg(format!("--target={pid}"))
            .args(["--user", "--net", "--preserve-credentials", "--"])
            .arg(helper_program())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| RuntimeError::io("cannot run nsenter", &e))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(input.unwrap_or_default().as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| RuntimeError::io("cannot run hangar-net-helper", &e))?;
        if !out.status.success() {
            let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(RuntimeError::Config(message));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Ends pasta and the holder: the namespace and all it holds go away.
    pub fn shut_down(&self) {
        let pasta = read_pid(&self.dir.join("pasta.pid"))
            .filter(|pid| cmdline(*pid).first().is_some_and(|a| a.contains("pasta")));
        for pid in [pasta, self.holder()].into_iter().flatten() {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) on a process we checked is our pasta or holder.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        for file in ["pasta.pid", "holder.pid"] {
            let _ = std::fs::remove_file(self.dir.join(file));
        }
    }
}
