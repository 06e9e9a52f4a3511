//! One VNC client: a reader thread that takes its messages (input goes
//! straight to the guest) and a sender thread that answers its update
//! requests from its own damage set, in its own pixel format and encoding.

use super::proto::{encoding, read_message, ClientMessage, RfbError};
use super::update::{UpdateWriter, Wants};
use crate::vmm::display::keymap::{keysym_to_scancode, qemu_keycode_to_scancode};
use crate::vmm::display::screen::Rect;
use crate::vmm::display::{Display, Viewer};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A connected socket, TCP or unix.
pub enum Connection {
    /// TCP.
    Tcp(std::net::TcpStream),
    /// Unix.
    Unix(std::os::unix::net::UnixStream),
}

impl Connection {
    /// A second handle on the same socket.
    pub fn try_clone(&self) -> std::io::Result<Connection> {
        Ok(match self {
            Connection::Tcp(s) => Connection::Tcp(s.try_clone()?),
            Connection::Unix(s) => Connection::Unix(s.try_clone()?),
        })
    }

    /// Closes both directions (wakes the other thread's blocking call).
    pub fn shutdown(&self) {
        let _ = match self {
            Connection::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Connection::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }

    /// Sets the read timeout.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Connection::Tcp(s) => s.set_read_timeout(timeout),
            Connection::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    /// Sets the write timeout.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Connection::Tcp(s) => s.set_write_timeout(timeout),
            Connection::Unix(s) => s.set_write_timeout(timeout),
        }
    }
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Connection::Tcp(s) => s.read(buf),
            Connection::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Connection::Tcp(s) => s.write(buf),
            Connection::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Connection::Tcp(s) => s.flush(),
            Connection::Unix(s) => s.flush(),
        }
    }
}

/// A client that sends nothing for this long during the handshake is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that takes no data for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves one client until it goes away; runs on the caller's thread (the
/// reader) and starts the sender thread.
pub fn serve(
    mut conn: Connection,
    display: Arc<Display>,
    password: Option<String>,
    name: String,
) -> Result<(), RfbError> {
    conn.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    conn.set_write_timeout(Some(WRITE_TIMEOUT))?;
    if let Connection::Tcp(s) = &conn {
        // Small updates go out at once; latency matters more than packets.
        let _ = s.set_nodelay(true);
    }
    let mode = display.mode();
    let mut challenge = [0u8; 16];
    random_bytes(&mut challenge);
    super::proto::handshake(
        &mut conn,
        password.as_deref(),
        challenge,
        mode.width as u16,
        mode.height as u16,
        &name,
    )?;
    conn.set_read_timeout(None)?;
    let viewer = display.add_viewer();
    let wants = Arc::new(Mutex::new(Wants::new(mode.width, mode.height)));
    let writer_conn = conn.try_clone()?;
    let sender = {
        let display = Arc::clone(&display);
        let viewer = Arc::clone(&viewer);
        let wants = Arc::clone(&wants);
        std::thread::Builder::new()
            .name("vnc-send".into())
            .spawn(move || {
                let result = UpdateWriter::new(writer_conn, display, viewer, wants).run();
                if let Err(e) = &result {
                    log_end(e);
                }
            })?
    };
    let result = read_loop(&mut conn, &display, &viewer, &wants);
    lock(&wants).gone = true;
    viewer.poke();
    conn.shutdown();
    let _ = sender.join();
    result
}

fn lock(wants: &Mutex<Wants>) -> std::sync::MutexGuard<'_, Wants> {
    wants.lock().unwrap_or_else(|e| e.into_inner())
}

fn log_end(e: &RfbError) {
    if !matches!(e, RfbError::Io(_)) {
        eprintln!("hangar-vmm: vnc: {e}");
    }
}

fn read_loop(
    conn: &mut Connection,
    display: &Display,
    viewer: &Viewer,
    wants: &Mutex<Wants>,
) -> Result<(), RfbError> {
    loop {
        let message = match read_message(conn) {
            Ok(m) => m,
            Err(RfbError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        match message {
            ClientMessage::SetPixelFormat(format) => {
                let mut w = lock(wants);
                w.format = format;
                // Pixels already sent were in the old format: resend all.
                w.full_refresh = true;
            }
            ClientMessage::SetEncodings(list) => lock(wants).set_encodings(&list),
            ClientMessage::UpdateRequest {
                incremental,
                x,
                y,
                w,
                h,
            } => {
                let area = Rect {
                    x: u32::from(x),
                    y: u32::from(y),
                    w: u32::from(w),
                    h: u32::from(h),
                };
                let mut st = lock(wants);
                st.request = Some(area);
                if !incremental {
                    st.refresh_area = Some(area);
                }
            }
            ClientMessage::Key { down, keysym } => {
                if let Some(code) = keysym_to_scancode(keysym) {
                    display.key(code, down);
                }
                continue;
            }
            ClientMessage::QemuKey {
                down,
                keysym,
                keycode,
            } => {
                let code = qemu_keycode_to_scancode(keycode).or_else(|| keysym_to_scancode(keysym));
                if let Some(code) = code {
                    display.key(code, down);
                }
                continue;
            }
            ClientMessage::Pointer { buttons, x, y } => {
                display.pointer(x, y, buttons);
                continue;
            }
            ClientMessage::CutText => continue,
        }
        viewer.poke();
    }
}

/// Fills `buf` from the kernel's random source (the VNC auth challenge).
fn random_bytes(buf: &mut [u8]) {
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != buf.len() as isize {
        // Never fails for 16 bytes once the pool is ready; fall back to
        // the clock so a challenge is never all zeros.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(151);
        }
    }
}

/// Whether `list` has `code`.
pub fn has(list: &[i32], code: i32) -> bool {
    list.contains(&code)
}

/// The first pixel encoding of the client's list we can produce.
pub fn preferred_encoding(list: &[i32]) -> i32 {
    list.iter()
        .copied()
        .find(|e| matches!(*e, encoding::ZRLE | encoding::RAW))
        .unwrap_or(encoding::RAW)
}
