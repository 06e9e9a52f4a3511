//! `<pool>`: placeholder model (name, uuid, verbatim tree) until the full
//! typed model lands. The public fields below are the stable contract.

use super::{ids, parse_root, Element, XmlError};
use uuid::Uuid;

/// A `<pool>` definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoragePool {
    /// Unique name.
    pub name: String,
    /// UUID, if the document has one.
    pub uuid: Option<Uuid>,
    raw: Element,
}

impl StoragePool {
    /// Parses a `<pool>` document.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        let raw = parse_root(xml, "pool")?;
        let name = raw
            .child_text("name")
            .ok_or_else(|| XmlError::missing("pool", "name"))?;
        ids::validate_name("pool", &name)?;
        let uuid = raw
            .child_text("uuid")
            .map(|u| ids::parse_uuid(&u))
            .transpose()?;
        Ok(StoragePool { name, uuid, raw })
    }

    /// Formats the definition as libvirt would.
    pub fn to_xml(&self) -> String {
        self.raw.to_xml()
    }
}
