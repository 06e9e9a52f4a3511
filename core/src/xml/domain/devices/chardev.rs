//! Character devices: `<serial>`, `<console>`, `<channel>` and `<parallel>`.

use super::super::common::{DeviceInfo, ElementReader, Extra};
use crate::xml::{Element, XmlError};

/// One `<source>` of a character device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CharSource {
    /// `path` for `pty`, `file`, `dev`, `pipe`, `unix`.
    pub path: Option<String>,
    /// `mode`: `bind` (listen) or `connect`.
    pub mode: Option<String>,
    /// `host` for `tcp`/`udp`.
    pub host: Option<String>,
    /// `service` (port) for `tcp`/`udp`.
    pub service: Option<String>,
    /// Unknown attributes (`append`, `channel`, `tls`, ...) and children
    /// (`<reconnect>`, `<seclabel>`).
    pub extra: Extra,
}

/// `<target>` of a character device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CharTarget {
    /// `type`: `isa-serial`, `pci-serial`, `serial`, `virtio`, `guestfwd`, ...
    pub target_type: Option<String>,
    /// `port` number.
    pub port: Option<u32>,
    /// `name` of a virtio channel (e.g. `org.qemu.guest_agent.0`).
    pub name: Option<String>,
    /// Unknown attributes (`state`, `address`) and children (`<model name>`).
    pub extra: Extra,
}

/// A character device (serial port, console, channel or parallel port).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CharDevice {
    /// Host side: `pty` (default), `unix`, `file`, `tcp`, `udp`, `dev`,
    /// `pipe`, `stdio`, `null`, `vc`, `spicevmc`, `spiceport`, ...
    pub char_type: String,
    /// `<source>` elements (UDP may have a connect and a bind source).
    pub sources: Vec<CharSource>,
    /// `<protocol type>` for TCP (`raw`, `telnet`, `telnets`, `tls`).
    pub protocol: Option<String>,
    /// `<target>`.
    pub target: Option<CharTarget>,
    /// Alias and address.
    pub info: DeviceInfo,
    /// Unknown attributes (`tty`) and children (`<log>`).
    pub extra: Extra,
}

impl CharDevice {
    /// Reads a character device element.
    pub fn parse(el: &Element) -> Result<CharDevice, XmlError> {
        let mut r = ElementReader::new(el);
        let char_type = r.attr_string("type").unwrap_or_else(|| "pty".to_string());
        let mut sources = Vec::new();
        for s in r.children("source") {
            let mut sr = ElementReader::new(s);
            let mode = sr.attr_string("mode");
            if let Some(m) = &mode {
                if m != "bind" && m != "connect" {
                    return Err(XmlError::invalid(
                        format!("<{}><source mode>", el.name),
                        m.clone(),
                        "expected 'bind' or 'connect'",
                    ));
                }
            }
            sources.push(CharSource {
                path: sr.attr_string("path"),
                mode,
                host: sr.attr_string("host"),
                service: sr.attr_string("service"),
                extra: sr.finish(),
            });
        }
        if matches!(char_type.as_str(), "file" | "dev" | "pipe")
            && !sources.iter().any(|s| s.path.is_some())
        {
            return Err(XmlError::MissingAttribute {
                element: format!("{}><source", el.name),
                attribute: "path".to_string(),
            });
        }
        let protocol = match r.child("protocol")? {
            Some(p) => Some(p.req_attr("type")?.to_string()),
            None => None,
        };
        let target = match r.child("target")? {
            Some(t) => {
                let mut tr = ElementReader::new(t);
                let target_type = tr.attr_string("type");
                let port = tr.attr_parse::<u32>("port")?;
                let name = tr.attr_string("name");
                Some(CharTarget {
                    target_type,
                    port,
                    name,
                    extra: tr.finish(),
                })
            }
            None => None,
        };
        let info = DeviceInfo::parse(&mut r)?;
        let mut extra = r.finish();
        extra.sort_children_by_key(|n| usize::from(n != "log"));
        Ok(CharDevice {
            char_type,
            sources,
            protocol,
            target,
            info,
            extra,
        })
    }

    /// The first source's path (the pty or socket a console client opens).
    pub fn path(&self) -> Option<&str> {
        self.sources.iter().find_map(|s| s.path.as_deref())
    }

    /// Formats the device as `<tag>` (`serial`, `console`, `channel`, `parallel`).
    pub fn to_element(&self, tag: &str) -> Element {
        let mut el = Element::new(tag).with_attr("type", self.char_type.clone());
        self.extra.apply_attrs(&mut el);
        for s in &self.sources {
            let mut se = Element::new("source")
                .with_opt_attr("mode", s.mode.clone())
                .with_opt_attr("host", s.host.clone())
                .with_opt_attr("service", s.service.clone())
                .with_opt_attr("path", s.path.clone());
            s.extra.apply(&mut se);
            el.push(se);
        }
        if let Some(p) = &self.protocol {
            el.push(Element::new("protocol").with_attr("type", p.clone()));
        }
        for c in self.extra.children.iter().filter(|c| c.name == "log") {
            el.push(c.clone());
        }
        if let Some(t) = &self.target {
            let mut te = Element::new("target")
                .with_opt_attr("type", t.target_type.clone())
                .with_opt_attr("name", t.name.clone())
                .with_opt_attr("port", t.port.map(|p| p.to_string()));
            t.extra.apply(&mut te);
            el.push(te);
        }
        for c in self.extra.children.iter().filter(|c| c.name != "log") {
            el.push(c.clone());
        }
        if let Some(t) = &self.extra.text {
            el.children.push(crate::xml::tree::Node::Text(t.clone()));
        }
        self.info.push_alias_address(&mut el);
        el
    }
}
