//! virtio-balloon in a real guest: a 256 MiB guest with
//! `<memballoon model='virtio'/>` (l2-init's `hangar_mode=balloon` prints
//! MemTotal every second); `set-memory` to 128 MiB through the control
//! socket makes the guest's MemTotal drop by about 128 MiB, and
//! `memory-stats` shows the balloon's size and the guest's free and total
//! memory from its stats queue.

use crate::sandbox::Scenario;
use crate::{fact, scenario};

/// The sandbox scenarios of this file.
pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario::new(
        "virtio-balloon",
        r#"
EXTRA_DEVICES="<memballoon model='virtio'/>" start_vm vballoon 256 1 balloon
wait_for "$WORK/vballoon.log" HANGAR-L2-BALLOON-MEMTOTAL 300
memtotal() { tr -d '\r' <"$WORK/vballoon.log" | sed -n 's/^HANGAR-L2-BALLOON-MEMTOTAL //p' | tail -1; }
sleep 2
before=$(memtotal)
echo "FACT memtotal_before=$before"
echo "FACT stats_before=$(ctl vballoon memory-stats 2>&1)"
echo "FACT setmem=$(ctl vballoon set-memory --kib 131072 2>&1)"
after=$before
n=0
while [ "$n" -lt 60 ]; do
    sleep 1
    after=$(memtotal)
    [ $((before - after)) -ge 120000 ] && break
    n=$((n + 1))
done
sleep 2
echo "FACT memtotal_after=$(memtotal)"
echo "FACT stats_after=$(ctl vballoon memory-stats 2>&1)"
echo "FACT setmem_too_big=$(ctl vballoon set-memory --kib 1048576 2>&1)"
ctl vballoon destroy
wait_exit vballoon 60 || show vballoon
tr -d '\r' <"$WORK/vballoon.log" | grep -E '^HANGAR-L2-(INIT|VIRTIO|NO-MODULE|INSMOD)'
"#,
    )]
}

fn number(s: &crate::sandbox::ScenarioOutput, name: &str) -> i64 {
    let v = fact(s, name);
    v.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{name}={v} is not a number:\n{}", s.text))
}

fn json(s: &crate::sandbox::ScenarioOutput, name: &str) -> serde_json::Value {
    let v = fact(s, name);
    serde_json::from_str(&v).unwrap_or_else(|e| panic!("{name}={v}: {e}\n{}", s.text))
}

#[test]
fn setmem_shrinks_the_guest_and_memory_stats_report_it() {
    let s = scenario("virtio-balloon");
    assert!(s.has("virtio_balloon"), "the driver loaded:\n{}", s.text);
    assert_eq!(fact(s, "setmem"), "ok");
    let before = number(s, "memtotal_before");
    let after = number(s, "memtotal_after");
    let drop = before - after;
    // 128 MiB is 131072 KiB; the guest gives back about that much.
    assert!(
        (120_000..=140_000).contains(&drop),
        "MemTotal {before} -> {after} KiB:\n{}",
        s.text
    );
    let stats = json(s, "stats_after");
    assert_eq!(stats["target_kib"], 131072, "{stats}");
    assert_eq!(stats["actual_kib"], 131072, "{stats}");
    let guest = &stats["stats"];
    let free = guest["free"].as_u64().unwrap_or(0);
    let total = guest["total"].as_u64().unwrap_or(0);
    assert!(free > 0 && free < total, "{stats}");
    assert!(total / 1024 <= before as u64, "{stats}");
    assert!(stats["last_update"].as_u64().is_some(), "{stats}");
    let before_stats = json(s, "stats_before");
    assert_eq!(before_stats["actual_kib"], 262144, "{before_stats}");
    assert!(
        fact(s, "setmem_too_big").contains("262144 KiB"),
        "{}",
        s.text
    );
}
