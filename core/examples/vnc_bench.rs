//! ZRLE encoding speed of the built-in VNC server (`make bench-vnc`):
//! a full 1920x1080 change and a 10 % change, on one core, for screens
//! that look like a desktop (flat areas, text, a photo-like gradient) and
//! for noise (the worst case), with the Raw encoding as the reference, and
//! a console scrolling by one line with and without CopyRect.

use hangar_core::vmm::display::screen::{Rect, Screen, TileSet};
use hangar_core::vmm::display::vnc::pixel::PixelFormat;
use hangar_core::vmm::display::vnc::proto::encoding;
use hangar_core::vmm::display::vnc::rects::RectWriter;
use hangar_core::vmm::display::vnc::zrle::ZrleEncoder;

const W: usize = 1920;
const H: usize = 1080;

/// A desktop-like frame: window backgrounds, text-like strokes, a gradient
/// "photo", and a title bar; `seed` moves the text so frames differ.
fn desktop(seed: usize) -> Vec<u32> {
    (0..W * H)
        .map(|i| {
            let (x, y) = (i % W, i / W);
            if y < 32 {
                0x0030_3440
            } else if (200..700).contains(&x) && (150..650).contains(&y) {
                // A photo: smooth gradients.
                (((x * 255 / 700) as u32) << 16) | (((y * 255 / 650) as u32) << 8) | 0x60
            } else if x > 800 && (y / 18) % 2 == 0 && ((x + seed) * 7 + y * 3) % 11 < 3 {
                0x0020_2020 // text strokes
            } else {
                0x00f0_f0f0
            }
        })
        .collect()
}

fn noise(seed: u32) -> Vec<u32> {
    let mut s = seed;
    (0..W * H)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            s >> 8
        })
        .collect()
}

/// CPU time of this thread in milliseconds: on a loaded machine the wall
/// clock also counts the time other processes had the core.
fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `ts`, which lives
    // for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1000.0 + ts.tv_nsec as f64 / 1e6
}

/// Median milliseconds (thread CPU time) of `runs` calls of `f`.
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = thread_cpu_ms();
            f();
            thread_cpu_ms() - t
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// A text console scrolled by `first` lines of 16 pixels: line `n` of
/// the text has its own strokes, every seventh is blank.
fn console(first: usize) -> Screen {
    let pixels = (0..W * H)
        .map(|i| {
            let (x, y) = (i % W, i / W);
            let text = first + y / 16;
            let ink = text % 7 != 3
                && x < 200 + (text * 37) % 1600
                && (x * 7 + (y % 16) * 3 + text * 13) % 11 < 3;
            if ink {
                0x00c0_c0c0
            } else {
                0x0000_0010
            }
        })
        .collect();
    Screen {
        width: W as u32,
        height: H as u32,
        pixels,
    }
}

/// The changed rectangles from `old` to `new`, as the server takes them.
fn damage(old: &Screen, new: &Screen) -> Vec<Rect> {
    let mut copy = old.clone();
    let mut changed = TileSet::new(W as u32, H as u32);
    for y in 0..H {
        copy.update_line(y as u32, &new.pixels[y * W..(y + 1) * W], &mut changed);
    }
    changed.take_within(Rect {
        x: 0,
        y: 0,
        w: W as u32,
        h: H as u32,
    })
}

/// A console scrolling by one line, with and without CopyRect: the
/// second update's CPU time and bytes (ZRLE for the pixels).
fn console_scroll() {
    let (before, after) = (console(0), console(1));
    let rects = damage(&before, &after);
    let whole = [Rect {
        x: 0,
        y: 0,
        w: W as u32,
        h: H as u32,
    }];
    for copy_rect in [false, true] {
        let mut bytes = 0;
        let mut out = Vec::new();
        let mut writer = RectWriter::new();
        // The first update fills the client; only the scroll's is timed.
        let mut times: Vec<f64> = (0..9)
            .map(|_| {
                writer = RectWriter::new();
                writer.use_copy_rect(copy_rect);
                out.clear();
                let _ = writer.write(
                    &before,
                    &whole,
                    encoding::ZRLE,
                    &PixelFormat::NATIVE,
                    &mut out,
                );
                out.clear();
                let t = thread_cpu_ms();
                let _ = writer.write(
                    &after,
                    &rects,
                    encoding::ZRLE,
                    &PixelFormat::NATIVE,
                    &mut out,
                );
                bytes = out.len();
                thread_cpu_ms() - t
            })
            .collect();
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "  console scroll by one line, {}: {:6.2} ms, {:5} KiB",
            if copy_rect {
                "CopyRect + ZRLE"
            } else {
                "ZRLE only      "
            },
            times[times.len() / 2],
            bytes / 1024
        );
    }
}

fn raw_encode(pixels: &[u32], out: &mut Vec<u8>) {
    out.clear();
    let f = PixelFormat::NATIVE;
    for p in pixels {
        f.put_pixel(f.convert(*p), out);
    }
}

fn main() {
    let format = PixelFormat::NATIVE;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "ZRLE encoding, {W}x{H}, one core, thread CPU time, median of 15 runs (load average {})",
        load.split_whitespace().next().unwrap_or("?")
    );
    for (name, frame) in [("desktop", desktop(0)), ("noise", noise(1))] {
        let mut enc = ZrleEncoder::new();
        let mut bytes = 0;
        let full = median_ms(15, || {
            bytes = enc
                .encode(&frame, W, H, &format)
                .map(|d| d.len())
                .unwrap_or(0);
        });
        let mut packed = 0;
        let pack = median_ms(15, || {
            packed = enc
                .pack(&frame, W, H, &format)
                .map(|d| d.len())
                .unwrap_or(0);
        });
        // 10 %: a 1920x108 band (what a scrolling terminal or a window
        // strip changes), as the server sends it: one rectangle.
        let band = &frame[400 * W..(400 + H / 10) * W];
        let mut band_bytes = 0;
        let tenth = median_ms(15, || {
            band_bytes = enc
                .encode(band, W, H / 10, &format)
                .map(|d| d.len())
                .unwrap_or(0);
        });
        let mut raw = Vec::new();
        let raw_ms = median_ms(15, || raw_encode(&frame, &mut raw));
        println!(
            "  {name:8} full frame: {full:6.2} ms, {:7} KiB (tiles {pack:.2} ms / {} KiB before zlib; raw {:.0} KiB in {raw_ms:.2} ms, {:.1}x smaller)",
            bytes / 1024,
            packed / 1024,
            raw.len() / 1024,
            raw.len() as f64 / bytes.max(1) as f64
        );
        println!(
            "  {name:8} 10 % change: {tenth:6.2} ms, {:7} KiB",
            band_bytes / 1024
        );
    }
    println!("zlib level, desktop full frame:");
    let frame = desktop(0);
    for level in [1, 2, 3, 6] {
        let mut enc = ZrleEncoder::with_level(level);
        let mut bytes = 0;
        let ms = median_ms(9, || {
            bytes = enc
                .encode(&frame, W, H, &format)
                .map(|d| d.len())
                .unwrap_or(0);
        });
        println!("  level {level}: {ms:6.2} ms, {:7} KiB", bytes / 1024);
    }
    console_scroll();
    println!("target: full-frame ZRLE <= 15 ms on one core (desktop content)");
}
