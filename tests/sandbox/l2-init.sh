#!/bin/busybox sh
# /init of the L2 guest that hangar-vmm (or QEMU, for the benchmark) boots.
# What it does is chosen by `hangar_mode=` on the kernel command line; every
# line the tests look for starts with HANGAR-L2-.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mode=$(sed -n 's/.*hangar_mode=\([a-z]*\).*/\1/p' /proc/cmdline)
echo "HANGAR-L2-INIT mode=$mode"
echo "HANGAR-L2-NPROC $(nproc)"
echo "HANGAR-L2-MEMTOTAL-KIB $(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"

# The ACPI power button reaches user space as KEY_POWER on an input device;
# busybox acpid turns it into /etc/acpi/PWRF/00000080.
for m in /lib/modules/*.ko; do insmod "$m" 2>/dev/null; done
mkdir -p /etc/acpi/PWRF /var/log /var/run
printf '#!/bin/sh\necho HANGAR-L2-POWER-BUTTON >/dev/console\npoweroff -f\n' >/etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
acpid -c /etc/acpi -l /var/log/acpid.log

# load_virtio [MODULE...]: the virtio core and the virtio-pci transport,
# then the driver of every virtio PCI device the guest sees, then MODULEs.
# Modules live in /lib/modules/virtio/ under their /proc/modules names
# (dashes as underscores); each line of virtio_drivers is a PCI device id
# and the modules its driver needs, in load order.
virtio_drivers='
0x1041 failover net_failover virtio_net
0x1042 virtio_blk
0x1044 virtio_rng
0x1045 virtio_balloon
0x1052 virtio_input
'
load_module() {
    grep -q "^$1 " /proc/modules && return 0
    if [ ! -e "/lib/modules/virtio/$1.ko" ]; then
        echo "HANGAR-L2-NO-MODULE $1"
        return 1
    fi
    insmod "/lib/modules/virtio/$1.ko" || echo "HANGAR-L2-INSMOD-FAILED $1"
}
load_virtio() {
    for _m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci; do
        load_module "$_m"
    done
    for _dev in /sys/bus/pci/devices/*; do
        [ "$(cat "$_dev/vendor" 2>/dev/null)" = 0x1af4 ] || continue
        for _m in $(echo "$virtio_drivers" | sed -n "s/^$(cat "$_dev/device") //p"); do
            load_module "$_m"
        done
    done
    for _m in "$@"; do
        load_module "$_m"
    done
    echo "HANGAR-L2-VIRTIO $(grep -o '^virtio[a-z_]*' /proc/modules | sort | tr '\n' ' ')"
}
# Only guests with virtio devices pay for loading the modules.
grep -qs 0x1af4 /sys/bus/pci/devices/*/vendor && load_virtio
echo "HANGAR-L2-READY"

case "$mode" in
poweroff)
    echo "HANGAR-L2-POWEROFF"
    poweroff -f
    ;;
reboot)
    echo "HANGAR-L2-REBOOT"
    reboot -f
    ;;
counter)
    i=0
    while :; do
        echo "HANGAR-L2-COUNT $i"
        i=$((i + 1))
        sleep 0.2
    done
    ;;
esac
# Default: an interactive shell on the serial console (ttyS0 is /dev/console).
while :; do
    setsid cttyhack sh -i
done
