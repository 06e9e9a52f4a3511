//! `<encryption>` of a volume: qcow or LUKS, with its passphrase secrets
//! and, for LUKS, the cipher and IV generator.

use crate::xml::pool::common::{attr_string, single};
use crate::xml::pool::SecretLookup;
use crate::xml::{Element, XmlError};

/// The encryption scheme of a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptionFormat {
    /// Let the backend choose.
    Default,
    /// Legacy qcow AES encryption.
    Qcow,
    /// LUKS.
    Luks,
}

impl EncryptionFormat {
    /// The name used in `<encryption format=...>`.
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptionFormat::Default => "default",
            EncryptionFormat::Qcow => "qcow",
            EncryptionFormat::Luks => "luks",
        }
    }
}

/// `<cipher name='aes' size='256' mode='xts' hash='sha256'/>` (LUKS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cipher {
    /// Algorithm.
    pub name: String,
    /// Key size in bits.
    pub size: u32,
    /// Block mode.
    pub mode: Option<String>,
    /// Hash used with the mode.
    pub hash: Option<String>,
}

/// `<ivgen name='plain64' hash='sha256'/>` (LUKS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ivgen {
    /// Generator.
    pub name: String,
    /// Hash it uses.
    pub hash: Option<String>,
}

/// `<encryption>` of a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    /// The scheme.
    pub format: EncryptionFormat,
    /// Passphrase secrets (`<secret type='passphrase' .../>`).
    pub secrets: Vec<SecretLookup>,
    /// LUKS cipher.
    pub cipher: Option<Cipher>,
    /// LUKS IV generator.
    pub ivgen: Option<Ivgen>,
}

impl Encryption {
    /// Reads an `<encryption>` element.
    pub fn from_element(el: &Element) -> Result<Encryption, XmlError> {
        let format = match el.attr("format") {
            Some("default") => EncryptionFormat::Default,
            Some("qcow") => EncryptionFormat::Qcow,
            Some("luks") => EncryptionFormat::Luks,
            Some(other) => {
                return Err(XmlError::invalid(
                    "<encryption format>",
                    other,
                    "expected 'default', 'qcow' or 'luks'",
                ))
            }
            None => {
                return Err(XmlError::MissingAttribute {
                    element: "encryption".into(),
                    attribute: "format".into(),
                })
            }
        };
        let mut secrets = Vec::new();
        for secret in el.children_named("secret") {
            match secret.attr("type") {
                Some("passphrase") => {}
                Some(other) => {
                    return Err(XmlError::invalid(
                        "<encryption><secret type>",
                        other,
                        "expected 'passphrase'",
                    ))
                }
                None => {
                    return Err(XmlError::MissingAttribute {
                        element: "secret".into(),
                        attribute: "type".into(),
                    })
                }
            }
            secrets.push(SecretLookup::from_element(secret)?);
        }
        let required = |e: &Element, name: &str| {
            attr_string(e, name).ok_or_else(|| XmlError::MissingAttribute {
                element: e.name.clone(),
                attribute: name.into(),
            })
        };
        let cipher = match single(el, "cipher")? {
            None => None,
            Some(c) => {
                let size = required(c, "size")?;
                Some(Cipher {
                    name: required(c, "name")?,
                    size: size.trim().parse().map_err(|_| {
                        XmlError::invalid("<cipher size>", &size, "expected a number of bits")
                    })?,
                    mode: attr_string(c, "mode"),
                    hash: attr_string(c, "hash"),
                })
            }
        };
        let ivgen = match single(el, "ivgen")? {
            None => None,
            Some(i) => Some(Ivgen {
                name: required(i, "name")?,
                hash: attr_string(i, "hash"),
            }),
        };
        Ok(Encryption {
            format,
            secrets,
            cipher,
            ivgen,
        })
    }

    /// The `<encryption>` element as libvirt writes it.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("encryption").with_attr("format", self.format.as_str());
        for secret in &self.secrets {
            let mut s = Element::new("secret").with_attr("type", "passphrase");
            secret.write_into(&mut s);
            el.push(s);
        }
        if let Some(c) = &self.cipher {
            el.push(
                Element::new("cipher")
                    .with_attr("name", c.name.clone())
                    .with_attr("size", c.size.to_string())
                    .with_opt_attr("mode", c.mode.clone())
                    .with_opt_attr("hash", c.hash.clone()),
            );
        }
        if let Some(i) = &self.ivgen {
            el.push(
                Element::new("ivgen")
                    .with_attr("name", i.name.clone())
                    .with_opt_attr("hash", i.hash.clone()),
            );
        }
        el
    }
}
