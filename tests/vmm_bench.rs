//! Benchmark: boot time and memory overhead of `hangar-vmm` against QEMU
//! (`-M microvm` and `-M pc`, both with KVM), same kernel, initrd, memory
//! and vCPUs, all in one boot of the nested sandbox. Prints figures; run
//! with `make bench-vmm` (`cargo bench -p hangar-core --bench vmm_boot`).

#[path = "sandbox/mod.rs"]
mod sandbox;

use sandbox::{Options, Sandbox, Scenario, ScenarioOutput};
use std::path::Path;
use std::time::Duration;

const MEMORY_MIB: u32 = 256;
const VCPUS: u32 = 2;

/// Times one launch: to the /init marker and to the process's exit.
const TIMING: &str = r#"
now() { cut -d' ' -f1 /proc/uptime; }
# bench NAME LOG COMMAND...: runs COMMAND, whose guest writes LOG.
bench() {
    name=$1 log=$2
    shift 2
    t0=$(now)
    "$@" >"$WORK/$name.out" 2>&1 &
    pid=$!
    t_init=""
    while kill -0 "$pid" 2>/dev/null; do
        if [ -z "$t_init" ] && grep -q HANGAR-L2-INIT "$log" 2>/dev/null; then
            t_init=$(now)
        fi
        sleep 0.05
    done
    t_end=$(now)
    [ -z "$t_init" ] && grep -q HANGAR-L2-INIT "$log" 2>/dev/null && t_init=$t_end
    [ -n "${TRACE:-}" ] && sed "s/^/[$name] /" "$log"
    [ -n "${TRACE:-}" ] && sed "s/^/[$name-out] /" "$WORK/$name.out"
    echo "RESULT $name init=$(echo "$t_init $t0" | awk '{print $1 - $2}') poweroff=$(echo "$t_end $t0" | awk '{print $1 - $2}') powered_off=$(grep -c HANGAR-L2-POWEROFF "$log")"
}
CMDLINE="console=ttyS0 quiet panic=-1 pci=noearly hangar_mode=poweroff${TRACE:+ initcall_debug log_buf_len=4M hangar_dmesg}"
QEMU="qemu-system-x86_64 -L /usr/share/qemu -L /usr/share/seabios -accel kvm -cpu host \
 -m MEM -smp VCPUS -nodefaults -no-user-config -display none -monitor none -no-reboot"
"#;

fn scenarios() -> Vec<Scenario> {
    let qemu = |machine: &str, name: &str| {
        format!(
            "bench {name} $WORK/{name}.log $QEMU -M {machine} -serial file:$WORK/{name}.log \
             -kernel $KERNEL -initrd $INITRD -append \"$CMDLINE\"\n"
        )
    };
    let timing = TIMING
        .replace("MEM", &MEMORY_MIB.to_string())
        .replace("VCPUS", &VCPUS.to_string());
    // HANGAR_BENCH_TRACE=1: a diagnostic run instead of a measurement. The
    // guests boot with initcall_debug and print their dmesg, CPU flags and
    // interrupt counts before powering off, and the serial logs are shown,
    // to compare where each VMM's guest spends its boot.
    let trace = std::env::var_os("HANGAR_BENCH_TRACE").is_some();
    let trace_setup = if trace {
        "TRACE=1\nEXTRA_CMDLINE=\"initcall_debug log_buf_len=4M hangar_dmesg\"\n"
    } else {
        ""
    };
    let boot = format!(
        "{trace_setup}{timing}\
         domain_xml hv {MEMORY_MIB} {VCPUS} poweroff >$WORK/hv.xml\n\
         export XDG_CACHE_HOME=$WORK/kernel-cache\n\
         bench hangar-vmm-cold $WORK/hvc.log $HV run --domain $WORK/hv.xml --socket $WORK/hvc.sock \
         --serial-log $WORK/hvc.log\n\
         bench hangar-vmm $WORK/hv.log $HV run --domain $WORK/hv.xml --socket $WORK/hv.sock \
         --serial-log $WORK/hv.log\n\
         {}{}",
        if trace {
            String::new()
        } else {
            qemu("microvm", "qemu-microvm")
        },
        qemu("pc", "qemu-pc")
    );
    // Memory: RSS of hangar-vmm with a booted guest, minus the guest RAM
    // mapping's own RSS (the memory the guest touched).
    let rss = format!(
        r#"
export XDG_CACHE_HOME=$WORK/kernel-cache
start_vm rss {MEMORY_MIB} {VCPUS} shell
wait_for "$WORK/rss.log" HANGAR-L2-READY 300
sleep 2
pid=$(ctl rss status | sed -n 's/^pid=//p')
total=$(awk '/^Rss:/ {{ s += $2 }} END {{ print s }}' /proc/$pid/smaps)
guest=0
for line in $(awk '/^[0-9a-f]+-[0-9a-f]+ / {{ r = $1 }} /^Rss:/ {{ print r "=" $2 }}' /proc/$pid/smaps); do
    range=${{line%=*}}
    kib=${{line#*=}}
    start=${{range%-*}}
    end=${{range#*-}}
    if [ $(( (0x$end - 0x$start) / 1024 )) -eq $(( {MEMORY_MIB} * 1024 )) ]; then guest=$kib; fi
done
echo "RESULT rss total_kib=$total guest_kib=$guest overhead_kib=$((total - guest))"
ctl rss destroy
wait_exit rss 30
"#
    );
    if trace {
        return vec![Scenario::new("boot", &boot)];
    }
    vec![Scenario::new("boot", &boot), Scenario::new("rss", &rss)]
}

fn field(s: &ScenarioOutput, name: &str, key: &str) -> Option<f64> {
    let line = s.value(&format!("RESULT {name} "))?;
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

fn main() {
    let sb = Sandbox::prepare(
        Path::new(env!("CARGO_BIN_EXE_hangar-vmm")),
        Options { with_qemu: true },
    )
    .unwrap_or_else(|e| panic!("sandbox: {e}"));
    let report = sb
        .run(
            &scenarios(),
            Duration::from_secs(900),
            Duration::from_secs(3000),
        )
        .unwrap_or_else(|e| panic!("sandbox run: {e}"));
    let boot = report.scenario("boot");
    println!("{}", boot.text);
    if std::env::var_os("HANGAR_BENCH_TRACE").is_some() {
        return;
    }
    let rss = report.scenario("rss");
    println!("{}", rss.text);
    println!(
        "\nhangar-vmm boot benchmark: {VCPUS} vCPUs, {MEMORY_MIB} MiB, Debian 6.1 bzImage + busybox initramfs, nested KVM sandbox"
    );
    println!(
        "{:<16} {:>12} {:>14}",
        "VMM", "to /init (s)", "to power-off (s)"
    );
    let mut rows = Vec::new();
    for name in ["hangar-vmm", "hangar-vmm-cold", "qemu-microvm", "qemu-pc"] {
        let init = field(boot, name, "init");
        let off = field(boot, name, "poweroff");
        let ok = field(boot, name, "powered_off").is_some_and(|n| n > 0.0);
        let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        println!(
            "{name:<16} {:>12} {:>14}{}",
            show(init),
            show(off),
            if ok { "" } else { "  (no power-off marker)" }
        );
        rows.push((name, init, off));
    }
    let fastest = |pick: fn(&(&str, Option<f64>, Option<f64>)) -> Option<f64>| {
        rows[2..]
            .iter()
            .filter_map(pick)
            .fold(f64::INFINITY, f64::min)
    };
    // Warm: the decompressed kernel came from the cache the cold start
    // (empty cache) filled.
    for (hv, label) in [(rows[0], "warm"), (rows[1], "cold")] {
        if let (Some(init), Some(off)) = (hv.1, hv.2) {
            let q_init = fastest(|r| r.1);
            let q_off = fastest(|r| r.2);
            println!(
                "ratio hangar-vmm ({label} kernel cache) / fastest QEMU: to /init {:.2}, to power-off {:.2} (target <= 0.5)",
                init / q_init,
                off / q_off
            );
        }
    }
    if let (Some(total), Some(guest), Some(over)) = (
        field(rss, "rss", "total_kib"),
        field(rss, "rss", "guest_kib"),
        field(rss, "rss", "overhead_kib"),
    ) {
        println!(
            "hangar-vmm RSS {:.1} MiB, guest memory touched {:.1} MiB, overhead {:.2} MiB (target <= 5)",
            total / 1024.0,
            guest / 1024.0,
            over / 1024.0
        );
    }
    println!("sandbox run: {:.0} s", report.elapsed.as_secs_f64());
}
