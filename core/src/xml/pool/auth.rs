//! Secrets referenced from storage XML: `<auth>` of iSCSI and RBD pools and
//! the `<secret>` lookups that encryption shares.

use uuid::Uuid;

use super::common::{attr_string, single};
use crate::xml::{ids, Element, XmlError};

/// How a `<secret>` names the libvirt secret object it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretLookup {
    /// By the secret's UUID.
    Uuid(Uuid),
    /// By the secret's usage name (an iSCSI target, a Ceph client, ...).
    Usage(String),
}

impl SecretLookup {
    /// Reads the `uuid` or `usage` attribute of a `<secret>`; exactly one is allowed.
    pub fn from_element(el: &Element) -> Result<SecretLookup, XmlError> {
        match (el.attr("uuid"), attr_string(el, "usage")) {
            (Some(uuid), None) => ids::parse_uuid(uuid).map(SecretLookup::Uuid),
            (None, Some(usage)) => Ok(SecretLookup::Usage(usage)),
            (Some(_), Some(_)) => Err(XmlError::Conflict(
                "<secret> takes either 'uuid' or 'usage', not both".into(),
            )),
            (None, None) => Err(XmlError::MissingAttribute {
                element: el.name.clone(),
                attribute: "uuid' or 'usage".into(),
            }),
        }
    }

    /// Adds the lookup attribute to a `<secret>` being written.
    pub fn write_into(&self, el: &mut Element) {
        match self {
            SecretLookup::Uuid(u) => el.set_attr("uuid", u.to_string()),
            SecretLookup::Usage(u) => el.set_attr("usage", u.clone()),
        }
    }
}

/// The authentication scheme of a pool source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// iSCSI CHAP.
    Chap,
    /// Ceph cephx.
    Ceph,
}

impl AuthType {
    /// The name used in `<auth type=...>`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Chap => "chap",
            AuthType::Ceph => "ceph",
        }
    }
}

/// `<auth type='chap' username='admin'><secret uuid='...'/></auth>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// The scheme (pools require one).
    pub auth_type: AuthType,
    /// User name presented to the server.
    pub username: String,
    /// Optional `type` of the `<secret>` (e.g. `iscsi`, `ceph`).
    pub secret_type: Option<String>,
    /// Which secret holds the password or key.
    pub secret: SecretLookup,
}

impl Auth {
    /// Reads a pool's `<auth>`.
    pub fn from_element(el: &Element) -> Result<Auth, XmlError> {
        let username = attr_string(el, "username").ok_or_else(|| XmlError::MissingAttribute {
            element: "auth".into(),
            attribute: "username".into(),
        })?;
        let auth_type = match el.attr("type") {
            Some("chap") => AuthType::Chap,
            Some("ceph") => AuthType::Ceph,
            Some("none") | None => {
                // A pool cannot authenticate without a scheme.
                return Err(XmlError::MissingAttribute {
                    element: "auth".into(),
                    attribute: "type".into(),
                });
            }
            Some(other) => {
                return Err(XmlError::invalid(
                    "<auth type>",
                    other,
                    "unknown auth type (expected 'chap' or 'ceph')",
                ))
            }
        };
        let secret_el = single(el, "secret")?.ok_or_else(|| XmlError::missing("auth", "secret"))?;
        Ok(Auth {
            auth_type,
            username,
            secret_type: attr_string(secret_el, "type"),
            secret: SecretLookup::from_element(secret_el)?,
        })
    }

    /// The `<auth>` element as libvirt writes it.
    pub fn to_element(&self) -> Element {
        let mut secret = Element::new("secret").with_opt_attr("type", self.secret_type.clone());
        self.secret.write_into(&mut secret);
        Element::new("auth")
            .with_attr("type", self.auth_type.as_str())
            .with_attr("username", self.username.clone())
            .with_child(secret)
    }
}
