//! Third-party VNC clients driven by the tests: vncdotool (PyPI, in the
//! venv `make deps-test` makes under target/vnc-venv) and gvnccapture
//! (Debian's gvncviewer), and the check of the pattern that the `fb` guest
//! (tests/sandbox/l2-init.sh) draws, done with the venv's Pillow.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The rectangles the `fb` guest draws: (x, y, w, h, (r, g, b)).
pub const PATTERN: [(u32, u32, u32, u32, (u8, u8, u8)); 4] = [
    (128, 400, 128, 100, (255, 0, 0)),
    (384, 400, 128, 100, (0, 255, 0)),
    (640, 400, 128, 100, (0, 0, 255)),
    (128, 600, 128, 100, (255, 255, 255)),
];

/// The venv with vncdotool (override with HANGAR_VNC_VENV).
pub fn venv() -> PathBuf {
    std::env::var_os("HANGAR_VNC_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/vnc-venv"))
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = Command::new("timeout")
        .arg("120")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{what} failed ({}): {text}", out.status))
    }
}

/// `vncdo capture` of the server on 127.0.0.1:`port` into `png`.
pub fn capture_vncdotool(port: u16, password: Option<&str>, png: &Path) -> Result<(), String> {
    let mut cmd = Command::new(venv().join("bin/vncdo"));
    cmd.arg("-s").arg(format!("127.0.0.1::{port}"));
    if let Some(pw) = password {
        cmd.arg("-p").arg(pw);
    }
    cmd.arg("capture").arg(png);
    run(&mut cmd, "vncdo capture").map(|_| ())
}

/// `gvnccapture` of the server on 127.0.0.1:`port` (>= 5900) into `png`.
pub fn capture_gvnccapture(port: u16, png: &Path) -> Result<(), String> {
    let display = port
        .checked_sub(5900)
        .ok_or("gvnccapture needs a port from 5900 up")?;
    run(
        Command::new("gvnccapture")
            .arg("-q")
            .arg(format!("127.0.0.1:{display}"))
            .arg(png),
        "gvnccapture",
    )
    .map(|_| ())
}

/// Types `text` and Enter with `vncdo type` (keysyms, no Shift added).
pub fn type_line(port: u16, password: Option<&str>, text: &str) -> Result<(), String> {
    let mut cmd = Command::new(venv().join("bin/vncdo"));
    cmd.arg("-s").arg(format!("127.0.0.1::{port}"));
    if let Some(pw) = password {
        cmd.arg("-p").arg(pw);
    }
    cmd.args(["type", text, "key", "enter"]);
    run(&mut cmd, "vncdo type").map(|_| ())
}

/// Runs `vncdo` against the server on 127.0.0.1:`port` with `args`
/// (`move X Y`, `click N`, `key K`, …).
pub fn vncdo(port: u16, args: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new(venv().join("bin/vncdo"));
    cmd.arg("-s").arg(format!("127.0.0.1::{port}")).args(args);
    run(&mut cmd, "vncdo").map(|_| ())
}

/// Checks `png` shows [`PATTERN`]: each rectangle's centre and corners in
/// its colour, and black between them. Returns the mismatches.
pub fn check_pattern(png: &Path) -> Result<(), String> {
    let mut probes = Vec::new();
    for (x, y, w, h, rgb) in PATTERN {
        for (px, py) in [(x + w / 2, y + h / 2), (x, y), (x + w - 1, y + h - 1)] {
            probes.push((px, py, rgb));
        }
        // Just outside, left and below: still black.
        probes.push((x - 2, y + h / 2, (0, 0, 0)));
        probes.push((x + w / 2, y + h + 2, (0, 0, 0)));
    }
    let list: Vec<String> = probes
        .iter()
        .map(|(x, y, (r, g, b))| format!("({x},{y},({r},{g},{b}))"))
        .collect();
    let script = format!(
        "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1]).convert('RGB')\n\
         print('SIZE', im.size[0], im.size[1])\n\
         for x, y, want in [{}]:\n    got = im.getpixel((x, y))\n    \
         if tuple(got) != want: print('MISMATCH', x, y, 'got', got, 'want', want)\n",
        list.join(",")
    );
    let out = run(
        Command::new(venv().join("bin/python"))
            .arg("-c")
            .arg(&script)
            .arg(png),
        "pattern check",
    )?;
    if out.contains("MISMATCH") || !out.contains("SIZE 1024 768") {
        return Err(out);
    }
    Ok(())
}

/// Draws [`PATTERN`] into x8r8g8b8 pixels of a `width`-wide screen (what
/// the guest's dd loop does), for tests without a guest.
pub fn draw_pattern(width: u32, pixels: &mut [u32]) {
    for (x, y, w, h, (r, g, b)) in PATTERN {
        let colour = (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b);
        for row in y..y + h {
            for col in x..x + w {
                if let Some(p) = pixels.get_mut((row * width + col) as usize) {
                    *p = colour;
                }
            }
        }
    }
}
