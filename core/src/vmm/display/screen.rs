//! The last frame shown to viewers and which of its tiles changed.

use super::framebuffer::VideoMode;

/// Side of the square tiles changes are tracked in (ZRLE's tile size).
pub const TILE: u32 = 64;

/// A rectangle of the screen, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: u32,
    /// Top line.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// Pixels in the rectangle.
    pub fn area(&self) -> u64 {
        u64::from(self.w) * u64::from(self.h)
    }

    /// The part of `self` inside `width` x `height`, if any.
    pub fn clip(&self, width: u32, height: u32) -> Option<Rect> {
        let x1 = self.x.saturating_add(self.w).min(width);
        let y1 = self.y.saturating_add(self.h).min(height);
        (self.x < x1 && self.y < y1).then(|| Rect {
            x: self.x,
            y: self.y,
            w: x1 - self.x,
            h: y1 - self.y,
        })
    }
}

/// Which tiles of a screen changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileSet {
    width: u32,
    height: u32,
    cols: u32,
    rows: u32,
    tiles: Vec<bool>,
    count: usize,
}

impl TileSet {
    /// No changed tile on a `width` x `height` screen.
    pub fn new(width: u32, height: u32) -> Self {
        let cols = width.div_ceil(TILE);
        let rows = height.div_ceil(TILE);
        TileSet {
            width,
            height,
            cols,
            rows,
            tiles: vec![false; (cols * rows) as usize],
            count: 0,
        }
    }

    /// Marks tile (`col`, `row`).
    pub fn mark(&mut self, col: u32, row: u32) {
        if col < self.cols && row < self.rows {
            let tile = &mut self.tiles[(row * self.cols + col) as usize];
            if !*tile {
                *tile = true;
                self.count += 1;
            }
        }
    }

    /// Marks every tile touching `rect`.
    pub fn mark_rect(&mut self, rect: Rect) {
        let Some(r) = rect.clip(self.width, self.height) else {
            return;
        };
        for row in r.y / TILE..=(r.y + r.h - 1) / TILE {
            for col in r.x / TILE..=(r.x + r.w - 1) / TILE {
                self.mark(col, row);
            }
        }
    }

    /// Marks the whole screen.
    pub fn mark_all(&mut self) {
        self.tiles.fill(true);
        self.count = self.tiles.len();
    }

    /// Adds the tiles of `other` (same size).
    pub fn merge(&mut self, other: &TileSet) {
        if other.tiles.len() != self.tiles.len() {
            self.mark_all();
            return;
        }
        for (mine, theirs) in self.tiles.iter_mut().zip(&other.tiles) {
            if *theirs && !*mine {
                *mine = true;
                self.count += 1;
            }
        }
    }

    /// Whether no tile is marked.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Marked tiles.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Removes the marks inside `area` and returns them as rectangles:
    /// runs of adjacent tiles on a tile row become one rectangle.
    pub fn take_within(&mut self, area: Rect) -> Vec<Rect> {
        let mut out = Vec::new();
        for row in 0..self.rows {
            let mut col = 0;
            while col < self.cols {
                let index = (row * self.cols + col) as usize;
                if !self.tiles[index] {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < self.cols && self.tiles[(row * self.cols + col) as usize] {
                    col += 1;
                }
                let run = Rect {
                    x: start * TILE,
                    y: row * TILE,
                    w: (col - start) * TILE,
                    h: TILE,
                };
                let Some(run) = run.clip(self.width, self.height) else {
                    continue;
                };
                if let Some(part) = intersect(run, area) {
                    for c in start..col {
                        let tile = Rect {
                            x: c * TILE,
                            y: row * TILE,
                            w: TILE,
                            h: TILE,
                        };
                        // Tiles only partly inside the area stay marked.
                        if contains(area, tile.clip(self.width, self.height).unwrap_or(tile)) {
                            self.tiles[(row * self.cols + c) as usize] = false;
                            self.count -= 1;
                        }
                    }
                    out.push(part);
                }
            }
        }
        out
    }
}

fn intersect(a: Rect, b: Rect) -> Option<Rect> {
    let x0 = a.x.max(b.x);
    let y0 = a.y.max(b.y);
    let x1 = (a.x + a.w).min(b.x.saturating_add(b.w));
    let y1 = (a.y + a.h).min(b.y.saturating_add(b.h));
    (x0 < x1 && y0 < y1).then(|| Rect {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    })
}

fn contains(outer: Rect, inner: Rect) -> bool {
    inner.x >= outer.x
        && inner.y >= outer.y
        && inner.x + inner.w <= outer.x.saturating_add(outer.w)
        && inner.y + inner.h <= outer.y.saturating_add(outer.h)
}

/// A frame in x8r8g8b8 (the guest framebuffer's format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` pixels, line after line.
    pub pixels: Vec<u32>,
}

impl Screen {
    /// A black screen of `mode`'s size.
    pub fn new(mode: VideoMode) -> Self {
        Screen {
            width: mode.width,
            height: mode.height,
            pixels: vec![0; (mode.width * mode.height) as usize],
        }
    }

    /// Copies the pixels of `rect` (clipped to the screen) into `out`,
    /// line after line, and returns the clipped rectangle.
    pub fn copy_rect(&self, rect: Rect, out: &mut Vec<u32>) -> Option<Rect> {
        let r = rect.clip(self.width, self.height)?;
        out.clear();
        out.reserve(r.area() as usize);
        for y in r.y..r.y + r.h {
            let start = (y * self.width + r.x) as usize;
            out.extend_from_slice(&self.pixels[start..start + r.w as usize]);
        }
        Some(r)
    }

    /// Copies `line` into line `y` and marks in `changed` the tiles whose
    /// pixels differ.
    pub fn update_line(&mut self, y: u32, line: &[u32], changed: &mut TileSet) {
        if y >= self.height || line.len() < self.width as usize {
            return;
        }
        let start = (y * self.width) as usize;
        let row = &mut self.pixels[start..start + self.width as usize];
        for (col, (mine, theirs)) in row
            .chunks_mut(TILE as usize)
            .zip(line.chunks(TILE as usize))
            .enumerate()
        {
            if mine != theirs {
                mine.copy_from_slice(&theirs[..mine.len()]);
                changed.mark(col as u32, y / TILE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_lines_mark_their_tiles() {
        let mode = VideoMode {
            width: 200,
            height: 100,
        };
        let mut screen = Screen::new(mode);
        let mut changed = TileSet::new(200, 100);
        let mut line = vec![0u32; 200];
        line[130] = 0xff;
        screen.update_line(70, &line, &mut changed);
        assert_eq!(changed.count(), 1);
        let rects = changed.take_within(Rect {
            x: 0,
            y: 0,
            w: 200,
            h: 100,
        });
        assert_eq!(
            rects,
            vec![Rect {
                x: 128,
                y: 64,
                w: 64,
                h: 36
            }]
        );
        assert!(changed.is_empty());
        screen.update_line(70, &line, &mut changed);
        assert!(changed.is_empty(), "same pixels are no change");
    }

    #[test]
    fn adjacent_tiles_merge_and_partial_areas_keep_marks() {
        let mut set = TileSet::new(256, 128);
        set.mark(0, 0);
        set.mark(1, 0);
        set.mark(3, 1);
        let first = set.take_within(Rect {
            x: 0,
            y: 0,
            w: 96,
            h: 128,
        });
        assert_eq!(
            first,
            vec![Rect {
                x: 0,
                y: 0,
                w: 96,
                h: 64
            }]
        );
        assert_eq!(set.count(), 2, "tile 1 only half sent, tile (3,1) outside");
        let rest = set.take_within(Rect {
            x: 0,
            y: 0,
            w: 256,
            h: 128,
        });
        assert_eq!(rest.len(), 2);
        assert!(set.is_empty());
    }
}
