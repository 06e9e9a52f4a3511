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

# Network modes: virtio-net up, its MAC printed, an address (hangar_ip= or
# DHCP from the network's dnsmasq), then pings of hangar_ping= until one
# answers; the guest stays up afterwards so peers can ping it.
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
net_up() {
    # load_virtio ran at boot; these are no-ops unless it missed the card.
    for m in failover net_failover virtio_net; do
        load_module $m
    done
    n=0
    while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    echo "HANGAR-L2-NET-MAC $(cat /sys/class/net/eth0/address 2>/dev/null || echo none)"
    ip link set lo up
    ip link set eth0 up
}
ping_until() {
    n=0
    while [ $n -lt 90 ]; do
        if ping -c 1 -W 2 "$1" >/dev/null 2>&1; then
            echo "HANGAR-L2-PING-OK $1"
            return 0
        fi
        n=$((n + 1))
        sleep 1
    done
    echo "HANGAR-L2-PING-FAIL $1"
}

case "$mode" in
disk)
    # The virtio-blk scenario (tests/e2e/virtio_blk.rs): vda qcow2, vdb raw,
    # vdc a CD-ROM. First boot: a file system and a file on vda, a pattern
    # on vdb, reboot. Second boot: read both back, check the CD-ROM.
    for m in virtio_blk crc16 mbcache jbd2 crc32c_generic ext4; do load_module "$m"; done
    for d in vda vdb vdc; do
        q=/sys/block/$d/queue
        echo "HANGAR-L2-DISK-DEV $d size=$(cat /sys/block/$d/size) ro=$(cat /sys/block/$d/ro)" \
            "serial=$(cat /sys/block/$d/serial 2>/dev/null) discard=$(cat $q/discard_max_bytes)" \
            "zeroes=$(cat $q/write_zeroes_max_bytes)"
    done
    mkdir -p /mnt
    if mount -t ext4 /dev/vda /mnt 2>/dev/null; then
        echo "HANGAR-L2-DISK-READBACK $(md5sum </mnt/hello.txt | cut -d' ' -f1)"
        umount /mnt
        echo "HANGAR-L2-RAW-READBACK $(dd if=/dev/vdb bs=1M count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
        echo "HANGAR-L2-CDROM-MD5 $(dd if=/dev/vdc bs=64k iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
        if dd if=/dev/zero of=/dev/vdc bs=512 count=1 oflag=direct 2>/dev/null; then
            echo "HANGAR-L2-CDROM-WRITE accepted"
        else
            echo "HANGAR-L2-CDROM-WRITE refused"
        fi
        poweroff -f
    fi
    mke2fs /dev/vda >/dev/null 2>&1 || echo "HANGAR-L2-MKE2FS-FAILED"
    mount -t ext4 /dev/vda /mnt || echo "HANGAR-L2-MOUNT-FAILED"
    awk 'BEGIN { for (i = 0; i < 20000; i++) printf "hangar virtio-blk file line %d\n", i }' >/mnt/hello.txt
    echo "HANGAR-L2-DISK-WROTE $(md5sum </mnt/hello.txt | cut -d' ' -f1)"
    umount /mnt
    # 1 MiB of 32-byte lines, written with O_DIRECT from a file (a pipe
    # would give dd short blocks).
    awk 'BEGIN { for (i = 0; i < 32768; i++) printf "hangar-raw-line-%015d\n", i }' >/tmp/raw.pat
    dd if=/tmp/raw.pat of=/dev/vdb bs=1M oflag=direct conv=fsync 2>/dev/null
    echo "HANGAR-L2-RAW-WROTE $(md5sum </tmp/raw.pat | cut -d' ' -f1)"
    sync
    reboot -f
    ;;
blkbench)
    # The virtio-blk benchmark (tests/vmm_blk_bench.rs): O_DIRECT dd write
    # (with fsync) then read of hangar_blk_mib MiB on each disk.
    load_module virtio_blk
    mib=$(sed -n 's/.*hangar_blk_mib=\([0-9]*\).*/\1/p' /proc/cmdline)
    up() { cut -d' ' -f1 /proc/uptime; }
    for d in vda vdb; do
        [ -b /dev/$d ] || { echo "HANGAR-L2-NO-DISK $d"; continue; }
        t0=$(up)
        dd if=/dev/zero of=/dev/$d bs=1M count="$mib" oflag=direct conv=fsync 2>/dev/null
        t1=$(up)
        dd if=/dev/$d of=/dev/null bs=1M count="$mib" iflag=direct 2>/dev/null
        t2=$(up)
        echo "HANGAR-L2-BLKBENCH $d mib=$mib write_s=$(awk "BEGIN { print $t1 - $t0 }") read_s=$(awk "BEGIN { print $t2 - $t1 }")"
    done
    poweroff -f
    ;;
netstatic)
    net_up
    ip addr add "$(arg hangar_ip)" dev eth0
    ping_until "$(arg hangar_ping)"
    ;;
netdhcp)
    net_up
    printf '#!/bin/sh\ncase "$1" in bound|renew)\n  ip addr add "$ip/$mask" dev "$interface"\n  [ -n "$router" ] && ip route add default via "${router%%%% *}"\n  echo "HANGAR-L2-DHCP-LEASE $ip router=$router" >/dev/console ;;\nesac\n' >/etc/udhcpc.script
    chmod +x /etc/udhcpc.script
    udhcpc -i eth0 -x hostname:l2dhcp -t 40 -T 2 -n -q -s /etc/udhcpc.script || echo "HANGAR-L2-DHCP-FAIL"
    ping_until "$(arg hangar_ping)"
    ;;
balloon)
    # The virtio-balloon scenario (tests/e2e/balloon.rs): MemTotal every
    # second while the host resizes the balloon.
    i=0
    while [ "$i" -lt 120 ]; do
        echo "HANGAR-L2-BALLOON-MEMTOTAL $(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
        sleep 1
        i=$((i + 1))
    done
    poweroff -f
    ;;
poweroff)
    # hangar_dmesg (the benchmark's diagnostic run): what the boot did.
    if grep -q hangar_dmesg /proc/cmdline; then
        echo "HANGAR-L2-UPTIME $(cat /proc/uptime)"
        dmesg
        grep -m1 '^flags' /proc/cpuinfo
        cat /sys/devices/system/clocksource/clocksource0/current_clocksource
        cat /proc/interrupts
    fi
    echo "HANGAR-L2-POWEROFF"
    poweroff -f
    ;;
reboot)
    echo "HANGAR-L2-REBOOT"
    reboot -f
    ;;
fb)
    # A known pattern on the framebuffer (tests/vnc_tools.rs checks it in
    # the VNC clients' screenshots), then a shell reading the keyboard
    # (tty1, shown on the framebuffer) and answering on the serial console.
    echo 0 >/sys/class/graphics/fbcon/cursor_blink 2>/dev/null
    if [ -c /dev/fb0 ]; then
        echo "HANGAR-L2-FB size=$(cat /sys/class/graphics/fb0/virtual_size) stride=$(cat /sys/class/graphics/fb0/stride) name=$(cat /sys/class/graphics/fb0/name)"
        stride=$(cat /sys/class/graphics/fb0/stride)
        # rect X Y B G R: a 128x100 rectangle of that colour (bytes in
        # memory order: x8r8g8b8 little-endian is B, G, R, X).
        rect() {
            printf "\\$(printf %03o "$3")\\$(printf %03o "$4")\\$(printf %03o "$5")\\000" >/tmp/px
            for _ in 1 2 3 4 5 6 7; do cat /tmp/px /tmp/px >/tmp/px2; mv /tmp/px2 /tmp/px; done
            y=$2
            while [ "$y" -lt $(($2 + 100)) ]; do
                dd if=/tmp/px of=/dev/fb0 bs=4 seek=$((y * stride / 4 + $1)) conv=notrunc 2>/dev/null
                y=$((y + 1))
            done
        }
        rect 128 400 0 0 255
        rect 384 400 0 255 0
        rect 640 400 255 0 0
        rect 128 600 255 255 255
        echo "HANGAR-L2-FB-DRAWN"
    else
        echo "HANGAR-L2-FB-MISSING"
    fi
    setsid sh -c 'exec </dev/tty1 >/dev/ttyS0 2>&1; exec sh' &
    ;;
counterdisk)
    # The snapshot scenario (tests/e2e/snapshot.rs): the counter of mode
    # counter, run in the background with disk I/O on vda each tick (so
    # requests are in flight when the host saves), and a shell on the
    # console. `snapdisk write N` puts /tmp/patN (1 MiB, made at boot, so
    # it is in the saved memory) on MiB N of vda; `snapdisk read N` reads
    # MiB N back with O_DIRECT after dropping the caches. Both print the
    # md5 on a HANGAR-L2-SNAPDISK- line the typed command does not contain.
    load_module virtio_blk
    for n in 0 1; do
        awk "BEGIN { for (i = 0; i < 32768; i++) printf \"snap-$n-line-%019d\\n\", i }" >/tmp/pat$n
    done
    cat >/bin/snapdisk <<'EOF'
#!/bin/sh
case "$1" in
write)
    dd if=/tmp/pat$2 of=/dev/vda bs=1M seek="$2" count=1 oflag=direct conv=fsync 2>/dev/null ||
        echo "HANGAR-L2-SNAPDISK-ERROR write $2"
    echo "HANGAR-L2-SNAPDISK-WROTE $2 $(md5sum </tmp/pat$2 | cut -d' ' -f1)"
    ;;
read)
    sync
    echo 3 >/proc/sys/vm/drop_caches
    echo "HANGAR-L2-SNAPDISK-READ $2 $(dd if=/dev/vda bs=1M skip="$2" count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
    ;;
esac
EOF
    chmod +x /bin/snapdisk
    if [ -b /dev/vda ]; then
        snapdisk write 0
        snapdisk read 0
    else
        echo "HANGAR-L2-NO-DISK vda"
    fi
    (
        i=0
        while :; do
            echo "HANGAR-L2-COUNT $i"
            i=$((i + 1))
            dd if=/dev/vda of=/dev/null bs=1M count=1 iflag=direct 2>/dev/null
            dd if=/tmp/pat0 of=/dev/vda bs=1M seek=3 count=1 oflag=direct 2>/dev/null
            sleep 0.2
        done
    ) &
    ;;
fblat)
    # The VNC latency benchmark (tests/vnc_latency_bench.rs), the same under
    # hangar-vmm and QEMU: each line "p C N" read from the serial console
    # paints rows 600-615 of the framebuffer, full width, in colour C
    # (0-7: bit 0 blue, bit 1 green, bit 2 red) with one dd, then answers
    # "HANGAR-L2-ACK N"; "e C N" only answers (the serial round trip).
    echo 0 >/sys/class/graphics/fbcon/cursor_blink 2>/dev/null
    if [ ! -c /dev/fb0 ]; then
        echo "HANGAR-L2-FB-MISSING"
        poweroff -f
    fi
    stride=$(cat /sys/class/graphics/fb0/stride)
    bytes=$(($(cat /sys/class/graphics/fb0/bits_per_pixel) / 8))
    echo "HANGAR-L2-FB size=$(cat /sys/class/graphics/fb0/virtual_size) stride=$stride bpp=$((bytes * 8)) name=$(cat /sys/class/graphics/fb0/name)"
    c=0
    while [ $c -lt 8 ]; do
        # One pixel in memory order (B, G, R[, X]), doubled to 4096 pixels,
        # cut to one row of stride bytes, doubled to 16 rows.
        b=$(((c & 1) * 255)) g=$(((c >> 1 & 1) * 255)) r=$(((c >> 2 & 1) * 255))
        printf "\\$(printf %03o $b)\\$(printf %03o $g)\\$(printf %03o $r)" >/tmp/px
        [ "$bytes" = 4 ] && printf '\000' >>/tmp/px
        for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do cat /tmp/px /tmp/px >/tmp/px2; mv /tmp/px2 /tmp/px; done
        dd if=/tmp/px of=/tmp/band$c bs="$stride" count=1 2>/dev/null
        for _ in 1 2 3 4; do cat /tmp/band$c /tmp/band$c >/tmp/px2; mv /tmp/px2 /tmp/band$c; done
        c=$((c + 1))
    done
    exec </dev/ttyS0 >/dev/ttyS0 2>&1
    stty -echo
    echo "HANGAR-L2-FBLAT-READY"
    while read -r op c n; do
        [ "$op" = p ] && dd if=/tmp/band$c of=/dev/fb0 bs="$stride" seek=600 conv=notrunc 2>/dev/null
        echo "HANGAR-L2-ACK $n"
    done
    ;;
input)
    # The virtio-input scenario (tests/e2e/input.rs): the tablet's and the
    # keyboard's entries in /proc/bus/input/devices, then every event of
    # their /dev/input nodes decoded as it arrives (an x86_64 input_event
    # is 24 bytes: a 16-byte timeval, le16 type, le16 code, le32 value).
    # load_virtio loaded virtio_input for the devices (id 0x1052).
    load_module virtio_input
    n=0
    while [ "$(grep -c 'Name="Hangar Virtio' /proc/bus/input/devices)" -lt 2 ] && [ $n -lt 100 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    # input_block NAME: the lines of that device's entry, its I: line first.
    input_block() {
        awk -v name="$1" '/^I:/ { i = $0 } /^N:/ { t = index($0, name) > 0; if (t) print i }
            t && NF && !/^I:/ { print } /^$/ { t = 0 }' /proc/bus/input/devices
    }
    input_block 'Hangar Virtio Tablet' | sed 's/^/HANGAR-L2-TABLET-DEV /'
    input_block 'Hangar Virtio Keyboard' | sed 's/^/HANGAR-L2-KBD-DEV /'
    # watch_events NAME TAG: prints TAG type=T code=C value=V per event.
    watch_events() {
        node=$(input_block "$1" | sed -n 's/^H:.*\(event[0-9]*\).*/\1/p')
        [ -c "/dev/input/$node" ] || { echo "HANGAR-L2-NO-EVENT-NODE $1"; return; }
        (
            # One open file for the whole watch: evdev drops events of
            # readers that are not open.
            exec </dev/input/$node
            while :; do
                dd bs=24 count=1 2>/dev/null | od -An -v -tu2 | tr -s ' \n' '  ' |
                    awk -v tag="$2" '{ print tag " type=" $9 " code=" $10 " value=" $11 + 65536 * $12 }'
            done
        ) &
    }
    watch_events 'Hangar Virtio Tablet' HANGAR-L2-TABLET-EVENT
    watch_events 'Hangar Virtio Keyboard' HANGAR-L2-KBD-EVENT
    sleep 1
    echo "HANGAR-L2-INPUT-LISTENING"
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
