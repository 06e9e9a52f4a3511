//! The pixel rectangles of one FramebufferUpdate: a CopyRect for a scroll
//! when the client takes CopyRect, then every changed rectangle in the
//! client's encoding (ZRLE or Raw).

use super::copyrect::{without_lines, SentFrame};
use super::pixel::PixelFormat;
use super::proto::encoding;
use super::zrle::{ZrleEncoder, ZrleError};
use crate::vmm::display::screen::{Rect, Screen};
use crate::vmm::display::Display;

/// Where the frame to send is read from, under whatever lock guards it.
pub trait ScreenSource {
    /// Calls `f` with the current frame.
    fn with_screen<R>(&self, f: impl FnOnce(&Screen) -> R) -> R;
}

impl ScreenSource for Display {
    fn with_screen<R>(&self, f: impl FnOnce(&Screen) -> R) -> R {
        f(&self.screen())
    }
}

impl ScreenSource for Screen {
    fn with_screen<R>(&self, f: impl FnOnce(&Screen) -> R) -> R {
        f(self)
    }
}

/// One client's rectangle encoder: its zlib stream and, for a CopyRect
/// client, the frame it has.
pub struct RectWriter {
    zrle: ZrleEncoder,
    pixels: Vec<u32>,
    sent: Option<SentFrame>,
}

impl Default for RectWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// Appends a rectangle header.
pub fn put_header(out: &mut Vec<u8>, x: u32, y: u32, w: u32, h: u32, enc: i32) {
    for v in [x, y, w, h] {
        out.extend_from_slice(&(v as u16).to_be_bytes());
    }
    out.extend_from_slice(&enc.to_be_bytes());
}

impl RectWriter {
    /// A writer for a client without CopyRect.
    pub fn new() -> Self {
        RectWriter {
            zrle: ZrleEncoder::new(),
            pixels: Vec::new(),
            sent: None,
        }
    }

    /// Follows the client's SetEncodings: a client that takes CopyRect gets
    /// its frame tracked (from nothing known), one that does not gets none.
    pub fn use_copy_rect(&mut self, on: bool) {
        match (on, self.sent.is_some()) {
            (true, false) => self.sent = Some(SentFrame::default()),
            (false, true) => self.sent = None,
            _ => {}
        }
    }

    /// The client may have lost `area` (a full refresh or a new pixel
    /// format): it is not copied from until resent.
    pub fn forget(&mut self, area: Rect) {
        if let Some(sent) = &mut self.sent {
            sent.forget(area);
        }
    }

    /// Appends the rectangles that bring the client from what it has to the
    /// current frame in `rects` (headers and data) to `out`; returns how
    /// many rectangles it wrote.
    pub fn write(
        &mut self,
        source: &impl ScreenSource,
        rects: &[Rect],
        enc: i32,
        format: &PixelFormat,
        out: &mut Vec<u8>,
    ) -> Result<u16, ZrleError> {
        let mut count: u16 = 0;
        let mut rects = std::borrow::Cow::Borrowed(rects);
        if let Some(sent) = &mut self.sent {
            let scroll = source.with_screen(|screen| {
                if !sent.has_size(screen.width, screen.height) {
                    sent.reset(screen.width, screen.height);
                }
                sent.find_scroll(screen, &rects)
            });
            if let Some(scroll) = scroll {
                let d = scroll.dest;
                put_header(out, d.x, d.y, d.w, d.h, encoding::COPY_RECT);
                out.extend_from_slice(&(d.x as u16).to_be_bytes());
                out.extend_from_slice(&(scroll.src_y as u16).to_be_bytes());
                sent.apply(scroll);
                count += 1;
                rects = std::borrow::Cow::Owned(without_lines(&rects, d));
            }
        }
        for rect in rects.iter() {
            let clipped = source.with_screen(|screen| screen.copy_rect(*rect, &mut self.pixels));
            let Some(r) = clipped else { continue };
            put_header(out, r.x, r.y, r.w, r.h, enc);
            if enc == encoding::ZRLE {
                let data = self
                    .zrle
                    .encode(&self.pixels, r.w as usize, r.h as usize, format)?;
                out.extend_from_slice(&(data.len() as u32).to_be_bytes());
                out.extend_from_slice(data);
            } else {
                out.reserve(self.pixels.len() * format.bytes_per_pixel());
                for p in &self.pixels {
                    format.put_pixel(format.convert(*p), out);
                }
            }
            if let Some(sent) = &mut self.sent {
                sent.store(r, &self.pixels);
            }
            count = count.saturating_add(1);
        }
        Ok(count)
    }
}
