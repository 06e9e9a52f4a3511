//! The kernel's boot path: the Debian xz bzImage is decompressed by
//! hangar-vmm and entered through PVH; a VM with a framebuffer keeps the
//! 64-bit boot protocol (only the zero page describes a framebuffer); a
//! kernel whose xz payload is damaged is refused, naming the file.

use crate::sandbox::Scenario;
use crate::{fact, scenario};

/// The boot path scenario.
pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario::new(
        "bootpath",
        r#"
start_vm bp1 128 2 poweroff
wait_exit bp1 600
echo "FACT pvh_logged=$(grep -c 'boot path: PVH' "$WORK/bp1.out")"
echo "FACT pvh_inits=$(count_lines "$WORK/bp1.log" HANGAR-L2-INIT)"
echo "FACT pvh_poweroff=$(count_lines "$WORK/bp1.log" HANGAR-L2-POWEROFF)"
sed 's/^/BP1 /' "$WORK/bp1.out"
export EXTRA_DEVICES="<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>"
start_vm bp2 128 2 poweroff
unset EXTRA_DEVICES
wait_exit bp2 600
echo "FACT fb_logged=$(grep -c 'boot path: 64-bit boot protocol' "$WORK/bp2.out")"
echo "FACT fb_poweroff=$(count_lines "$WORK/bp2.log" HANGAR-L2-POWEROFF)"
sed 's/^/BP2 /' "$WORK/bp2.out"
# Damage the xz stream 1 MiB into the payload: its CRC32 check fails.
cp "$KERNEL" "$WORK/damaged-vmlinuz"
printf 'HANGARHANGARHANGAR' | dd of="$WORK/damaged-vmlinuz" bs=1 seek=1048576 conv=notrunc 2>/dev/null
good_kernel=$KERNEL
KERNEL="$WORK/damaged-vmlinuz"
start_vm bp3 128 1 poweroff
KERNEL=$good_kernel
wait_exit bp3 300
echo "FACT damaged_rc=$(cat "$WORK/bp3.rc")"
echo "FACT damaged_named=$(grep -c 'damaged-vmlinuz.*xz payload is corrupt' "$WORK/bp3.out")"
echo "FACT damaged_left=$(ls "$WORK/bp3.sock" 2>/dev/null | wc -l)"
sed 's/^/BP3 /' "$WORK/bp3.out"
"#,
    )]
}

#[test]
fn xz_bzimage_boots_through_pvh_and_powers_off() {
    let s = scenario("bootpath");
    assert_eq!(fact(s, "pvh_logged"), "1");
    assert_eq!(fact(s, "pvh_inits"), "1");
    assert_eq!(fact(s, "pvh_poweroff"), "1");
    assert!(s.has("EXIT bp1 rc=0"));
}

#[test]
fn framebuffer_vm_keeps_the_64_bit_boot_protocol() {
    let s = scenario("bootpath");
    assert_eq!(fact(s, "fb_logged"), "1");
    assert_eq!(fact(s, "fb_poweroff"), "1");
}

#[test]
fn damaged_xz_payload_is_refused_naming_the_file() {
    let s = scenario("bootpath");
    assert_eq!(fact(s, "damaged_rc"), "1");
    assert_eq!(fact(s, "damaged_named"), "1");
    assert_eq!(fact(s, "damaged_left"), "0");
}
