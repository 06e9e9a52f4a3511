//! virtio-blk in a real guest: a qcow2 disk made by `hangarctl vol-create-as`
//! (vda, with a `<serial>`), a raw disk (vdb) and a CD-ROM with known
//! content (vdc). The guest (`hangar_mode=disk` in l2-init.sh) makes a file
//! system on vda, writes a file and a pattern on vdb, reboots, reads both
//! back and checks the CD-ROM is read-only media with the right bytes;
//! `qemu-img check` then finds the qcow2 image clean. A disk whose image is
//! missing is refused at start with the file named.

use crate::sandbox::Scenario;
use crate::{fact, scenario};

/// The sandbox scenarios of this file.
pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario::new(
        "virtio-blk",
        r#"
export XDG_DATA_HOME="$WORK/data" XDG_RUNTIME_DIR="$WORK/run" HOME="$WORK"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
"$HCTL" -c hangar:///session vol-create-as default data.qcow2 64M --format qcow2 2>&1 | sed 's/^/VOLCREATE /'
q="$XDG_DATA_HOME/hangar/images/data.qcow2"
dd if=/dev/zero of="$WORK/raw.img" bs=1M count=0 seek=32 2>/dev/null
# 512 KiB of known content for the CD-ROM: 16384 lines of 32 bytes.
awk 'BEGIN { for (i = 0; i < 16384; i++) printf "hangar-cdrom-line-%013d\n", i }' >"$WORK/cd.iso"
echo "FACT cd_host_md5=$(md5sum <"$WORK/cd.iso" | cut -d' ' -f1)"
echo "FACT cd_host_size=$(wc -c <"$WORK/cd.iso")"
EXTRA_DEVICES="
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$q'/><target dev='vda' bus='virtio'/><serial>HANGAR-QCOW2</serial></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw' discard='unmap'/><source file='$WORK/raw.img'/><target dev='vdb' bus='virtio'/></disk>
<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='$WORK/cd.iso'/><target dev='vdc' bus='virtio'/><readonly/></disk>" \
    start_vm vblk 192 1 disk restart
wait_exit vblk 500 || { ctl vblk destroy; show vblk; }
tr -d '\r' <"$WORK/vblk.log" >"$WORK/vblk.txt"
grep '^HANGAR-L2-DISK' "$WORK/vblk.txt"
echo "FACT boots=$(grep -c '^HANGAR-L2-INIT' "$WORK/vblk.txt")"
echo "FACT wrote=$(sed -n 's/^HANGAR-L2-DISK-WROTE //p' "$WORK/vblk.txt" | head -1)"
echo "FACT read_back=$(sed -n 's/^HANGAR-L2-DISK-READBACK //p' "$WORK/vblk.txt" | head -1)"
echo "FACT raw_wrote=$(sed -n 's/^HANGAR-L2-RAW-WROTE //p' "$WORK/vblk.txt" | head -1)"
echo "FACT raw_read_back=$(sed -n 's/^HANGAR-L2-RAW-READBACK //p' "$WORK/vblk.txt" | head -1)"
echo "FACT raw_host_md5=$(dd if="$WORK/raw.img" bs=1M count=1 2>/dev/null | md5sum | cut -d' ' -f1)"
echo "FACT cd_guest_md5=$(sed -n 's/^HANGAR-L2-CDROM-MD5 //p' "$WORK/vblk.txt" | head -1)"
echo "FACT cd_write=$(sed -n 's/^HANGAR-L2-CDROM-WRITE //p' "$WORK/vblk.txt" | head -1)"
for d in vda vdb vdc; do
    echo "FACT dev_$d=$(sed -n "s/^HANGAR-L2-DISK-DEV $d //p" "$WORK/vblk.txt" | tail -1)"
done
echo "FACT cd_host_md5_after=$(md5sum <"$WORK/cd.iso" | cut -d' ' -f1)"
qemu-img check "$q" 2>&1 | sed 's/^/QCHECK /'
echo "FACT qcow2_check_rc=$(qemu-img check -q "$q" >/dev/null 2>&1; echo $?)"
qemu-img info "$q" 2>&1 | sed 's/^/QINFO /'
show vblk

# A disk whose image is missing: a clear error at start, naming the file.
EXTRA_DEVICES="<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$WORK/gone.qcow2'/><target dev='vda' bus='virtio'/></disk>" \
    domain_xml nodisk 128 1 shell >"$WORK/nodisk.xml"
"$HV" run --domain "$WORK/nodisk.xml" --socket "$WORK/nodisk.sock" >"$WORK/nodisk.out" 2>&1
echo "FACT missing_rc=$?"
sed 's/^/ERR-missing /' "$WORK/nodisk.out"
echo "FACT missing_socket_left=$(test -e "$WORK/nodisk.sock" && echo yes || echo no)"
"#,
    )]
}

/// `key=value` pairs of a `HANGAR-L2-DISK-DEV` line.
fn dev_field(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn guest_sees_qcow2_raw_and_cdrom_disks_in_target_order() {
    let s = scenario("virtio-blk");
    assert!(s.has("VOLCREATE Vol data.qcow2 created"), "{}", s.text);
    let vda = fact(s, "dev_vda");
    let vdb = fact(s, "dev_vdb");
    let vdc = fact(s, "dev_vdc");
    // Sizes in 512-byte sectors from /sys/block.
    assert_eq!(dev_field(&vda, "size"), (64 * 2048).to_string(), "{vda}");
    assert_eq!(dev_field(&vdb, "size"), (32 * 2048).to_string(), "{vdb}");
    assert_eq!(dev_field(&vdc, "size"), "1024", "{vdc}");
    assert_eq!(dev_field(&vda, "serial"), "HANGAR-QCOW2", "GET_ID: {vda}");
    assert_eq!(dev_field(&vda, "ro"), "0");
    assert_eq!(dev_field(&vdb, "ro"), "0");
    // discard='unmap' and write-zeroes reach the guest's queue limits.
    assert_ne!(dev_field(&vdb, "discard"), "0", "{vdb}");
    assert_ne!(dev_field(&vdb, "zeroes"), "0", "{vdb}");
}

#[test]
fn a_file_written_on_qcow2_survives_a_reboot_and_the_image_checks_clean() {
    let s = scenario("virtio-blk");
    assert_eq!(fact(s, "boots"), "2", "the guest rebooted once");
    let wrote = fact(s, "wrote");
    assert_eq!(wrote.len(), 32, "md5 of the file written: {wrote}");
    assert_eq!(
        fact(s, "read_back"),
        wrote,
        "the file read after the reboot"
    );
    assert_eq!(fact(s, "qcow2_check_rc"), "0", "qemu-img check");
    assert!(s.has("QCHECK No errors were found on the image."));
    assert!(s.has("EXIT vblk rc=0"));
}

#[test]
fn raw_disk_data_reaches_the_image_file() {
    let s = scenario("virtio-blk");
    let wrote = fact(s, "raw_wrote");
    assert_eq!(wrote.len(), 32);
    assert_eq!(fact(s, "raw_read_back"), wrote);
    assert_eq!(
        fact(s, "raw_host_md5"),
        wrote,
        "the host sees the guest's bytes"
    );
}

#[test]
fn cdrom_is_read_only_media_with_the_iso_content() {
    let s = scenario("virtio-blk");
    let vdc = fact(s, "dev_vdc");
    assert_eq!(dev_field(&vdc, "ro"), "1", "{vdc}");
    assert_eq!(fact(s, "cd_host_size"), "524288");
    assert_eq!(fact(s, "cd_guest_md5"), fact(s, "cd_host_md5"));
    assert_eq!(fact(s, "cd_write"), "refused");
    assert_eq!(fact(s, "cd_host_md5_after"), fact(s, "cd_host_md5"));
}

#[test]
fn a_missing_disk_image_is_a_clear_error_at_start() {
    let s = scenario("virtio-blk");
    assert_eq!(fact(s, "missing_rc"), "1");
    assert!(
        s.text
            .lines()
            .any(|l| l.starts_with("ERR-missing ") && l.contains("gone.qcow2")),
        "no error naming gone.qcow2 in\n{}",
        s.text
    );
    assert_eq!(fact(s, "missing_socket_left"), "no");
}
