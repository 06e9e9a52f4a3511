//! The server over real sockets with a scripted RFB client.

use super::*;
use crate::vmm::display::framebuffer::VideoMode;
use crate::vmm::display::InputSink;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

/// A guest input that records keys and pointer events (it has a tablet).
#[derive(Default)]
struct Keys(
    Mutex<Vec<(u16, bool)>>,
    Mutex<Vec<(u16, u16, u8, u32, u32)>>,
);

impl InputSink for Keys {
    fn key(&self, scancode: u16, down: bool) {
        self.0.lock().expect("keys").push((scancode, down));
    }

    fn pointer(&self, x: u16, y: u16, buttons: u8, width: u32, height: u32) {
        self.1
            .lock()
            .expect("pointer")
            .push((x, y, buttons, width, height));
    }

    fn absolute_pointer(&self) -> bool {
        true
    }
}

fn start(password: Option<&str>) -> (Arc<Display>, u16, Arc<Keys>) {
    let display = Display::start(VideoMode {
        width: 320,
        height: 200,
    })
    .expect("display");
    let keys = Arc::new(Keys::default());
    display.attach(None, Some(keys.clone()));
    let server = VncServer::start(
        &VncConfig {
            listen: VncListen::Tcp {
                address: "127.0.0.1".parse().expect("ip"),
                port: None,
            },
            password: password.map(str::to_string),
        },
        Arc::clone(&display),
        "test-vm".into(),
    )
    .expect("server");
    let VncEndpoint::Tcp { port, .. } = server.endpoint().clone() else {
        panic!("tcp endpoint");
    };
    assert!(port >= AUTOPORT_FIRST);
    (display, port, keys)
}

fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).expect("read");
    buf
}

/// Connects as an RFB 3.8 client and reads ServerInit.
fn connect(port: u16, password: Option<&str>) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    assert_eq!(read_n(&mut s, 12), b"RFB 003.008\n");
    s.write_all(b"RFB 003.008\n").expect("version");
    let types = read_n(&mut s, 2);
    s.write_all(&[types[1]]).expect("security");
    if let Some(pw) = password {
        let mut challenge = [0u8; 16];
        challenge.copy_from_slice(&read_n(&mut s, 16));
        s.write_all(&des::vnc_auth_response(pw.as_bytes(), &challenge))
            .expect("response");
    }
    assert_eq!(read_n(&mut s, 4), [0, 0, 0, 0], "security result");
    s.write_all(&[1]).expect("client init");
    let init = read_n(&mut s, 24);
    assert_eq!(&init[..4], &[1, 64, 0, 200]);
    let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    assert_eq!(read_n(&mut s, name_len), b"test-vm");
    s
}

/// Asks for a full Raw update and returns the screen it describes.
fn full_raw_frame(s: &mut TcpStream) -> Vec<u32> {
    s.write_all(&[2, 0, 0, 1, 0, 0, 0, 0]).expect("encodings");
    s.write_all(&[3, 0, 0, 0, 0, 0, 1, 64, 0, 200])
        .expect("request");
    let head = read_n(s, 4);
    assert_eq!(head[0], 0);
    let count = u16::from_be_bytes([head[2], head[3]]);
    let mut frame = vec![0u32; 320 * 200];
    for _ in 0..count {
        let r = read_n(s, 12);
        let at = |i: usize| u16::from_be_bytes([r[i], r[i + 1]]) as usize;
        let (x, y, w, h) = (at(0), at(2), at(4), at(6));
        assert_eq!(&r[8..12], &[0, 0, 0, 0], "raw");
        let data = read_n(s, w * h * 4);
        for row in 0..h {
            for col in 0..w {
                let i = (row * w + col) * 4;
                frame[(y + row) * 320 + x + col] =
                    u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
            }
        }
    }
    frame
}

#[test]
fn two_clients_see_the_guest_pixels_while_a_third_stalls() {
    let (display, port, _) = start(None);
    // A client that asks for everything and never reads.
    let mut stalled = connect(port, None);
    stalled
        .write_all(&[2, 0, 0, 1, 0, 0, 0, 0])
        .expect("encodings");
    for _ in 0..50 {
        stalled
            .write_all(&[3, 0, 0, 0, 0, 0, 1, 64, 0, 200])
            .expect("request");
    }
    display
        .memory()
        .write_pixels(5, 7, &[0x00ab_cdef, 0x0001_0203]);
    display.refresh();
    let mut a = connect(port, None);
    let mut b = connect(port, None);
    for s in [&mut a, &mut b] {
        let frame = full_raw_frame(s);
        assert_eq!(frame[7 * 320 + 5] & 0x00ff_ffff, 0x00ab_cdef);
        assert_eq!(frame[7 * 320 + 6] & 0x00ff_ffff, 0x0001_0203);
        assert_eq!(frame[0], 0);
    }
    // An incremental request gets only the changed tile.
    display.memory().write_pixels(300, 190, &[0x00ff_0000]);
    display.refresh();
    a.write_all(&[3, 1, 0, 0, 0, 0, 1, 64, 0, 200])
        .expect("request");
    let head = read_n(&mut a, 4);
    assert_eq!(u16::from_be_bytes([head[2], head[3]]), 1);
    let r = read_n(&mut a, 12);
    assert_eq!(&r[..8], &[1, 0, 0, 128, 0, 64, 0, 64]);
    drop(stalled);
}

#[test]
fn vnc_auth_and_keys_reach_the_guest() {
    let (_display, port, keys) = start(Some("pa55word"));
    let mut s = connect(port, Some("pa55word"));
    // 'a' down/up by keysym, then Right Ctrl by QEMU scancode 0x9d.
    s.write_all(&[4, 1, 0, 0, 0, 0, 0, 0x61]).expect("key");
    s.write_all(&[4, 0, 0, 0, 0, 0, 0, 0x61]).expect("key");
    s.write_all(&[255, 0, 0, 1, 0, 0, 0xff, 0xe4, 0, 0, 0, 0x9d])
        .expect("qemu key");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while keys.0.lock().expect("keys").len() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        *keys.0.lock().expect("keys"),
        vec![(0x1e, true), (0x1e, false), (0xe01d, true)]
    );

    // A wrong password is refused with a reason.
    let mut bad = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    read_n(&mut bad, 12);
    bad.write_all(b"RFB 003.008\n").expect("version");
    assert_eq!(read_n(&mut bad, 2), [1, 2]);
    bad.write_all(&[2]).expect("security");
    read_n(&mut bad, 16);
    bad.write_all(&[0u8; 16]).expect("response");
    assert_eq!(read_n(&mut bad, 4), [0, 0, 0, 1]);
}

#[test]
fn pointer_events_reach_the_guest_and_the_client_learns_it_is_absolute() {
    let (_display, port, keys) = start(None);
    let mut s = connect(port, None);
    // Raw and QEMU's pointer type change (-257), then an update request.
    let mut encodings = vec![2, 0, 0, 2];
    encodings.extend_from_slice(&0i32.to_be_bytes());
    encodings.extend_from_slice(&(-257i32).to_be_bytes());
    s.write_all(&encodings).expect("encodings");
    s.write_all(&[3, 1, 0, 0, 0, 0, 1, 64, 0, 200])
        .expect("request");
    let head = read_n(&mut s, 4);
    assert_eq!(head[0], 0, "framebuffer update");
    let rect = read_n(&mut s, 12);
    // x = 1 (absolute), y = 0, the screen's size, encoding -257.
    assert_eq!(&rect[..8], &[0, 1, 0, 0, 1, 64, 0, 200]);
    assert_eq!(&rect[8..], &(-257i32).to_be_bytes());
    // PointerEvent: left button down at (300, 150), then up.
    s.write_all(&[5, 1, 1, 44, 0, 150]).expect("pointer");
    s.write_all(&[5, 0, 1, 44, 0, 150]).expect("pointer");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while keys.1.lock().expect("pointer").len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        *keys.1.lock().expect("pointer"),
        vec![(300, 150, 1, 320, 200), (300, 150, 0, 320, 200)]
    );
}

#[test]
fn garbage_from_a_client_only_ends_that_client() {
    let (display, port, _) = start(None);
    let mut evil = connect(port, None);
    evil.write_all(&[0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        .expect("bad pixel format");
    let mut buf = [0u8; 1];
    assert!(matches!(evil.read(&mut buf), Ok(0) | Err(_)), "closed");
    let mut fine = connect(port, None);
    display.memory().write_pixels(0, 0, &[0x0000_00ff]);
    display.refresh();
    assert_eq!(full_raw_frame(&mut fine)[0] & 0xff_ffff, 0xff);
}

#[test]
fn endpoints_print_like_virsh() {
    let tcp = VncEndpoint::Tcp {
        address: "127.0.0.1".parse().expect("ip"),
        port: 5901,
    };
    assert_eq!(tcp.uri(), "vnc://127.0.0.1:1");
    assert_eq!(tcp.vnc_display().as_deref(), Some("127.0.0.1:1"));
    let unix = VncEndpoint::Unix {
        path: "/run/vm.vnc".into(),
    };
    assert_eq!(unix.uri(), "vnc+unix:///run/vm.vnc");
    assert_eq!(unix.vnc_display(), None);
}
