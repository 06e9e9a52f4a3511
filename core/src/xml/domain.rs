//! `<domain>`: placeholder model (name, uuid, verbatim tree) until the full
//! typed model lands. The public fields below are the stable contract.

use super::{ids, parse_root, Element, XmlError};
use uuid::Uuid;

/// A `<domain>` definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// Unique name.
    pub name: String,
    /// UUID, if the document has one.
    pub uuid: Option<Uuid>,
    raw: Element,
}

impl Domain {
    /// Parses a `<domain>` document.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        let raw = parse_root(xml, "domain")?;
        let name = raw
            .child_text("name")
            .ok_or_else(|| XmlError::missing("domain", "name"))?;
        ids::validate_name("domain", &name)?;
        let uuid = raw
            .child_text("uuid")
            .map(|u| ids::parse_uuid(&u))
            .transpose()?;
        Ok(Domain { name, uuid, raw })
    }

    /// Formats the definition as libvirt would.
    pub fn to_xml(&self) -> String {
        self.raw.to_xml()
    }
}
