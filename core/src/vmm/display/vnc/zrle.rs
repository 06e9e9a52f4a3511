//! ZRLE (RFB 7.7.6): 64x64 tiles, each solid, packed-palette, palette RLE,
//! plain RLE or raw (whichever is smallest), compressed with one zlib
//! stream per client that lives as long as the connection (the client's
//! inflater keeps its window across rectangles).

use super::pixel::{CpixelWriter, PixelFormat};
use miniz_oxide::deflate::core::{create_comp_flags_from_zip_params, CompressorOxide};
use miniz_oxide::deflate::stream::deflate;
use miniz_oxide::MZFlush;

/// ZRLE's tile side.
pub const ZRLE_TILE: usize = 64;
/// Most palette entries a tile may use.
const MAX_PALETTE: usize = 127;
/// zlib level: speed over ratio, for interactive frames.
const LEVEL: i32 = 1;

/// Errors of the encoder.
#[derive(Debug, thiserror::Error)]
pub enum ZrleError {
    /// zlib refused the data (cannot happen with a valid stream).
    #[error("zlib compression failed: {0:?}")]
    Deflate(miniz_oxide::MZError),
    /// The pixels do not fill the rectangle.
    #[error("{got} pixels for a {w}x{h} rectangle")]
    Size {
        /// Pixels given.
        got: usize,
        /// Width.
        w: usize,
        /// Height.
        h: usize,
    },
}

/// A tile's colours, found through a small open-addressing hash.
struct Palette {
    slots: [u32; 256],
    index: [u8; 256],
    used: [bool; 256],
    colours: Vec<u32>,
}

impl Palette {
    fn new() -> Self {
        Palette {
            slots: [0; 256],
            index: [0; 256],
            used: [false; 256],
            colours: Vec::with_capacity(MAX_PALETTE),
        }
    }

    fn clear(&mut self) {
        self.used = [false; 256];
        self.colours.clear();
    }

    /// The colour's index, adding it; None once the palette is full.
    fn lookup(&mut self, colour: u32) -> Option<u8> {
        let mut slot = (colour.wrapping_mul(0x9e37_79b1) >> 24) as usize;
        loop {
            if !self.used[slot] {
                if self.colours.len() >= MAX_PALETTE {
                    return None;
                }
                self.used[slot] = true;
                self.slots[slot] = colour;
                self.index[slot] = self.colours.len() as u8;
                self.colours.push(colour);
                return Some(self.index[slot]);
            }
            if self.slots[slot] == colour {
                return Some(self.index[slot]);
            }
            slot = (slot + 1) & 0xff;
        }
    }
}

/// Bytes a run length of `len` takes (ZRLE's 255-continued lengths).
fn run_length_bytes(len: usize) -> usize {
    (len - 1) / 255 + 1
}

fn put_run_length(len: usize, out: &mut Vec<u8>) {
    let mut rest = len - 1;
    while rest >= 255 {
        out.push(255);
        rest -= 255;
    }
    out.push(rest as u8);
}

/// One client's ZRLE encoder and zlib stream.
pub struct ZrleEncoder {
    zlib: Box<CompressorOxide>,
    palette: Palette,
    tile: Vec<u32>,
    raw: Vec<u8>,
    compressed: Vec<u8>,
}

impl Default for ZrleEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ZrleEncoder {
    /// A new stream.
    pub fn new() -> Self {
        ZrleEncoder {
            zlib: Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
                LEVEL, 15, 0,
            ))),
            palette: Palette::new(),
            tile: Vec::with_capacity(ZRLE_TILE * ZRLE_TILE),
            raw: Vec::new(),
            compressed: Vec::new(),
        }
    }

    /// The zlib data of one ZRLE rectangle of `w` x `h` x8r8g8b8 `pixels`
    /// in `format` (what follows the rectangle's 4-byte length).
    pub fn encode(
        &mut self,
        pixels: &[u32],
        w: usize,
        h: usize,
        format: &PixelFormat,
    ) -> Result<&[u8], ZrleError> {
        if pixels.len() != w * h {
            return Err(ZrleError::Size {
                got: pixels.len(),
                w,
                h,
            });
        }
        let cpixel = CpixelWriter::new(*format);
        self.raw.clear();
        for ty in (0..h).step_by(ZRLE_TILE) {
            let th = ZRLE_TILE.min(h - ty);
            for tx in (0..w).step_by(ZRLE_TILE) {
                let tw = ZRLE_TILE.min(w - tx);
                self.tile.clear();
                for y in ty..ty + th {
                    let row = &pixels[y * w + tx..y * w + tx + tw];
                    self.tile.extend(row.iter().map(|p| format.convert(*p)));
                }
                encode_tile(
                    &self.tile,
                    tw,
                    th,
                    &cpixel,
                    &mut self.palette,
                    &mut self.raw,
                );
            }
        }
        self.compress()?;
        Ok(&self.compressed)
    }

    fn compress(&mut self) -> Result<(), ZrleError> {
        self.compressed.clear();
        let mut consumed = 0;
        loop {
            let spare = (self.raw.len() - consumed) / 2 + 4096;
            let start = self.compressed.len();
            self.compressed.resize(start + spare, 0);
            let result = deflate(
                &mut self.zlib,
                &self.raw[consumed..],
                &mut self.compressed[start..],
                MZFlush::Sync,
            );
            self.compressed.truncate(start + result.bytes_written);
            consumed += result.bytes_consumed;
            result.status.map_err(ZrleError::Deflate)?;
            // Done when all input went in and the flush did not fill the buffer.
            if consumed == self.raw.len() && result.bytes_written < spare {
                return Ok(());
            }
        }
    }
}

/// Appends one tile's ZRLE bytes (uncompressed) to `out`.
fn encode_tile(
    tile: &[u32],
    w: usize,
    h: usize,
    cpixel: &CpixelWriter,
    palette: &mut Palette,
    out: &mut Vec<u8>,
) {
    let cp = cpixel.size();
    palette.clear();
    let mut palette_full = false;
    let mut runs = 0usize;
    let mut plain_rle_length_bytes = 0usize;
    let mut palette_rle_bytes = 0usize;
    let mut run = 0usize;
    let mut previous = None;
    for &p in tile {
        if !palette_full && palette.lookup(p).is_none() {
            palette_full = true;
        }
        if previous == Some(p) {
            run += 1;
            continue;
        }
        if run > 0 {
            runs += 1;
            plain_rle_length_bytes += run_length_bytes(run);
            palette_rle_bytes += if run == 1 {
                1
            } else {
                1 + run_length_bytes(run)
            };
        }
        previous = Some(p);
        run = 1;
    }
    if run > 0 {
        runs += 1;
        plain_rle_length_bytes += run_length_bytes(run);
        palette_rle_bytes += if run == 1 {
            1
        } else {
            1 + run_length_bytes(run)
        };
    }
    let colours = palette.colours.len();
    if !palette_full && colours == 1 {
        out.push(1);
        cpixel.put(tile[0], out);
        return;
    }
    let raw_size = tile.len() * cp;
    let plain_rle_size = runs * cp + plain_rle_length_bytes;
    let (packed_size, bits) = if !palette_full && colours <= 16 {
        let bits = match colours {
            0..=2 => 1,
            3..=4 => 2,
            _ => 4,
        };
        (colours * cp + h * (w * bits).div_ceil(8), bits)
    } else {
        (usize::MAX, 0)
    };
    let palette_rle_size = if palette_full {
        usize::MAX
    } else {
        colours * cp + palette_rle_bytes
    };
    let best = raw_size
        .min(plain_rle_size)
        .min(packed_size)
        .min(palette_rle_size);
    if best == packed_size {
        out.push(colours as u8);
        for &c in &palette.colours {
            cpixel.put(c, out);
        }
        for row in tile.chunks(w) {
            let mut byte = 0u8;
            let mut filled = 0;
            for &p in row {
                let index = palette.lookup(p).unwrap_or(0);
                byte = (byte << bits) | index;
                filled += bits;
                if filled == 8 {
                    out.push(byte);
                    byte = 0;
                    filled = 0;
                }
            }
            if filled > 0 {
                out.push(byte << (8 - filled));
            }
        }
    } else if best == palette_rle_size {
        out.push(128 + colours as u8);
        for &c in &palette.colours {
            cpixel.put(c, out);
        }
        for_each_run(tile, |p, len| {
            let index = palette.lookup(p).unwrap_or(0);
            if len == 1 {
                out.push(index);
            } else {
                out.push(index | 0x80);
                put_run_length(len, out);
            }
        });
    } else if best == plain_rle_size {
        out.push(128);
        for_each_run(tile, |p, len| {
            cpixel.put(p, out);
            put_run_length(len, out);
        });
    } else {
        out.push(0);
        for &p in tile {
            cpixel.put(p, out);
        }
    }
}

fn for_each_run(tile: &[u32], mut f: impl FnMut(u32, usize)) {
    let mut i = 0;
    while i < tile.len() {
        let p = tile[i];
        let mut j = i + 1;
        while j < tile.len() && tile[j] == p {
            j += 1;
        }
        f(p, j - i);
        i = j;
    }
}

#[cfg(test)]
#[path = "zrle_tests.rs"]
mod tests;
