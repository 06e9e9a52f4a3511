//! The sender side of one client: waits until the client asked for an
//! update and something changed, then encodes the changed rectangles from
//! the last frame. Damage that piles up while a slow client is busy is
//! merged (intermediate frames are never queued).

use super::client::{has, preferred_encoding, Connection};
use super::pixel::PixelFormat;
use super::proto::{encoding, RfbError};
use super::rects::{put_header, RectWriter};
use crate::vmm::display::screen::Rect;
use crate::vmm::display::{Display, Viewer};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the client asked for, shared between its reader and sender.
#[derive(Debug, Clone)]
pub struct Wants {
    /// Its pixel format.
    pub format: PixelFormat,
    /// The pixel encoding to use.
    pub encoding: i32,
    /// It understands the Cursor pseudo-encoding (not yet sent).
    pub cursor_pending: bool,
    /// It understands CopyRect.
    pub copy_rect: bool,
    /// It understands LastRect.
    pub last_rect: bool,
    /// It understands DesktopSize.
    pub desktop_size: bool,
    /// QEMU extended key events to announce.
    pub ext_key_pending: bool,
    /// The pointer's type (absolute or relative) to announce: the client
    /// asked for QEMU's pointer type change pseudo-encoding.
    pub pointer_type_pending: bool,
    /// The outstanding update request's area.
    pub request: Option<Rect>,
    /// A non-incremental request: this area is sent whether changed or not.
    pub refresh_area: Option<Rect>,
    /// Everything must be resent (new pixel format).
    pub full_refresh: bool,
    /// The size the client knows.
    pub width: u32,
    /// The size the client knows.
    pub height: u32,
    /// The reader ended: the sender must stop.
    pub gone: bool,
}

impl Wants {
    /// A client that has asked for nothing yet.
    pub fn new(width: u32, height: u32) -> Self {
        Wants {
            format: PixelFormat::NATIVE,
            encoding: encoding::RAW,
            cursor_pending: false,
            copy_rect: false,
            last_rect: false,
            desktop_size: false,
            ext_key_pending: false,
            pointer_type_pending: false,
            request: None,
            refresh_area: None,
            full_refresh: false,
            width,
            height,
            gone: false,
        }
    }

    /// Takes a SetEncodings list.
    pub fn set_encodings(&mut self, list: &[i32]) {
        self.encoding = preferred_encoding(list);
        self.cursor_pending = has(list, encoding::CURSOR);
        self.copy_rect = has(list, encoding::COPY_RECT);
        self.last_rect = has(list, encoding::LAST_RECT);
        self.desktop_size = has(list, encoding::DESKTOP_SIZE);
        self.ext_key_pending = has(list, encoding::QEMU_EXTENDED_KEY_EVENT);
        self.pointer_type_pending = has(list, encoding::QEMU_POINTER_MOTION_CHANGE);
    }

    fn has_pseudo(&self) -> bool {
        self.cursor_pending || self.ext_key_pending || self.pointer_type_pending
    }
}

/// How long the sender sleeps before rechecking that the client is there.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// The sender thread of one client.
pub struct UpdateWriter {
    conn: Connection,
    display: Arc<Display>,
    viewer: Arc<Viewer>,
    wants: Arc<Mutex<Wants>>,
    rects: RectWriter,
    message: Vec<u8>,
}

/// One update to send, taken under the locks.
struct Job {
    wants: Wants,
    rects: Vec<Rect>,
    resize: Option<(u32, u32)>,
    /// What the client asked to get again (it may have lost it).
    refreshed: Option<Rect>,
}

impl UpdateWriter {
    /// A sender writing to `conn`.
    pub fn new(
        conn: Connection,
        display: Arc<Display>,
        viewer: Arc<Viewer>,
        wants: Arc<Mutex<Wants>>,
    ) -> Self {
        UpdateWriter {
            conn,
            display,
            viewer,
            wants,
            rects: RectWriter::new(),
            message: Vec::new(),
        }
    }

    /// Sends updates until the client or the display goes away.
    pub fn run(mut self) -> Result<(), RfbError> {
        let result = self.send_loop();
        self.conn.shutdown();
        result
    }

    fn send_loop(&mut self) -> Result<(), RfbError> {
        while let Some(job) = self.next_job() {
            self.send(job)?;
        }
        Ok(())
    }

    /// Waits for an update request with something to send.
    fn next_job(&self) -> Option<Job> {
        let mode = self.display.mode();
        let mut st = self.viewer.lock();
        loop {
            if st.closed {
                return None;
            }
            {
                let mut w = self.wants.lock().unwrap_or_else(|e| e.into_inner());
                if w.gone {
                    return None;
                }
                if let Some(request) = w.request {
                    let whole = Rect {
                        x: 0,
                        y: 0,
                        w: mode.width,
                        h: mode.height,
                    };
                    let mut refreshed = None;
                    if w.full_refresh {
                        st.damage.mark_all();
                        w.full_refresh = false;
                        refreshed = Some(whole);
                    }
                    if let Some(area) = w.refresh_area.take() {
                        st.damage.mark_rect(area);
                        refreshed = Some(refreshed.unwrap_or(area));
                    }
                    let resize = (w.desktop_size
                        && (w.width, w.height) != (mode.width, mode.height))
                        .then_some((mode.width, mode.height));
                    let rects = if resize.is_some() {
                        st.damage.mark_all();
                        st.damage.take_within(Rect {
                            x: 0,
                            y: 0,
                            w: mode.width,
                            h: mode.height,
                        })
                    } else {
                        st.damage.take_within(request)
                    };
                    if !rects.is_empty() || w.has_pseudo() || resize.is_some() {
                        w.request = None;
                        let job = Job {
                            wants: w.clone(),
                            rects,
                            resize,
                            refreshed,
                        };
                        w.cursor_pending = false;
                        w.ext_key_pending = false;
                        w.pointer_type_pending = false;
                        if let Some((width, height)) = resize {
                            w.width = width;
                            w.height = height;
                        }
                        return Some(job);
                    }
                }
            }
            st = match self.viewer.wake.wait_timeout(st, IDLE_CHECK) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    fn send(&mut self, job: Job) -> Result<(), RfbError> {
        let format = job.wants.format;
        self.message.clear();
        self.message.extend_from_slice(&[0, 0]);
        let count_at = self.message.len();
        self.message.extend_from_slice(&[0, 0]);
        let mut count: u16 = 0;
        if let Some((w, h)) = job.resize {
            put_header(&mut self.message, 0, 0, w, h, encoding::DESKTOP_SIZE);
            count += 1;
        }
        if job.wants.ext_key_pending {
            put_header(
                &mut self.message,
                0,
                0,
                0,
                0,
                encoding::QEMU_EXTENDED_KEY_EVENT,
            );
            count += 1;
        }
        if job.wants.pointer_type_pending {
            // QEMU's form: x is 1 for absolute, 0 for relative; w and h
            // are the screen's size.
            let absolute = u32::from(self.display.absolute_pointer());
            let mode = self.display.mode();
            put_header(
                &mut self.message,
                absolute,
                0,
                mode.width,
                mode.height,
                encoding::QEMU_POINTER_MOTION_CHANGE,
            );
            count += 1;
        }
        if job.wants.cursor_pending {
            put_cursor(&mut self.message, &format);
            count += 1;
        }
        self.rects.use_copy_rect(job.wants.copy_rect);
        if let Some(area) = job.refreshed {
            self.rects.forget(area);
        }
        let written = self.rects.write(
            &*self.display,
            &job.rects,
            job.wants.encoding,
            &format,
            &mut self.message,
        )?;
        count = count.saturating_add(written);
        if job.wants.last_rect {
            put_header(&mut self.message, 0, 0, 0, 0, encoding::LAST_RECT);
            self.message[count_at..count_at + 2].copy_from_slice(&0xffffu16.to_be_bytes());
        } else {
            self.message[count_at..count_at + 2].copy_from_slice(&count.to_be_bytes());
        }
        self.conn.write_all(&self.message)?;
        self.conn.flush()?;
        Ok(())
    }
}

/// An arrow pointer, one string per line: '#' black, '.' white, ' ' clear.
const ARROW: [&str; 16] = [
    "#         ",
    "##        ",
    "#.#       ",
    "#..#      ",
    "#...#     ",
    "#....#    ",
    "#.....#   ",
    "#......#  ",
    "#.......# ",
    "#........#",
    "#.....####",
    "#..#..#   ",
    "#.# #..#  ",
    "##  #..#  ",
    "     #..# ",
    "     ### ",
];

/// The Cursor pseudo-rectangle: the guest has no hardware cursor, so
/// clients draw this arrow where their pointer is.
fn put_cursor(out: &mut Vec<u8>, format: &PixelFormat) {
    let w = 10u32;
    let h = ARROW.len() as u32;
    put_header(out, 0, 0, w, h, encoding::CURSOR);
    let mut mask = Vec::with_capacity((h * w.div_ceil(8)) as usize);
    for line in ARROW {
        let bytes = line.as_bytes();
        let mut bits = 0u16;
        for x in 0..w as usize {
            let c = bytes.get(x).copied().unwrap_or(b' ');
            let colour = if c == b'.' { 0x00ff_ffff } else { 0 };
            format.put_pixel(format.convert(colour), out);
            bits = (bits << 1) | u16::from(c != b' ');
        }
        bits <<= 16 - w;
        mask.extend_from_slice(&bits.to_be_bytes()[..w.div_ceil(8) as usize]);
    }
    out.extend_from_slice(&mask);
}
