//! The RFB protocol's wire format (RFC 6143 plus the QEMU extensions):
//! the handshake for 3.3, 3.7 and 3.8 clients with security None or VNC
//! authentication, and the client-to-server messages.

use super::des::vnc_auth_response;
use super::pixel::{PixelFormat, PixelFormatError};
use super::zrle::ZrleError;
use std::io::{Read, Write};

/// Encoding numbers (RFB 7.7 and 7.8; QEMU's are negative too).
pub mod encoding {
    /// Raw pixels.
    pub const RAW: i32 = 0;
    /// Copy from elsewhere on the screen.
    pub const COPY_RECT: i32 = 1;
    /// ZRLE.
    pub const ZRLE: i32 = 16;
    /// Pseudo: the cursor's shape.
    pub const CURSOR: i32 = -239;
    /// Pseudo: the screen changed size.
    pub const DESKTOP_SIZE: i32 = -223;
    /// Pseudo: no more rectangles in this update.
    pub const LAST_RECT: i32 = -224;
    /// Pseudo: QEMU pointer motion change (absolute or relative).
    pub const QEMU_POINTER_MOTION_CHANGE: i32 = -257;
    /// Pseudo: QEMU extended key events (scancodes).
    pub const QEMU_EXTENDED_KEY_EVENT: i32 = -258;
}

/// Longest ClientCutText we read (the rest of a longer one is refused).
const MAX_CUT_TEXT: u32 = 1 << 20;
/// Most encodings a client may list.
const MAX_ENCODINGS: u16 = 1024;

/// Errors talking RFB with one client.
#[derive(Debug, thiserror::Error)]
pub enum RfbError {
    /// The connection failed or closed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The client's ProtocolVersion is not RFB 3.x.
    #[error("unsupported protocol version {0:?}")]
    Version(String),
    /// The client chose a security type we did not offer.
    #[error("the client chose security type {0}, which was not offered")]
    SecurityType(u8),
    /// Wrong password.
    #[error("VNC authentication failed")]
    AuthFailed,
    /// A bad SetPixelFormat.
    #[error(transparent)]
    PixelFormat(#[from] PixelFormatError),
    /// A message type we do not know (the stream cannot be resynchronised).
    #[error("unknown client message type {0}")]
    UnknownMessage(u8),
    /// A QEMU client message we do not know.
    #[error("unknown QEMU client message subtype {0}")]
    UnknownQemuMessage(u8),
    /// An over-long message.
    #[error("client message too long: {0}")]
    TooLong(&'static str),
    /// The encoder failed.
    #[error(transparent)]
    Encode(#[from] ZrleError),
}

/// The protocol minor version spoken with a client (3, 7 or 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minor(pub u8);

const SECURITY_NONE: u8 = 1;
const SECURITY_VNC_AUTH: u8 = 2;

fn read_array<const N: usize>(r: &mut impl Read) -> Result<[u8; N], RfbError> {
    let mut buf = [0u8; N];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// Runs the handshake up to and including ServerInit. `challenge` is 16
/// random bytes (used only with a password). On failure the client has
/// been told why where the protocol allows it.
pub fn handshake<S: Read + Write>(
    stream: &mut S,
    password: Option<&str>,
    challenge: [u8; 16],
    width: u16,
    height: u16,
    name: &str,
) -> Result<Minor, RfbError> {
    stream.write_all(b"RFB 003.008\n")?;
    let version: [u8; 12] = read_array(stream)?;
    let text = String::from_utf8_lossy(&version).into_owned();
    let minor = match &version {
        b"RFB 003.003\n" => 3,
        b"RFB 003.007\n" => 7,
        // Any later 3.x speaks at least 3.8 (RFB 7.1.1); 3.5 is Apple's 3.3.
        v if v.starts_with(b"RFB 003.") && v[11] == b'\n' => {
            let m = std::str::from_utf8(&v[8..11])
                .ok()
                .and_then(|m| m.parse::<u16>().ok())
                .ok_or_else(|| RfbError::Version(text.clone()))?;
            match m {
                0..=2 => return Err(RfbError::Version(text)),
                3..=6 => 3,
                7 => 7,
                _ => 8,
            }
        }
        _ => return Err(RfbError::Version(text)),
    };
    let offered = if password.is_some() {
        SECURITY_VNC_AUTH
    } else {
        SECURITY_NONE
    };
    if minor == 3 {
        stream.write_all(&u32::from(offered).to_be_bytes())?;
    } else {
        stream.write_all(&[1, offered])?;
        let [chosen] = read_array::<1>(stream)?;
        if chosen != offered {
            if minor == 8 {
                write_failure(stream, "security type not offered")?;
            }
            return Err(RfbError::SecurityType(chosen));
        }
    }
    if let Some(password) = password {
        stream.write_all(&challenge)?;
        let response: [u8; 16] = read_array(stream)?;
        let expected = vnc_auth_response(password.as_bytes(), &challenge);
        // Compare without an early exit, so timing tells nothing.
        let diff = response
            .iter()
            .zip(expected.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            if minor == 8 {
                write_failure(stream, "authentication failed")?;
            } else {
                stream.write_all(&1u32.to_be_bytes())?;
            }
            return Err(RfbError::AuthFailed);
        }
        stream.write_all(&0u32.to_be_bytes())?;
    } else if minor == 8 {
        stream.write_all(&0u32.to_be_bytes())?;
    }
    // ClientInit: the shared flag. Every client shares the screen.
    let _shared: [u8; 1] = read_array(stream)?;
    let mut init = Vec::with_capacity(24 + name.len());
    init.extend_from_slice(&width.to_be_bytes());
    init.extend_from_slice(&height.to_be_bytes());
    init.extend_from_slice(&PixelFormat::NATIVE.to_bytes());
    init.extend_from_slice(&(name.len() as u32).to_be_bytes());
    init.extend_from_slice(name.as_bytes());
    stream.write_all(&init)?;
    stream.flush()?;
    Ok(Minor(minor))
}

fn write_failure(stream: &mut impl Write, reason: &str) -> Result<(), RfbError> {
    let mut msg = Vec::with_capacity(8 + reason.len());
    msg.extend_from_slice(&1u32.to_be_bytes());
    msg.extend_from_slice(&(reason.len() as u32).to_be_bytes());
    msg.extend_from_slice(reason.as_bytes());
    stream.write_all(&msg)?;
    Ok(())
}

/// What a client sends after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Pixels from now on in this format.
    SetPixelFormat(PixelFormat),
    /// The encodings it understands, preferred first.
    SetEncodings(Vec<i32>),
    /// It wants an update of this area.
    UpdateRequest {
        /// Only changes (else everything in the area).
        incremental: bool,
        /// Left.
        x: u16,
        /// Top.
        y: u16,
        /// Width.
        w: u16,
        /// Height.
        h: u16,
    },
    /// A key by keysym.
    Key {
        /// Pressed.
        down: bool,
        /// X keysym.
        keysym: u32,
    },
    /// Pointer position and buttons.
    Pointer {
        /// Button mask.
        buttons: u8,
        /// Column.
        x: u16,
        /// Line.
        y: u16,
    },
    /// Clipboard text (read and dropped: the guest has no clipboard agent).
    CutText,
    /// QEMU extended key event: a keysym and the key's scancode.
    QemuKey {
        /// Pressed.
        down: bool,
        /// X keysym.
        keysym: u32,
        /// XT scancode (QEMU numbering).
        keycode: u32,
    },
}

/// Reads one client message.
pub fn read_message(r: &mut impl Read) -> Result<ClientMessage, RfbError> {
    let [kind] = read_array::<1>(r)?;
    Ok(match kind {
        0 => {
            let body: [u8; 19] = read_array(r)?;
            let mut format = [0u8; 16];
            format.copy_from_slice(&body[3..]);
            ClientMessage::SetPixelFormat(PixelFormat::parse(&format)?)
        }
        2 => {
            let head: [u8; 3] = read_array(r)?;
            let count = u16::from_be_bytes([head[1], head[2]]);
            if count > MAX_ENCODINGS {
                return Err(RfbError::TooLong("SetEncodings"));
            }
            let mut list = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                list.push(i32::from_be_bytes(read_array(r)?));
            }
            ClientMessage::SetEncodings(list)
        }
        3 => {
            let b: [u8; 9] = read_array(r)?;
            let at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
            ClientMessage::UpdateRequest {
                incremental: b[0] != 0,
                x: at(1),
                y: at(3),
                w: at(5),
                h: at(7),
            }
        }
        4 => {
            let b: [u8; 7] = read_array(r)?;
            ClientMessage::Key {
                down: b[0] != 0,
                keysym: u32::from_be_bytes([b[3], b[4], b[5], b[6]]),
            }
        }
        5 => {
            let b: [u8; 5] = read_array(r)?;
            ClientMessage::Pointer {
                buttons: b[0],
                x: u16::from_be_bytes([b[1], b[2]]),
                y: u16::from_be_bytes([b[3], b[4]]),
            }
        }
        6 => {
            let b: [u8; 7] = read_array(r)?;
            let len = u32::from_be_bytes([b[3], b[4], b[5], b[6]]);
            if len > MAX_CUT_TEXT {
                return Err(RfbError::TooLong("ClientCutText"));
            }
            std::io::copy(&mut r.take(u64::from(len)), &mut std::io::sink())?;
            ClientMessage::CutText
        }
        255 => {
            let [sub] = read_array::<1>(r)?;
            if sub != 0 {
                return Err(RfbError::UnknownQemuMessage(sub));
            }
            let b: [u8; 10] = read_array(r)?;
            ClientMessage::QemuKey {
                down: u16::from_be_bytes([b[0], b[1]]) != 0,
                keysym: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
                keycode: u32::from_be_bytes([b[6], b[7], b[8], b[9]]),
            }
        }
        other => return Err(RfbError::UnknownMessage(other)),
    })
}

#[cfg(test)]
#[path = "proto_tests.rs"]
mod tests;
