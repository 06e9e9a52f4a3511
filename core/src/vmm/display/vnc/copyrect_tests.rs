//! A scrolled console goes out as one CopyRect and the new lines; a small
//! client written from the specification applies the update and must end
//! with the new frame exactly.

use super::*;
use crate::vmm::display::screen::TileSet;
use crate::vmm::display::vnc::pixel::PixelFormat;
use crate::vmm::display::vnc::proto::encoding;
use crate::vmm::display::vnc::rects::RectWriter;

const W: u32 = 640;
const H: u32 = 480;
const LINE: u32 = 16;

/// A console: text lines of 16 pixels whose strokes depend on the line's
/// text number; `first` is the number of the top line. Two lines are blank.
fn console(first: u32) -> Screen {
    let mut screen = Screen {
        width: W,
        height: H,
        pixels: vec![0; (W * H) as usize],
    };
    for y in 0..H {
        let text = first + y / LINE;
        if text % 7 == 3 {
            continue;
        }
        for x in 0..W {
            let ink = (x * 7 + (y % LINE) * 3 + text * 13) % 11 < 3 && x < 100 + (text * 37) % 500;
            // The top byte is not colour: garbage there must not matter.
            screen.pixels[(y * W + x) as usize] = if ink { 0xaac0_c0c0 } else { 0x0000_0010 };
        }
    }
    screen
}

/// The rectangles the damage of `old` -> `new` gives, as the server takes them.
fn damage(old: &Screen, new: &Screen) -> Vec<Rect> {
    let mut copy = old.clone();
    let mut changed = TileSet::new(W, H);
    for y in 0..H {
        let line = &new.pixels[(y * W) as usize..((y + 1) * W) as usize];
        copy.update_line(y, line, &mut changed);
    }
    changed.take_within(Rect {
        x: 0,
        y: 0,
        w: W,
        h: H,
    })
}

/// Applies `count` rectangles (Raw in native pixels, or CopyRect) to
/// `frame`; returns the encodings seen.
fn apply(frame: &mut [u32], mut data: &[u8], count: u16) -> Vec<i32> {
    let mut seen = Vec::new();
    let u16_at = |data: &mut &[u8]| {
        let v = u16::from_be_bytes([data[0], data[1]]);
        *data = &data[2..];
        u32::from(v)
    };
    for _ in 0..count {
        let (x, y, w, h) = (
            u16_at(&mut data),
            u16_at(&mut data),
            u16_at(&mut data),
            u16_at(&mut data),
        );
        let enc = i32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        data = &data[4..];
        seen.push(enc);
        match enc {
            encoding::RAW => {
                for row in 0..h {
                    for col in 0..w {
                        let p = &data[..4];
                        frame[((y + row) * W + x + col) as usize] =
                            u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
                        data = &data[4..];
                    }
                }
            }
            encoding::COPY_RECT => {
                let (sx, sy) = (u16_at(&mut data), u16_at(&mut data));
                // From a snapshot: source and destination may overlap.
                let before = frame.to_vec();
                for row in 0..h {
                    for col in 0..w {
                        frame[((y + row) * W + x + col) as usize] =
                            before[((sy + row) * W + sx + col) as usize];
                    }
                }
            }
            other => panic!("unexpected encoding {other}"),
        }
    }
    assert!(data.is_empty(), "{} bytes left over", data.len());
    seen
}

fn colours(pixels: &[u32]) -> Vec<u32> {
    pixels.iter().map(|p| p & 0x00ff_ffff).collect()
}

fn full(screen: &Screen) -> Vec<Rect> {
    vec![Rect {
        x: 0,
        y: 0,
        w: screen.width,
        h: screen.height,
    }]
}

/// Sends `first`, then `second`; returns the client's frame, the encodings
/// of the second update and its size in bytes.
fn two_updates(copy_rect: bool, first: &Screen, second: &Screen) -> (Vec<u32>, Vec<i32>, usize) {
    let mut writer = RectWriter::new();
    writer.use_copy_rect(copy_rect);
    let mut client = vec![0u32; (W * H) as usize];
    let mut out = Vec::new();
    let n = writer
        .write(
            first,
            &full(first),
            encoding::RAW,
            &PixelFormat::NATIVE,
            &mut out,
        )
        .expect("first update");
    assert_eq!(apply(&mut client, &out, n), vec![encoding::RAW]);
    out.clear();
    let rects = damage(first, second);
    let n = writer
        .write(
            second,
            &rects,
            encoding::RAW,
            &PixelFormat::NATIVE,
            &mut out,
        )
        .expect("second update");
    let seen = apply(&mut client, &out, n);
    (client, seen, out.len())
}

#[test]
fn a_scrolled_console_is_one_copy_and_the_new_lines() {
    let before = console(0);
    for lines in [1, 3] {
        let after = console(lines);
        let (client, seen, bytes) = two_updates(true, &before, &after);
        assert_eq!(seen[0], encoding::COPY_RECT, "{seen:?}");
        assert!(seen[1..].iter().all(|e| *e == encoding::RAW));
        assert_eq!(colours(&client), colours(&after.pixels));
        // The new lines sit in the last tile row: only that is encoded.
        assert!(bytes < (W * 64 * 4 + 200) as usize, "{bytes} bytes");
        let (plain, plain_seen, plain_bytes) = two_updates(false, &before, &after);
        assert!(!plain_seen.contains(&encoding::COPY_RECT));
        assert_eq!(colours(&plain), colours(&after.pixels));
        assert!(plain_bytes > bytes * 4, "{plain_bytes} against {bytes}");
    }
}

#[test]
fn scrolling_down_and_unrelated_changes_need_no_copy_or_get_it_right() {
    // Down: the old top lines move lower (a pager going back).
    let (client, seen, _) = two_updates(true, &console(5), &console(3));
    assert_eq!(seen[0], encoding::COPY_RECT);
    assert_eq!(colours(&client), colours(&console(3).pixels));
    // A different screen altogether has nothing to copy.
    let mut other = console(0);
    other
        .pixels
        .iter_mut()
        .for_each(|p| *p = p.wrapping_mul(3) ^ 0x55);
    let (client, seen, _) = two_updates(true, &console(0), &other);
    assert!(!seen.contains(&encoding::COPY_RECT));
    assert_eq!(colours(&client), colours(&other.pixels));
}

#[test]
fn lines_the_client_may_have_lost_are_not_copied() {
    let before = console(0);
    let after = console(2);
    let mut writer = RectWriter::new();
    writer.use_copy_rect(true);
    let mut out = Vec::new();
    writer
        .write(
            &before,
            &full(&before),
            encoding::RAW,
            &PixelFormat::NATIVE,
            &mut out,
        )
        .expect("first");
    writer.forget(full(&before)[0]);
    out.clear();
    let n = writer
        .write(
            &after,
            &damage(&before, &after),
            encoding::RAW,
            &PixelFormat::NATIVE,
            &mut out,
        )
        .expect("second");
    let mut client = vec![0u32; (W * H) as usize];
    let seen = apply(&mut client, &out, n);
    assert!(!seen.contains(&encoding::COPY_RECT));
}

#[test]
fn cutting_out_the_copied_lines_keeps_the_rest() {
    let rects = [
        Rect {
            x: 0,
            y: 0,
            w: 640,
            h: 64,
        },
        Rect {
            x: 64,
            y: 64,
            w: 128,
            h: 64,
        },
        Rect {
            x: 0,
            y: 128,
            w: 640,
            h: 64,
        },
    ];
    let dest = Rect {
        x: 0,
        y: 32,
        w: 640,
        h: 120,
    };
    assert_eq!(
        without_lines(&rects, dest),
        vec![
            Rect {
                x: 0,
                y: 0,
                w: 640,
                h: 32
            },
            Rect {
                x: 0,
                y: 152,
                w: 640,
                h: 40
            },
        ]
    );
}
