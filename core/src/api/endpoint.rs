//! Where a running domain's consoles are reached: its graphical display
//! (a VNC server on TCP or a unix socket, named by a `virsh domdisplay`
//! URI) and its serial console (a stream of bytes both ways).

use std::os::unix::net::UnixStream;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::vmm::control::{self as vmm_control, Reply as VmmReply, Request as VmmRequest};

/// The first TCP port of VNC display numbers (display `:0`).
pub const VNC_BASE_PORT: u16 = 5900;

/// A VNC server's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DisplayEndpoint {
    /// TCP `host`:`port`.
    Tcp {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A unix socket.
    Unix {
        /// The socket's path.
        path: String,
    },
}

impl DisplayEndpoint {
    /// The URI virsh's `domdisplay` prints: `vnc://HOST:DISPLAY` (the port
    /// less 5900; `HOST::PORT` below 5900) or `vnc+unix:///PATH`.
    pub fn to_uri(&self) -> String {
        match self {
            DisplayEndpoint::Tcp { host, port } => {
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host.clone()
                };
                match port.checked_sub(VNC_BASE_PORT) {
                    Some(display) => format!("vnc://{host}:{display}"),
                    None => format!("vnc://{host}::{port}"),
                }
            }
            DisplayEndpoint::Unix { path } => format!("vnc+unix://{path}"),
        }
    }

    /// Reads a URI written by [`DisplayEndpoint::to_uri`] (or by virsh).
    pub fn parse(uri: &str) -> Result<DisplayEndpoint, ApiError> {
        let bad = || ApiError::InvalidArg(format!("'{uri}' is not a VNC display URI"));
        if let Some(path) = uri.strip_prefix("vnc+unix://") {
            if !path.starts_with('/') {
                return Err(bad());
            }
            return Ok(DisplayEndpoint::Unix {
                path: path.to_string(),
            });
        }
        let rest = uri.strip_prefix("vnc://").ok_or_else(bad)?;
        // virsh may append a query (`?password=...`); the address ends first.
        let rest = rest.split(['?', '/']).next().unwrap_or_default();
        let (host, port_part) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').ok_or_else(bad)?;
            (host, after.strip_prefix(':').ok_or_else(bad)?)
        } else {
            rest.split_once(':').ok_or_else(bad)?
        };
        if host.is_empty() {
            return Err(bad());
        }
        let port = match port_part.strip_prefix(':') {
            Some(port) => port.parse::<u16>().map_err(|_| bad())?,
            None => port_part
                .parse::<u16>()
                .ok()
                .and_then(|display| display.checked_add(VNC_BASE_PORT))
                .ok_or_else(bad)?,
        };
        Ok(DisplayEndpoint::Tcp {
            host: host.to_string(),
            port,
        })
    }
}

/// A running domain's serial console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "path", rename_all = "kebab-case")]
pub enum ConsoleEndpoint {
    /// A hangar-vmm control socket: the stream starts after its `console`
    /// request is accepted, with the recent output replayed first.
    Vmm(String),
    /// A unix socket that carries the serial port's bytes as they are
    /// (`<serial type='unix'><source mode='bind' path=.../>`).
    Socket(String),
}

impl ConsoleEndpoint {
    /// Opens the console: a stream whose reads are the guest's output and
    /// whose writes are typed into the guest. Blocks while connecting.
    pub fn connect(&self) -> Result<UnixStream, ApiError> {
        match self {
            ConsoleEndpoint::Socket(path) => UnixStream::connect(path).map_err(|e| {
                ApiError::Internal(format!("cannot connect to the console at {path}: {e}"))
            }),
            ConsoleEndpoint::Vmm(path) => {
                match vmm_control::request(Path::new(path), VmmRequest::Console) {
                    Ok((VmmReply::Ok, stream)) => Ok(stream),
                    Ok((VmmReply::Error(why), _)) => Err(ApiError::Internal(format!(
                        "the virtual machine refused its console: {why}"
                    ))),
                    Ok((other, _)) => Err(ApiError::Internal(format!(
                        "the virtual machine answered {other:?} to a console request"
                    ))),
                    Err(e) => Err(ApiError::Internal(format!("cannot open the console: {e}"))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_uris_round_trip_like_virsh() {
        let tcp = DisplayEndpoint::Tcp {
            host: "127.0.0.1".into(),
            port: 5901,
        };
        assert_eq!(tcp.to_uri(), "vnc://127.0.0.1:1");
        assert_eq!(DisplayEndpoint::parse("vnc://127.0.0.1:1").ok(), Some(tcp));
        let low = DisplayEndpoint::Tcp {
            host: "::1".into(),
            port: 5000,
        };
        assert_eq!(low.to_uri(), "vnc://[::1]::5000");
        assert_eq!(DisplayEndpoint::parse(&low.to_uri()).ok(), Some(low));
        let unix = DisplayEndpoint::Unix {
            path: "/run/vm/vnc.sock".into(),
        };
        assert_eq!(unix.to_uri(), "vnc+unix:///run/vm/vnc.sock");
        assert_eq!(DisplayEndpoint::parse(&unix.to_uri()).ok(), Some(unix));
        assert_eq!(
            DisplayEndpoint::parse("vnc://localhost:0?password=x").ok(),
            Some(DisplayEndpoint::Tcp {
                host: "localhost".into(),
                port: 5900
            })
        );
        for bad in [
            "spice://h:1",
            "vnc://h",
            "vnc://:1",
            "vnc://h:x",
            "vnc+unix://rel",
            "vnc://h:65000",
        ] {
            assert!(DisplayEndpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_socket_console_is_the_socket_itself() {
        let dir = std::env::temp_dir().join(format!("hangar-endpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("serial.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let endpoint = ConsoleEndpoint::Socket(path.display().to_string());
        let mut client = endpoint.connect().expect("connects");
        let (mut server, _) = listener.accept().expect("accept");
        use std::io::{Read, Write};
        server.write_all(b"login: ").expect("write");
        let mut got = [0u8; 7];
        client.read_exact(&mut got).expect("read");
        assert_eq!(&got, b"login: ");
        drop(listener);
        std::fs::remove_file(&path).expect("remove");
        assert!(endpoint.connect().is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
