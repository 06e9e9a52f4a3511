//! `<interface>`: network cards.

use super::super::common::{DeviceInfo, ElementReader, Extra};
use crate::xml::tree::Node;
use crate::xml::{Element, MacAddr, XmlError};

/// `<source network|bridge|dev mode portgroup>` of an interface.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterfaceSource {
    /// `network` for `type='network'`.
    pub network: Option<String>,
    /// `bridge` for `type='bridge'`.
    pub bridge: Option<String>,
    /// `dev` for `type='direct'` (macvtap on a host NIC).
    pub dev: Option<String>,
    /// `mode` of a direct interface (`vepa`, `bridge`, `private`, `passthrough`).
    pub mode: Option<String>,
    /// `portgroup` of a network.
    pub portgroup: Option<String>,
    /// Unknown attributes (`address`, `port`, `path`, ...) and children.
    pub extra: Extra,
}

/// `<interface type='network'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interface {
    /// `network`, `bridge`, `user`, `direct`, `ethernet`, `hostdev`,
    /// `vhostuser`, `server`, `client`, `mcast`, `udp`, `vdpa`, `null`, `vds`.
    pub if_type: String,
    /// `<mac address>`; libvirt generates one when absent.
    pub mac: Option<MacAddr>,
    /// Unknown attributes of `<mac>` (`type`, `check`).
    pub mac_extra: Vec<(String, String)>,
    /// `<source>`.
    pub source: Option<InterfaceSource>,
    /// `<target dev>`: the host-side tap device name.
    pub target_dev: Option<String>,
    /// Unknown attributes of `<target>` (`managed`).
    pub target_extra: Vec<(String, String)>,
    /// `<model type>` (`virtio`, `e1000e`, `rtl8139`, ...).
    pub model: Option<String>,
    /// `<link state>`: `Some(false)` when the link is down.
    pub link_up: Option<bool>,
    /// `<mtu size>`.
    pub mtu: Option<u32>,
    /// Alias, boot order and address.
    pub info: DeviceInfo,
    /// Unknown attributes (`trustGuestRxFilters`) and children
    /// (`<driver>`, `<bandwidth>`, `<vlan>`, `<virtualport>`, `<ip>`, ...).
    pub extra: Extra,
}

impl Interface {
    /// Reads `<interface>`.
    pub fn parse(el: &Element) -> Result<Interface, XmlError> {
        let mut r = ElementReader::new(el);
        let if_type = r.req_attr("type")?.to_string();
        let (mac, mac_extra) = match r.child("mac")? {
            Some(m) => {
                let mut mr = ElementReader::new(m);
                let text = mr.req_attr("address")?;
                let mac = MacAddr::parse(text)?;
                if mac.is_multicast() {
                    return Err(XmlError::invalid(
                        "MAC address",
                        text,
                        "expected a unicast MAC address, found multicast",
                    ));
                }
                (Some(mac), mr.finish().attrs)
            }
            None => (None, Vec::new()),
        };
        let source = match r.child("source")? {
            Some(s) => {
                let mut sr = ElementReader::new(s);
                Some(InterfaceSource {
                    network: sr.attr_string("network"),
                    bridge: sr.attr_string("bridge"),
                    dev: sr.attr_string("dev"),
                    mode: sr.attr_string("mode"),
                    portgroup: sr.attr_string("portgroup"),
                    extra: sr.finish(),
                })
            }
            None => None,
        };
        let (target_dev, target_extra) = match r.child("target")? {
            Some(t) => {
                let mut tr = ElementReader::new(t);
                let dev = tr.attr_string("dev");
                (dev, tr.finish().attrs)
            }
            None => (None, Vec::new()),
        };
        let model = match r.child("model")? {
            Some(m) => Some(m.req_attr("type")?.to_string()),
            None => None,
        };
        let link_up = match r.child("link")? {
            Some(l) => match l.req_attr("state")? {
                "up" => Some(true),
                "down" => Some(false),
                other => {
                    return Err(XmlError::invalid(
                        "<link state>",
                        other,
                        "expected 'up' or 'down'",
                    ))
                }
            },
            None => None,
        };
        let mtu = match r.child("mtu")? {
            Some(m) => {
                let v = m.req_attr("size")?;
                Some(v.trim().parse::<u32>().map_err(|_| {
                    XmlError::invalid("<mtu size>", v, "expected a positive integer")
                })?)
            }
            None => None,
        };
        let info = DeviceInfo::parse(&mut r)?;
        Ok(Interface {
            if_type,
            mac,
            mac_extra,
            source,
            target_dev,
            target_extra,
            model,
            link_up,
            mtu,
            info,
            extra: {
                let mut extra = r.finish();
                extra.sort_children_by_key(|n| usize::from(AFTER_MODEL.contains(&n)));
                extra
            },
        })
    }

    /// Formats `<interface>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("interface").with_attr("type", self.if_type.clone());
        self.extra.apply_attrs(&mut el);
        if let Some(m) = &self.mac {
            let mut me = Element::new("mac").with_attr("address", m.to_string());
            me.attrs.extend(self.mac_extra.iter().cloned());
            el.push(me);
        }
        if let Some(s) = &self.source {
            let mut se = Element::new("source")
                .with_opt_attr("network", s.network.clone())
                .with_opt_attr("portgroup", s.portgroup.clone())
                .with_opt_attr("bridge", s.bridge.clone())
                .with_opt_attr("dev", s.dev.clone())
                .with_opt_attr("mode", s.mode.clone());
            s.extra.apply(&mut se);
            el.push(se);
        }
        // <virtualport>, <ip>, <route>, <script>, <backend> ... are written
        // where libvirt puts them: after <source>, before <target>.
        for c in &self.extra.children {
            if !AFTER_MODEL.contains(&c.name.as_str()) {
                el.push(c.clone());
            }
        }
        if self.target_dev.is_some() || !self.target_extra.is_empty() {
            let mut te = Element::new("target").with_opt_attr("dev", self.target_dev.clone());
            te.attrs.extend(self.target_extra.iter().cloned());
            el.push(te);
        }
        if let Some(m) = &self.model {
            el.push(Element::new("model").with_attr("type", m.clone()));
        }
        for c in &self.extra.children {
            if AFTER_MODEL.contains(&c.name.as_str()) {
                el.push(c.clone());
            }
        }
        if let Some(up) = self.link_up {
            el.push(Element::new("link").with_attr("state", if up { "up" } else { "down" }));
        }
        if let Some(m) = self.mtu {
            el.push(Element::new("mtu").with_attr("size", m.to_string()));
        }
        if let Some(t) = &self.extra.text {
            el.children.push(Node::Text(t.clone()));
        }
        self.info.push_boot(&mut el);
        self.info.push_alias_address(&mut el);
        el
    }
}

/// Verbatim children libvirt writes after `<model>`.
const AFTER_MODEL: &[&str] = &[
    "driver",
    "filterref",
    "tune",
    "teaming",
    "bandwidth",
    "vlan",
    "port",
    "coalesce",
    "rom",
    "acpi",
];
