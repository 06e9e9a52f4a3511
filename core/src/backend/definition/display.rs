//! A running domain's display and serial console, read from its live
//! definition the way `virsh domdisplay` and `virsh console` find them.

use crate::api::{ApiError, DisplayEndpoint};
use crate::vmm::display::vnc::VncEndpoint;
use crate::xml::{Domain, Element};

/// Where a running VMM's VNC server listens (the port it took when the
/// definition left the choice to it), as clients reach it.
pub fn vmm_display(endpoint: &VncEndpoint) -> DisplayEndpoint {
    match endpoint {
        VncEndpoint::Tcp { address, port } => DisplayEndpoint::Tcp {
            host: if address.is_unspecified() {
                "localhost".to_string()
            } else {
                address.to_string()
            },
            port: *port,
        },
        VncEndpoint::Unix { path } => DisplayEndpoint::Unix {
            path: path.display().to_string(),
        },
    }
}

/// The first VNC server of the definition: its unix socket, or its listen
/// address and the port in the definition. A port still to be chosen
/// (`-1` / autoport) is an error: a running VMM records the one it took.
pub fn vnc_display(el: &Element) -> Result<DisplayEndpoint, ApiError> {
    let domain = Domain::parse(&el.to_xml())?;
    let graphics = domain
        .devices
        .graphics
        .iter()
        .find(|g| g.graphics_type == "vnc")
        .ok_or_else(|| ApiError::invalid_op("the domain has no VNC display"))?;
    let socket = graphics
        .socket
        .clone()
        .or_else(|| graphics.listens.iter().find_map(|l| l.socket.clone()));
    if let Some(path) = socket {
        return Ok(DisplayEndpoint::Unix { path });
    }
    let port = graphics
        .port
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| ApiError::invalid_op("the VNC display has no port assigned yet"))?;
    let address = graphics
        .listens
        .iter()
        .find_map(|l| l.address.clone())
        .or_else(|| graphics.listen.clone())
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty());
    // A wildcard address is reached through the loopback, as virsh does.
    let host = match address.as_deref() {
        None | Some("0.0.0.0") | Some("::") => "localhost".to_string(),
        Some(address) => address.to_string(),
    };
    Ok(DisplayEndpoint::Tcp { host, port })
}

/// The path of the first serial port or console that is a unix socket the
/// hypervisor listens on (`<serial type='unix'><source mode='bind'>`).
pub fn serial_socket(el: &Element) -> Result<Option<String>, ApiError> {
    let domain = Domain::parse(&el.to_xml())?;
    let devices = &domain.devices;
    Ok(devices
        .serials
        .iter()
        .chain(devices.consoles.iter())
        .filter(|c| c.char_type == "unix")
        .flat_map(|c| c.sources.iter())
        .find(|s| s.mode.as_deref().unwrap_or("bind") == "bind")
        .and_then(|s| s.path.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(devices: &str) -> Element {
        crate::xml::parse_root(
            &format!(
                "<domain type='kvm'><name>d</name><memory>65536</memory>\
                 <os><type>hvm</type></os><devices>{devices}</devices></domain>"
            ),
            "domain",
        )
        .expect("parses")
    }

    #[test]
    fn vnc_displays_and_serial_sockets() {
        let tcp = domain("<graphics type='vnc' port='5903' listen='0.0.0.0'/>");
        assert_eq!(
            vnc_display(&tcp).expect("vnc").to_uri(),
            "vnc://localhost:3"
        );
        let listen = domain(
            "<graphics type='vnc' port='5910'><listen type='address' address='127.0.0.1'/></graphics>",
        );
        assert_eq!(
            vnc_display(&listen).expect("vnc").to_uri(),
            "vnc://127.0.0.1:10"
        );
        let unix = domain("<graphics type='vnc' socket='/run/v.sock'/>");
        assert_eq!(
            vnc_display(&unix).expect("vnc").to_uri(),
            "vnc+unix:///run/v.sock"
        );
        let auto = domain("<graphics type='vnc' port='-1' autoport='yes'/>");
        assert!(vnc_display(&auto).is_err());
        assert!(vnc_display(&domain("")).is_err());

        let serial = domain(
            "<serial type='pty'/><serial type='unix'><source mode='bind' path='/run/s.sock'/></serial>",
        );
        assert_eq!(
            serial_socket(&serial).expect("parses").as_deref(),
            Some("/run/s.sock")
        );
        assert_eq!(
            serial_socket(&domain("<serial type='pty'/>")).expect("parses"),
            None
        );
    }
}
