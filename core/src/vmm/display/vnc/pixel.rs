//! RFB pixel formats: the 16-byte PIXEL_FORMAT, and turning the screen's
//! x8r8g8b8 pixels into whatever true-colour format a client asked for.

/// A client's pixel format (RFB 7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelFormat {
    /// Bits per pixel on the wire: 8, 16 or 32.
    pub bits_per_pixel: u8,
    /// Useful bits.
    pub depth: u8,
    /// Multi-byte pixels are big-endian.
    pub big_endian: bool,
    /// True colour (colour-map formats are refused).
    pub true_colour: bool,
    /// Largest red value.
    pub red_max: u16,
    /// Largest green value.
    pub green_max: u16,
    /// Largest blue value.
    pub blue_max: u16,
    /// Red's shift.
    pub red_shift: u8,
    /// Green's shift.
    pub green_shift: u8,
    /// Blue's shift.
    pub blue_shift: u8,
}

/// Why a pixel format cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PixelFormatError {
    /// Only 8, 16 and 32 bits per pixel exist in RFB.
    #[error("{0} bits per pixel is not an RFB pixel size")]
    BitsPerPixel(u8),
    /// Colour maps are not offered.
    #[error("colour-map pixel formats are not supported")]
    ColourMap,
    /// A channel does not fit the pixel.
    #[error("a colour channel lies outside the pixel")]
    Channel,
}

impl PixelFormat {
    /// The screen's own format: 32 bits, little-endian x8r8g8b8.
    pub const NATIVE: PixelFormat = PixelFormat {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: 16,
        green_shift: 8,
        blue_shift: 0,
    };

    /// Reads the 16 bytes of PIXEL_FORMAT and checks them.
    pub fn parse(b: &[u8; 16]) -> Result<Self, PixelFormatError> {
        let f = PixelFormat {
            bits_per_pixel: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            true_colour: b[3] != 0,
            red_max: u16::from_be_bytes([b[4], b[5]]),
            green_max: u16::from_be_bytes([b[6], b[7]]),
            blue_max: u16::from_be_bytes([b[8], b[9]]),
            red_shift: b[10],
            green_shift: b[11],
            blue_shift: b[12],
        };
        if !matches!(f.bits_per_pixel, 8 | 16 | 32) {
            return Err(PixelFormatError::BitsPerPixel(f.bits_per_pixel));
        }
        if !f.true_colour {
            return Err(PixelFormatError::ColourMap);
        }
        let bits = u32::from(f.bits_per_pixel);
        for (max, shift) in [
            (f.red_max, f.red_shift),
            (f.green_max, f.green_shift),
            (f.blue_max, f.blue_shift),
        ] {
            let width = 16 - max.leading_zeros();
            if u32::from(shift) + width > bits {
                return Err(PixelFormatError::Channel);
            }
        }
        Ok(f)
    }

    /// The 16 bytes of PIXEL_FORMAT.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.bits_per_pixel;
        b[1] = self.depth;
        b[2] = u8::from(self.big_endian);
        b[3] = u8::from(self.true_colour);
        b[4..6].copy_from_slice(&self.red_max.to_be_bytes());
        b[6..8].copy_from_slice(&self.green_max.to_be_bytes());
        b[8..10].copy_from_slice(&self.blue_max.to_be_bytes());
        b[10] = self.red_shift;
        b[11] = self.green_shift;
        b[12] = self.blue_shift;
        b
    }

    /// Bytes per pixel on the wire.
    pub fn bytes_per_pixel(&self) -> usize {
        usize::from(self.bits_per_pixel / 8)
    }

    /// Converts an x8r8g8b8 pixel to this format's value.
    #[inline]
    pub fn convert(&self, pixel: u32) -> u32 {
        if *self == Self::NATIVE {
            return pixel & 0x00ff_ffff;
        }
        let scale = |v: u32, max: u16| (v * u32::from(max) + 127) / 255;
        let r = scale((pixel >> 16) & 0xff, self.red_max);
        let g = scale((pixel >> 8) & 0xff, self.green_max);
        let b = scale(pixel & 0xff, self.blue_max);
        (r << self.red_shift) | (g << self.green_shift) | (b << self.blue_shift)
    }

    /// How ZRLE/TRLE write a pixel: 3 bytes when a 32-bit true-colour
    /// pixel's colours all sit in its low or high three bytes
    /// (CPIXEL), else the full pixel. Returns (bytes, skip first byte).
    pub fn cpixel_layout(&self) -> (usize, bool) {
        if self.bits_per_pixel != 32 || self.depth > 24 {
            return (self.bytes_per_pixel(), false);
        }
        let mask = (u32::from(self.red_max) << self.red_shift)
            | (u32::from(self.green_max) << self.green_shift)
            | (u32::from(self.blue_max) << self.blue_shift);
        let fits_low = mask & 0xff00_0000 == 0;
        let fits_high = mask & 0x0000_00ff == 0;
        match (fits_low, fits_high) {
            // Little-endian low bytes come first; big-endian last.
            (true, _) => (3, self.big_endian),
            (_, true) => (3, !self.big_endian),
            _ => (4, false),
        }
    }

    /// Appends `value` (already converted) as a full pixel.
    #[inline]
    pub fn put_pixel(&self, value: u32, out: &mut Vec<u8>) {
        match (self.bits_per_pixel, self.big_endian) {
            (8, _) => out.push(value as u8),
            (16, false) => out.extend_from_slice(&(value as u16).to_le_bytes()),
            (16, true) => out.extend_from_slice(&(value as u16).to_be_bytes()),
            (_, false) => out.extend_from_slice(&value.to_le_bytes()),
            (_, true) => out.extend_from_slice(&value.to_be_bytes()),
        }
    }
}

/// Writes converted pixels as CPIXELs (see [`PixelFormat::cpixel_layout`]).
#[derive(Debug, Clone, Copy)]
pub struct CpixelWriter {
    bytes: usize,
    big_endian: bool,
    /// Where the CPIXEL's bytes start in the pixel's four bytes laid out
    /// in the client's byte order.
    offset: usize,
}

impl CpixelWriter {
    /// A writer for `format`.
    pub fn new(format: PixelFormat) -> Self {
        let (bytes, skip_first) = format.cpixel_layout();
        let offset = match (bytes, format.big_endian) {
            (3, _) => usize::from(skip_first),
            // A big-endian pixel narrower than 32 bits is the low end.
            (_, true) => 4 - bytes,
            (_, false) => 0,
        };
        CpixelWriter {
            bytes,
            big_endian: format.big_endian,
            offset,
        }
    }

    /// Bytes per CPIXEL.
    pub fn size(&self) -> usize {
        self.bytes
    }

    #[inline]
    fn ordered(&self, value: u32) -> [u8; 4] {
        if self.big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        }
    }

    /// Appends `value` (already converted).
    #[inline]
    pub fn put(&self, value: u32, out: &mut Vec<u8>) {
        let all = self.ordered(value);
        out.extend_from_slice(&all[self.offset..self.offset + self.bytes]);
    }

    /// Appends every one of `values` (already converted).
    pub fn put_all(&self, values: &[u32], out: &mut Vec<u8>) {
        match self.bytes {
            1 => self.put_all_sized::<1>(values, out),
            2 => self.put_all_sized::<2>(values, out),
            3 => self.put_all_sized::<3>(values, out),
            _ => self.put_all_sized::<4>(values, out),
        }
    }

    fn put_all_sized<const N: usize>(&self, values: &[u32], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + values.len() * N, 0);
        let offset = self.offset.min(4 - N);
        for (bytes, &value) in out[start..].chunks_exact_mut(N).zip(values) {
            let all = self.ordered(value);
            bytes.copy_from_slice(&all[offset..offset + N]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_and_bad_ones_are_refused() {
        let bytes = PixelFormat::NATIVE.to_bytes();
        assert_eq!(PixelFormat::parse(&bytes), Ok(PixelFormat::NATIVE));
        let mut bad = bytes;
        bad[0] = 24;
        assert_eq!(
            PixelFormat::parse(&bad),
            Err(PixelFormatError::BitsPerPixel(24))
        );
        let mut map = bytes;
        map[3] = 0;
        assert_eq!(PixelFormat::parse(&map), Err(PixelFormatError::ColourMap));
        let mut wide = bytes;
        wide[10] = 30;
        assert_eq!(PixelFormat::parse(&wide), Err(PixelFormatError::Channel));
    }

    #[test]
    fn rgb565_and_bgr233_conversion() {
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
        assert_eq!(rgb565.convert(0x00ff_0000), 0xf800);
        assert_eq!(rgb565.convert(0x0000_ff00), 0x07e0);
        assert_eq!(rgb565.convert(0x00ff_ffff), 0xffff);
        let mut out = Vec::new();
        rgb565.put_pixel(0xf800, &mut out);
        assert_eq!(out, vec![0x00, 0xf8]);
        assert_eq!(rgb565.cpixel_layout(), (2, false));
        // CPIXELs of narrow formats are the full pixel, in either order.
        for big_endian in [false, true] {
            let format = PixelFormat {
                big_endian,
                ..rgb565
            };
            let mut full = Vec::new();
            format.put_pixel(0xf812, &mut full);
            let mut cpixel = Vec::new();
            CpixelWriter::new(format).put_all(&[0xf812], &mut cpixel);
            assert_eq!(cpixel, full);
        }
    }

    #[test]
    fn cpixels_drop_the_unused_byte() {
        let w = CpixelWriter::new(PixelFormat::NATIVE);
        let mut out = Vec::new();
        w.put(0x0011_2233, &mut out);
        assert_eq!(out, vec![0x33, 0x22, 0x11]);
        let be_high = PixelFormat {
            big_endian: true,
            red_shift: 24,
            green_shift: 16,
            blue_shift: 8,
            ..PixelFormat::NATIVE
        };
        let w = CpixelWriter::new(be_high);
        let mut out = Vec::new();
        w.put(0x1122_3300, &mut out);
        assert_eq!(out, vec![0x11, 0x22, 0x33]);
        w.put_all(&[0x4455_6600, 0x7788_9900], &mut out);
        assert_eq!(
            out,
            vec![0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99]
        );
        for format in [PixelFormat::NATIVE, be_high] {
            let mut one_by_one = Vec::new();
            let w = CpixelWriter::new(format);
            for v in [1u32, 0x00ab_cdef, 0x1234_5678] {
                w.put(v, &mut one_by_one);
            }
            let mut all = Vec::new();
            w.put_all(&[1u32, 0x00ab_cdef, 0x1234_5678], &mut all);
            assert_eq!(one_by_one, all);
        }
    }
}
