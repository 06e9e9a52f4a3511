#!/bin/sh
# Builds the two initramfs images of the nested test sandbox.
#   build-initramfs.sh KERNEL_TREE HANGAR_VMM L2_OUT L1_OUT [qemu]
# KERNEL_TREE is a Debian linux-image package unpacked with dpkg -x. L2_OUT is
# the guest's busybox initramfs; L1_OUT is the sandbox's: busybox, the KVM
# modules, hangar-vmm (and hangarctl from the same folder, with util-linux's
# script) with their libraries, qemu-img, the L2 kernel and L2_OUT (and, with
# "qemu", qemu-system-x86_64 with its libraries and firmware for benchmarks;
# and the programs HANGAR_SANDBOX_PROGRAMS names, "NAME=PATH ...").
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tree=$1 vmm=$2 l2_out=$3 l1_out=$4 with=${5:-}
mods=$(echo "$tree"/lib/modules/*/kernel)
vmlinuz=$(echo "$tree"/boot/vmlinuz-*)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# copy_with_libs ROOT BINARY: BINARY and the shared libraries it needs.
copy_with_libs() {
    mkdir -p "$1$(dirname "$2")"
    cp -L "$2" "$1$2"
    ldd "$2" | sed -n 's/.*=> *\(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p' |
        while read -r lib; do
            mkdir -p "$1$(dirname "$lib")"
            cp -L "$lib" "$1$lib"
        done
}

# copy_modules DEST NAME...: the modules NAME and, before each, the modules
# it depends on (read from the .ko, the package has no modules.dep);
# DEST/order lists them in load order.
copy_modules() {
    _dest=$1
    shift
    mkdir -p "$_dest"
    touch "$_dest/order"
    for _m in "$@"; do
        add_module "$_dest" "$_m"
    done
}

add_module() {
    local name ko dep
    name=$(echo "$2" | tr - _)
    grep -qx "$name" "$1/order" && return 0
    ko=$(find "$mods" \( -name "$name.ko" -o -name "$(echo "$name" | tr _ -).ko" \) | head -n 1)
    [ -n "$ko" ] || { echo "module $name not found under $mods" >&2; exit 1; }
    for dep in $(strings "$ko" | sed -n 's/^depends=//p' | tr , ' '); do
        add_module "$1" "$dep"
    done
    cp "$ko" "$1/$name.ko"
    echo "$name" >>"$1/order"
}

make_cpio() {
    (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$2.tmp"
    mv "$2.tmp" "$2"
}

# L2: busybox, /init, the modules the power button path needs.
l2=$stage/l2
mkdir -p "$l2/bin" "$l2/lib/modules" "$l2/proc" "$l2/sys" "$l2/dev" "$l2/etc" "$l2/tmp"
cp /bin/busybox "$l2/bin/busybox"
cp "$here/l2-init.sh" "$l2/init"
chmod 755 "$l2/init"
cp "$mods/drivers/acpi/button.ko" "$mods/drivers/input/evdev.ko" "$l2/lib/modules/"
# virtio modules, loaded in dependency order by load_virtio in l2-init.sh,
# named as /proc/modules names them.
mkdir -p "$l2/lib/modules/virtio"
for m in virtio/virtio virtio/virtio_ring virtio/virtio_pci_modern_dev \
    virtio/virtio_pci_legacy_dev virtio/virtio_pci char/hw_random/virtio-rng; do
    name=$(basename "$m" | tr - _)
    cp "$mods/drivers/$m.ko" "$l2/lib/modules/virtio/$name.ko"
done
# virtio-blk, and what ext4 needs to mount the file system the virtio-blk
# scenario makes (tests/e2e/virtio_blk.rs), virtio_balloon
# (tests/e2e/balloon.rs) and virtio_input (tests/e2e/input.rs, it depends
# on virtio and virtio_ring only); loaded by load_module / load_virtio.
mkdir -p "$l2/lib/modules/virtio"
for m in drivers/block/virtio_blk lib/crc16 fs/mbcache fs/jbd2/jbd2 \
    crypto/crc32c_generic fs/ext4/ext4 drivers/virtio/virtio_balloon \
    drivers/virtio/virtio_input; do
    cp "$mods/$m.ko" "$l2/lib/modules/virtio/$(basename "$m").ko"
done
# virtio-net and what it needs (load order in virtio/order; load_virtio in
# l2-init.sh loads them for a virtio-net device).
copy_modules "$l2/lib/modules/virtio" virtio_net
make_cpio "$l2" "$l2_out"

# L1: busybox, /init, KVM, hangar-vmm, the L2 kernel and initramfs.
l1=$stage/l1
mkdir -p "$l1/bin" "$l1/lib/modules" "$l1/guest" "$l1/scenarios" "$l1/proc" "$l1/sys" \
    "$l1/dev" "$l1/etc" "$l1/tmp" "$l1/run"
cp /bin/busybox "$l1/bin/busybox"
cp "$here/l1-init.sh" "$l1/init"
chmod 755 "$l1/init"
cp "$here/lib.sh" "$l1/scenarios/lib.sh"
cp "$mods/virt/lib/irqbypass.ko" "$mods/arch/x86/kvm/kvm.ko" \
    "$mods/drivers/crypto/ccp/ccp.ko" "$mods/arch/x86/kvm/kvm-amd.ko" "$l1/lib/modules/"
# e1000: L1's user-mode NIC, through which the host reaches forwarded ports.
mkdir -p "$l1/lib/modules/net"
cp "$mods/drivers/net/ethernet/intel/e1000/e1000.ko" "$l1/lib/modules/net/"
copy_with_libs "$l1" "$vmm"
mv "$l1$vmm" "$l1/bin/hangar-vmm"
strip --strip-debug "$l1/bin/hangar-vmm"
# hangarctl (built next to hangar-vmm) drives VMs through the hangar driver;
# util-linux's script gives its console a terminal.
ctl=$(dirname "$vmm")/hangarctl
if [ -x "$ctl" ]; then
    copy_with_libs "$l1" "$ctl"
    mv "$l1$ctl" "$l1/bin/hangarctl"
    strip --strip-debug "$l1/bin/hangarctl"
    copy_with_libs "$l1" "$(command -v script)"
fi
# qemu-img checks the images guests wrote and makes benchmark images.
copy_with_libs "$l1" "$(command -v qemu-img)"
# Networking in L1: bridges and taps for VM NICs, nftables for NAT
# networks, veth for an "upstream" namespace; dnsmasq, nft and iproute2's
# ip (for ip netns) with their libraries, and the users dnsmasq looks up.
copy_modules "$l1/lib/modules/net" crc32c_generic bridge tun veth nf_tables nft_ct nft_reject_inet \
    nft_chain_nat nft_masq nft_nat
for tool in /usr/sbin/dnsmasq /usr/sbin/nft /usr/sbin/ip; do
    copy_with_libs "$l1" "$tool"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\ndnsmasq:x:101:65534:dnsmasq:/:/bin/false\n' >"$l1/etc/passwd"
printf 'root:x:0:\ndip:x:30:\nnogroup:x:65534:\n' >"$l1/etc/group"
: >"$l1/etc/resolv.conf"
: >"$l1/etc/hosts"
cp "$vmlinuz" "$l1/guest/vmlinuz"
cp "$l2_out" "$l1/guest/initrd.cpio"
if [ "$with" = qemu ]; then
    copy_with_libs "$l1" "$(command -v qemu-system-x86_64)"
    mkdir -p "$l1/usr/share/qemu" "$l1/usr/share/seabios"
    for f in bios-256k.bin bios-microvm.bin kvmvapic.bin linuxboot_dma.bin \
        vgabios-stdvga.bin efi-e1000.rom; do
        [ -e "/usr/share/qemu/$f" ] && cp -L "/usr/share/qemu/$f" "$l1/usr/share/qemu/"
    done
    cp -L /usr/share/seabios/* "$l1/usr/share/seabios/" 2>/dev/null || true
    # The VNC server's keyboard layouts (the VNC latency benchmark).
    [ -d /usr/share/qemu/keymaps ] && cp -rL /usr/share/qemu/keymaps "$l1/usr/share/qemu/"
fi
# Programs a test brings along (HANGAR_SANDBOX_PROGRAMS="NAME=PATH ..."),
# each as /bin/NAME with its libraries.
for program in ${HANGAR_SANDBOX_PROGRAMS:-}; do
    name=${program%%=*} path=${program#*=}
    copy_with_libs "$l1" "$path"
    mv "$l1$path" "$l1/bin/$name"
    strip --strip-debug "$l1/bin/$name"
done
make_cpio "$l1" "$l1_out"
