//! `<permissions>`: mode, owner, group and security label of a pool target,
//! a volume or a backing store.

use super::common::{single, single_text, text_element};
use crate::xml::{Element, XmlError};

/// Ownership and mode a pool target or volume is given on disk.
///
/// Every part is optional: absent ones are inherited (libvirt writes only
/// the parts that are set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// File mode bits (`0o700`), at most `0o777`.
    pub mode: Option<u32>,
    /// Owner uid.
    pub owner: Option<u32>,
    /// Group gid.
    pub group: Option<u32>,
    /// Security label (SELinux context).
    pub label: Option<String>,
}

impl Permissions {
    /// True when nothing is set, so no `<permissions>` element is written.
    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none() && self.label.is_none()
    }

    /// Reads the optional `<permissions>` child of `parent`.
    pub fn from_parent(parent: &Element) -> Result<Permissions, XmlError> {
        match single(parent, "permissions")? {
            Some(el) => Permissions::from_element(el),
            None => Ok(Permissions::default()),
        }
    }

    /// Reads a `<permissions>` element.
    pub fn from_element(el: &Element) -> Result<Permissions, XmlError> {
        let mode = match single_text(el, "mode")? {
            None => None,
            Some(text) => Some(parse_mode(&text)?),
        };
        let owner = match single(el, "owner")? {
            None => None,
            Some(o) => parse_id(&o.text(), "owner")?,
        };
        let group = match single(el, "group")? {
            None => None,
            Some(g) => parse_id(&g.text(), "group")?,
        };
        let label = single_text(el, "label")?;
        Ok(Permissions {
            mode,
            owner,
            group,
            label,
        })
    }

    /// The `<permissions>` element, or `None` when nothing is set.
    pub fn to_element(&self) -> Option<Element> {
        if self.is_empty() {
            return None;
        }
        let mut el = Element::new("permissions");
        if let Some(mode) = self.mode {
            el.push(text_element("mode", format!("0{mode:o}")));
        }
        if let Some(owner) = self.owner {
            el.push(text_element("owner", owner.to_string()));
        }
        if let Some(group) = self.group {
            el.push(text_element("group", group.to_string()));
        }
        if let Some(label) = &self.label {
            el.push(text_element("label", label.clone()));
        }
        Some(el)
    }
}

fn parse_mode(text: &str) -> Result<u32, XmlError> {
    let digits = text.trim();
    let malformed = || XmlError::invalid("<mode>", text, "expected an octal mode up to 0777");
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(malformed());
    }
    let mode = u32::from_str_radix(digits, 8).map_err(|_| malformed())?;
    if mode & !0o777 != 0 {
        return Err(malformed());
    }
    Ok(mode)
}

/// Reads a uid or gid as libvirt does (an XPath number): `-1` and
/// `4294967295` both mean "not set", which older libvirt wrote out.
fn parse_id(text: &str, what: &str) -> Result<Option<u32>, XmlError> {
    let t = text.trim();
    let malformed = || {
        XmlError::invalid(
            format!("<{what}>"),
            text,
            "expected a numeric id (or -1 for none)",
        )
    };
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    // XPath numbers may carry a fraction; only whole numbers are ids.
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b == b'0')
    {
        return Err(malformed());
    }
    let value: u64 = whole.parse().map_err(|_| malformed())?;
    match (negative, value) {
        (true, 0) => Ok(Some(0)),
        (true, 1) => Ok(None),
        (true, _) => Err(malformed()),
        (false, v) if v == u64::from(u32::MAX) => Ok(None),
        (false, v) => u32::try_from(v).map(Some).map_err(|_| malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(xml: &str) -> Result<Permissions, XmlError> {
        Permissions::from_element(&Element::parse(xml).expect("well-formed"))
    }

    #[test]
    fn reads_ids_and_modes_as_libvirt() {
        let p = perms("<permissions><mode>0700</mode><owner>0744</owner><group>-1</group><label>x_t</label></permissions>")
            .expect("valid");
        assert_eq!(p.mode, Some(0o700));
        assert_eq!(
            p.owner,
            Some(744),
            "ids are decimal even with a leading zero"
        );
        assert_eq!(p.group, None);
        assert_eq!(p.label.as_deref(), Some("x_t"));
        let p = perms(
            "<permissions><mode>0</mode><owner>4294967295</owner><group>1.0</group></permissions>",
        )
        .expect("valid");
        assert_eq!(p.mode, Some(0));
        assert_eq!(p.owner, None);
        assert_eq!(p.group, Some(1));
        let el = p.to_element().expect("not empty");
        assert!(el.to_xml().contains("<mode>00</mode>"));
    }

    #[test]
    fn rejects_malformed_permissions() {
        assert!(perms("<permissions><mode>1777</mode></permissions>").is_err());
        assert!(perms("<permissions><mode>0800</mode></permissions>").is_err());
        assert!(perms("<permissions><mode>rwx</mode></permissions>").is_err());
        assert!(perms("<permissions><owner>root</owner></permissions>").is_err());
        assert!(perms("<permissions><owner>1.5</owner></permissions>").is_err());
        assert!(perms("<permissions><owner>-2</owner></permissions>").is_err());
        assert!(perms("<permissions><owner>4294967296</owner></permissions>").is_err());
        assert!(perms("<permissions><owner/></permissions>").is_err());
        assert!(perms("<permissions><mode>0700</mode><mode>0600</mode></permissions>").is_err());
        assert!(perms("<permissions/>").expect("empty is fine").is_empty());
    }
}
