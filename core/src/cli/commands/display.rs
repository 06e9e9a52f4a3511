//! `domdisplay` and `vncdisplay`: where a running domain's VNC server
//! listens, from the port its VMM chose (recorded in the live definition).

use super::{call, fail, Target};
use crate::api::{Command, Connection, DisplayEndpoint, Reply, VNC_BASE_PORT};
use crate::cli::args::Args;
use crate::cli::{CliError, Session};

fn endpoint(c: &Connection, name: &str) -> Result<DisplayEndpoint, CliError> {
    let reply = call(
        c,
        Command::DomainDisplay {
            domain: name.to_string(),
        },
    )
    .map_err(|e| fail(e, Target::Domain(name), None))?;
    match reply {
        Reply::Text(uri) => {
            DisplayEndpoint::parse(&uri).map_err(|e| fail(e, Target::Domain(name), None))
        }
        other => Err(fail(other.unexpected("text"), Target::Domain(name), None)),
    }
}

/// `domdisplay DOMAIN`: the display's URI (`vnc://HOST:DISPLAY`).
pub(super) fn domdisplay(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let uri = endpoint(c, name)?.to_uri();
    s.print(&format!("{uri}\n"));
    s.print_extra("\n");
    Ok(())
}

/// `vncdisplay DOMAIN`: `HOST:DISPLAY` (`:DISPLAY` for a wildcard listen).
pub(super) fn vncdisplay(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    match endpoint(c, name)? {
        DisplayEndpoint::Tcp { host, port } => {
            let display = port.saturating_sub(VNC_BASE_PORT);
            let host = if host == "localhost" {
                String::new()
            } else {
                host
            };
            s.print(&format!("{host}:{display}\n"));
            s.print_extra("\n");
            Ok(())
        }
        DisplayEndpoint::Unix { .. } => Err(CliError::msg(
            "error: VNC display of the domain is a unix socket (use domdisplay)",
        )),
    }
}
