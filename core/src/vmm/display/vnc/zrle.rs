//! ZRLE (RFB 7.7.6): 64x64 tiles, each solid, packed-palette, palette RLE,
//! plain RLE or raw (whichever is smallest), compressed with one zlib
//! stream per client that lives as long as the connection (the client's
//! inflater keeps its window across rectangles).

use super::pixel::{CpixelWriter, PixelFormat};
use super::zrle_tile::TileEncoder;
pub use super::zrle_tile::ZRLE_TILE;
use flate2::{Compress, Compression, FlushCompress};

/// zlib level: 2 is zlib-rs's fastest lazy-free matcher; 1 (its "quick" static-Huffman
/// path) was slower and larger on desktop frames (`make bench-vnc`
/// prints what levels 1 to 6 cost and save).
pub const DEFAULT_LEVEL: u32 = 2;

/// Errors of the encoder.
#[derive(Debug, thiserror::Error)]
pub enum ZrleError {
    /// zlib refused the data (cannot happen with a valid stream).
    #[error("zlib compression failed: {0}")]
    Deflate(#[from] flate2::CompressError),
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

/// One client's ZRLE encoder and zlib stream.
pub struct ZrleEncoder {
    zlib: Compress,
    tiles: TileEncoder,
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
    /// A new stream at the default zlib level.
    pub fn new() -> Self {
        Self::with_level(DEFAULT_LEVEL)
    }

    /// A new stream at zlib `level` (0 to 9).
    pub fn with_level(level: u32) -> Self {
        ZrleEncoder {
            zlib: Compress::new(Compression::new(level.min(9)), true),
            tiles: TileEncoder::new(),
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
        self.pack(pixels, w, h, format)?;
        self.compress()?;
        Ok(&self.compressed)
    }

    /// The rectangle's tiles before zlib (what [`ZrleEncoder::encode`]
    /// compresses); the stream is not touched.
    pub fn pack(
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
        let native = *format == PixelFormat::NATIVE;
        self.raw.clear();
        for ty in (0..h).step_by(ZRLE_TILE) {
            let th = ZRLE_TILE.min(h - ty);
            for tx in (0..w).step_by(ZRLE_TILE) {
                let tw = ZRLE_TILE.min(w - tx);
                self.tile.clear();
                for y in ty..ty + th {
                    let row = &pixels[y * w + tx..y * w + tx + tw];
                    if native {
                        // The x8 byte is not part of the colour.
                        self.tile.extend(row.iter().map(|p| p & 0x00ff_ffff));
                    } else {
                        self.tile.extend(row.iter().map(|p| format.convert(*p)));
                    }
                }
                self.tiles
                    .encode(&self.tile, tw, th, &cpixel, &mut self.raw);
            }
        }
        Ok(&self.raw)
    }

    /// Compresses the packed tiles into the stream and flushes it to a
    /// byte boundary (the client inflates each rectangle on its own).
    fn compress(&mut self) -> Result<(), ZrleError> {
        self.compressed.clear();
        let mut consumed = 0;
        loop {
            let spare = (self.raw.len() - consumed) / 2 + 4096;
            let start = self.compressed.len();
            self.compressed.resize(start + spare, 0);
            let (in_before, out_before) = (self.zlib.total_in(), self.zlib.total_out());
            self.zlib.compress(
                &self.raw[consumed..],
                &mut self.compressed[start..],
                FlushCompress::Sync,
            )?;
            let written = (self.zlib.total_out() - out_before) as usize;
            self.compressed.truncate(start + written);
            consumed += (self.zlib.total_in() - in_before) as usize;
            // Done when all input went in and the flush did not fill the buffer.
            if consumed == self.raw.len() && written < spare {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
#[path = "zrle_tests.rs"]
mod tests;
