//! ZRLE encoding speed of the built-in VNC server (`make bench-vnc`):
//! a full 1920x1080 change and a 10 % change, on one core, for screens
//! that look like a desktop (flat areas, text, a photo-like gradient) and
//! for noise (the worst case), with the Raw encoding as the reference.

use hangar_core::vmm::display::vnc::pixel::PixelFormat;
use hangar_core::vmm::display::vnc::zrle::ZrleEncoder;
use std::time::Instant;

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

/// Median milliseconds of `runs` calls of `f`.
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
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
    println!("ZRLE encoding, {W}x{H}, one core (median of 15 runs)");
    for (name, frame) in [("desktop", desktop(0)), ("noise", noise(1))] {
        let mut enc = ZrleEncoder::new();
        let mut bytes = 0;
        let full = median_ms(15, || {
            bytes = enc
                .encode(&frame, W, H, &format)
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
            "  {name:8} full frame: {full:6.2} ms, {:7} KiB (raw {:.0} KiB, raw encoding {raw_ms:.2} ms, ratio {:.1}x smaller)",
            bytes / 1024,
            raw.len() / 1024,
            raw.len() as f64 / bytes.max(1) as f64
        );
        println!(
            "  {name:8} 10 % change: {tenth:6.2} ms, {:7} KiB",
            band_bytes / 1024
        );
    }
    println!("target: full-frame ZRLE <= 15 ms on one core (desktop content)");
}
