//! CopyRect (RFB 7.7.2) for scrolling: each CopyRect client's sender keeps
//! the frame its client has ([`SentFrame`]); when the changed area is the
//! old frame moved up or down by some lines (a console scrolling), one
//! CopyRect moves those lines on the client and only the rest is encoded.

use crate::vmm::display::screen::{Rect, Screen};
use std::collections::HashMap;

/// Changed areas lower than this are not worth a scroll search.
const MIN_SPAN_LINES: u32 = 32;
/// A scroll is used when at least this many lines move.
const MIN_MOVED_LINES: u32 = 16;

/// A vertical move found in the changed area: the lines `dest` of the new
/// frame are the client's lines `src_y..src_y + dest.h`, same columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scroll {
    /// Where the lines go (what the CopyRect header names).
    pub dest: Rect,
    /// The first line they come from.
    pub src_y: u32,
}

/// The pixels one client has (x8r8g8b8, as sent), and which of its 64x64
/// tiles are known (a client's content before its first full update, or
/// after it asked for a full refresh, is not trusted as a copy source).
#[derive(Debug, Default)]
pub struct SentFrame {
    width: u32,
    height: u32,
    pixels: Vec<u32>,
    known_lines: Vec<bool>,
    old_hashes: Vec<u64>,
    new_hashes: Vec<u64>,
}

/// A line's hash, the top byte of pixels ignored: four independent
/// multiply-xor lanes over pairs of pixels, so the multiplies overlap.
fn line_hash(line: &[u32]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    const COLOUR: u64 = 0x00ff_ffff_00ff_ffff;
    let pair = |p: &[u32]| ((u64::from(p[0]) << 32) | u64::from(p[1])) & COLOUR;
    let mut lanes = [1u64, 2, 3, 4];
    let mut chunks = line.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, two) in lanes.iter_mut().zip(chunk.chunks_exact(2)) {
            *lane = (*lane ^ pair(two)).wrapping_mul(K).rotate_left(29);
        }
    }
    let mut hash = lanes
        .iter()
        .fold(line.len() as u64, |h, lane| (h ^ lane).wrapping_mul(K));
    for &p in chunks.remainder() {
        hash = (hash ^ u64::from(p & 0x00ff_ffff)).wrapping_mul(K);
    }
    hash ^ (hash >> 32)
}

fn same_colours(a: &[u32], b: &[u32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x ^ y) & 0x00ff_ffff == 0)
}

impl SentFrame {
    /// Forgets everything and takes the screen's size.
    pub fn reset(&mut self, width: u32, height: u32) {
        self.width = width;
        self.height = height;
        self.pixels.clear();
        self.pixels.resize((width * height) as usize, 0);
        self.known_lines.clear();
        self.known_lines.resize(height as usize, false);
    }

    /// Whether the frame is of `width` x `height`.
    pub fn has_size(&self, width: u32, height: u32) -> bool {
        (self.width, self.height) == (width, height)
    }

    /// The client may have lost `area` (it asked for it again): it is no
    /// longer a copy source until resent.
    pub fn forget(&mut self, area: Rect) {
        if let Some(r) = area.clip(self.width, self.height) {
            self.known_lines[r.y as usize..(r.y + r.h) as usize].fill(false);
        }
    }

    /// Records that the client got `pixels` (line after line) for `rect`.
    /// A line becomes known once a rectangle as wide as the screen covered it.
    pub fn store(&mut self, rect: Rect, pixels: &[u32]) {
        let Some(r) = rect.clip(self.width, self.height) else {
            return;
        };
        if pixels.len() != r.area() as usize || r != rect {
            return;
        }
        for (i, line) in pixels.chunks_exact(r.w as usize).enumerate() {
            let start = ((r.y + i as u32) * self.width + r.x) as usize;
            self.pixels[start..start + r.w as usize].copy_from_slice(line);
        }
        if r.x == 0 && r.w == self.width {
            self.known_lines[r.y as usize..(r.y + r.h) as usize].fill(true);
        }
    }

    /// Does on this copy what the client does with the CopyRect.
    pub fn apply(&mut self, scroll: Scroll) {
        let d = scroll.dest;
        let width = self.width as usize;
        let line = |y: u32| (y as usize) * width + d.x as usize;
        let mut move_line = |k: u32| {
            let from = line(scroll.src_y + k);
            self.pixels
                .copy_within(from..from + d.w as usize, line(d.y + k));
        };
        // Lines are moved in the order that reads each before it is written.
        if scroll.src_y > d.y {
            (0..d.h).for_each(&mut move_line);
        } else {
            (0..d.h).rev().for_each(&mut move_line);
        }
        for k in 0..d.h {
            let known = self.known_lines[(scroll.src_y + k) as usize];
            self.known_lines[(d.y + k) as usize] = known;
        }
    }

    /// Looks for a vertical scroll of the lines the changed `rects` span,
    /// from what the client has to `screen`. Only whole-width spans are
    /// searched (a console scrolls the whole screen).
    pub fn find_scroll(&mut self, screen: &Screen, rects: &[Rect]) -> Option<Scroll> {
        if !self.has_size(screen.width, screen.height) || rects.is_empty() {
            return None;
        }
        let top = rects.iter().map(|r| r.y).min()?;
        let bottom = rects.iter().map(|r| r.y + r.h).max()?;
        let span = bottom - top;
        if span < MIN_SPAN_LINES {
            return None;
        }
        let width = self.width as usize;
        let line_of = |y: u32| -> std::ops::Range<usize> {
            let start = y as usize * width;
            start..start + width
        };
        self.old_hashes.clear();
        self.new_hashes.clear();
        for y in top..bottom {
            let old = &self.pixels[line_of(y)];
            self.old_hashes.push(line_hash(old));
            self.new_hashes.push(line_hash(&screen.pixels[line_of(y)]));
        }
        // Lines that occur once in the old span vote for the shift that
        // brings them to where they are now (blank lines cannot vote).
        let mut where_old: HashMap<u64, Option<u32>> = HashMap::with_capacity(span as usize);
        for (i, &h) in self.old_hashes.iter().enumerate() {
            where_old
                .entry(h)
                .and_modify(|e| *e = None)
                .or_insert(Some(i as u32));
        }
        let mut votes: HashMap<i64, u32> = HashMap::new();
        for (i, h) in self.new_hashes.iter().enumerate() {
            if let Some(Some(j)) = where_old.get(h) {
                let shift = i64::from(*j) - i as i64;
                if shift != 0 {
                    *votes.entry(shift).or_default() += 1;
                }
            }
        }
        let (&shift, _) = votes.iter().max_by_key(|(s, n)| (**n, -s.abs()))?;
        // The longest run of new lines that are the old ones `shift` away.
        let mut best: Option<(u32, u32)> = None;
        let mut run_start = None;
        for i in 0..=span {
            let src = i64::from(i) + shift;
            let matches = i < span
                && (0..i64::from(span)).contains(&src)
                && self.new_hashes[i as usize] == self.old_hashes[src as usize]
                && self.known_lines[(i64::from(top) + src) as usize];
            match (matches, run_start) {
                (true, None) => run_start = Some(i),
                (false, Some(start)) => {
                    if best.is_none_or(|(s, e)| e - s < i - start) {
                        best = Some((start, i));
                    }
                    run_start = None;
                }
                _ => {}
            }
        }
        let (start, end) = best?;
        if end - start < MIN_MOVED_LINES {
            return None;
        }
        let dest_y = top + start;
        let src_y = (i64::from(dest_y) + shift) as u32;
        // Hashes only suggest: every line is compared before it is trusted.
        for k in 0..end - start {
            let old = &self.pixels[line_of(src_y + k)];
            let new = &screen.pixels[line_of(dest_y + k)];
            if !same_colours(old, new) {
                return None;
            }
        }
        Some(Scroll {
            dest: Rect {
                x: 0,
                y: dest_y,
                w: self.width,
                h: end - start,
            },
            src_y,
        })
    }
}

/// `rects` without the lines `dest` covers (`dest` spans the screen's
/// width, so what is left of a rectangle is its part above and below).
pub fn without_lines(rects: &[Rect], dest: Rect) -> Vec<Rect> {
    let mut out = Vec::with_capacity(rects.len() + 2);
    let (cut_top, cut_bottom) = (dest.y, dest.y + dest.h);
    for r in rects {
        let (top, bottom) = (r.y, r.y + r.h);
        if bottom <= cut_top || top >= cut_bottom {
            out.push(*r);
            continue;
        }
        if top < cut_top {
            out.push(Rect {
                h: cut_top - top,
                ..*r
            });
        }
        if bottom > cut_bottom {
            out.push(Rect {
                y: cut_bottom,
                h: bottom - cut_bottom,
                ..*r
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "copyrect_tests.rs"]
mod tests;
