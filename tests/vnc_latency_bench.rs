//! Benchmark: the latency from a guest's write to its framebuffer to a VNC
//! client having the pixels, for hangar-vmm's built-in VNC server and for
//! QEMU's (`-accel kvm -M pc -vga std`, VESA mode 1024x768x32), same kernel,
//! initrd, guest program, memory and vCPU, running side by side in one boot
//! of the nested sandbox and sampled in turn; `make bench-vnc-latency`.
//!
//! This binary also is the probe: the sandbox images carry it into L1 as
//! `/bin/vnc-latency-probe`, where `probe ...` (tests/vnc_latency/probe.rs)
//! connects to the guest's VNC server over TCP on 127.0.0.1, keeps an
//! incremental update request pending (Raw encoding, 32-bit pixels), and
//! writes lines to the guest's serial console: the `fblat` guest
//! (tests/sandbox/l2-init.sh) paints a full-width band in the colour the
//! line names with one `dd` to /dev/fb0. A sample is the time from the
//! serial write to the update showing that colour at the band; the serial
//! round trip without painting is measured alike, so the VNC part can be
//! told apart. All times come from one clock, the probe's.
//!
//! Prints p50 and p99 for both VMMs and the ratios hangar-vmm / QEMU
//! (targets: p50 <= 35 ms and a ratio <= 1.0).

#[path = "vnc_latency/probe.rs"]
mod probe;
#[path = "sandbox/mod.rs"]
mod sandbox;

use sandbox::{Options, Sandbox, Scenario, ScenarioOutput};
use std::path::Path;
use std::time::Duration;

const MEMORY_MIB: u32 = 256;
const VCPUS: u32 = 1;
/// Counted samples of each kind and VMM.
const SAMPLES: usize = 120;
/// The probe's name in L1.
const PROBE: &str = "vnc-latency-probe";

fn scenario() -> Scenario {
    let script = format!(
        r#"
# Both guests run at once and the probe samples them in turn, so that a
# change in the machine's load falls on both.
export EXTRA_DEVICES="<graphics type='vnc' port='5900' listen='127.0.0.1'/><video><model type='vga'><resolution x='1024' y='768'/></model></video>"
start_vm hv {MEMORY_MIB} {VCPUS} fblat
unset EXTRA_DEVICES
qemu-system-x86_64 -L /usr/share/qemu -L /usr/share/seabios -accel kvm -cpu host -M pc \
    -m {MEMORY_MIB} -smp {VCPUS} -nodefaults -no-user-config -vga std -display none \
    -monitor none -no-reboot -vnc 127.0.0.1:10 \
    -chardev "socket,id=ser,path=$WORK/qemu.serial,server=on,wait=off,logfile=$WORK/qemu.log" \
    -serial chardev:ser -kernel "$KERNEL" -initrd "$INITRD" \
    -append "console=ttyS0 quiet panic=-1 pci=noearly vga=0x344 hangar_mode=fblat" \
    >"$WORK/qemu.out" 2>&1 &
qpid=$!
targets=""
if wait_for "$WORK/hv.log" 'HANGAR-L2-FBLAT-READY\|HANGAR-L2-FB-MISSING' 600; then
    tr -d '\r' <"$WORK/hv.log" | grep '^HANGAR-L2-FB ' | sed 's/^/hangar-vmm /'
    targets="$targets --target hangar-vmm:5900:hangar:$WORK/hv.sock"
else
    show hv
fi
if wait_for "$WORK/qemu.log" 'HANGAR-L2-FBLAT-READY\|HANGAR-L2-FB-MISSING' 600; then
    tr -d '\r' <"$WORK/qemu.log" | grep '^HANGAR-L2-FB ' | sed 's/^/qemu /'
    targets="$targets --target qemu:5910:raw:$WORK/qemu.serial"
else
    cat "$WORK/qemu.out" "$WORK/qemu.log"
fi
[ -n "$targets" ] && /bin/{PROBE} probe --samples {SAMPLES} $targets
ctl hv destroy
wait_exit hv 60
kill $qpid
wait $qpid
"#
    );
    Scenario::new("vnc-latency", &script)
}

/// The samples (ms) of `kind` measured on `label`'s server.
fn samples(s: &ScenarioOutput, label: &str, kind: &str) -> Vec<f64> {
    let mut v: Vec<f64> = s
        .value(&format!("HANGAR-VNCLAT {label} {kind} "))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The `p`-th percentile (nearest rank) of sorted `v`.
fn percentile(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v.get(rank.clamp(1, v.len()) - 1).copied()
}

fn show(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.1}"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("probe") {
        let outcome = probe::parse_args(&args[2..]).and_then(|a| probe::run(&a));
        if let Err(e) = outcome {
            println!("HANGAR-VNCLAT-ERROR {e}");
            std::process::exit(1);
        }
        return;
    }
    let me = std::env::current_exe().unwrap_or_else(|e| panic!("this benchmark's path: {e}"));
    let sb = Sandbox::prepare_with_programs(
        Path::new(env!("CARGO_BIN_EXE_hangar-vmm")),
        Options { with_qemu: true },
        &[(PROBE, me.as_path())],
    )
    .unwrap_or_else(|e| panic!("sandbox: {e}"));
    let report = sb
        .run(
            &[scenario()],
            Duration::from_secs(1500),
            Duration::from_secs(2400),
        )
        .unwrap_or_else(|e| panic!("sandbox run: {e}"));
    let s = report.scenario("vnc-latency");
    for line in s.text.lines() {
        // The sample lists are long; the table below sums them up.
        if !line.starts_with("HANGAR-VNCLAT ") {
            println!("{line}");
        }
    }
    println!(
        "\nVNC latency: guest serial write -> band of pixels on the client (Raw encoding, \
         1024x768x32, TCP on L1's loopback), {VCPUS} vCPU, {MEMORY_MIB} MiB, nested KVM \
         sandbox; {SAMPLES} samples each; ms (lower is better)"
    );
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>8}",
        "", "ours p50", "ours p99", "qemu p50", "qemu p99"
    );
    let mut missing = false;
    let mut rows = Vec::new();
    for (kind, what) in [
        ("paint", "write -> pixels on the client"),
        ("paint-ack", "write -> guest's answer after dd"),
        ("echo", "serial round trip (no painting)"),
    ] {
        let ours = samples(s, "hangar-vmm", kind);
        let theirs = samples(s, "qemu", kind);
        let figures = [
            percentile(&ours, 50.0),
            percentile(&ours, 99.0),
            percentile(&theirs, 50.0),
            percentile(&theirs, 99.0),
        ];
        missing |= figures.iter().any(Option::is_none);
        println!(
            "{what:<34} {:>8} {:>8} {:>8} {:>8}",
            show(figures[0]),
            show(figures[1]),
            show(figures[2]),
            show(figures[3])
        );
        rows.push(figures);
    }
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_string(),
    };
    let paint = rows[0];
    println!(
        "ratio hangar-vmm / QEMU (write -> pixels): p50 {}, p99 {} (target <= 1.0; p50 <= 35 ms)",
        ratio(paint[0], paint[2]),
        ratio(paint[1], paint[3])
    );
    for label in ["hangar-vmm", "qemu"] {
        if let Some(lost) = s.value(&format!("HANGAR-VNCLAT-LOST {label} ")) {
            println!("{label}: {lost} samples lost (no answer within 5 s)");
        }
    }
    println!("sandbox run: {:.0} s", report.elapsed.as_secs_f64());
    if missing {
        eprintln!("some figures are missing; sandbox log:\n{}", report.raw);
        std::process::exit(1);
    }
}
