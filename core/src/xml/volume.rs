//! `<volume>`: placeholder model (name, uuid, verbatim tree) until the full
//! typed model lands. The public fields below are the stable contract.

use super::{ids, parse_root, Element, XmlError};
use uuid::Uuid;

/// A `<volume>` definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageVolume {
    /// Unique name.
    pub name: String,
    /// UUID, if the document has one.
    pub uuid: Option<Uuid>,
    raw: Element,
}

impl StorageVolume {
    /// Parses a `<volume>` document.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        let raw = parse_root(xml, "volume")?;
        let name = raw
            .child_text("name")
            .ok_or_else(|| XmlError::missing("volume", "name"))?;
        ids::validate_name("volume", &name)?;
        let uuid = raw
            .child_text("uuid")
            .map(|u| ids::parse_uuid(&u))
            .transpose()?;
        Ok(StorageVolume { name, uuid, raw })
    }

    /// Formats the definition as libvirt would.
    pub fn to_xml(&self) -> String {
        self.raw.to_xml()
    }
}
