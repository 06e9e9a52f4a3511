#!/bin/busybox sh
# /init of the L1 sandbox guest booted by QEMU under TCG: loads KVM (AMD SVM
# emulated by QEMU) and runs each scenario script, fencing its output.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Kernel messages of L1 (its KVM's "Unhandled WRMSR" notes) stay in dmesg: on
# the console they would land in the middle of a scenario's output lines.
echo 1 >/proc/sys/kernel/printk
mkdir -p /tmp /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
for m in irqbypass kvm ccp kvm-amd; do
    insmod /lib/modules/$m.ko || echo "HANGAR-SANDBOX-ERROR insmod $m failed"
done
[ -c /dev/kvm ] || echo "HANGAR-SANDBOX-ERROR no /dev/kvm"
# Bridges, taps, nftables, veth (load order from build-initramfs.sh).
while read -r m; do
    insmod /lib/modules/net/$m.ko || echo "HANGAR-SANDBOX-ERROR insmod $m failed"
done </lib/modules/net/order
ip link set lo up
# A user-mode NIC when the runner forwards host ports (QEMU's slirp: the
# guest is 10.0.2.15, forwarded connections arrive there).
if insmod /lib/modules/net/e1000.ko 2>/dev/null && [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up
    ip addr add 10.0.2.15/24 dev eth0
fi
export HV=/bin/hangar-vmm HCTL=/bin/hangarctl KERNEL=/guest/vmlinuz INITRD=/guest/initrd.cpio
export GUEST_MODULES=/guest/modules PATH=/bin:/sbin:/usr/bin
echo "HANGAR-SANDBOX-READY"
for s in /scenarios/[0-9]*.sh; do
    name=$(basename "$s" .sh)
    export WORK=/tmp/$name
    mkdir -p "$WORK"
    echo "=== HANGAR-SCENARIO-BEGIN $name ==="
    timeout "${SCENARIO_TIMEOUT:-300}" sh -c ". /scenarios/lib.sh; . $s" </dev/null 2>&1
    rc=$?
    # A scenario cut short by its timeout may leave its VMs running; end
    # them so that the next scenario's process counts are its own.
    left=$(pidof hangar-vmm)
    [ -n "$left" ] && { echo "HANGAR-SCENARIO-LEFTOVER $name vmm=$left"; kill -9 $left; sleep 1; }
    echo "=== HANGAR-SCENARIO-END $name rc=$rc ==="
done
echo "HANGAR-SANDBOX-DONE"
poweroff -f
