//! The client side: one request, one reply.

use super::{read_message, write_message, Reply, Request, WireError};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Errors talking to a VMM.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket (the VMM is not running).
    #[error("cannot connect to {path}: {source}")]
    Connect {
        /// The socket.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The exchange failed.
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// Connects to `socket`, sends `req` and returns the reply with the open
/// connection (which carries the console or event stream afterwards).
pub fn request(socket: &Path, req: Request) -> Result<(Reply, UnixStream), ClientError> {
    let mut stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
        path: socket.display().to_string(),
        source,
    })?;
    write_message(&mut stream, &req)?;
    let reply = read_message(&mut stream)?;
    Ok((reply, stream))
}
