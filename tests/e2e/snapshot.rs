//! Save and restore of a running guest (issue 5, item 5): through
//! `hangar-vmm` directly, and through `hangarctl` on hangar:///session.
//! The guest runs `hangar_mode=counter`: it prints `HANGAR-L2-COUNT n`
//! every ~200 ms, so a restored guest must go on from the last n saved.
//! In `snapshot-vmm` the guest (`hangar_mode=counterdisk`) also has a qcow2
//! disk it reads and writes every tick, so requests are in flight when the
//! save comes; the restored guest reads back (O_DIRECT, caches dropped)
//! what it wrote before the save, writes more, and the image checks clean.

use crate::sandbox::{Scenario, ScenarioOutput};
use crate::{fact, scenario};

/// The snapshot scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "snapshot-vmm",
            r#"
last_count() { grep -o 'HANGAR-L2-COUNT [0-9]*' "$1" 2>/dev/null | tail -1 | cut -d' ' -f2; }
first_count() { grep -o 'HANGAR-L2-COUNT [0-9]*' "$1" 2>/dev/null | head -1 | cut -d' ' -f2; }
# snapdisk_fact FACT LOG WHAT N: the md5 of LOG's last HANGAR-L2-SNAPDISK-WHAT N line.
snapdisk_fact() {
    echo "FACT $1=$(tr -d '\r' <"$2" | sed -n "s/.*HANGAR-L2-SNAPDISK-$3 $4 \([0-9a-f]\{32\}\)$/\1/p" | tail -1)"
}
disk_xml() { echo "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$1'/><target dev='vda' bus='virtio'/></disk>"; }
qemu-img create -q -f qcow2 "$WORK/snap.qcow2" 16M
EXTRA_DEVICES=$(disk_xml "$WORK/snap.qcow2") start_vm vs1 128 2 counterdisk
wait_for "$WORK/vs1.log" 'HANGAR-L2-COUNT 10' 240 || { show vs1; exit 1; }
snapdisk_fact disk_wrote0 "$WORK/vs1.log" WROTE 0
snapdisk_fact disk_read0_before "$WORK/vs1.log" READ 0
t0=$(date +%s)
ctl vs1 save "$WORK/vs1.save" 2>&1 | sed 's/^/SAVE /'
wait_exit vs1 120
echo "FACT save_seconds=$(( $(date +%s) - t0 ))"
"$HV" ctl --socket "$WORK/vs1.sock" --state-file "$WORK/vs1.state" status | sed 's/^/SAVED /'
echo "FACT last_before=$(last_count "$WORK/vs1.log")"
echo "FACT save_bytes=$(wc -c <"$WORK/vs1.save")"
sleep 2
(
    "$HV" run --restore "$WORK/vs1.save" --socket "$WORK/vr.sock" \
        --serial-log "$WORK/vr.log" --state-file "$WORK/vr.state" >"$WORK/vr.out" 2>&1
    echo $? >"$WORK/vr.rc"
) &
wait_for "$WORK/vr.log" 'HANGAR-L2-COUNT' 120 || { show vr; }
sleep 3
echo "FACT first_after=$(first_count "$WORK/vr.log")"
echo "FACT last_after=$(last_count "$WORK/vr.log")"
echo "FACT restored_inits=$(count_lines "$WORK/vr.log" HANGAR-L2-INIT)"
ctl vr status | sed 's/^/RESTORED /'
# The restored guest reads what it wrote before the save, and writes and
# reads on.
guest_run vr 120 'snapdisk read 0; snapdisk write 1; snapdisk read 1' || show vr
snapdisk_fact disk_read0_after "$WORK/vr.log" READ 0
snapdisk_fact disk_wrote1 "$WORK/vr.log" WROTE 1
snapdisk_fact disk_read1 "$WORK/vr.log" READ 1
echo "FACT disk_errors=$(count_lines "$WORK/vr.log" HANGAR-L2-SNAPDISK-ERROR)"
# A restored VM can be saved again and restored again.
ctl vr save "$WORK/vr.save" 2>&1 | sed 's/^/SAVE2 /'
wait_exit vr 120
echo "FACT last_before2=$(last_count "$WORK/vr.log")"
(
    "$HV" run --restore "$WORK/vr.save" --socket "$WORK/vr2.sock" \
        --serial-log "$WORK/vr2.log" --state-file "$WORK/vr2.state" >"$WORK/vr2.out" 2>&1
    echo $? >"$WORK/vr2.rc"
) &
wait_for "$WORK/vr2.log" 'HANGAR-L2-COUNT' 120 || { show vr2; }
sleep 2
echo "FACT first_after2=$(first_count "$WORK/vr2.log")"
guest_run vr2 120 'snapdisk read 0; snapdisk read 1' || show vr2
snapdisk_fact disk_read0_after2 "$WORK/vr2.log" READ 0
snapdisk_fact disk_read1_after2 "$WORK/vr2.log" READ 1
a=$(last_count "$WORK/vr2.log")
sleep 2
echo "FACT disk_counter_progress2=$(( $(last_count "$WORK/vr2.log") - a ))"
ctl vr2 destroy
wait_exit vr2 30
# What the guest wrote reached the image, which checks clean.
qemu-img check "$WORK/snap.qcow2" 2>&1 | sed 's/^/QCHECK /'
echo "FACT disk_check_rc=$(qemu-img check -q "$WORK/snap.qcow2" >/dev/null 2>&1; echo $?)"
qemu-img convert -O raw "$WORK/snap.qcow2" "$WORK/snap.raw"
for n in 0 1; do
    echo "FACT disk_host$n=$(dd if="$WORK/snap.raw" bs=1M skip=$n count=1 2>/dev/null | md5sum | cut -d' ' -f1)"
done
rm -f "$WORK/snap.raw"
# Damaged files: refused before anything is created.
size=$(wc -c <"$WORK/vs1.save")
head -c $((size / 2)) "$WORK/vs1.save" >"$WORK/cut.save"
"$HV" run --restore "$WORK/cut.save" --socket "$WORK/cut.sock" --state-file "$WORK/cut.state" >"$WORK/cut.out" 2>&1
echo "FACT cut_rc=$?"
echo "FACT cut_left=$(ls "$WORK/cut.sock" "$WORK/cut.state" 2>/dev/null | wc -l)"
sed 's/^/CUT /' "$WORK/cut.out"
printf 'not a snapshot' >"$WORK/foreign.save"
"$HV" run --restore "$WORK/foreign.save" --socket "$WORK/f.sock" >"$WORK/foreign.out" 2>&1
echo "FACT foreign_rc=$?"
sed 's/^/FOREIGN /' "$WORK/foreign.out"
# Saving to a folder that does not exist fails and the VM runs on.
qemu-img create -q -f qcow2 "$WORK/snap3.qcow2" 16M
EXTRA_DEVICES=$(disk_xml "$WORK/snap3.qcow2") start_vm vs3 128 1 counterdisk
wait_for "$WORK/vs3.log" 'HANGAR-L2-COUNT 3' 240 || { show vs3; }
ctl vs3 save /nonexistent/dir/x.save 2>&1 | sed 's/^/BADSAVE /'
a=$(last_count "$WORK/vs3.log")
sleep 3
b=$(last_count "$WORK/vs3.log")
echo "FACT badsave_progress=$((b - a))"
ctl vs3 status | sed 's/^/BADSAVE-STATUS /'
ctl vs3 destroy
wait_exit vs3 30
echo "FACT vmm_processes=$(ps | grep -c '[h]angar-vmm run')"
show vr
"#,
        ),
        Scenario::new(
            "snapshot-hangarctl",
            r#"
export XDG_DATA_HOME="$WORK/sdata" XDG_RUNTIME_DIR="$WORK/srun" HOME="$WORK"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
hc() { "$HCTL" -c hangar:///session "$@" 2>&1; }
sock="$XDG_RUNTIME_DIR/hangar/domains/vsc.sock"
counts() { grep -o 'HANGAR-L2-COUNT [0-9]*' "$1" 2>/dev/null | cut -d' ' -f2; }
# The console (history first) for $1 seconds, into file $2.
console_for() { (sleep "$1") | "$HV" ctl --socket "$sock" console >"$2" 2>&1; }
domain_xml vsc 128 1 counter >"$WORK/vsc.xml"
hc define "$WORK/vsc.xml" >/dev/null
hc dumpxml --inactive vsc | md5sum >"$WORK/def.before"
hc start vsc | sed 's/^/HC-START /'
n=0
until console_for 1 "$WORK/c0.out"; grep -q 'HANGAR-L2-COUNT 5' "$WORK/c0.out"; do
    n=$((n + 1))
    [ $n -gt 240 ] && { echo "TIMEOUT waiting for the counter"; break; }
done
# Follow the console while saving: the last number before the save.
(sleep 60) | "$HV" ctl --socket "$sock" console >"$WORK/c1.out" 2>&1 &
sleep 2
hc save vsc "$WORK/vsc.save" | sed 's/^/HC-SAVE /'
hc domstate vsc --reason | sed 's/^/HC-STATE-SAVED /'
hc list --all | sed 's/^/HC-LIST-SAVED /'
sleep 1
echo "FACT hc_last_before=$(counts "$WORK/c1.out" | tail -1)"
hc restore "$WORK/vsc.save" | sed 's/^/HC-RESTORE /'
hc domstate vsc --reason | sed 's/^/HC-STATE-RESTORED /'
console_for 3 "$WORK/c2.out"
echo "FACT hc_first_after=$(counts "$WORK/c2.out" | head -1)"
echo "FACT hc_restored_inits=$(grep -c HANGAR-L2-INIT "$WORK/c2.out")"
hc restore "$WORK/vsc.save" | sed 's/^/HC-RESTORE-RUNNING /'
# managedsave, then start resumes the guest and drops the image.
(sleep 60) | "$HV" ctl --socket "$sock" console >"$WORK/c3.out" 2>&1 &
sleep 2
hc managedsave vsc | sed 's/^/HC-MSAVE /'
hc dominfo vsc | grep -e '^State:' -e '^Managed save:' | sed 's/^/HC-MINFO /'
hc list --all | sed 's/^/HC-LIST-MSAVED /'
sleep 1
echo "FACT hc_last_before_m=$(counts "$WORK/c3.out" | tail -1)"
hc start vsc | sed 's/^/HC-MSTART /'
hc domstate vsc --reason | sed 's/^/HC-STATE-MSTARTED /'
hc dominfo vsc | grep '^Managed save:' | sed 's/^/HC-MINFO2 /'
console_for 3 "$WORK/c4.out"
echo "FACT hc_first_after_m=$(counts "$WORK/c4.out" | head -1)"
echo "FACT hc_images_left=$(ls "$XDG_DATA_HOME/hangar/save" | wc -l)"
hc destroy vsc >/dev/null
# A truncated file: refused, named; the definition is unharmed.
size=$(wc -c <"$WORK/vsc.save")
head -c $((size - 1000)) "$WORK/vsc.save" >"$WORK/cut.save"
hc restore "$WORK/cut.save" | sed 's/^/HC-CUT /'
hc domstate vsc | sed 's/^/HC-STATE-CUT /'
hc dumpxml --inactive vsc | md5sum >"$WORK/def.after"
echo "FACT hc_definition_unharmed=$(cmp -s "$WORK/def.before" "$WORK/def.after" && echo yes || echo no)"
echo "FACT hc_vmm_processes=$(ps | grep -c '[h]angar-vmm run')"
"#,
        ),
    ]
}

fn number(s: &ScenarioOutput, name: &str) -> i64 {
    fact(s, name)
        .parse()
        .unwrap_or_else(|_| panic!("fact {name} is not a number:\n{}", s.text))
}

#[test]
fn saved_guest_ends_as_saved_and_its_counter_goes_on_after_restore() {
    let s = scenario("snapshot-vmm");
    assert!(s.has("SAVE ok"), "{}", s.text);
    assert!(s.has("EXIT vs1 rc=0"));
    assert!(s.has("SAVED state=shut off"));
    assert!(s.has("SAVED reason=saved"));
    let before = number(s, "last_before");
    let after = number(s, "first_after");
    assert!(before >= 10, "counter before save: {before}");
    // The first number after restore follows the last one saved (the line
    // being printed at the save may be repeated), never a new boot's 0.
    assert!(
        after >= before && after <= before + 2,
        "saved at {before}, restored guest printed {after} first"
    );
    assert!(
        number(s, "last_after") > after,
        "the restored guest is not running"
    );
    assert_eq!(fact(s, "restored_inits"), "0", "restore re-ran the boot");
    assert!(s.has("RESTORED state=running"));
    assert!(s.has("RESTORED boots=1"));
    println!(
        "save: {} s, {} bytes",
        fact(s, "save_seconds"),
        fact(s, "save_bytes")
    );
}

#[test]
fn restored_guest_can_be_saved_and_restored_again() {
    let s = scenario("snapshot-vmm");
    assert!(s.has("SAVE2 ok"), "{}", s.text);
    let before = number(s, "last_before2");
    let after = number(s, "first_after2");
    assert!(
        after >= before && after <= before + 2,
        "{before} -> {after}"
    );
    assert_eq!(fact(s, "vmm_processes"), "0");
}

/// A 32-digit md5 fact.
fn md5_fact(s: &ScenarioOutput, name: &str) -> String {
    let value = fact(s, name);
    assert_eq!(value.len(), 32, "fact {name} is not an md5:\n{}", s.text);
    value
}

#[test]
fn restored_guest_reads_its_disk_and_writes_on() {
    let s = scenario("snapshot-vmm");
    let wrote0 = md5_fact(s, "disk_wrote0");
    assert_eq!(md5_fact(s, "disk_read0_before"), wrote0, "before the save");
    // Read with O_DIRECT after dropping the caches: from the device.
    assert_eq!(
        md5_fact(s, "disk_read0_after"),
        wrote0,
        "the restored guest reads what it wrote before the save"
    );
    let wrote1 = md5_fact(s, "disk_wrote1");
    assert_ne!(wrote1, wrote0);
    assert_eq!(md5_fact(s, "disk_read1"), wrote1, "written after restore");
    assert_eq!(fact(s, "disk_errors"), "0", "{}", s.text);
    // A second save and restore keeps both.
    assert_eq!(md5_fact(s, "disk_read0_after2"), wrote0);
    assert_eq!(md5_fact(s, "disk_read1_after2"), wrote1);
    assert!(
        number(s, "disk_counter_progress2") > 0,
        "the guest's disk loop stalled after the second restore"
    );
    // The bytes reached the image, which qemu-img finds clean.
    assert_eq!(fact(s, "disk_check_rc"), "0", "{}", s.text);
    assert!(s.has("QCHECK No errors were found on the image."));
    assert_eq!(fact(s, "disk_host0"), wrote0);
    assert_eq!(fact(s, "disk_host1"), wrote1);
}

#[test]
fn damaged_snapshots_are_refused_with_nothing_left_behind() {
    let s = scenario("snapshot-vmm");
    assert_eq!(fact(s, "cut_rc"), "1");
    assert_eq!(fact(s, "cut_left"), "0");
    assert!(s.has("cut.save is truncated"), "{}", s.text);
    assert_eq!(fact(s, "foreign_rc"), "1");
    assert!(s.has("is not a Hangar snapshot"), "{}", s.text);
}

#[test]
fn failed_save_leaves_the_guest_running() {
    let s = scenario("snapshot-vmm");
    assert!(s.has("BADSAVE hangar-vmm: error: "), "{}", s.text);
    assert!(s.has("/nonexistent/dir/x.save"), "{}", s.text);
    assert!(number(s, "badsave_progress") > 0);
    assert!(s.has("BADSAVE-STATUS state=running"));
}

#[test]
fn hangarctl_saves_restores_and_resumes_a_managed_save_as_virsh() {
    let s = scenario("snapshot-hangarctl");
    let tagged = |tag: &str| crate::tagged(s, tag);
    assert_eq!(tagged("HC-START"), "Domain 'vsc' started\n");
    assert!(
        tagged("HC-SAVE").starts_with("\nDomain 'vsc' saved to "),
        "{}",
        s.text
    );
    assert_eq!(tagged("HC-STATE-SAVED"), "shut off (saved)\n");
    assert!(tagged("HC-LIST-SAVED").contains(" -    vsc    shut off"));
    assert!(tagged("HC-RESTORE").starts_with("Domain restored from "));
    assert_eq!(tagged("HC-STATE-RESTORED"), "running (restored)\n");
    let before = number(s, "hc_last_before");
    let after = number(s, "hc_first_after");
    assert!(
        after >= before && after <= before + 2,
        "{before} -> {after}"
    );
    assert_eq!(fact(s, "hc_restored_inits"), "0");
    assert!(
        tagged("HC-RESTORE-RUNNING").contains("domain 'vsc' is already active"),
        "{}",
        s.text
    );
    assert_eq!(
        tagged("HC-MSAVE"),
        "\nDomain 'vsc' state saved by libvirt\n"
    );
    assert!(
        tagged("HC-MINFO").contains("Managed save:   yes"),
        "{}",
        s.text
    );
    assert!(tagged("HC-MINFO").contains("State:          shut off"));
    assert!(tagged("HC-LIST-MSAVED").contains(" -    vsc    shut off"));
    assert_eq!(tagged("HC-MSTART"), "Domain 'vsc' started\n");
    assert_eq!(tagged("HC-STATE-MSTARTED"), "running (restored)\n");
    assert!(tagged("HC-MINFO2").contains("Managed save:   no"));
    let before = number(s, "hc_last_before_m");
    let after = number(s, "hc_first_after_m");
    assert!(
        after >= before && after <= before + 2,
        "{before} -> {after}"
    );
    assert_eq!(fact(s, "hc_images_left"), "0");
}

#[test]
fn hangarctl_refuses_a_truncated_file_and_leaves_the_definition_alone() {
    let s = scenario("snapshot-hangarctl");
    let cut = crate::tagged(s, "HC-CUT");
    assert!(
        cut.starts_with("error: Failed to restore domain from "),
        "{cut}"
    );
    assert!(cut.contains("cut.save is truncated"), "{cut}");
    assert_eq!(crate::tagged(s, "HC-STATE-CUT"), "shut off\n");
    assert_eq!(fact(s, "hc_definition_unharmed"), "yes");
    assert_eq!(fact(s, "hc_vmm_processes"), "0");
}
