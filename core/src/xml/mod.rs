//! The libvirt-compatible XML model: typed definitions of domains, networks,
//! storage pools and volumes, and the test driver's `<node>` host file.
//!
//! Every type has `parse(xml) -> Result<T, XmlError>` and `to_xml() -> String`;
//! both go through [`tree::Element`], so elements the model does not know are
//! kept and written back.

pub mod domain;
pub mod error;
pub mod ids;
pub mod network;
pub mod node;
pub mod pool;
pub mod tree;
pub mod units;
pub mod volume;

pub use domain::Domain;
pub use error::XmlError;
pub use ids::MacAddr;
pub use network::Network;
pub use node::NodeFile;
pub use pool::StoragePool;
pub use tree::Element;
pub use volume::StorageVolume;

/// Parses `xml` and checks that its root element is `<expected>`.
pub fn parse_root(xml: &str, expected: &str) -> Result<Element, XmlError> {
    let root = Element::parse(xml)?;
    if root.name != expected {
        return Err(XmlError::WrongRoot {
            expected: expected.to_string(),
            found: root.name,
        });
    }
    Ok(root)
}
