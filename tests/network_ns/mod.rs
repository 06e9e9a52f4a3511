//! Network namespaces for the network tests: every test runs on a thread of
//! its own that first moves into a fresh network namespace (standing for the
//! host), and makes named namespaces for guests and the "upstream" world,
//! joined by veth pairs. Everything is removed when the guards drop, even
//! when the test fails; the machine's own networking is never touched.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A short name unique in this process and among concurrent test runs.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}{}x{n}", std::process::id() % 100_000)
}

/// Runs `test` on a thread inside a new network namespace; skips (with a
/// note) when not root or when namespaces cannot be made here.
pub fn in_own_netns(test: impl FnOnce() + Send + 'static) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: network tests need root (they run as root in CI)");
        return;
    }
    let handle = std::thread::spawn(move || {
        // SAFETY: unshare(CLONE_NEWNET) only changes this thread's namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            eprintln!(
                "skipped: cannot create a network namespace: {}",
                std::io::Error::last_os_error()
            );
            return;
        }
        run(&["ip", "link", "set", "lo", "up"]);
        test();
    });
    if let Err(panic) = handle.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Runs a command (in the calling thread's namespace) and returns its output.
pub fn output(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

/// Runs a command that must succeed.
pub fn run(args: &[&str]) -> String {
    let out = output(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A named network namespace, deleted (with every process in it) on drop.
pub struct Netns {
    /// Its name under /run/netns.
    pub name: String,
}

impl Netns {
    /// Makes a namespace with its loopback up.
    pub fn new(tag: &str) -> Netns {
        let ns = Netns {
            name: unique(&format!("hangar-t-{tag}-")),
        };
        run(&["ip", "netns", "add", &ns.name]);
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// Runs a command inside and returns its output.
    pub fn output(&self, args: &[&str]) -> Output {
        let mut all = vec!["ip", "netns", "exec", &self.name];
        all.extend_from_slice(args);
        output(&all)
    }

    /// Runs a command inside that must succeed.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", &self.name];
        all.extend_from_slice(args);
        run(&all)
    }

    /// Adds a veth pair: `eth0` inside (with `addr` and `mac` if given),
    /// the other end in the caller's namespace, up; returns that end's name.
    pub fn plug(&self, addr: Option<&str>, mac: Option<&str>) -> String {
        let outer = unique("hv");
        run(&[
            "ip", "link", "add", &outer, "type", "veth", "peer", "name", "eth0", "netns",
            &self.name,
        ]);
        if let Some(mac) = mac {
            self.exec(&["ip", "link", "set", "eth0", "address", mac]);
        }
        if let Some(addr) = addr {
            self.exec(&["ip", "addr", "add", addr, "dev", "eth0"]);
        }
        self.exec(&["ip", "link", "set", "eth0", "up"]);
        run(&["ip", "link", "set", &outer, "up"]);
        outer
    }

    /// Runs `f` on a thread that joined this namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: setns on a namespace file we hold open; it only
            // changes this new thread's network namespace.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
    }

    /// Listens on `addr` inside and returns the first peer's address, if
    /// one connects within `wait`.
    pub fn listen(&self, addr: SocketAddr, wait: Duration) -> JoinHandle<Option<SocketAddr>> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = self.spawn(move || {
            let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
            listener.set_nonblocking(true).expect("nonblocking");
            let _ = ready_tx.send(());
            let deadline = Instant::now() + wait;
            while Instant::now() < deadline {
                if let Ok((_, peer)) = listener.accept() {
                    return Some(peer);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            None
        });
        let _ = ready_rx.recv_timeout(Duration::from_secs(5));
        handle
    }

    /// Tries a TCP connection from inside; true if it was accepted.
    pub fn connects(&self, addr: SocketAddr) -> bool {
        self.spawn(move || TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
            .join()
            .unwrap_or(false)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let pids = output(&["ip", "netns", "pids", &self.name]);
        for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                // SAFETY: kill(2) on a process living in our own test namespace.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = output(&["ip", "netns", "del", &self.name]);
    }
}

/// A scratch folder removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A new empty folder under the temp dir.
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(unique(&format!("hangar-net-{tag}-")));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The nftables tables of the calling thread's namespace.
pub fn nft_tables() -> String {
    run(&["nft", "list", "tables"])
}

/// True when a link of that name exists in the calling thread's namespace.
pub fn link_exists(name: &str) -> bool {
    output(&["ip", "link", "show", name]).status.success()
}

/// True when a process with that pid exists and is not a zombie waiting
/// for a parent that does not reap (some container inits).
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = stat.rfind(')')?;
            stat[after + 1..]
                .split_whitespace()
                .next()
                .map(|s| s != "Z")
        })
        .unwrap_or(false)
}

/// Gets a DHCP lease in `ns` with busybox udhcpc, sending `hostname`;
/// returns the leased address (configured on eth0 with its default route).
pub fn dhcp(ns: &Netns, scratch: &Scratch, hostname: &str) -> Option<String> {
    let script = scratch.0.join("udhcpc.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\ncase \"$1\" in bound|renew)\n\
         busybox ip addr add \"$ip/$mask\" dev \"$interface\"\n\
         [ -n \"$router\" ] && busybox ip route add default via \"${router%% *}\" dev \"$interface\"\n\
         echo \"LEASE $ip\";;\nesac\nexit 0\n",
    )
    .expect("script");
    run(&["chmod", "755", &script.display().to_string()]);
    let hostname_opt = format!("hostname:{hostname}");
    let out = ns.output(&[
        "busybox",
        "udhcpc",
        "-i",
        "eth0",
        "-n",
        "-q",
        "-t",
        "8",
        "-T",
        "1",
        "-x",
        &hostname_opt,
        "-s",
        &script.display().to_string(),
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("LEASE ").map(str::to_string))
}
