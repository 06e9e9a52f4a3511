//! The VNC port a running VMM chose, written into the domain's live
//! definition as libvirt does for autoport, so that `dumpxml` and
//! `domdisplay` show where the display is.

use crate::vmm::display::vnc::VncEndpoint;
use crate::xml::tree::Node;
use crate::xml::Element;

/// The live definition `xml` with the first VNC `<graphics>` given the
/// port of `endpoint`; None when there is nothing to record.
pub fn with_vnc_port(xml: &str, endpoint: &VncEndpoint) -> Option<String> {
    let VncEndpoint::Tcp { port, .. } = endpoint else {
        return None;
    };
    let mut root = Element::parse(xml).ok()?;
    let devices = child_mut(&mut root, |e| e.name == "devices")?;
    let graphics = child_mut(devices, |e| {
        e.name == "graphics" && e.attr("type") == Some("vnc")
    })?;
    graphics.set_attr("port", port.to_string());
    Some(root.to_xml())
}

fn child_mut(parent: &mut Element, wanted: impl Fn(&Element) -> bool) -> Option<&mut Element> {
    parent.children.iter_mut().find_map(|n| match n {
        Node::Element(e) if wanted(e) => Some(e),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autoport_graphics_get_the_chosen_port() {
        let xml = "<domain type='kvm'><name>d</name><devices>\
                   <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>\
                   </devices></domain>";
        let endpoint = VncEndpoint::Tcp {
            address: "127.0.0.1".parse().expect("ip"),
            port: 5907,
        };
        let live = with_vnc_port(xml, &endpoint).expect("recorded");
        assert!(live.contains("port='5907'"), "{live}");
        assert!(live.contains("autoport='yes'"), "{live}");
        let unix = VncEndpoint::Unix {
            path: "/run/v.sock".into(),
        };
        assert_eq!(with_vnc_port(xml, &unix), None);
        assert_eq!(with_vnc_port("<domain/>", &endpoint), None);
    }
}
