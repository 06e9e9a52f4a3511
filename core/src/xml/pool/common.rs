//! Reading helpers shared by the pool and volume models: single children,
//! sizes with units, numbers written the C way, yes/no flags and path cleaning.

use crate::xml::{units, Element, XmlError};

/// libvirt stores sizes in `off_t`, so nothing may exceed `i64::MAX` bytes.
pub const MAX_SIZE: u64 = i64::MAX as u64;

/// The only child called `name`, or an error when it appears twice.
pub fn single<'a>(parent: &'a Element, name: &'a str) -> Result<Option<&'a Element>, XmlError> {
    let mut found = parent.children_named(name);
    let first = found.next();
    if found.next().is_some() {
        return Err(XmlError::Conflict(format!(
            "<{}> has more than one <{name}> element",
            parent.name
        )));
    }
    Ok(first)
}

/// The trimmed text of the only child `name`; `None` when absent or empty
/// (libvirt's XPath string lookups treat an empty string as missing).
pub fn single_text(parent: &Element, name: &str) -> Result<Option<String>, XmlError> {
    Ok(single(parent, name)?
        .map(|e| e.text().trim().to_string())
        .filter(|t| !t.is_empty()))
}

/// An attribute value, `None` when absent or empty.
pub fn attr_string(el: &Element, name: &str) -> Option<String> {
    el.attr(name).filter(|v| !v.is_empty()).map(str::to_string)
}

/// A `yes`/`no` attribute (libvirt's tristate bool); absent is `None`.
pub fn yes_no(el: &Element, name: &str) -> Result<Option<bool>, XmlError> {
    match el.attr(name) {
        None => Ok(None),
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        Some(other) => Err(XmlError::invalid(
            format!("<{} {name}>", el.name),
            other,
            "expected 'yes' or 'no'",
        )),
    }
}

/// Formats a tristate bool as libvirt does.
pub fn yes_no_str(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

/// Reads a size element (`<capacity unit='G'>5</capacity>`) into bytes,
/// rejecting unknown units and values above `limit`.
pub fn parse_size(el: &Element, limit: u64) -> Result<u64, XmlError> {
    let what = format!("<{}>", el.name);
    let text = el.text();
    let number = text.trim();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(XmlError::invalid(
            what,
            number,
            "expected a non-negative integer",
        ));
    }
    let value: u64 = number
        .parse()
        .map_err(|_| XmlError::invalid(&what, number, "value too large"))?;
    let unit = el.attr("unit").unwrap_or("");
    let scale = units::unit_multiplier(unit).ok_or_else(|| {
        XmlError::invalid(
            format!("{what} unit"),
            unit,
            "unknown unit (use bytes, KiB, MiB, GiB, TiB, PiB, EiB, KB, MB, GB, ...)",
        )
    })?;
    match value.checked_mul(scale) {
        Some(bytes) if bytes <= limit => Ok(bytes),
        _ => Err(XmlError::invalid(
            what,
            format!("{value} {unit}"),
            format!("value too large (the limit is {limit} bytes)"),
        )),
    }
}

/// Parses an unsigned integer the way C's `strtoul(s, NULL, 0)` reads it:
/// `0x` for hexadecimal, a leading `0` for octal, decimal otherwise.
pub fn parse_c_uint(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(hex, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        if !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return None;
        }
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }
}

/// Cleans a path as libvirt's `virFileSanitizePath` does: repeated slashes
/// collapse to one (a leading `//` alone is kept, POSIX gives it meaning)
/// and a trailing slash is dropped.
pub fn sanitize_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    if bytes.len() >= 2 && bytes[0] == b'/' && bytes[1] == b'/' && bytes.get(2) != Some(&b'/') {
        out.push_str("//");
        rest = &path[2..];
    }
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '/' && chars.peek() == Some(&'/') {
            continue;
        }
        out.push(c);
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

/// Child elements of `parent` whose names are not in `known`, kept verbatim.
pub fn unknown_children(parent: &Element, known: &[&str]) -> Vec<Element> {
    parent
        .elements()
        .filter(|e| !known.contains(&e.name.as_str()))
        .cloned()
        .collect()
}

/// A text-only element.
pub fn text_element(name: &str, text: impl Into<String>) -> Element {
    Element::new(name).with_text(text)
}

/// A size element in libvirt's output form, `<name unit='bytes'>N</name>`.
pub fn size_element(name: &str, bytes: u64) -> Element {
    Element::new(name)
        .with_attr("unit", "bytes")
        .with_text(bytes.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_paths_like_libvirt() {
        assert_eq!(
            sanitize_path("///var/////lib/libvirt/images//"),
            "/var/lib/libvirt/images"
        );
        assert_eq!(sanitize_path("//server/share"), "//server/share");
        assert_eq!(sanitize_path("/"), "/");
        assert_eq!(sanitize_path("//"), "/");
        assert_eq!(sanitize_path("samba_share/"), "samba_share");
        assert_eq!(sanitize_path("/a/../b/"), "/a/../b");
        assert_eq!(sanitize_path(""), "");
    }

    #[test]
    fn reads_c_style_numbers() {
        assert_eq!(parse_c_uint("0x1f"), Some(31));
        assert_eq!(parse_c_uint("017"), Some(15));
        assert_eq!(parse_c_uint("0"), Some(0));
        assert_eq!(parse_c_uint("42"), Some(42));
        assert_eq!(parse_c_uint("0x"), None);
        assert_eq!(parse_c_uint("09"), None);
        assert_eq!(parse_c_uint("-1"), None);
        assert_eq!(parse_c_uint("0xffffffffffffffffff"), None);
    }

    fn size(xml: &str) -> Result<u64, XmlError> {
        parse_size(&Element::parse(xml).expect("well-formed"), MAX_SIZE)
    }

    #[test]
    fn scales_sizes_and_rejects_bad_ones() {
        assert_eq!(size("<capacity>1024</capacity>").ok(), Some(1024));
        assert_eq!(size("<capacity unit='KiB'>1</capacity>").ok(), Some(1024));
        assert_eq!(size("<capacity unit='k'>1</capacity>").ok(), Some(1024));
        assert_eq!(size("<capacity unit='KB'>1</capacity>").ok(), Some(1000));
        assert_eq!(
            size("<capacity unit='GB'>10</capacity>").ok(),
            Some(10_000_000_000)
        );
        assert_eq!(
            size("<capacity unit='TiB'>1</capacity>").ok(),
            Some(1 << 40)
        );
        assert_eq!(size("<capacity unit='byte'>7</capacity>").ok(), Some(7));
        assert_eq!(size("<capacity unit='bytes'> 7 </capacity>").ok(), Some(7));
        assert_eq!(
            size("<capacity unit='EiB'>7</capacity>").ok(),
            Some(7 << 60)
        );
        assert!(
            size("<capacity unit='EiB'>8</capacity>").is_err(),
            "2^63 is over off_t"
        );
        assert!(size("<capacity>9223372036854775808</capacity>").is_err());
        assert_eq!(
            size("<capacity>9223372036854775807</capacity>").ok(),
            Some(MAX_SIZE)
        );
        assert!(size("<capacity>99999999999999999999999</capacity>").is_err());
        assert!(size("<capacity unit='parsecs'>1</capacity>").is_err());
        assert!(size("<capacity unit='KiBB'>1</capacity>").is_err());
        assert!(size("<capacity>-1</capacity>").is_err());
        assert!(size("<capacity>+1</capacity>").is_err());
        assert!(size("<capacity>1.5</capacity>").is_err());
        assert!(size("<capacity>0x10</capacity>").is_err());
        assert!(size("<capacity/>").is_err());
        assert!(size("<capacity>1 G</capacity>").is_err());
    }

    #[test]
    fn rejects_duplicate_children() {
        let el = Element::parse("<a><b>1</b><b>2</b><c/></a>").expect("well-formed");
        assert!(single(&el, "b").is_err());
        assert!(single(&el, "c").expect("single").is_some());
        assert!(single(&el, "d").expect("single").is_none());
    }
}
