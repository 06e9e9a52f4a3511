//! Scaled sizes as libvirt and virsh write them (`unit='KiB'`, `10G`, `512MB`).

use super::error::XmlError;

/// Multiplier for a libvirt/virsh unit name; `None` for an unknown unit.
///
/// Binary units are the default (`k`, `KiB`, `M`, ...); `KB`, `MB`, ... are decimal,
/// exactly as in libvirt's `virScaleInteger`.
pub fn unit_multiplier(unit: &str) -> Option<u64> {
    let u = unit.trim();
    if u.is_empty()
        || ["b", "byte", "bytes"]
            .iter()
            .any(|b| u.eq_ignore_ascii_case(b))
    {
        return Some(1);
    }
    let mut chars = u.chars();
    let first = chars.next()?.to_ascii_lowercase();
    let rest: String = chars.collect();
    let exp = match first {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    // libvirt compares the "iB" suffix case-insensitively.
    let base: u64 = match rest.as_str() {
        "" => 1024,
        r if r.eq_ignore_ascii_case("ib") => 1024,
        "B" | "b" => 1000,
        _ => return None,
    };
    base.checked_pow(exp)
}

/// Scales `value` given in `unit` to bytes, failing on unknown units or overflow.
pub fn scale_to_bytes(value: u64, unit: &str) -> Result<u64, XmlError> {
    let mult = unit_multiplier(unit).ok_or_else(|| {
        XmlError::invalid(
            "unit",
            unit,
            "unknown unit (use b, KiB, MiB, GiB, TiB, KB, MB, GB, ...)",
        )
    })?;
    value
        .checked_mul(mult)
        .ok_or_else(|| XmlError::invalid("size", format!("{value} {unit}"), "too large"))
}

/// Parses a number and its unit attribute (default `default_unit`) into bytes.
pub fn parse_scaled(number: &str, unit: Option<&str>, default_unit: &str) -> Result<u64, XmlError> {
    let n = number.trim();
    let value: u64 = n
        .parse()
        .map_err(|_| XmlError::invalid("size", number, "not a non-negative integer"))?;
    scale_to_bytes(value, unit.unwrap_or(default_unit))
}

/// Parses a virsh size argument such as `10G`, `512M`, `1GiB`, `1000KB` or `4096`
/// (a bare number is in `default_unit`) into bytes.
pub fn parse_size_arg(arg: &str, default_unit: &str) -> Result<u64, XmlError> {
    let s = arg.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(XmlError::invalid(
            "size",
            arg,
            "expected a number with an optional unit",
        ));
    }
    let unit = if unit.is_empty() { default_unit } else { unit };
    parse_scaled(num, Some(unit), default_unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_binary_and_decimal_units() {
        assert_eq!(parse_size_arg("10G", "b").ok(), Some(10 << 30));
        assert_eq!(parse_size_arg("1GB", "b").ok(), Some(1_000_000_000));
        assert_eq!(parse_size_arg("2KiB", "b").ok(), Some(2048));
        assert_eq!(parse_size_arg("5", "KiB").ok(), Some(5120));
        assert!(parse_size_arg("5X", "b").is_err());
        assert!(parse_size_arg("99999999999E", "b").is_err());
        assert!(parse_size_arg("-1", "b").is_err());
    }

    #[test]
    fn knows_every_unit_spelling_libvirt_knows() {
        for (unit, mult) in [
            ("", 1),
            ("b", 1),
            ("B", 1),
            ("byte", 1),
            ("Bytes", 1),
            ("k", 1 << 10),
            ("K", 1 << 10),
            ("KiB", 1 << 10),
            ("kib", 1 << 10),
            ("KIB", 1 << 10),
            ("KB", 1000),
            ("kb", 1000),
            ("M", 1 << 20),
            ("MiB", 1 << 20),
            ("MB", 1_000_000),
            ("G", 1 << 30),
            ("GiB", 1 << 30),
            ("GB", 1_000_000_000),
            ("T", 1 << 40),
            ("TB", 1_000_000_000_000),
            ("P", 1 << 50),
            ("PB", 1_000_000_000_000_000),
            ("E", 1 << 60),
            ("EiB", 1 << 60),
            ("EB", 1_000_000_000_000_000_000),
        ] {
            assert_eq!(unit_multiplier(unit), Some(mult), "unit {unit:?}");
        }
        for unit in [
            "x", "Z", "ZiB", "KiBB", "Kb2", "KBi", "bits", "kiB ytes", "Ki",
        ] {
            assert_eq!(unit_multiplier(unit), None, "unit {unit:?}");
        }
        assert!(scale_to_bytes(16, "EiB").is_err(), "2^64 overflows");
        assert_eq!(scale_to_bytes(15, "EiB").ok(), Some(15 << 60));
        assert_eq!(scale_to_bytes(0, "EiB").ok(), Some(0));
    }
}
