//! A ZRLE decoder written from the specification, to check the encoder's
//! output pixel by pixel, across several rectangles of one zlib stream.

use super::*;
use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::DataFormat;
use miniz_oxide::MZFlush;

struct Decoder {
    zlib: Box<InflateState>,
}

impl Decoder {
    fn new() -> Self {
        Decoder {
            zlib: InflateState::new_boxed(DataFormat::Zlib),
        }
    }

    fn inflate(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; 64 << 20];
        let r = inflate(&mut self.zlib, data, &mut out, MZFlush::Sync);
        assert!(r.status.is_ok(), "inflate: {:?}", r.status);
        assert_eq!(r.bytes_consumed, data.len());
        out.truncate(r.bytes_written);
        out
    }

    /// Decodes to pixel values in `format` (cpixel of `cp` bytes, LE).
    fn decode(&mut self, data: &[u8], w: usize, h: usize, cp: usize) -> Vec<u32> {
        let raw = self.inflate(data);
        let mut pos = 0;
        let mut byte = || {
            let b = raw[pos];
            pos += 1;
            b
        };
        let mut pixels = vec![0u32; w * h];
        for ty in (0..h).step_by(64) {
            for tx in (0..w).step_by(64) {
                let tw = 64.min(w - tx);
                let th = 64.min(h - ty);
                let mut tile = Vec::with_capacity(tw * th);
                let cpixel = |byte: &mut dyn FnMut() -> u8| {
                    let mut v = 0u32;
                    for i in 0..cp {
                        v |= u32::from(byte()) << (8 * i);
                    }
                    v
                };
                let sub = byte();
                let length = |byte: &mut dyn FnMut() -> u8| {
                    let mut len = 1usize;
                    loop {
                        let b = byte();
                        len += usize::from(b);
                        if b != 255 {
                            return len;
                        }
                    }
                };
                match sub {
                    0 => {
                        for _ in 0..tw * th {
                            tile.push(cpixel(&mut byte));
                        }
                    }
                    1 => {
                        let c = cpixel(&mut byte);
                        tile.resize(tw * th, c);
                    }
                    2..=16 => {
                        let pal: Vec<u32> = (0..sub).map(|_| cpixel(&mut byte)).collect();
                        let bits = match sub {
                            2 => 1,
                            3..=4 => 2,
                            _ => 4,
                        };
                        for _ in 0..th {
                            let mut b = 0u8;
                            let mut left = 0;
                            for _ in 0..tw {
                                if left == 0 {
                                    b = byte();
                                    left = 8;
                                }
                                left -= bits;
                                let index = (b >> left) & ((1 << bits) - 1);
                                tile.push(pal[usize::from(index)]);
                            }
                        }
                    }
                    128 => {
                        while tile.len() < tw * th {
                            let c = cpixel(&mut byte);
                            let len = length(&mut byte);
                            tile.extend(std::iter::repeat_n(c, len));
                        }
                    }
                    130..=255 => {
                        let pal: Vec<u32> = (0..sub - 128).map(|_| cpixel(&mut byte)).collect();
                        while tile.len() < tw * th {
                            let i = byte();
                            let len = if i & 0x80 != 0 { length(&mut byte) } else { 1 };
                            tile.extend(std::iter::repeat_n(pal[usize::from(i & 0x7f)], len));
                        }
                    }
                    other => panic!("bad subencoding {other}"),
                }
                assert_eq!(tile.len(), tw * th);
                for y in 0..th {
                    for x in 0..tw {
                        pixels[(ty + y) * w + tx + x] = tile[y * tw + x];
                    }
                }
            }
        }
        assert_eq!(pos, raw.len(), "trailing bytes");
        pixels
    }
}

/// A picture with every kind of tile: flat, two-colour text-like stripes,
/// a few colours, long runs, and noise.
fn picture(w: usize, h: usize, seed: u32) -> Vec<u32> {
    let mut state = seed;
    let mut noise = move || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        state >> 8
    };
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            match (x / 64 + y / 64) % 5 {
                0 => 0x0020_4060,
                1 => {
                    if (x + y) % 3 == 0 {
                        0x00ff_ffff
                    } else {
                        0
                    }
                }
                2 => [
                    0x00ff_0000,
                    0x0000_ff00,
                    0x0000_00ff,
                    0x0012_3456,
                    0x0080_8080,
                ][(x / 3 + y) % 5],
                3 => ((x as u32 * 3) << 16) | ((y as u32) << 8) | 0x40,
                _ => noise() & 0x00ff_ffff,
            }
        })
        .collect()
}

#[test]
fn decodes_to_the_same_pixels_across_rectangles() {
    let mut enc = ZrleEncoder::new();
    let mut dec = Decoder::new();
    for (w, h, seed) in [
        (300, 200, 1),
        (64, 64, 2),
        (1, 1, 3),
        (129, 70, 4),
        (640, 130, 5),
    ] {
        let pixels = picture(w, h, seed);
        let data = enc
            .encode(&pixels, w, h, &PixelFormat::NATIVE)
            .expect("encode")
            .to_vec();
        let decoded = dec.decode(&data, w, h, 3);
        let want: Vec<u32> = pixels.iter().map(|p| p & 0x00ff_ffff).collect();
        assert_eq!(decoded, want, "{w}x{h}");
    }
}

#[test]
fn sixteen_bit_clients_get_converted_pixels() {
    let rgb565 = PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: false,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    };
    let mut enc = ZrleEncoder::new();
    let mut dec = Decoder::new();
    let pixels = picture(200, 100, 9);
    let data = enc
        .encode(&pixels, 200, 100, &rgb565)
        .expect("encode")
        .to_vec();
    let decoded = dec.decode(&data, 200, 100, 2);
    let want: Vec<u32> = pixels.iter().map(|p| rgb565.convert(*p)).collect();
    assert_eq!(decoded, want);
}

#[test]
fn flat_screens_compress_to_almost_nothing() {
    let mut enc = ZrleEncoder::new();
    let pixels = vec![0x0033_3333u32; 1024 * 768];
    let data = enc
        .encode(&pixels, 1024, 768, &PixelFormat::NATIVE)
        .expect("encode");
    assert!(data.len() < 2000, "{} bytes", data.len());
    assert!(enc
        .encode(&pixels[..5], 2, 2, &PixelFormat::NATIVE)
        .is_err());
}
