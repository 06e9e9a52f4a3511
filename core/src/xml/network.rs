//! `<network>`: placeholder model (name, uuid, verbatim tree) until the full
//! typed model lands. The public fields below are the stable contract.

use super::{ids, parse_root, Element, XmlError};
use uuid::Uuid;

/// A `<network>` definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Unique name.
    pub name: String,
    /// UUID, if the document has one.
    pub uuid: Option<Uuid>,
    raw: Element,
}

impl Network {
    /// Parses a `<network>` document.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        let raw = parse_root(xml, "network")?;
        let name = raw
            .child_text("name")
            .ok_or_else(|| XmlError::missing("network", "name"))?;
        ids::validate_name("network", &name)?;
        let uuid = raw
            .child_text("uuid")
            .map(|u| ids::parse_uuid(&u))
            .transpose()?;
        Ok(Network { name, uuid, raw })
    }

    /// Formats the definition as libvirt would.
    pub fn to_xml(&self) -> String {
        self.raw.to_xml()
    }
}
