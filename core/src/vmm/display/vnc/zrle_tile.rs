//! One ZRLE tile: a single pass that splits the tile into runs and gives
//! each run its palette index, then the sub-encoding that is smallest
//! (solid, packed palette, palette RLE, plain RLE or raw) written from
//! those runs straight into the rectangle's output buffer.

use super::pixel::CpixelWriter;

/// ZRLE's tile side.
pub const ZRLE_TILE: usize = 64;
/// Most palette entries a tile may use (palette RLE's limit).
const MAX_PALETTE: usize = 127;
/// Most palette entries a packed-palette tile may use.
const MAX_PACKED: usize = 16;

/// A tile's colours, found through a small open-addressing hash; looked up
/// once per run, not once per pixel.
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

/// The reusable state of the tile encoder: the runs of the current tile
/// and their palette indices (valid while the palette is not full).
pub struct TileEncoder {
    palette: Palette,
    run_colour: Vec<u32>,
    run_length: Vec<u32>,
    run_index: Vec<u8>,
    indices: Vec<u8>,
}

impl Default for TileEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl TileEncoder {
    /// Buffers sized for the largest tile.
    pub fn new() -> Self {
        let most = ZRLE_TILE * ZRLE_TILE;
        TileEncoder {
            palette: Palette::new(),
            run_colour: Vec::with_capacity(most),
            run_length: Vec::with_capacity(most),
            run_index: Vec::with_capacity(most),
            indices: Vec::with_capacity(most),
        }
    }

    /// Appends the ZRLE bytes (uncompressed) of the `w` x `h` `tile` of
    /// converted pixels to `out`.
    pub fn encode(
        &mut self,
        tile: &[u32],
        w: usize,
        h: usize,
        cpixel: &CpixelWriter,
        out: &mut Vec<u8>,
    ) {
        self.find_runs(tile);
        let cp = cpixel.size();
        if self.run_colour.len() == 1 {
            out.push(1);
            cpixel.put(self.run_colour[0], out);
            return;
        }
        let palette_full = self.index_runs();
        let colours = self.palette.colours.len();
        let mut plain_rle_length_bytes = 0;
        let mut palette_rle_bytes = 0;
        for &len in &self.run_length {
            let len = len as usize;
            let length_bytes = run_length_bytes(len);
            plain_rle_length_bytes += length_bytes;
            palette_rle_bytes += if len == 1 { 1 } else { 1 + length_bytes };
        }
        let runs = self.run_colour.len();
        let raw_size = tile.len() * cp;
        let plain_rle_size = runs * cp + plain_rle_length_bytes;
        let packed_bits = match colours {
            _ if palette_full => 0,
            0..=2 => 1,
            3..=4 => 2,
            5..=MAX_PACKED => 4,
            _ => 0,
        };
        let packed_size = if packed_bits > 0 {
            colours * cp + h * (w * packed_bits).div_ceil(8)
        } else {
            usize::MAX
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
            cpixel.put_all(&self.palette.colours, out);
            self.put_packed(w, packed_bits, out);
        } else if best == palette_rle_size {
            out.push(128 + colours as u8);
            cpixel.put_all(&self.palette.colours, out);
            for (&index, &len) in self.run_index.iter().zip(&self.run_length) {
                if len == 1 {
                    out.push(index);
                } else {
                    out.push(index | 0x80);
                    put_run_length(len as usize, out);
                }
            }
        } else if best == plain_rle_size {
            out.push(128);
            for (&colour, &len) in self.run_colour.iter().zip(&self.run_length) {
                cpixel.put(colour, out);
                put_run_length(len as usize, out);
            }
        } else {
            out.push(0);
            cpixel.put_all(tile, out);
        }
    }

    /// Splits the tile into runs of one colour (runs go on across lines).
    fn find_runs(&mut self, tile: &[u32]) {
        self.run_colour.clear();
        self.run_length.clear();
        let Some(&first) = tile.first() else {
            return;
        };
        let mut colour = first;
        let mut start = 0;
        for (i, &p) in tile.iter().enumerate().skip(1) {
            if p != colour {
                self.run_colour.push(colour);
                self.run_length.push((i - start) as u32);
                colour = p;
                start = i;
            }
        }
        self.run_colour.push(colour);
        self.run_length.push((tile.len() - start) as u32);
    }

    /// Gives every run its palette index; true when the tile has more
    /// colours than a palette holds (the indices are then not used).
    fn index_runs(&mut self) -> bool {
        self.palette.clear();
        self.run_index.clear();
        for &colour in &self.run_colour {
            match self.palette.lookup(colour) {
                Some(index) => self.run_index.push(index),
                None => return true,
            }
        }
        false
    }

    /// Packed palette: each line's indices, `bits` each, from the high
    /// bit down, a line starting on a byte.
    fn put_packed(&mut self, w: usize, bits: usize, out: &mut Vec<u8>) {
        self.indices.clear();
        for (&index, &len) in self.run_index.iter().zip(&self.run_length) {
            self.indices
                .extend(std::iter::repeat_n(index, len as usize));
        }
        let per_byte = 8 / bits;
        for line in self.indices.chunks(w) {
            for group in line.chunks(per_byte) {
                let mut byte = 0u8;
                for &index in group {
                    byte = (byte << bits) | index;
                }
                out.push(byte << (bits * (per_byte - group.len())));
            }
        }
    }
}
