//! Identifiers shared by every format: UUIDs, MAC addresses and object names.

use super::error::XmlError;
use uuid::Uuid;

/// Parses a UUID as libvirt accepts it: 32 hex digits, dashes optional.
pub fn parse_uuid(s: &str) -> Result<Uuid, XmlError> {
    let hex: String = s
        .trim()
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(XmlError::invalid(
            "UUID",
            s,
            "expected 32 hexadecimal digits",
        ));
    }
    Uuid::parse_str(&hex).map_err(|e| XmlError::invalid("UUID", s, e.to_string()))
}

/// A MAC address, formatted lower-case with colons as libvirt does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Parses `52:54:00:12:34:56` (upper or lower case).
    pub fn parse(s: &str) -> Result<MacAddr, XmlError> {
        let parts: Vec<&str> = s.trim().split(':').collect();
        if parts.len() != 6 {
            return Err(XmlError::invalid(
                "MAC address",
                s,
                "expected six colon-separated bytes",
            ));
        }
        let mut out = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 2 {
                return Err(XmlError::invalid(
                    "MAC address",
                    s,
                    "each byte needs one or two hex digits",
                ));
            }
            out[i] = u8::from_str_radix(p, 16)
                .map_err(|_| XmlError::invalid("MAC address", s, "not hexadecimal"))?;
        }
        Ok(MacAddr(out))
    }

    /// True for a multicast address (lowest bit of the first byte set).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }

    /// A random address in QEMU/libvirt's locally administered 52:54:00 range.
    pub fn random_kvm() -> MacAddr {
        let b = Uuid::new_v4().into_bytes();
        MacAddr([0x52, 0x54, 0x00, b[0], b[1], b[2]])
    }
}

impl std::fmt::Display for MacAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// Checks an object name (domain, network, pool, volume) as libvirt does.
pub fn validate_name(kind: &str, name: &str) -> Result<(), XmlError> {
    if name.is_empty() {
        return Err(XmlError::invalid(
            format!("{kind} name"),
            name,
            "name must not be empty",
        ));
    }
    if name.contains('/') {
        return Err(XmlError::invalid(
            format!("{kind} name"),
            name,
            "name cannot contain '/'",
        ));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(XmlError::invalid(
            format!("{kind} name"),
            name,
            "name cannot contain control characters",
        ));
    }
    Ok(())
}
