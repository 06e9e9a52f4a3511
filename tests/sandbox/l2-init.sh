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
