"""Benchmark: time from launch to the manager window listing all 14 domains
of virt-manager's testdriver.xml, and resident memory 3 s after launch
(GSK_RENDERER=cairo), for hangar and, when installed, Debian's
virt-manager on the same host file. Prints figures and ratios; it asserts
nothing about speed.

Run through `make bench-ui` (tests/ui/run.sh provides Xvfb, D-Bus and the
accessibility bus; the list is read through AT-SPI for both apps). For
hangar it also prints the median time of each start phase, which the app
reports on stderr when HANGAR_TRACE_STARTUP is set."""

import os
import shutil
import statistics
import subprocess
import time

import pyatspi

from hangar_ui import role_name, test_uri

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DOMAINS = {
    "test", "test-arm-kernel", "test-many-devices", "test-alternate-devs",
    "test-clone-simple", "test-clone", "test-clone-full", "test-state-shutoff",
    "test-state-paused", "test-state-crashed", "test-state-pmsuspended",
    "test-state-transient", "test-state-managedsave", "test-snapshots",
}


def app_node(pid):
    desktop = pyatspi.Registry.getDesktop(0)
    for index in range(desktop.childCount):
        try:
            app = desktop.getChildAtIndex(index)
            if app is not None and app.get_process_id() == pid:
                return app
        except Exception:
            continue
    return None


def listed_names(node):
    """The domain rows visible under `node`: hangar's list items are named
    after the domain; virt-manager's cells read "name-or-title\nstate"."""
    found = set()
    stack = [(node, 0)]
    while stack:
        current, level = stack.pop()
        try:
            name = current.name or ""
            if name in DOMAINS:
                found.add(name)
            elif "\n" in name and role_name(current) == "table cell":
                found.add(name.split("\n")[0])
            if level < 40:
                for index in range(current.childCount):
                    stack.append((current.getChildAtIndex(index), level + 1))
        except Exception:
            continue
    return found


def rss_mib(pid):
    """Resident memory of `pid` and its children, MiB: (total, anonymous,
    file-backed), from /proc/PID/smaps_rollup."""
    total = anonymous = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(child) for child in children]
    except Exception:
        pass
    for each in pids:
        try:
            with open(f"/proc/{each}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Rss:"):
                        total += int(line.split()[1])
                    elif line.startswith("Anonymous:"):
                        anonymous += int(line.split()[1])
        except OSError:
            continue
    return total / 1024, anonymous / 1024, (total - anonymous) / 1024


def startup_phases(stderr):
    """hangar's `hangar-startup SECONDS PHASE` lines (HANGAR_TRACE_STARTUP)."""
    phases = {}
    for line in stderr.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0] == "hangar-startup":
            try:
                phases.setdefault(parts[2], float(parts[1]))
            except ValueError:
                continue
    return phases


def measure(command, env, trace=False):
    """(seconds until all domains are listed, RSS MiB after 3 s as (total,
    anonymous, file-backed), start phases when `trace`)."""
    start = time.monotonic()
    if trace:
        env = dict(env, HANGAR_TRACE_STARTUP=repr(start))
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE if trace else subprocess.DEVNULL, text=True)
    listed_at = None
    memory = None
    try:
        deadline = start + 60
        while time.monotonic() < deadline and listed_at is None:
            if proc.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {proc.returncode}")
            node = app_node(proc.pid)
            if node is not None and len(listed_names(node)) >= len(DOMAINS):
                listed_at = time.monotonic() - start
                break
            time.sleep(0.02)
        if listed_at is None:
            raise RuntimeError(f"{command[0]} did not list the domains within 60 s")
        remaining = start + 3.0 - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        memory = rss_mib(proc.pid)
    finally:
        proc.terminate()
        try:
            stderr = proc.communicate(timeout=10)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            stderr = proc.communicate()[1]
    return listed_at, memory, startup_phases(stderr or "")


def series(name, command, env, trace=False):
    times, rss, anonymous, file_backed, phases = [], [], [], [], {}
    for _ in range(RUNS):
        listed, (memory, anon, backed), run_phases = measure(command, env, trace)
        times.append(listed)
        rss.append(memory)
        anonymous.append(anon)
        file_backed.append(backed)
        for phase, at in run_phases.items():
            phases.setdefault(phase, []).append(at)
    median_time = statistics.median(times)
    median_rss = statistics.median(rss)
    print(f"{name:<24} {median_time:8.3f} s   {median_rss:8.1f} MiB   "
          f"(anonymous {statistics.median(anonymous):.1f}, file-backed "
          f"{statistics.median(file_backed):.1f}; runs: {', '.join(f'{t:.3f}' for t in times)})",
          flush=True)
    for phase, ats in sorted(phases.items(), key=lambda item: statistics.median(item[1])):
        print(f"    {statistics.median(ats):6.3f} s  {phase}")
    return median_time, median_rss


def main():
    uri = test_uri()
    env = dict(os.environ, GSK_RENDERER="cairo")
    print(f"UI benchmark: {uri}, {len(DOMAINS)} domains, Xvfb, GSK_RENDERER=cairo, median of {RUNS}")
    print(f"{'app':<24} {'launch→listed':>10}   {'RSS at 3 s':>12}")
    build = "release" if "/release/" in os.environ["HANGAR_BIN"] else "debug"
    hangar = series(f"hangar ({build})", [os.environ["HANGAR_BIN"], "--connect", uri], env, trace=True)
    virt_manager = shutil.which("virt-manager")
    if virt_manager is None:
        print("virt-manager is not installed: no comparison (apt-get install virt-manager)")
        return
    version = subprocess.run([virt_manager, "--version"], capture_output=True, text=True).stdout.strip()
    peer = series(f"virt-manager {version}", [virt_manager, "--no-fork", "--connect", uri], env)
    print(f"{'ratio hangar/virt-manager':<24} {hangar[0] / peer[0]:8.2f}     {hangar[1] / peer[1]:8.2f}"
          "      (targets: time ≤ 0.5, RSS ≤ 1.0)")


main()
