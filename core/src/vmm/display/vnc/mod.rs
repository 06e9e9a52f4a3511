//! The built-in VNC server for `<graphics type='vnc'>`: RFB 3.3/3.7/3.8,
//! security None or VNC authentication, any true-colour pixel format,
//! Raw, ZRLE and CopyRect (for scrolls), the DesktopSize, LastRect,
//! Cursor, QEMU extended key event and QEMU pointer type change
//! pseudo-encodings; pointer events go to the guest's tablet (absolute
//! coordinates). Every client gets a reader and a sender thread; all
//! clients share the screen.

pub mod client;
pub mod copyrect;
pub mod des;
pub mod pixel;
pub mod proto;
pub mod rects;
pub mod update;
pub mod zrle;
pub mod zrle_tile;

use super::Display;
use crate::vmm::config::{VncConfig, VncListen};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// First port tried by autoport (display :0).
pub const AUTOPORT_FIRST: u16 = 5900;
/// Clients served at once; more are turned away.
pub const MAX_CLIENTS: usize = 16;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum VncError {
    /// The address or socket cannot be bound.
    #[error("cannot listen for VNC on {address}: {source}")]
    Listen {
        /// Where.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// No free port from 5900 up.
    #[error("no free VNC port on {0} from 5900 up")]
    NoFreePort(IpAddr),
    /// The accept thread could not start.
    #[error("cannot start the VNC server thread: {0}")]
    Thread(std::io::Error),
}

/// Where the server ended up listening (published in the VM's status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum VncEndpoint {
    /// TCP.
    Tcp {
        /// Listen address.
        address: IpAddr,
        /// Port (display number + 5900).
        port: u16,
    },
    /// Unix socket.
    Unix {
        /// Socket path.
        path: PathBuf,
    },
}

impl VncEndpoint {
    /// `virsh domdisplay`'s URI: `vnc://ADDR:DISPLAY` or `vnc+unix:///path`.
    pub fn uri(&self) -> String {
        match self {
            VncEndpoint::Tcp { address, port } => {
                let host = match address {
                    IpAddr::V6(a) => format!("[{a}]"),
                    IpAddr::V4(a) => a.to_string(),
                };
                format!("vnc://{host}:{}", port.saturating_sub(AUTOPORT_FIRST))
            }
            VncEndpoint::Unix { path } => format!("vnc+unix://{}", path.display()),
        }
    }

    /// `virsh vncdisplay`'s answer: `ADDR:DISPLAY` (None for a unix socket).
    pub fn vnc_display(&self) -> Option<String> {
        match self {
            VncEndpoint::Tcp { address, port } => {
                Some(format!("{address}:{}", port.saturating_sub(AUTOPORT_FIRST)))
            }
            VncEndpoint::Unix { .. } => None,
        }
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// A running VNC server; it stops accepting when the display shuts down
/// and the process ends.
pub struct VncServer {
    endpoint: VncEndpoint,
}

impl VncServer {
    /// Binds as `config` says and starts accepting clients for `display`.
    pub fn start(
        config: &VncConfig,
        display: Arc<Display>,
        name: String,
    ) -> Result<VncServer, VncError> {
        let (listener, endpoint) = bind(&config.listen)?;
        let password = config.password.clone();
        let clients = Arc::new(AtomicUsize::new(0));
        std::thread::Builder::new()
            .name("vnc-accept".into())
            .spawn(move || accept_loop(listener, display, password, name, clients))
            .map_err(VncError::Thread)?;
        Ok(VncServer { endpoint })
    }

    /// Where clients connect.
    pub fn endpoint(&self) -> &VncEndpoint {
        &self.endpoint
    }
}

fn bind(listen: &VncListen) -> Result<(Listener, VncEndpoint), VncError> {
    match listen {
        VncListen::Tcp {
            address,
            port: Some(port),
        } => {
            let l = TcpListener::bind(SocketAddr::new(*address, *port)).map_err(|source| {
                VncError::Listen {
                    address: format!("{address}:{port}"),
                    source,
                }
            })?;
            Ok((
                Listener::Tcp(l),
                VncEndpoint::Tcp {
                    address: *address,
                    port: *port,
                },
            ))
        }
        VncListen::Tcp {
            address,
            port: None,
        } => {
            for port in AUTOPORT_FIRST..=u16::MAX {
                match TcpListener::bind(SocketAddr::new(*address, port)) {
                    Ok(l) => {
                        return Ok((
                            Listener::Tcp(l),
                            VncEndpoint::Tcp {
                                address: *address,
                                port,
                            },
                        ))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                    Err(source) => {
                        return Err(VncError::Listen {
                            address: format!("{address}:{port}"),
                            source,
                        })
                    }
                }
            }
            Err(VncError::NoFreePort(*address))
        }
        VncListen::Unix(path) => {
            // A stale socket from a VMM that died would block the bind.
            if std::os::unix::net::UnixStream::connect(path).is_err() {
                let _ = std::fs::remove_file(path);
            }
            let l = UnixListener::bind(path).map_err(|source| VncError::Listen {
                address: path.display().to_string(),
                source,
            })?;
            Ok((
                Listener::Unix(l, path.clone()),
                VncEndpoint::Unix { path: path.clone() },
            ))
        }
    }
}

fn accept_loop(
    listener: Listener,
    display: Arc<Display>,
    password: Option<String>,
    name: String,
    clients: Arc<AtomicUsize>,
) {
    loop {
        let conn = match &listener {
            Listener::Tcp(l) => l.accept().map(|(s, _)| client::Connection::Tcp(s)),
            Listener::Unix(l, _) => l.accept().map(|(s, _)| client::Connection::Unix(s)),
        };
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                eprintln!("hangar-vmm: vnc: accept: {e}");
                std::thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
        };
        if clients.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
            clients.fetch_sub(1, Ordering::SeqCst);
            conn.shutdown();
            continue;
        }
        let display = Arc::clone(&display);
        let password = password.clone();
        let name = name.clone();
        let counter = Arc::clone(&clients);
        let spawned = std::thread::Builder::new()
            .name("vnc-client".into())
            .spawn(move || {
                if let Err(e) = client::serve(conn, display, password, name) {
                    if !matches!(e, proto::RfbError::Io(_)) {
                        eprintln!("hangar-vmm: vnc: client: {e}");
                    }
                }
                counter.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            clients.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
