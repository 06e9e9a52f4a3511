//! `<hostdev>`: host devices passed through to the guest.

use super::super::common::{normalize, DeviceInfo, ElementReader, Extra};
use crate::xml::{Element, XmlError};

/// `<hostdev mode='subsystem' type='pci' managed='yes'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hostdev {
    /// `subsystem` (default) or `capabilities`.
    pub mode: Option<String>,
    /// `pci`, `usb`, `scsi`, `scsi_host`, `mdev` (or `storage`, `misc`, `net`).
    pub hostdev_type: Option<String>,
    /// `managed='yes'`: detach from the host driver automatically.
    pub managed: Option<bool>,
    /// `<source>`, verbatim (its shape depends on the type).
    pub source: Option<Element>,
    /// Alias, boot order and address.
    pub info: DeviceInfo,
    /// Unknown attributes and children (`<driver>`, `<rom>`, `<readonly>`, ...).
    pub extra: Extra,
}

impl Hostdev {
    /// Reads `<hostdev>`.
    pub fn parse(el: &Element) -> Result<Hostdev, XmlError> {
        let mut r = ElementReader::new(el);
        let mode = r.attr_string("mode");
        let hostdev_type = r.attr_string("type");
        let managed = r.attr_switch("managed")?;
        let source = r.child("source")?.map(|s| normalize(s.clone()));
        if source.is_none() {
            return Err(XmlError::missing("hostdev", "source"));
        }
        let info = DeviceInfo::parse(&mut r)?;
        Ok(Hostdev {
            mode,
            hostdev_type,
            managed,
            source,
            info,
            extra: r.finish(),
        })
    }

    /// Formats `<hostdev>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("hostdev")
            .with_opt_attr("mode", self.mode.clone())
            .with_opt_attr("type", self.hostdev_type.clone())
            .with_opt_attr("managed", self.managed.map(super::super::common::yes_no));
        self.extra.apply_attrs(&mut el);
        el.push_opt(self.source.clone());
        self.extra.apply_children(&mut el);
        self.info.push_boot(&mut el);
        self.info.push_alias_address(&mut el);
        el
    }
}
