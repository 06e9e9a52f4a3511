//! virtio-pci and virtio-rng in a real guest: the stock Debian kernel finds
//! the device on the PCI bus the DSDT describes, binds virtio_pci with
//! MSI-X, and reads entropy through /dev/hwrng; the device survives a
//! guest reboot without the VMM gaining threads or file descriptors.

use crate::sandbox::Scenario;
use crate::{fact, scenario};

/// The sandbox scenarios of this file.
pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario::new(
        "virtio-rng",
        r#"
EXTRA_DEVICES="<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>" start_vm vrng 128 2 shell
wait_for "$WORK/vrng.log" HANGAR-L2-READY 240 || { show vrng; exit 1; }
# What the guest sees, typed into its shell.
check='for d in /sys/bus/pci/devices/*; do echo "PCIDEV $(basename $d) $(cat $d/vendor) $(cat $d/device) $(basename $(readlink $d/driver) 2>/dev/null)"; done; echo "RNGCUR $(cat /sys/class/misc/hw_random/rng_current)"; echo "RNGAVAIL $(cat /sys/class/misc/hw_random/rng_available)"; rm -f /tmp/r; dd if=/dev/hwrng of=/tmp/r bs=4096 count=1 2>/dev/null; echo "RNGBYTES $(wc -c </tmp/r)"; echo "RNGDISTINCT $(od -An -v -tx1 /tmp/r | tr -s " " "\n" | grep . | sort -u | wc -l)"; grep virtio /proc/interrupts | tr -s " " | sed "s/^/IRQLINE /"'
guest_run vrng 90 "$check" || { show vrng; exit 1; }
vmm_pid=$(for p in /proc/[0-9]*; do grep -qs vrng.xml "$p/cmdline" && echo "${p#/proc/}"; done | head -1)
# Counted once the console client that typed the commands has gone: its
# threads in the VMM end a moment after it disconnects.
settled_threads() {
    _n=0
    while cat /proc/$1/task/*/comm 2>/dev/null | grep -q -e control-client -e console-out && [ $_n -lt 100 ]; do
        sleep 0.1; _n=$((_n+1))
    done
    echo "THREADS $(cat /proc/$1/task/*/comm 2>/dev/null | tr '\n' ' ')" >&2
    ls "/proc/$1/task" | wc -l
}
threads1=$(settled_threads "$vmm_pid")
fds1=$(ls "/proc/$vmm_pid/fd" | wc -l)
tr -d '\r' <"$WORK/vrng.log" >"$WORK/vrng.1"
echo "FACT vr_pci_rng=$(grep -c '^PCIDEV .* 0x1af4 0x1044 virtio-pci' "$WORK/vrng.1")"
echo "FACT vr_host_bridge=$(grep -c '^PCIDEV 0000:00:00.0 ' "$WORK/vrng.1")"
echo "FACT vr_modules=$(sed -n 's/^HANGAR-L2-VIRTIO //p' "$WORK/vrng.1" | head -1)"
echo "FACT vr_current=$(sed -n 's/^RNGCUR \([a-z]\)/\1/p' "$WORK/vrng.1" | head -1)"
echo "FACT vr_available=$(sed -n 's/^RNGAVAIL \([a-z]\)/\1/p' "$WORK/vrng.1" | head -1)"
# Wrapped lines of the typed command echo back too: take numbers only.
echo "FACT vr_bytes=$(sed -n 's/^RNGBYTES \([0-9]*\)$/\1/p' "$WORK/vrng.1" | head -1)"
echo "FACT vr_distinct=$(sed -n 's/^RNGDISTINCT \([0-9]*\)$/\1/p' "$WORK/vrng.1" | head -1)"
echo "FACT vr_msix_lines=$(grep '^IRQLINE' "$WORK/vrng.1" | grep -c 'MSI')"
grep -e '^IRQLINE' -e '^PCIDEV' "$WORK/vrng.1"
# A reboot builds the machine again: the device works again and the VMM
# has the same threads and descriptors as before.
ctl vrng reboot
n=0
while [ "$(count_lines "$WORK/vrng.log" HANGAR-L2-READY)" -lt 2 ] && [ $n -lt 2400 ]; do sleep 0.1; n=$((n+1)); done
guest_run vrng 90 'rm -f /tmp/r; dd if=/dev/hwrng of=/tmp/r bs=4096 count=1 2>/dev/null; echo "RNGAGAIN $(wc -c </tmp/r)"' || { show vrng; exit 1; }
threads2=$(settled_threads "$vmm_pid")
fds2=$(ls "/proc/$vmm_pid/fd" | wc -l)
echo "FACT vr_after_reboot=$(tr -d '\r' <"$WORK/vrng.log" | sed -n 's/^RNGAGAIN \([0-9]*\)$/\1/p' | head -1)"
echo "FACT vr_threads=$threads1,$threads2"
echo "FACT vr_fds=$fds1,$fds2"
ctl vrng shutdown
wait_exit vrng 120
show vrng
# Without MSI (pci=nomsi) the driver falls back to INTx: the _PRT routes
# slot 1's INTA# to IOAPIC pin 17 and the ISR register tells why.
EXTRA_CMDLINE=pci=nomsi EXTRA_DEVICES="<rng model='virtio'/>" start_vm vrngx 128 1 shell destroy
wait_for "$WORK/vrngx.log" HANGAR-L2-READY 240 || { show vrngx; exit 1; }
guest_run vrngx 90 'rm -f /tmp/r; dd if=/dev/hwrng of=/tmp/r bs=4096 count=1 2>/dev/null; echo "RNGINTX $(wc -c </tmp/r)"; grep virtio /proc/interrupts | tr -s " " | sed "s/^/IRQLINE /"' || { show vrngx; exit 1; }
tr -d '\r' <"$WORK/vrngx.log" >"$WORK/vrngx.1"
echo "FACT vr_intx_bytes=$(sed -n 's/^RNGINTX \([0-9]*\)$/\1/p' "$WORK/vrngx.1" | head -1)"
echo "FACT vr_intx_ioapic=$(grep '^IRQLINE' "$WORK/vrngx.1" | grep -c 'IO-APIC')"
echo "FACT vr_intx_msi=$(grep '^IRQLINE' "$WORK/vrngx.1" | grep -c 'MSI')"
grep '^IRQLINE' "$WORK/vrngx.1"
ctl vrngx destroy
wait_exit vrngx 60
"#,
    )]
}

#[test]
fn guest_finds_virtio_rng_on_pci_and_reads_entropy_through_msix() {
    let s = scenario("virtio-rng");
    assert_eq!(fact(s, "vr_host_bridge"), "1", "host bridge at 00:00.0");
    assert_eq!(fact(s, "vr_pci_rng"), "1", "virtio-rng bound to virtio-pci");
    let modules = fact(s, "vr_modules");
    for m in ["virtio_pci", "virtio_rng", "virtio_ring"] {
        assert!(modules.split(' ').any(|x| x == m), "{m} not in {modules}");
    }
    assert!(fact(s, "vr_available").contains("virtio_rng"));
    assert!(fact(s, "vr_current").starts_with("virtio_rng"));
    assert_eq!(fact(s, "vr_bytes"), "4096");
    let distinct: u32 = fact(s, "vr_distinct").parse().expect("number");
    assert!(
        distinct > 200,
        "4 KiB of entropy has {distinct} distinct byte values"
    );
    let msix: u32 = fact(s, "vr_msix_lines").parse().expect("number");
    assert!(msix >= 1, "virtio interrupts are MSI-X lines");
}

#[test]
fn without_msi_the_device_interrupts_through_its_intx_line() {
    let s = scenario("virtio-rng");
    assert_eq!(fact(s, "vr_intx_bytes"), "4096");
    assert_eq!(fact(s, "vr_intx_msi"), "0");
    let ioapic: u32 = fact(s, "vr_intx_ioapic").parse().expect("number");
    assert!(ioapic >= 1, "virtio0 on an IO-APIC line");
}

#[test]
fn virtio_rng_survives_a_guest_reboot_without_leaks() {
    let s = scenario("virtio-rng");
    assert_eq!(fact(s, "vr_after_reboot"), "4096");
    let pair = |name: &str| -> (u32, u32) {
        let v = fact(s, name);
        let (a, b) = v.split_once(',').expect("pair");
        (a.parse().expect("n"), b.parse().expect("n"))
    };
    let (t1, t2) = pair("vr_threads");
    assert_eq!(t1, t2, "threads before and after the reboot");
    let (f1, f2) = pair("vr_fds");
    assert_eq!(f1, f2, "file descriptors before and after the reboot");
    assert!(s.has("EXIT vrng rc=0"));
}
