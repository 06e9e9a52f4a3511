//! Benchmark: guest `dd` throughput on virtio-blk under `hangar-vmm` and
//! under QEMU's virtio-blk-pci (`-accel kvm -M pc`), same kernel, initrd,
//! memory, vCPUs and fresh copies of the same raw and qcow2 images, in one
//! boot of the nested sandbox. The guest (`hangar_mode=blkbench` in
//! l2-init.sh) writes MIB MiB of 1 MiB blocks with O_DIRECT and fsync, then
//! reads them back with O_DIRECT, on each disk; two rounds with the VMMs
//! taking turns, after warming L1's tmpfs. Prints the best MB/s of the
//! rounds and the ratios hangar-vmm / QEMU (target >= 1.0); `make bench-blk`.

#[path = "sandbox/mod.rs"]
mod sandbox;

use sandbox::{Options, Sandbox, Scenario, ScenarioOutput};
use std::path::Path;
use std::time::Duration;

const MEMORY_MIB: u32 = 256;
const VCPUS: u32 = 1;
/// Data moved per direction and disk.
const MIB: u32 = 64;

fn scenario() -> Scenario {
    let script = format!(
        r#"
fresh() {{
    rm -f "$WORK/bench.raw" "$WORK/bench.qcow2"
    dd if=/dev/zero of="$WORK/bench.raw" bs=1M count=0 seek={size} 2>/dev/null
    qemu-img create -q -f qcow2 "$WORK/bench.qcow2" {size}M
}}
EXTRA_CMDLINE="hangar_blk_mib={MIB}"
# L1's tmpfs pages are slow the first time they are touched (host faults
# under TCG): touch enough of them before measuring, so that cost does not
# fall on whichever VMM runs first.
dd if=/dev/zero of="$WORK/warm" bs=1M count={warm} 2>/dev/null
rm -f "$WORK/warm"
# Two rounds, the VMMs taking turns on fresh images; the figures are the
# best of the rounds (the machine is shared, so slow outliers are noise).
for round in 1 2; do
fresh
EXTRA_DEVICES="
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$WORK/bench.raw'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$WORK/bench.qcow2'/><target dev='vdb' bus='virtio'/></disk>" \
    start_vm hv$round {MEMORY_MIB} {VCPUS} blkbench
wait_exit hv$round 900 || ctl hv$round destroy
tr -d '\r' <"$WORK/hv$round.log" | grep '^HANGAR-L2-BLKBENCH' | sed 's/^/hangar-vmm /'
grep -q HANGAR-L2-BLKBENCH "$WORK/hv$round.log" || show hv$round
fresh
qemu-system-x86_64 -L /usr/share/qemu -L /usr/share/seabios -accel kvm -cpu host -M pc \
    -m {MEMORY_MIB} -smp {VCPUS} -nodefaults -no-user-config -display none -monitor none \
    -no-reboot -serial "file:$WORK/qemu$round.log" -kernel "$KERNEL" -initrd "$INITRD" \
    -append "console=ttyS0 quiet panic=-1 pci=noearly hangar_mode=blkbench $EXTRA_CMDLINE" \
    -drive "file=$WORK/bench.raw,format=raw,if=none,id=d0" \
    -device virtio-blk-pci,drive=d0,disable-legacy=on \
    -drive "file=$WORK/bench.qcow2,format=qcow2,if=none,id=d1" \
    -device virtio-blk-pci,drive=d1,disable-legacy=on >"$WORK/qemu.out" 2>&1
tr -d '\r' <"$WORK/qemu$round.log" | grep '^HANGAR-L2-BLKBENCH' | sed 's/^/qemu-pc /'
grep -q HANGAR-L2-BLKBENCH "$WORK/qemu$round.log" || {{ cat "$WORK/qemu.out"; cat "$WORK/qemu$round.log"; }}
done
"#,
        size = MIB + 16,
        warm = 8 * MIB
    );
    Scenario::new("blk-bench", &script)
}

/// Seconds for `dir` ("write" or "read") on `dev` under `vmm`: the best
/// of the rounds.
fn seconds(s: &ScenarioOutput, vmm: &str, dev: &str, dir: &str) -> Option<f64> {
    let prefix = format!("{vmm} HANGAR-L2-BLKBENCH {dev} ");
    s.text
        .lines()
        .filter_map(|l| l.trim().strip_prefix(prefix.as_str()))
        .filter_map(|line| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{dir}_s=")))
                .and_then(|v| v.parse().ok())
                .filter(|v: &f64| *v > 0.0)
        })
        .min_by(f64::total_cmp)
}

fn main() {
    let sb = Sandbox::prepare(
        Path::new(env!("CARGO_BIN_EXE_hangar-vmm")),
        Options { with_qemu: true },
    )
    .unwrap_or_else(|e| panic!("sandbox: {e}"));
    let report = sb
        .run(
            &[scenario()],
            Duration::from_secs(1500),
            Duration::from_secs(2400),
        )
        .unwrap_or_else(|e| panic!("sandbox run: {e}"));
    let s = report.scenario("blk-bench");
    println!("{}", s.text);
    println!(
        "\nvirtio-blk guest dd benchmark: {MIB} MiB in 1 MiB blocks, O_DIRECT (writes with fsync), \
         best of 2 rounds, {VCPUS} vCPU, {MEMORY_MIB} MiB, nested KVM sandbox; MB/s (higher is better)"
    );
    println!(
        "{:<14} {:>12} {:>12} {:>10}",
        "image / dir", "hangar-vmm", "qemu -M pc", "ratio"
    );
    let mb = f64::from(MIB) * 1.048_576;
    let mut missing = false;
    for (dev, image) in [("vda", "raw"), ("vdb", "qcow2")] {
        for dir in ["write", "read"] {
            let hv = seconds(s, "hangar-vmm", dev, dir).map(|t| mb / t);
            let qemu = seconds(s, "qemu-pc", dev, dir).map(|t| mb / t);
            let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
            let ratio = match (hv, qemu) {
                (Some(h), Some(q)) => format!("{:.2}", h / q),
                _ => {
                    missing = true;
                    "-".to_string()
                }
            };
            println!(
                "{:<14} {:>12} {:>12} {:>10}",
                format!("{image} {dir}"),
                show(hv),
                show(qemu),
                ratio
            );
        }
    }
    println!("ratio = hangar-vmm / QEMU (target >= 1.0)");
    println!("sandbox run: {:.0} s", report.elapsed.as_secs_f64());
    if missing {
        eprintln!("some figures are missing; sandbox log:\n{}", report.raw);
        std::process::exit(1);
    }
}
