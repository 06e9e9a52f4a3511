//! Framing: a 4-byte big-endian length, then that many bytes of JSON.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{Read, Write};

/// Largest message accepted.
pub const MAX_MESSAGE: u32 = 1 << 20;

/// Errors reading or writing a message.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The connection failed or closed.
    #[error("control connection: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something that is not a valid message.
    #[error("malformed control message: {0}")]
    Json(#[from] serde_json::Error),
    /// A length beyond [`MAX_MESSAGE`].
    #[error("control message of {0} bytes is too large")]
    TooLarge(u32),
}

/// Writes one message.
pub fn write_message<T: Serialize>(w: &mut impl Write, msg: &T) -> Result<(), WireError> {
    let body = serde_json::to_vec(msg)?;
    let len = u32::try_from(body.len()).map_err(|_| WireError::TooLarge(u32::MAX))?;
    if len > MAX_MESSAGE {
        return Err(WireError::TooLarge(len));
    }
    w.write_all(&len.to_be_bytes())?;
    w.write_all(&body)?;
    w.flush()?;
    Ok(())
}

/// Reads one message.
pub fn read_message<T: DeserializeOwned>(r: &mut impl Read) -> Result<T, WireError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len);
    if len > MAX_MESSAGE {
        return Err(WireError::TooLarge(len));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body)?;
    Ok(serde_json::from_slice(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmm::control::{Reply, Request};

    #[test]
    fn messages_round_trip_and_lengths_are_checked() {
        let mut buf = Vec::new();
        write_message(&mut buf, &Request::Suspend).expect("write");
        assert_eq!(&buf[..4], &(buf.len() as u32 - 4).to_be_bytes());
        let back: Request = read_message(&mut buf.as_slice()).expect("read");
        assert_eq!(back, Request::Suspend);
        let huge = (MAX_MESSAGE + 1).to_be_bytes();
        assert!(matches!(
            read_message::<Reply>(&mut huge.as_slice()),
            Err(WireError::TooLarge(_))
        ));
        let junk = [0, 0, 0, 2, b'{', b'x'];
        assert!(matches!(
            read_message::<Reply>(&mut junk.as_slice()),
            Err(WireError::Json(_))
        ));
    }
}
