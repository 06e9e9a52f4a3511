//! libvirt's test-driver `<node>` host file: placeholder until the full model lands.

use super::{parse_root, Element, XmlError};

/// A `<node>` file describing a fake host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFile {
    raw: Element,
}

impl NodeFile {
    /// Parses a `<node>` document.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        Ok(NodeFile {
            raw: parse_root(xml, "node")?,
        })
    }

    /// Formats the node file.
    pub fn to_xml(&self) -> String {
        self.raw.to_xml()
    }
}
