//! The latency probe run inside L1 (`vnc_latency probe ...`): an RFB client
//! of the guest's VNC server asking for incremental updates without pause,
//! and the guest's serial console, where it asks the `fblat` guest
//! (tests/sandbox/l2-init.sh) to paint a band of the screen in a colour or
//! only to answer. Every time is read from this one process's monotonic
//! clock, so no clocks are compared across machines.

use hangar_core::vmm::control::{read_message, write_message, Reply, Request};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The pixel the probe watches: inside the rows 600-615 the guest paints.
const PROBE_X: u16 = 512;
const PROBE_Y: u16 = 608;
/// How long one sample may take before it counts as lost.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Samples of each kind taken first and not counted (caches, TCP windows).
const WARMUP: usize = 5;

/// How to reach the guest's serial console.
pub enum Serial {
    /// hangar-vmm's control socket (`console` request, then raw bytes).
    HangarConsole(String),
    /// A unix socket carrying the raw serial bytes (QEMU's chardev).
    Raw(String),
}

/// One VMM's guest to measure.
pub struct Target {
    /// A name for the output lines (`hangar-vmm`, `qemu`).
    pub label: String,
    /// The VNC server's TCP port on 127.0.0.1.
    pub vnc_port: u16,
    /// The serial console.
    pub serial: Serial,
}

/// What `probe` was asked to do.
pub struct ProbeArgs {
    /// The guests, sampled in turn so that both see the same load.
    pub targets: Vec<Target>,
    /// Counted samples of each kind and target.
    pub samples: usize,
}

/// Parses `probe --samples N --target LABEL:PORT:hangar:SOCKET
/// --target LABEL:PORT:raw:SOCKET ...` (`hangar`: hangar-vmm's control
/// socket; `raw`: a socket carrying the serial bytes).
pub fn parse_args(args: &[String]) -> Result<ProbeArgs, String> {
    let mut targets = Vec::new();
    let mut samples = 100;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--samples" => {
                samples = value
                    .parse()
                    .map_err(|e| format!("--samples {value}: {e}"))?
            }
            "--target" => {
                let parts: Vec<&str> = value.splitn(4, ':').collect();
                let [label, port, kind, path] = parts[..] else {
                    return Err(format!(
                        "--target {value}: want LABEL:PORT:hangar|raw:SOCKET"
                    ));
                };
                let serial = match kind {
                    "hangar" => Serial::HangarConsole(path.to_string()),
                    "raw" => Serial::Raw(path.to_string()),
                    other => return Err(format!("--target {value}: unknown serial kind {other}")),
                };
                targets.push(Target {
                    label: label.to_string(),
                    vnc_port: port.parse().map_err(|e| format!("--target {value}: {e}"))?,
                    serial,
                });
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if targets.is_empty() {
        return Err("no --target".into());
    }
    Ok(ProbeArgs { targets, samples })
}

/// A target being measured: its connections and what it measured.
struct Session {
    label: String,
    colours: Receiver<(u32, Instant)>,
    serial: Box<dyn Write + Send>,
    acks: Receiver<(u32, Instant)>,
    echo: Vec<f64>,
    paint: Vec<f64>,
    paint_ack: Vec<f64>,
    lost: usize,
}

/// Runs the probe and prints, per target, `HANGAR-VNCLAT LABEL KIND ms...`
/// lines, one per kind: `echo` (serial round trip), `paint` (serial write
/// to the colour on the client), `paint-ack` (serial write to the guest's
/// answer after painting); and `HANGAR-VNCLAT-LOST LABEL n`. The targets
/// take turns sample by sample, so a change in the machine's load falls
/// on all of them.
pub fn run(args: &ProbeArgs) -> Result<(), String> {
    let mut sessions = Vec::new();
    for target in &args.targets {
        let colours = rfb_watch(target.vnc_port)?;
        let (serial, acks) = open_serial(&target.serial)?;
        sessions.push(Session {
            label: target.label.clone(),
            colours,
            serial,
            acks,
            echo: Vec::new(),
            paint: Vec::new(),
            paint_ack: Vec::new(),
            lost: 0,
        });
    }
    let mut seq: u32 = 0;
    // A fixed pseudo-random gap between samples, so that no sample lines up
    // with a server's refresh timer.
    let mut lcg: u32 = 12345;
    let mut gap = || {
        lcg = lcg.wrapping_mul(1_103_515_245).wrapping_add(12345);
        Duration::from_millis(u64::from((lcg >> 16) % 40))
    };
    for round in 0..args.samples + WARMUP {
        let counted = round >= WARMUP;
        let colour = (round % 7 + 1) as u32;
        // Who goes first alternates.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..sessions.len()).collect()
        } else {
            (0..sessions.len()).rev().collect()
        };
        for i in order {
            let session = &mut sessions[i];
            seq += 1;
            std::thread::sleep(gap());
            sample(session, seq, None, counted)?;
            seq += 1;
            std::thread::sleep(gap());
            sample(session, seq, Some(colour), counted)?;
        }
    }
    for session in &sessions {
        for (kind, values) in [
            ("echo", &session.echo),
            ("paint", &session.paint),
            ("paint-ack", &session.paint_ack),
        ] {
            let list: Vec<String> = values.iter().map(|v| format!("{v:.2}")).collect();
            println!("HANGAR-VNCLAT {} {kind} {}", session.label, list.join(" "));
        }
        println!("HANGAR-VNCLAT-LOST {} {}", session.label, session.lost);
    }
    Ok(())
}

/// One sample on `session`: an echo (`colour` None) or a paint.
fn sample(
    session: &mut Session,
    seq: u32,
    colour: Option<u32>,
    counted: bool,
) -> Result<(), String> {
    let Some(colour) = colour else {
        let t0 = Instant::now();
        send_line(&mut session.serial, &format!("e 0 {seq}"))?;
        match wait_ack(&session.acks, seq) {
            Some(t) if counted => session.echo.push(ms(t - t0)),
            Some(_) => {}
            None => session.lost += 1,
        }
        return Ok(());
    };
    // Updates that were already on their way belong to the last sample.
    while session.colours.try_recv().is_ok() {}
    let t0 = Instant::now();
    send_line(&mut session.serial, &format!("p {colour} {seq}"))?;
    let seen = wait_colour(&session.colours, rgb_of(colour));
    let acked = wait_ack(&session.acks, seq);
    match (seen, acked) {
        (Some(seen), Some(acked)) if counted => {
            session.paint.push(ms(seen - t0));
            session.paint_ack.push(ms(acked - t0));
        }
        (Some(_), Some(_)) => {}
        _ => session.lost += 1,
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The 0x00RRGGBB value of the guest's colour number.
fn rgb_of(colour: u32) -> u32 {
    let on = |bit: u32| if colour >> bit & 1 == 1 { 0xff } else { 0 };
    (on(2) << 16) | (on(1) << 8) | on(0)
}

fn send_line(serial: &mut dyn Write, line: &str) -> Result<(), String> {
    serial
        .write_all(format!("{line}\n").as_bytes())
        .and_then(|()| serial.flush())
        .map_err(|e| format!("serial write: {e}"))
}

fn wait_ack(acks: &Receiver<(u32, Instant)>, seq: u32) -> Option<Instant> {
    let deadline = Instant::now() + SAMPLE_TIMEOUT;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match acks.recv_timeout(left) {
            Ok((n, t)) if n == seq => return Some(t),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

fn wait_colour(colours: &Receiver<(u32, Instant)>, want: u32) -> Option<Instant> {
    let deadline = Instant::now() + SAMPLE_TIMEOUT;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match colours.recv_timeout(left) {
            Ok((c, t)) if c == want => return Some(t),
            Ok(_) => continue,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// Connects to the serial console; returns its input side and the guest's
/// answers (`HANGAR-L2-ACK N` with the time each line arrived).
fn open_serial(
    serial: &Serial,
) -> Result<(Box<dyn Write + Send>, Receiver<(u32, Instant)>), String> {
    let stream = match serial {
        Serial::HangarConsole(path) => {
            let mut s = UnixStream::connect(path).map_err(|e| format!("{path}: {e}"))?;
            write_message(&mut s, &Request::Console).map_err(|e| format!("{path}: {e}"))?;
            match read_message::<Reply>(&mut s) {
                Ok(Reply::Ok) => s,
                Ok(other) => return Err(format!("{path}: console refused: {other:?}")),
                Err(e) => return Err(format!("{path}: {e}")),
            }
        }
        Serial::Raw(path) => UnixStream::connect(path).map_err(|e| format!("{path}: {e}"))?,
    };
    let reader = stream.try_clone().map_err(|e| format!("serial: {e}"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            match lines.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let now = Instant::now();
            let text = String::from_utf8_lossy(&line);
            if let Some(n) = text
                .split("HANGAR-L2-ACK ")
                .nth(1)
                .and_then(|r| r.trim().parse::<u32>().ok())
            {
                if tx.send((n, now)).is_err() {
                    return;
                }
            }
        }
    });
    Ok((Box::new(stream), rx))
}

/// Connects to the VNC server, asks for raw 32-bit pixels, and keeps asking
/// for incremental updates; sends the probe pixel's colour (0x00RRGGBB) and
/// the time of every update that covers it.
fn rfb_watch(port: u16) -> Result<Receiver<(u32, Instant)>, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("vnc {port}: {e}"))?;
    let _ = s.set_nodelay(true);
    let (width, height) = handshake(&mut s).map_err(|e| format!("vnc {port}: {e}"))?;
    if PROBE_X >= width || PROBE_Y >= height {
        return Err(format!(
            "vnc {port}: a {width}x{height} screen has no pixel {PROBE_X},{PROBE_Y}"
        ));
    }
    let mut requests = s.try_clone().map_err(|e| format!("vnc: {e}"))?;
    update_request(&mut requests, false, width, height).map_err(|e| format!("vnc: {e}"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(1 << 20, s);
        while let Ok(message) = read_server_message(&mut reader) {
            let now = Instant::now();
            let ServerMessage::Update(colour) = message else {
                continue;
            };
            // The next request goes out before anything else is done.
            if update_request(&mut requests, true, width, height).is_err() {
                return;
            }
            if let Some(colour) = colour {
                if tx.send((colour, now)).is_err() {
                    return;
                }
            }
        }
    });
    Ok(rx)
}

/// RFB 3.8 with security None; sets 32-bit little-endian true colour
/// (red at bit 16) and the Raw encoding; returns the screen's size.
fn handshake(s: &mut TcpStream) -> io::Result<(u16, u16)> {
    let mut version = [0u8; 12];
    s.read_exact(&mut version)?;
    s.write_all(b"RFB 003.008\n")?;
    let count = read_u8(s)?;
    if count == 0 {
        return Err(io::Error::other("the server refused the connection"));
    }
    let mut types = vec![0u8; usize::from(count)];
    s.read_exact(&mut types)?;
    if !types.contains(&1) {
        return Err(io::Error::other(format!(
            "no security type None in {types:?}"
        )));
    }
    s.write_all(&[1])?;
    let mut result = [0u8; 4];
    s.read_exact(&mut result)?;
    if result != [0; 4] {
        return Err(io::Error::other("security handshake failed"));
    }
    s.write_all(&[1])?; // ClientInit: shared
    let mut init = [0u8; 24];
    s.read_exact(&mut init)?;
    let width = u16::from_be_bytes([init[0], init[1]]);
    let height = u16::from_be_bytes([init[2], init[3]]);
    let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]);
    io::copy(&mut s.take(u64::from(name_len)), &mut io::sink())?;
    // SetPixelFormat: 32 bpp, depth 24, little endian, true colour,
    // maxima 255, shifts 16/8/0.
    let mut msg = vec![
        0u8, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0,
    ];
    // SetEncodings: Raw only.
    msg.extend_from_slice(&[2, 0, 0, 1, 0, 0, 0, 0]);
    s.write_all(&msg)?;
    Ok((width, height))
}

fn update_request(s: &mut TcpStream, incremental: bool, w: u16, h: u16) -> io::Result<()> {
    let mut msg = vec![3u8, u8::from(incremental), 0, 0, 0, 0];
    msg.extend_from_slice(&w.to_be_bytes());
    msg.extend_from_slice(&h.to_be_bytes());
    s.write_all(&msg)
}

fn read_u8(r: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

fn read_u16(r: &mut impl Read) -> io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_be_bytes(b))
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

/// A message from the server, as far as the probe cares.
enum ServerMessage {
    /// A framebuffer update, with the probe pixel's colour if it covers it.
    Update(Option<u32>),
    /// Anything else (colour map, bell, cut text).
    Other,
}

/// Reads one server message.
fn read_server_message(r: &mut impl Read) -> io::Result<ServerMessage> {
    match read_u8(r)? {
        0 => {
            read_u8(r)?;
            let rects = read_u16(r)?;
            let mut colour = None;
            for _ in 0..rects {
                let (x, y, w, h) = (read_u16(r)?, read_u16(r)?, read_u16(r)?, read_u16(r)?);
                let encoding = read_u32(r)? as i32;
                if encoding != 0 {
                    return Err(io::Error::other(format!("unasked encoding {encoding}")));
                }
                let row = usize::from(w) * 4;
                let mut pixels = vec![0u8; row * usize::from(h)];
                r.read_exact(&mut pixels)?;
                let inside = (x..x.saturating_add(w)).contains(&PROBE_X)
                    && (y..y.saturating_add(h)).contains(&PROBE_Y);
                if inside {
                    let at = usize::from(PROBE_Y - y) * row + usize::from(PROBE_X - x) * 4;
                    let px = u32::from_le_bytes([pixels[at], pixels[at + 1], pixels[at + 2], 0]);
                    colour = Some(px);
                }
            }
            Ok(ServerMessage::Update(colour))
        }
        1 => {
            read_u8(r)?;
            read_u16(r)?;
            let n = read_u16(r)?;
            io::copy(&mut r.take(u64::from(n) * 6), &mut io::sink())?;
            Ok(ServerMessage::Other)
        }
        2 => Ok(ServerMessage::Other),
        3 => {
            let mut pad = [0u8; 3];
            r.read_exact(&mut pad)?;
            let len = read_u32(r)?;
            io::copy(&mut r.take(u64::from(len)), &mut io::sink())?;
            Ok(ServerMessage::Other)
        }
        other => Err(io::Error::other(format!("unknown server message {other}"))),
    }
}
