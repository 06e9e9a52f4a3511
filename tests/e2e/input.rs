//! virtio-input in the sandbox: a guest with a tablet (`bus='usb'`, as
//! virt-manager adds it, built as virtio) and a virtio keyboard lists both
//! in /proc/bus/input/devices; vncdotool on the host moves and clicks the
//! pointer and types a key through the VNC server, and the guest reads
//! the events from its /dev/input nodes.

use crate::sandbox::{Forwards, HostAction, Scenario};
use crate::{fact, scenario};

use crate::vnc_tools;

/// The framebuffer the scenario's VM has.
const SCREEN: (u32, u32) = (1024, 768);
/// Where vncdotool puts the pointer.
const POINTER: (u32, u32) = (300, 200);

/// The scenarios of this file.
pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario::new(
        "input",
        r#"
export EXTRA_DEVICES="<graphics type='vnc' port='5901' listen='0.0.0.0'/><video><model type='vga'><resolution x='1024' y='768'/></model></video><input type='tablet' bus='usb'/><input type='keyboard' bus='virtio'/><input type='mouse' bus='ps2'/>"
start_vm in1 256 1 input
unset EXTRA_DEVICES
wait_for "$WORK/in1.log" 'HANGAR-L2-INPUT-LISTENING\|HANGAR-L2-NO-EVENT-NODE' 300 || { show in1; exit 1; }
host_act input-vncdo
# The guest decodes one event at a time with a few processes each (slow
# under nested virtualisation): wait for the last of each device, the
# wheel's step and the key's release, and the reports that follow.
wait_for "$WORK/in1.log" 'HANGAR-L2-TABLET-EVENT type=2 code=8 ' 120
wait_for "$WORK/in1.log" 'HANGAR-L2-KBD-EVENT type=1 code=30 value=0' 60
sleep 5
# Event lines can follow the shell's prompt on the serial console.
tr -d '\r' <"$WORK/in1.log" | sed -n 's/.*\(HANGAR-L2-[A-Z]*-EVENT \)/\1/p' >"$WORK/in1.events"
# value TAG TYPE CODE: the values of those events, comma-separated.
value() {
    sed -n "s/^$1 type=$2 code=$3 value=\([0-9]*\).*/\1/p" "$WORK/in1.events" | tr '\n' ',' | sed 's/,$//'
}
echo "FACT abs_x=$(value HANGAR-L2-TABLET-EVENT 3 0)"
echo "FACT abs_y=$(value HANGAR-L2-TABLET-EVENT 3 1)"
echo "FACT btn_left=$(value HANGAR-L2-TABLET-EVENT 1 272)"
echo "FACT btn_right=$(value HANGAR-L2-TABLET-EVENT 1 273)"
echo "FACT wheel=$(value HANGAR-L2-TABLET-EVENT 2 8)"
echo "FACT syn_reports=$(grep -c '^HANGAR-L2-TABLET-EVENT type=0 code=0 value=0' "$WORK/in1.events")"
echo "FACT key_a=$(value HANGAR-L2-KBD-EVENT 1 30)"
ctl in1 destroy
wait_exit in1 60
show in1
"#,
    )]
}

/// What the host does while the scenario waits: pointer and key events.
pub fn host_actions() -> Vec<HostAction> {
    vec![HostAction {
        name: "input-vncdo",
        run: pointer_and_key,
    }]
}

fn pointer_and_key(forwards: &Forwards) -> String {
    let Some(port) = forwards.host_port(5901) else {
        return "FACT vncdo_input=no forwarded port\n".into();
    };
    let (x, y) = (POINTER.0.to_string(), POINTER.1.to_string());
    // Left click, right click, wheel up (button 4), then the A key.
    let args = [
        "move", &x, &y, "click", "1", "click", "3", "click", "4", "pause", "0.5", "key", "a",
    ];
    match vnc_tools::vncdo(port, &args) {
        Ok(()) => "FACT vncdo_input=ok\n".into(),
        Err(e) => format!("FACT vncdo_input={}\n", e.replace('\n', " | ")),
    }
}

/// `position` on a `size`-pixel axis as the tablet reports it (0..=32767).
fn scaled(position: u32, size: u32) -> u32 {
    position * 32767 / (size - 1)
}

#[test]
fn the_guest_lists_a_virtio_tablet_and_keyboard() {
    let s = scenario("input");
    assert!(
        s.has("HANGAR-L2-TABLET-DEV N: Name=\"Hangar Virtio Tablet\""),
        "{}",
        s.text
    );
    assert!(
        s.has("HANGAR-L2-TABLET-DEV I: Bus=0006 Vendor=0627 Product=0003 Version=0001"),
        "{}",
        s.text
    );
    // SYN, KEY, REL, ABS; ABS_X and ABS_Y; REL_WHEEL.
    assert_eq!(s.value("HANGAR-L2-TABLET-DEV B: EV=").as_deref(), Some("f"));
    assert_eq!(
        s.value("HANGAR-L2-TABLET-DEV B: ABS=").as_deref(),
        Some("3")
    );
    assert_eq!(
        s.value("HANGAR-L2-TABLET-DEV B: REL=").as_deref(),
        Some("100")
    );
    // SYN, KEY, LED, REP.
    assert_eq!(
        s.value("HANGAR-L2-KBD-DEV B: EV=").as_deref(),
        Some("120003"),
        "{}",
        s.text
    );
}

#[test]
fn vnc_pointer_events_reach_the_tablet_scaled_to_its_axes() {
    let s = scenario("input");
    assert_eq!(fact(s, "vncdo_input"), "ok");
    assert_eq!(
        fact(s, "abs_x"),
        scaled(POINTER.0, SCREEN.0).to_string(),
        "{}",
        s.text
    );
    assert_eq!(fact(s, "abs_y"), scaled(POINTER.1, SCREEN.1).to_string());
    assert_eq!(fact(s, "btn_left"), "1,0", "press and release");
    assert_eq!(fact(s, "btn_right"), "1,0");
    assert_eq!(fact(s, "wheel"), "1", "one step up");
    // One report per batch: the move, two per click, the wheel.
    assert_eq!(fact(s, "syn_reports"), "6");
}

#[test]
fn vnc_keys_go_to_the_running_virtio_keyboard() {
    let s = scenario("input");
    assert_eq!(fact(s, "key_a"), "1,0", "{}", s.text);
}
