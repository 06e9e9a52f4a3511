//! The nested KVM test sandbox, shared by the end-to-end tests and benchmarks
//! (`#[path = "sandbox/mod.rs"] mod sandbox;`).
//!
//! This machine's `/dev/kvm` cannot boot a stock kernel, so the tests boot a
//! Debian kernel under QEMU's TCG with an emulated AMD SVM CPU (L1), load KVM
//! there, and run `hangar-vmm` inside it against a second copy of the same
//! kernel (L2). Everything is built from the Debian packages named in the
//! Makefile and cached under `target/sandbox-cache/` by content hash:
//!
//! - the guest kernel package (`apt-get download` of the newest
//!   `linux-image-6.1.0-N-amd64`), unpacked into `kernel-<sha256 of the .deb>`;
//! - the L2 and L1 initramfs images (`build-initramfs.sh`), in
//!   `images-<sha256 of every input>`.
//!
//! One boot runs several scenario scripts (`sh` snippets that use `lib.sh`);
//! their output comes back fenced per scenario. With `HANGAR_DIRECT_KVM=1`
//! on a host whose KVM boots Linux, the same scripts run directly there.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One scenario: a shell script run inside L1 (or on the host directly).
pub struct Scenario {
    /// Short name, `[a-z0-9-]`, unique within a run.
    pub name: String,
    /// Script text; `lib.sh` is already sourced.
    pub script: String,
}

impl Scenario {
    /// A scenario named `name` running `script`.
    pub fn new(name: &str, script: &str) -> Self {
        Scenario {
            name: name.to_string(),
            script: script.to_string(),
        }
    }
}

/// What one scenario printed, and its exit code (`None` if it never ended).
#[derive(Debug, Clone, Default)]
pub struct ScenarioOutput {
    /// Everything the script and its commands printed.
    pub text: String,
    /// The script's exit code.
    pub rc: Option<i32>,
}

impl ScenarioOutput {
    /// Whether a line contains `needle`.
    pub fn has(&self, needle: &str) -> bool {
        self.text.contains(needle)
    }

    /// The rest of the first line that starts with `prefix`, trimmed.
    pub fn value(&self, prefix: &str) -> Option<String> {
        self.text
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_string()))
    }
}

/// The outcome of one sandbox run.
#[derive(Debug, Default)]
pub struct Report {
    /// Everything L1 printed (or, in direct mode, all scenario outputs).
    pub raw: String,
    /// Per-scenario output, by name.
    pub scenarios: BTreeMap<String, ScenarioOutput>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl Report {
    /// The output of scenario `name`; panics with the full log if it is missing.
    pub fn scenario(&self, name: &str) -> &ScenarioOutput {
        match self.scenarios.get(name) {
            Some(s) => s,
            None => panic!(
                "scenario {name} produced no output; sandbox log:\n{}",
                self.raw
            ),
        }
    }
}

/// The guest (L1) ports forwarded from host ports during a run with host
/// actions; 7000 carries the host's answers back to `host_act`.
pub const FORWARDED_GUEST_PORTS: [u16; 3] = [5900, 5901, 7000];
const RELEASE_PORT: u16 = 7000;

/// Host ports forwarded into L1 (`hostfwd` of QEMU's user-mode NIC).
#[derive(Debug, Clone, Default)]
pub struct Forwards {
    ports: BTreeMap<u16, u16>,
}

impl Forwards {
    /// The host port that reaches `guest_port` of L1 (10.0.2.15).
    pub fn host_port(&self, guest_port: u16) -> Option<u16> {
        self.ports.get(&guest_port).copied()
    }
}

/// Something the host test does while a scenario waits in `host_act NAME`;
/// what it returns is printed by the scenario (so facts can come from it).
pub struct HostAction {
    /// The name the scenario passes to `host_act`.
    pub name: &'static str,
    /// The action.
    pub run: fn(&Forwards) -> String,
}

/// A free host TCP port, at or above `from`.
fn free_port(from: u16) -> Option<u16> {
    (from..from.saturating_add(500))
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
}

/// Sends `text` to the scenario waiting in `host_act` (its listener is up
/// a second before it asks) and returns whether the connection worked.
fn release(forwards: &Forwards, text: &str) -> bool {
    let Some(port) = forwards.host_port(RELEASE_PORT) else {
        return false;
    };
    for _ in 0..20 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let sent = s.write_all(text.as_bytes()).is_ok();
            let _ = s.shutdown(std::net::Shutdown::Write);
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = std::io::Read::read(&mut s, &mut [0u8; 1]);
            return sent;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

/// Options of the images a run needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Also put qemu-system-x86_64 (with libraries and firmware) into L1.
    pub with_qemu: bool,
}

/// A prepared sandbox: the kernel and images exist in the cache.
pub struct Sandbox {
    kernel_tree: PathBuf,
    l1: PathBuf,
    l2: PathBuf,
    hangar_vmm: PathBuf,
    direct: bool,
}

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/sandbox")
}

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("sandbox-cache"))
        .unwrap_or_else(|| PathBuf::from("target/sandbox-cache"))
}

fn run_checked(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sha256_of_files(files: &[&Path], extra: &str) -> Result<String, String> {
    let mut cmd = Command::new("sha256sum");
    cmd.args(files);
    let sums = run_checked(&mut cmd, "sha256sum")?;
    // Hash the list of hashes (names removed) plus the extra key material.
    let material: String = sums
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect::<Vec<_>>()
        .join("\n")
        + extra;
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("sha256sum: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(material.as_bytes())
            .map_err(|e| format!("sha256sum: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("sha256sum: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// The newest `linux-image-6.1.0-N-amd64` package apt knows.
fn newest_kernel_package() -> Result<String, String> {
    let names = run_checked(
        Command::new("apt-cache").args(["pkgnames", "linux-image-6.1.0-"]),
        "apt-cache pkgnames",
    )?;
    names
        .lines()
        .filter_map(|n| {
            let abi = n
                .strip_prefix("linux-image-6.1.0-")?
                .strip_suffix("-amd64")?;
            abi.parse::<u32>().ok().map(|v| (v, n.to_string()))
        })
        .max()
        .map(|(_, n)| n)
        .ok_or_else(|| "no linux-image-6.1.0-N-amd64 in apt's lists (run apt-get update)".into())
}

/// The unpacked guest kernel package, downloaded once and kept by hash.
fn guest_kernel_tree() -> Result<PathBuf, String> {
    let cache = cache_dir();
    fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let pointer = cache.join("kernel-current");
    if let Ok(name) = fs::read_to_string(&pointer) {
        let tree = cache.join(name.trim());
        if tree.join("boot").is_dir() {
            return Ok(tree);
        }
    }
    let package = newest_kernel_package()?;
    let download = cache.join("download");
    let _ = fs::remove_dir_all(&download);
    fs::create_dir_all(&download).map_err(|e| format!("{}: {e}", download.display()))?;
    run_checked(
        Command::new("apt-get")
            .args(["download", &package])
            .current_dir(&download),
        "apt-get download",
    )?;
    let deb = fs::read_dir(&download)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or("apt-get download left no .deb")?;
    let hash = sha256_of_files(&[&deb], "")?;
    let name = format!("kernel-{}", &hash[..16]);
    let tree = cache.join(&name);
    if !tree.join("boot").is_dir() {
        let tmp = cache.join(format!("{name}.tmp"));
        let _ = fs::remove_dir_all(&tmp);
        run_checked(
            Command::new("dpkg").arg("-x").arg(&deb).arg(&tmp),
            "dpkg -x",
        )?;
        fs::rename(&tmp, &tree).map_err(|e| e.to_string())?;
    }
    fs::write(&pointer, &name).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&download);
    Ok(tree)
}

impl Sandbox {
    /// Downloads (once) the guest kernel and builds (once per content) the
    /// images for `hangar_vmm`.
    pub fn prepare(hangar_vmm: &Path, opts: Options) -> Result<Sandbox, String> {
        Self::prepare_with_programs(hangar_vmm, opts, &[])
    }

    /// [`Sandbox::prepare`], with more programs in L1: each `(name, path)`
    /// becomes `/bin/name` there, with its shared libraries (a benchmark's
    /// own binary, for instance, as its probe inside L1).
    pub fn prepare_with_programs(
        hangar_vmm: &Path,
        opts: Options,
        programs: &[(&str, &Path)],
    ) -> Result<Sandbox, String> {
        let direct = std::env::var("HANGAR_DIRECT_KVM").is_ok_and(|v| v == "1");
        let kernel_tree = guest_kernel_tree()?;
        let dir = here();
        let mut inputs = vec![
            dir.join("build-initramfs.sh"),
            dir.join("l1-init.sh"),
            dir.join("l2-init.sh"),
            dir.join("lib.sh"),
            hangar_vmm.to_path_buf(),
            hangar_vmm.with_file_name("hangarctl"),
        ];
        inputs.extend(programs.iter().map(|(_, path)| path.to_path_buf()));
        let input_refs: Vec<&Path> = inputs.iter().map(|p| p.as_path()).collect();
        // build-initramfs.sh reads NAME=PATH pairs, space separated.
        let program_list = programs
            .iter()
            .map(|(name, path)| format!("{name}={}", path.display()))
            .collect::<Vec<_>>()
            .join(" ");
        let key = sha256_of_files(
            &input_refs,
            &format!(
                "{}:{}:{program_list}",
                kernel_tree.display(),
                opts.with_qemu
            ),
        )?;
        let images = cache_dir().join(format!("images-{}", &key[..16]));
        let (l1, l2) = (images.join("l1.cpio"), images.join("l2.cpio"));
        if !l1.exists() {
            fs::create_dir_all(&images).map_err(|e| e.to_string())?;
            let mut cmd = Command::new("sh");
            cmd.arg(dir.join("build-initramfs.sh"))
                .arg(&kernel_tree)
                .arg(hangar_vmm)
                .arg(&l2)
                .arg(&l1);
            if opts.with_qemu {
                cmd.arg("qemu");
            }
            cmd.env("HANGAR_SANDBOX_PROGRAMS", &program_list);
            run_checked(&mut cmd, "build-initramfs.sh")?;
            prune_images(&images);
        }
        Ok(Sandbox {
            kernel_tree,
            l1,
            l2,
            hangar_vmm: hangar_vmm.to_path_buf(),
            direct,
        })
    }

    /// The guest kernel (bzImage).
    pub fn vmlinuz(&self) -> Result<PathBuf, String> {
        fs::read_dir(self.kernel_tree.join("boot"))
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
            })
            .ok_or_else(|| "no vmlinuz in the kernel package".into())
    }

    /// Runs every scenario in one sandbox boot (or directly, in direct mode),
    /// each limited to `per_scenario`; the whole run to `total`.
    pub fn run(
        &self,
        scenarios: &[Scenario],
        per_scenario: Duration,
        total: Duration,
    ) -> Result<Report, String> {
        self.run_with_host(scenarios, per_scenario, total, &[])
    }

    /// [`Sandbox::run`], with `actions` run on the host when a scenario
    /// asks for them (`host_act NAME`); L1 then gets a user-mode NIC with
    /// [`FORWARDED_GUEST_PORTS`] forwarded from free host ports.
    pub fn run_with_host(
        &self,
        scenarios: &[Scenario],
        per_scenario: Duration,
        total: Duration,
        actions: &[HostAction],
    ) -> Result<Report, String> {
        if self.direct {
            self.run_direct(scenarios, per_scenario)
        } else {
            self.run_nested(scenarios, per_scenario, total, actions)
        }
    }

    fn run_nested(
        &self,
        scenarios: &[Scenario],
        per_scenario: Duration,
        total: Duration,
        actions: &[HostAction],
    ) -> Result<Report, String> {
        let run_dir = tempdir("sandbox-run")?;
        // The scenarios travel as a second cpio archive appended to the cached
        // L1 image: the kernel unpacks concatenated archives in order.
        let scen = run_dir.join("s");
        fs::create_dir_all(scen.join("scenarios")).map_err(|e| e.to_string())?;
        for (i, s) in scenarios.iter().enumerate() {
            let file = scen.join(format!("scenarios/{:02}-{}.sh", i, s.name));
            fs::write(&file, &s.script).map_err(|e| e.to_string())?;
        }
        let initrd = run_dir.join("initrd.cpio");
        let script = format!(
            "cd '{}' && find scenarios | cpio -o -H newc --quiet > '{}.s' && cat '{}' '{}.s' > '{}'",
            scen.display(),
            initrd.display(),
            self.l1.display(),
            initrd.display(),
            initrd.display()
        );
        run_checked(Command::new("sh").args(["-c", &script]), "scenario cpio")?;
        let log = run_dir.join("serial.log");
        let mut forwards = Forwards::default();
        let mut net_args: Vec<String> = Vec::new();
        if !actions.is_empty() {
            // VNC clients take display numbers: keep host ports above 5900.
            let mut next = 5950;
            let mut rules = String::new();
            for guest in FORWARDED_GUEST_PORTS {
                let host = free_port(next).ok_or("no free host port to forward")?;
                next = host + 1;
                forwards.ports.insert(guest, host);
                rules.push_str(&format!(",hostfwd=tcp:127.0.0.1:{host}-10.0.2.15:{guest}"));
            }
            net_args = vec![
                "-netdev".into(),
                format!("user,id=hostnet{rules}"),
                "-device".into(),
                "e1000,netdev=hostnet".into(),
            ];
        }
        let start = Instant::now();
        let mut child = Command::new("qemu-system-x86_64")
            .args([
                "-accel",
                "tcg",
                "-cpu",
                "qemu64,+svm,+npt",
                "-M",
                "pc",
                "-m",
                "2048",
            ])
            .args([
                "-smp",
                "2",
                "-display",
                "none",
                "-monitor",
                "none",
                "-no-reboot",
            ])
            .args(&net_args)
            .arg("-serial")
            .arg(format!("file:{}", log.display()))
            .arg("-kernel")
            .arg(self.vmlinuz()?)
            .arg("-initrd")
            .arg(&initrd)
            .arg("-append")
            .arg(format!(
                "console=ttyS0 quiet panic=-1 SCENARIO_TIMEOUT={}",
                per_scenario.as_secs()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("qemu-system-x86_64: {e}"))?;
        let mut timed_out = false;
        let mut acted = 0usize;
        loop {
            if child.try_wait().map_err(|e| e.to_string())?.is_some() {
                break;
            }
            if !actions.is_empty() {
                let text =
                    String::from_utf8_lossy(&fs::read(&log).unwrap_or_default()).into_owned();
                let asked: Vec<&str> = text
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix("HANGAR-HOST-ACT "))
                    .collect();
                for name in asked.iter().skip(acted) {
                    let answer = match actions.iter().find(|a| a.name == name.trim()) {
                        Some(action) => (action.run)(&forwards),
                        None => format!("HOST-ACT-UNKNOWN {name}\n"),
                    };
                    if !release(&forwards, &answer) {
                        eprintln!("sandbox: could not answer host action {name}");
                    }
                    acted += 1;
                }
            }
            if start.elapsed() > total {
                timed_out = true;
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let raw = String::from_utf8_lossy(&fs::read(&log).unwrap_or_default()).into_owned();
        // Kept after the run: a failing fact names its scenario, and the whole
        // serial log (L1 and every guest) is what explains it.
        let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandbox-serial.log");
        if fs::write(&kept, &raw).is_ok() {
            eprintln!("sandbox: serial log kept in {}", kept.display());
        }
        let _ = fs::remove_dir_all(&run_dir);
        let mut report = parse_fenced(&raw);
        report.elapsed = start.elapsed();
        if timed_out {
            report.raw.push_str("\nHANGAR-SANDBOX-TIMEOUT\n");
        }
        Ok(report)
    }

    fn run_direct(&self, scenarios: &[Scenario], per_scenario: Duration) -> Result<Report, String> {
        let start = Instant::now();
        let mut raw = String::new();
        for (i, s) in scenarios.iter().enumerate() {
            let name = format!("{:02}-{}", i, s.name);
            let work = tempdir(&name)?;
            let script = format!(". '{}'; {}", here().join("lib.sh").display(), s.script);
            let out = Command::new("timeout")
                .arg(per_scenario.as_secs().to_string())
                .args(["sh", "-c", &script])
                .env("HV", &self.hangar_vmm)
                .env("HCTL", self.hangar_vmm.with_file_name("hangarctl"))
                .env("KERNEL", self.vmlinuz()?)
                .env("INITRD", &self.l2)
                .env("WORK", &work)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("sh: {e}"))?;
            raw.push_str(&format!("=== HANGAR-SCENARIO-BEGIN {name} ===\n"));
            raw.push_str(&String::from_utf8_lossy(&out.stdout));
            raw.push_str(&String::from_utf8_lossy(&out.stderr));
            raw.push_str(&format!(
                "=== HANGAR-SCENARIO-END {name} rc={} ===\n",
                out.status.code().unwrap_or(-1)
            ));
            let _ = fs::remove_dir_all(&work);
        }
        let mut report = parse_fenced(&raw);
        report.elapsed = start.elapsed();
        Ok(report)
    }
}

/// Keeps the cache small: every rebuilt hangar-vmm makes new images, so
/// only the newest few image sets (and `keep`) stay.
fn prune_images(keep: &Path) {
    let Ok(entries) = fs::read_dir(cache_dir()) else {
        return;
    };
    let mut sets: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("images-"))
        })
        .filter_map(|p| Some((fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    sets.sort();
    let excess = sets.len().saturating_sub(3);
    for (_, path) in sets.into_iter().take(excess) {
        if path != keep {
            let _ = fs::remove_dir_all(path);
        }
    }
}

fn tempdir(tag: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("hangar-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// Splits the log at the scenario fences; names lose their `NN-` prefix.
fn parse_fenced(raw: &str) -> Report {
    let mut scenarios = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in raw.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(rest) = line.strip_prefix("=== HANGAR-SCENARIO-BEGIN ") {
            let name = rest.trim_end_matches(" ===");
            let name = name.split_once('-').map(|(_, n)| n).unwrap_or(name);
            current = Some((name.to_string(), String::new()));
        } else if let Some(rest) = line.strip_prefix("=== HANGAR-SCENARIO-END ") {
            let rc = rest
                .split("rc=")
                .nth(1)
                .and_then(|r| r.trim_end_matches(" ===").trim().parse().ok());
            if let Some((name, text)) = current.take() {
                scenarios.insert(name, ScenarioOutput { text, rc });
            }
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    // A scenario cut short by a timeout still reports what it printed.
    if let Some((name, text)) = current {
        scenarios.insert(name, ScenarioOutput { text, rc: None });
    }
    Report {
        raw: raw.to_string(),
        scenarios,
        elapsed: Duration::ZERO,
    }
}
