//! The guest's screen through the built-in VNC server, in the sandbox: a
//! guest draws a known pattern to /dev/fb0; vncdotool and gvnccapture on
//! the host capture it over a port forwarded out of L1, and keys typed
//! with vncdotool reach a shell in the guest.

use crate::sandbox::{Forwards, HostAction, Scenario};
use crate::{fact, scenario};

use crate::vnc_tools;

/// The scenarios of this file.
pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario::new(
        "vnc",
        r#"
export EXTRA_DEVICES="<graphics type='vnc' port='5900' listen='0.0.0.0'/><video><model type='vga'><resolution x='1024' y='768'/></model></video>"
start_vm fb1 256 1 fb
unset EXTRA_DEVICES
wait_for "$WORK/fb1.log" 'HANGAR-L2-FB-DRAWN\|HANGAR-L2-FB-MISSING' 300 || { show fb1; exit 1; }
ctl fb1 status | sed 's/^/STATUS /'
echo "FACT state_file_vnc=$(grep -c '"port": 5900' "$WORK/fb1.state")"
# The shell on tty1 needs a moment after the pattern.
sleep 2
host_act vnc-clients
wait_for "$WORK/fb1.log" '^vnc typed ok' 60
# The command's output alone on a line (its echo follows the prompt).
echo "FACT typed_output=$(count_lines "$WORK/fb1.log" '^vnc typed ok')"
# The app's GTK console on the same server (tests/e2e/vnc_console.rs).
host_act vnc-gtk-console
wait_for "$WORK/fb1.log" '^gtk typed ok' 60
echo "FACT gtk_typed_output=$(count_lines "$WORK/fb1.log" '^gtk typed ok')"
# A second VM through hangarctl: autoport skips 5900 (fb1 has it), and the
# port it took shows in domdisplay, vncdisplay and the live XML.
export XDG_DATA_HOME="$WORK/data" XDG_RUNTIME_DIR="$WORK/run" HOME="$WORK"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
hc() { "$HCTL" -c hangar:///session "$@" 2>&1; }
export EXTRA_DEVICES="<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>"
domain_xml vnc2 128 1 shell >"$WORK/vnc2.xml"
unset EXTRA_DEVICES
hc define "$WORK/vnc2.xml" | sed 's/^/DEFINE /'
hc start vnc2 | sed 's/^/START /'
hc domdisplay vnc2 | sed 's/^/DOMDISPLAY /'
hc vncdisplay vnc2 | sed 's/^/VNCDISPLAY /'
hc dumpxml vnc2 | grep '<graphics' | sed 's/^/LIVEXML /'
hc destroy vnc2 | sed 's/^/DESTROY /'
ctl fb1 destroy
wait_exit fb1 60
show fb1
"#,
    )]
}

/// What the host does while the scenario waits: both captures, the
/// pattern checks, and typing a command.
pub fn host_actions() -> Vec<HostAction> {
    vec![HostAction {
        name: "vnc-clients",
        run: clients,
    }]
}

fn clients(forwards: &Forwards) -> String {
    let Some(port) = forwards.host_port(5900) else {
        return "FACT vncdotool=no forwarded port\n".into();
    };
    let dir = std::env::temp_dir().join(format!("hangar-e2e-vnc-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let verdict = |r: Result<(), String>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e.replace('\n', " | "),
    };
    let vncdo_png = dir.join("vncdotool.png");
    let vncdo = verdict(
        vnc_tools::capture_vncdotool(port, None, &vncdo_png)
            .and_then(|()| vnc_tools::check_pattern(&vncdo_png)),
    );
    let gvnc_png = dir.join("gvnccapture.png");
    let gvnc = verdict(
        vnc_tools::capture_gvnccapture(port, &gvnc_png)
            .and_then(|()| vnc_tools::check_pattern(&gvnc_png)),
    );
    let typed = verdict(vnc_tools::type_line(port, None, "echo vnc typed ok"));
    let _ = std::fs::remove_dir_all(&dir);
    format!("FACT vncdotool={vncdo}\nFACT gvnccapture={gvnc}\nFACT vncdo_type={typed}\n")
}

#[test]
fn vncdotool_and_gvnccapture_see_the_guest_framebuffer_pattern() {
    let s = scenario("vnc");
    assert!(s.has("HANGAR-L2-FB size=1024,768"), "{}", s.text);
    assert_eq!(fact(s, "vncdotool"), "ok");
    assert_eq!(fact(s, "gvnccapture"), "ok");
}

#[test]
fn keys_typed_with_vncdotool_reach_a_guest_shell() {
    let s = scenario("vnc");
    assert_eq!(fact(s, "vncdo_type"), "ok");
    assert_ne!(fact(s, "typed_output"), "0", "{}", s.text);
}

#[test]
fn hangarctl_shows_the_port_autoport_took() {
    let s = scenario("vnc");
    assert!(s.has("DOMDISPLAY vnc://127.0.0.1:1"), "{}", s.text);
    assert!(s.has("VNCDISPLAY 127.0.0.1:1"), "{}", s.text);
    let live = s.value("LIVEXML").unwrap_or_default();
    assert!(live.contains("port='5901'"), "{}", s.text);
}

#[test]
fn the_chosen_vnc_port_is_published() {
    let s = scenario("vnc");
    assert!(s.has("STATUS vnc=vnc://0.0.0.0:0"), "{}", s.text);
    assert_eq!(fact(s, "state_file_vnc"), "1");
}
