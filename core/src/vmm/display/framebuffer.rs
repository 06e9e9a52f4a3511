//! The guest's linear framebuffer: host memory mapped into the guest as its
//! own KVM memory slot at [`layout::FRAMEBUFFER_START`], 32 bits per pixel
//! in x8r8g8b8 order, described to the kernel as a VESA linear framebuffer.

use super::DisplayError;
use crate::vmm::arch::layout;

/// Bytes per pixel of the guest framebuffer.
pub const BYTES_PER_PIXEL: u32 = 4;

/// Size and line length of the guest's screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoMode {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl VideoMode {
    /// Bytes from one line to the next.
    pub fn stride(&self) -> u32 {
        self.width * BYTES_PER_PIXEL
    }

    /// Bytes the visible screen takes.
    pub fn frame_bytes(&self) -> u64 {
        u64::from(self.stride()) * u64::from(self.height)
    }

    /// Bytes mapped for the guest: the frame rounded up to 64 KiB (the unit
    /// of `screen_info.lfb_size` for VESA framebuffers).
    pub fn mapped_bytes(&self) -> u64 {
        self.frame_bytes().div_ceil(0x1_0000) * 0x1_0000
    }
}

/// Anonymous host memory the guest sees as its framebuffer.
pub struct FramebufferMemory {
    ptr: *mut u8,
    len: usize,
    mode: VideoMode,
}

// SAFETY: the mapping is plain shared memory owned by this value; every
// access goes through raw-pointer copies that tolerate concurrent writes
// by the guest (a torn pixel is redrawn on the next refresh).
unsafe impl Send for FramebufferMemory {}
// SAFETY: as above; no method hands out references into the mapping.
unsafe impl Sync for FramebufferMemory {}

impl FramebufferMemory {
    /// Maps zeroed memory for `mode`.
    pub fn new(mode: VideoMode) -> Result<Self, DisplayError> {
        let len = mode.mapped_bytes();
        if len > layout::FRAMEBUFFER_MAX_SIZE {
            return Err(DisplayError::TooLarge {
                width: mode.width,
                height: mode.height,
            });
        }
        let len = len as usize;
        // SAFETY: an anonymous private mapping with no address hint; the
        // result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(DisplayError::Map(std::io::Error::last_os_error()));
        }
        Ok(FramebufferMemory {
            ptr: ptr.cast(),
            len,
            mode,
        })
    }

    /// The screen this memory holds.
    pub fn mode(&self) -> VideoMode {
        self.mode
    }

    /// Host address of the mapping (for the KVM memory slot).
    pub fn host_address(&self) -> u64 {
        self.ptr as u64
    }

    /// Mapped length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a framebuffer has at least one line.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies line `y` into `line` (as many pixels as both hold).
    pub fn read_line(&self, y: u32, line: &mut [u32]) {
        if y >= self.mode.height {
            return;
        }
        let offset = y as usize * self.mode.stride() as usize;
        let count = line.len().min(self.mode.width as usize);
        // SAFETY: offset + count*4 lies inside the mapping (y < height and
        // count <= width); the destination is a distinct Rust buffer. The
        // guest may write concurrently: the bytes are plain pixel data.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.ptr.add(offset),
                line.as_mut_ptr().cast::<u8>(),
                count * BYTES_PER_PIXEL as usize,
            );
        }
    }

    /// Writes pixels at line `y` from column `x` (used by tests and to
    /// clear the screen on reboot).
    pub fn write_pixels(&self, x: u32, y: u32, pixels: &[u32]) {
        if y >= self.mode.height || x >= self.mode.width {
            return;
        }
        let count = pixels.len().min((self.mode.width - x) as usize);
        let offset = y as usize * self.mode.stride() as usize + x as usize * 4;
        // SAFETY: the range lies inside the mapping as checked above; the
        // source is a distinct Rust buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(
                pixels.as_ptr().cast::<u8>(),
                self.ptr.add(offset),
                count * BYTES_PER_PIXEL as usize,
            );
        }
    }

    /// Zeroes the whole mapping (a rebooted guest starts with a black screen).
    pub fn clear(&self) {
        // SAFETY: writes exactly the mapping's length from its start.
        unsafe { std::ptr::write_bytes(self.ptr, 0, self.len) };
    }
}

impl Drop for FramebufferMemory {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped; no references into it
        // outlive self (the VM that used it is gone before the display).
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// What the zero page's `screen_info` says about the framebuffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearFramebufferInfo {
    /// Guest physical base.
    pub base: u64,
    /// Mapped bytes.
    pub size: u64,
    /// The mode.
    pub mode: VideoMode,
}

/// Fills `screen_info` so that the kernel's sysfb registers a
/// "vesa-framebuffer" (vesafb) or a simple-framebuffer (x8r8g8b8) for it.
pub fn fill_screen_info(si: &mut linux_loader::bootparam::screen_info, fb: &LinearFramebufferInfo) {
    /// VIDEO_TYPE_VLFB: a VESA VGA linear framebuffer (uapi/linux/screen_info.h).
    const VIDEO_TYPE_VLFB: u8 = 0x23;
    /// VIDEO_CAPABILITY_64BIT_BASE: `ext_lfb_base` holds the upper 32 bits.
    const VIDEO_CAPABILITY_64BIT_BASE: u32 = 1 << 1;
    si.orig_video_isVGA = VIDEO_TYPE_VLFB;
    si.lfb_width = fb.mode.width as u16;
    si.lfb_height = fb.mode.height as u16;
    si.lfb_depth = 32;
    si.lfb_linelength = fb.mode.stride() as u16;
    si.lfb_base = fb.base as u32;
    si.ext_lfb_base = (fb.base >> 32) as u32;
    if fb.base >> 32 != 0 {
        si.capabilities |= VIDEO_CAPABILITY_64BIT_BASE;
    }
    // For VESA framebuffers lfb_size counts 64 KiB units.
    si.lfb_size = (fb.size >> 16) as u32;
    si.pages = 1;
    si.red_size = 8;
    si.red_pos = 16;
    si.green_size = 8;
    si.green_pos = 8;
    si.blue_size = 8;
    si.blue_pos = 0;
    // No alpha: simplefb's "x8r8g8b8" matches only with rsvd 0/0.
    si.rsvd_size = 0;
    si.rsvd_pos = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_sizes_round_to_64k() {
        let mode = VideoMode {
            width: 1024,
            height: 768,
        };
        assert_eq!(mode.stride(), 4096);
        assert_eq!(mode.frame_bytes(), 3 << 20);
        assert_eq!(mode.mapped_bytes(), 3 << 20);
        let odd = VideoMode {
            width: 800,
            height: 601,
        };
        assert_eq!(odd.mapped_bytes() % 0x1_0000, 0);
        assert!(odd.mapped_bytes() >= odd.frame_bytes());
    }

    #[test]
    fn screen_info_describes_a_vesa_lfb() {
        let mut si = linux_loader::bootparam::screen_info::default();
        let mode = VideoMode {
            width: 1024,
            height: 768,
        };
        fill_screen_info(
            &mut si,
            &LinearFramebufferInfo {
                base: layout::FRAMEBUFFER_START,
                size: mode.mapped_bytes(),
                mode,
            },
        );
        assert_eq!(si.orig_video_isVGA, 0x23);
        assert_eq!({ si.lfb_base }, 0xe000_0000);
        assert_eq!({ si.lfb_size }, 48);
        assert_eq!({ si.lfb_linelength }, 4096);
        assert_eq!({ si.capabilities }, 0);
    }

    #[test]
    fn lines_round_trip() {
        let fb = FramebufferMemory::new(VideoMode {
            width: 320,
            height: 200,
        })
        .expect("map");
        fb.write_pixels(10, 5, &[0x00ff_0000, 0x0000_ff00]);
        let mut line = vec![0u32; 320];
        fb.read_line(5, &mut line);
        assert_eq!(&line[10..12], &[0x00ff_0000, 0x0000_ff00]);
        fb.write_pixels(319, 199, &[1, 2, 3]);
        fb.read_line(199, &mut line);
        assert_eq!(line[319], 1);
        fb.read_line(200, &mut line);
    }
}
