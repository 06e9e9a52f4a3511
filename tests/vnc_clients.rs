//! The built-in VNC server against VNC clients we did not write, on the
//! host (no guest: the test draws into the framebuffer memory itself, the
//! way the `fb` guest's dd loop does; the sandbox test repeats this with a
//! real guest): vncdotool and gvnccapture capture the pattern, and keys
//! typed by vncdotool arrive as scancodes.

#[path = "vnc_tools.rs"]
mod vnc_tools;

use hangar_core::vmm::config::{VncConfig, VncListen};
use hangar_core::vmm::display::framebuffer::VideoMode;
use hangar_core::vmm::display::vnc::{VncEndpoint, VncServer};
use hangar_core::vmm::display::{Display, InputSink};
use std::sync::{Arc, Mutex};

/// A scratch folder removed at the end.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("hangar-vnc-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Default)]
struct Keys(Mutex<Vec<(u16, bool)>>);

impl InputSink for Keys {
    fn key(&self, scancode: u16, down: bool) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((scancode, down));
    }
}

fn server(password: Option<&str>) -> (Arc<Display>, u16, Arc<Keys>) {
    let display = Display::start(VideoMode {
        width: 1024,
        height: 768,
    })
    .expect("display");
    let keys = Arc::new(Keys::default());
    display.attach(None, Some(keys.clone()));
    let mut pixels = vec![0u32; 1024 * 768];
    vnc_tools::draw_pattern(1024, &mut pixels);
    for (y, line) in pixels.chunks(1024).enumerate() {
        display.memory().write_pixels(0, y as u32, line);
    }
    display.refresh();
    let server = VncServer::start(
        &VncConfig {
            listen: VncListen::Tcp {
                address: "127.0.0.1".parse().expect("ip"),
                port: None,
            },
            password: password.map(str::to_string),
        },
        Arc::clone(&display),
        "clients-test".into(),
    )
    .expect("server");
    let VncEndpoint::Tcp { port, .. } = server.endpoint().clone() else {
        panic!("tcp");
    };
    (display, port, keys)
}

#[test]
fn vncdotool_and_gvnccapture_capture_the_pattern() {
    let dir = TempDir::new();
    let (_display, port, _) = server(None);
    let a = dir.path().join("vncdo.png");
    vnc_tools::capture_vncdotool(port, None, &a).expect("vncdo capture");
    vnc_tools::check_pattern(&a).expect("vncdotool's screenshot");
    let b = dir.path().join("gvnc.png");
    vnc_tools::capture_gvnccapture(port, &b).expect("gvnccapture");
    vnc_tools::check_pattern(&b).expect("gvnccapture's screenshot");
}

#[test]
fn vncdotool_with_a_password_types_keys() {
    let dir = TempDir::new();
    let (_display, port, keys) = server(Some("Tr0ub4dor"));
    let png = dir.path().join("auth.png");
    vnc_tools::capture_vncdotool(port, Some("Tr0ub4dor"), &png).expect("capture with password");
    vnc_tools::check_pattern(&png).expect("screenshot");
    assert!(
        vnc_tools::capture_vncdotool(port, Some("wrong"), &png).is_err(),
        "a wrong password must be refused"
    );
    vnc_tools::type_line(port, Some("Tr0ub4dor"), "ls -l").expect("type");
    let got = keys.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let downs: Vec<u16> = got.iter().filter(|(_, d)| *d).map(|(c, _)| *c).collect();
    // l s space - l Enter
    assert_eq!(downs, vec![0x26, 0x1f, 0x39, 0x0c, 0x26, 0x1c], "{got:?}");
    assert_eq!(
        got.iter().filter(|(_, d)| !*d).count(),
        6,
        "every key released"
    );
}
