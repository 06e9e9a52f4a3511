//! Building blocks shared by every part of the domain model: a reader that
//! remembers which attributes and children the typed model consumed, the
//! verbatim remainder ([`Extra`]), device addresses and small value parsers.

use std::str::FromStr;

use crate::xml::tree::{Element, Node};
use crate::xml::XmlError;

/// Attributes, child elements and text of an element that the typed model
/// does not know, kept verbatim so that parse → format loses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extra {
    /// Unknown attributes, in document order.
    pub attrs: Vec<(String, String)>,
    /// Unknown child elements, in document order.
    pub children: Vec<Element>,
    /// Text content the model does not read (trimmed; `None` when blank).
    pub text: Option<String>,
}

impl Extra {
    /// True when nothing unknown was found.
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty() && self.children.is_empty() && self.text.is_none()
    }

    /// Orders the unknown children by `group` (stable), the way the
    /// formatter places them, so that parse → format → parse is a fixed point.
    pub fn sort_children_by_key(&mut self, group: impl Fn(&str) -> usize) {
        self.children.sort_by_key(|c| group(&c.name));
    }

    /// Writes the unknown attributes onto `el` (after the known ones).
    pub fn apply_attrs(&self, el: &mut Element) {
        for (k, v) in &self.attrs {
            el.attrs.push((k.clone(), v.clone()));
        }
    }

    /// Writes the unknown children and text into `el` (after the known ones).
    pub fn apply_children(&self, el: &mut Element) {
        if let Some(t) = &self.text {
            el.children.push(Node::Text(t.clone()));
        }
        for c in &self.children {
            el.push(c.clone());
        }
    }

    /// Writes attributes, children and text.
    pub fn apply(&self, el: &mut Element) {
        self.apply_attrs(el);
        self.apply_children(el);
    }
}

/// Normalises a verbatim element the way the formatter writes it: in elements
/// that hold child elements or comments, text is trimmed and blank text
/// dropped. This makes a verbatim subtree a fixed point of parse → format.
pub fn normalize(mut el: Element) -> Element {
    let mixed = el.children.iter().any(|n| !matches!(n, Node::Text(_)));
    let children = std::mem::take(&mut el.children);
    for n in children {
        match n {
            Node::Element(e) => el.children.push(Node::Element(normalize(e))),
            Node::Text(t) if mixed => {
                let t = t.trim();
                if !t.is_empty() {
                    el.children.push(Node::Text(t.to_string()));
                }
            }
            other => el.children.push(other),
        }
    }
    el.line = 0;
    el
}

/// Reads an element's attributes and children while recording which ones the
/// typed model used; [`ElementReader::finish`] returns the rest as [`Extra`].
pub struct ElementReader<'a> {
    el: &'a Element,
    used_attrs: Vec<bool>,
    used_children: Vec<bool>,
    used_text: bool,
}

impl<'a> ElementReader<'a> {
    /// Starts reading `el`.
    pub fn new(el: &'a Element) -> Self {
        ElementReader {
            el,
            used_attrs: vec![false; el.attrs.len()],
            used_children: vec![false; el.children.len()],
            used_text: false,
        }
    }

    /// The element being read.
    pub fn element(&self) -> &'a Element {
        self.el
    }

    /// The element's name, for error messages.
    pub fn name(&self) -> &'a str {
        &self.el.name
    }

    /// Attribute `name`, marked as used.
    pub fn attr(&mut self, name: &str) -> Option<&'a str> {
        let el = self.el;
        let i = el.attrs.iter().position(|(k, _)| k == name)?;
        self.used_attrs[i] = true;
        Some(el.attrs[i].1.as_str())
    }

    /// Attribute `name` as an owned string.
    pub fn attr_string(&mut self, name: &str) -> Option<String> {
        self.attr(name).map(str::to_string)
    }

    /// Required attribute `name`.
    pub fn req_attr(&mut self, name: &str) -> Result<&'a str, XmlError> {
        self.attr(name).ok_or_else(|| XmlError::MissingAttribute {
            element: self.el.name.clone(),
            attribute: name.to_string(),
        })
    }

    /// Attribute `name` parsed with `FromStr`.
    pub fn attr_parse<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, XmlError> {
        let element = self.el.name.clone();
        self.attr(name)
            .map(|v| parse_value(&element, name, v))
            .transpose()
    }

    /// Attribute `name` as an unsigned integer, decimal or `0x` hexadecimal.
    pub fn attr_uint(&mut self, name: &str) -> Result<Option<u64>, XmlError> {
        let element = self.el.name.clone();
        self.attr(name)
            .map(|v| {
                parse_uint(v).ok_or_else(|| {
                    XmlError::invalid(
                        format!("<{element} {name}>"),
                        v,
                        "expected a non-negative integer",
                    )
                })
            })
            .transpose()
    }

    /// Attribute `name` as a `yes`/`no` (or `on`/`off`) switch.
    pub fn attr_switch(&mut self, name: &str) -> Result<Option<bool>, XmlError> {
        let element = self.el.name.clone();
        self.attr(name)
            .map(|v| parse_switch(&element, name, v))
            .transpose()
    }

    /// Attribute `name` as one of the values of enum `T`.
    pub fn attr_enum<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, XmlError> {
        self.attr_parse(name)
    }

    /// The only child called `name`, marked as used; two of them are an error.
    pub fn child(&mut self, name: &str) -> Result<Option<&'a Element>, XmlError> {
        let el = self.el;
        let mut found: Option<(usize, &'a Element)> = None;
        for (i, n) in el.children.iter().enumerate() {
            if let Node::Element(e) = n {
                if e.name == name {
                    if found.is_some() {
                        return Err(XmlError::Conflict(format!(
                            "element <{name}> may appear only once in <{}>",
                            el.name
                        )));
                    }
                    found = Some((i, e));
                }
            }
        }
        Ok(found.map(|(i, e)| {
            self.used_children[i] = true;
            e
        }))
    }

    /// All children called `name`, marked as used.
    pub fn children(&mut self, name: &str) -> Vec<&'a Element> {
        let el = self.el;
        let mut out = Vec::new();
        for (i, n) in el.children.iter().enumerate() {
            if let Node::Element(e) = n {
                if e.name == name {
                    self.used_children[i] = true;
                    out.push(e);
                }
            }
        }
        out
    }

    /// Trimmed text of the only child called `name`.
    pub fn child_text(&mut self, name: &str) -> Result<Option<String>, XmlError> {
        Ok(self.child(name)?.map(|c| c.text().trim().to_string()))
    }

    /// Verbatim copy of the only child called `name`.
    pub fn child_verbatim(&mut self, name: &str) -> Result<Option<Element>, XmlError> {
        Ok(self.child(name)?.map(|c| normalize(c.clone())))
    }

    /// The element's own trimmed text, marked as used.
    pub fn text(&mut self) -> String {
        self.used_text = true;
        self.el.text().trim().to_string()
    }

    /// Calls `f` on every child element not used yet, in document order, and
    /// marks those for which it returns `true` as used. Lets a parent read a
    /// group of sibling kinds in their document order.
    pub fn each_unused(
        &mut self,
        mut f: impl FnMut(&'a Element) -> Result<bool, XmlError>,
    ) -> Result<(), XmlError> {
        let el = self.el;
        for (i, n) in el.children.iter().enumerate() {
            if self.used_children[i] {
                continue;
            }
            if let Node::Element(e) = n {
                if f(e)? {
                    self.used_children[i] = true;
                }
            }
        }
        Ok(())
    }

    /// What was not used, kept verbatim.
    pub fn finish(self) -> Extra {
        let mut extra = Extra::default();
        for (i, a) in self.el.attrs.iter().enumerate() {
            if !self.used_attrs[i] {
                extra.attrs.push(a.clone());
            }
        }
        for (i, n) in self.el.children.iter().enumerate() {
            if self.used_children[i] {
                continue;
            }
            if let Node::Element(e) = n {
                extra.children.push(normalize(e.clone()));
            }
        }
        if !self.used_text {
            let t = self.el.text();
            let t = t.trim();
            if !t.is_empty() {
                extra.text = Some(t.to_string());
            }
        }
        extra
    }
}

/// Parses `value` of attribute `attr` on `<element>` with `FromStr`.
pub fn parse_value<T: FromStr>(element: &str, attr: &str, value: &str) -> Result<T, XmlError> {
    value.trim().parse().map_err(|_| {
        XmlError::invalid(format!("<{element} {attr}>"), value, "value not recognised")
    })
}

/// An unsigned integer in decimal or `0x` hexadecimal.
pub fn parse_uint(v: &str) -> Option<u64> {
    let v = v.trim();
    if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else {
        v.parse().ok()
    }
}

/// A `yes`/`no`/`on`/`off` switch.
pub fn parse_switch(element: &str, attr: &str, v: &str) -> Result<bool, XmlError> {
    match v.trim() {
        "yes" | "on" => Ok(true),
        "no" | "off" => Ok(false),
        _ => Err(XmlError::invalid(
            format!("<{element} {attr}>"),
            v,
            "expected 'yes' or 'no'",
        )),
    }
}

/// Formats a switch as `yes`/`no`.
pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Formats a switch as `on`/`off`.
pub fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// Declares a string-valued enum with the exact spellings libvirt uses.
/// Every enum gets `as_str`, `FromStr` and `Display`.
macro_rules! xml_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The spelling used in the XML.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use xml_enum;

/// Where a device sits on its bus: `<address type='pci' domain=... bus=...>`,
/// `drive`, `usb`, `virtio-serial`, `ccw`, ... Attributes other than `type`
/// are kept as written; PCI addresses are range-checked as libvirt does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// Address type (`pci`, `drive`, `usb`, `virtio-serial`, `ccid`, ...).
    pub kind: String,
    /// The remaining attributes, in document order.
    pub attrs: Vec<(String, String)>,
    /// Child elements (e.g. `<zpci>`), verbatim.
    pub children: Vec<Element>,
}

impl Address {
    /// Reads an `<address>` element.
    pub fn parse(el: &Element) -> Result<Address, XmlError> {
        let mut r = ElementReader::new(el);
        let kind = r.req_attr("type")?.to_string();
        let extra = r.finish();
        let addr = Address {
            kind,
            attrs: extra.attrs,
            children: extra.children,
        };
        if addr.kind == "pci" {
            addr.check_pci()?;
        }
        Ok(addr)
    }

    /// Attribute `name` of the address.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The (domain, bus, slot, function) of a PCI address.
    pub fn pci(&self) -> Option<(u32, u8, u8, u8)> {
        if self.kind != "pci" {
            return None;
        }
        let f = |n: &str| self.get(n).and_then(parse_uint).unwrap_or(0);
        Some((
            u32::try_from(f("domain")).ok()?,
            u8::try_from(f("bus")).ok()?,
            u8::try_from(f("slot")).ok()?,
            u8::try_from(f("function")).ok()?,
        ))
    }

    fn check_pci(&self) -> Result<(), XmlError> {
        for (name, max) in [
            ("domain", 0xFFFF_FFFFu64),
            ("bus", 0xFF),
            ("slot", 0x1F),
            ("function", 7),
        ] {
            if let Some(v) = self.get(name) {
                let n = parse_uint(v).ok_or_else(|| {
                    XmlError::invalid(format!("PCI address {name}"), v, "not a number")
                })?;
                if n > max {
                    return Err(XmlError::invalid(
                        format!("PCI address {name}"),
                        v,
                        format!("must be at most {max:#x}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Formats the `<address>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("address").with_attr("type", self.kind.clone());
        for (k, v) in &self.attrs {
            el.attrs.push((k.clone(), v.clone()));
        }
        for c in &self.children {
            el.push(c.clone());
        }
        el
    }
}

/// Fields every device shares: `<alias name>`, `<boot order>`, `<address>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceInfo {
    /// `<alias name='...'/>`: the device's id (user aliases start with `ua-`).
    pub alias: Option<String>,
    /// `<boot order='N'/>`: per-device boot priority (1 is first).
    pub boot_order: Option<u32>,
    /// Extra attributes of `<boot>` (e.g. `loadparm`).
    pub boot_extra: Vec<(String, String)>,
    /// Where the device sits on its bus.
    pub address: Option<Address>,
}

impl DeviceInfo {
    /// Reads `<alias>`, `<boot>` and `<address>` from a device element.
    pub fn parse(r: &mut ElementReader<'_>) -> Result<DeviceInfo, XmlError> {
        let alias = match r.child("alias")? {
            Some(a) => Some(a.req_attr("name")?.to_string()),
            None => None,
        };
        let (boot_order, boot_extra) = match r.child("boot")? {
            Some(b) => {
                let mut br = ElementReader::new(b);
                let order: u32 = parse_value("boot", "order", br.req_attr("order")?)?;
                if order == 0 {
                    return Err(XmlError::invalid(
                        "<boot order>",
                        "0",
                        "boot order starts at 1",
                    ));
                }
                (Some(order), br.finish().attrs)
            }
            None => (None, Vec::new()),
        };
        let address = r.child("address")?.map(Address::parse).transpose()?;
        Ok(DeviceInfo {
            alias,
            boot_order,
            boot_extra,
            address,
        })
    }

    /// Appends `<boot>` (libvirt writes it before `<alias>` and `<address>`).
    pub fn push_boot(&self, el: &mut Element) {
        if let Some(order) = self.boot_order {
            let mut b = Element::new("boot").with_attr("order", order.to_string());
            b.attrs.extend(self.boot_extra.iter().cloned());
            el.push(b);
        }
    }

    /// Appends `<alias>` and `<address>`.
    pub fn push_alias_address(&self, el: &mut Element) {
        if let Some(a) = &self.alias {
            el.push(Element::new("alias").with_attr("name", a.clone()));
        }
        if let Some(a) = &self.address {
            el.push(a.to_element());
        }
    }
}

/// Reads a size from an element with `unit` attribute into KiB, rounding up
/// bytes as libvirt does. `what` names the element in errors.
pub fn parse_kib(what: &str, number: &str, unit: Option<&str>) -> Result<u64, XmlError> {
    let n = number.trim();
    let value: u64 = n.parse().map_err(|_| {
        XmlError::invalid(
            format!("<{what}>"),
            number,
            "expected a non-negative integer",
        )
    })?;
    let unit = unit.unwrap_or("KiB");
    let bytes = crate::xml::units::scale_to_bytes(value, unit).map_err(|_| {
        match crate::xml::units::unit_multiplier(unit) {
            None => XmlError::invalid(format!("<{what} unit>"), unit, "unknown unit"),
            Some(_) => XmlError::invalid(
                format!("<{what}>"),
                format!("{number} {unit}"),
                "size overflows",
            ),
        }
    })?;
    Ok(bytes.div_ceil(1024))
}

/// Formats a KiB size as `<name unit='KiB'>N</name>`.
pub fn kib_element(name: &str, kib: u64) -> Element {
    Element::new(name)
        .with_attr("unit", "KiB")
        .with_text(kib.to_string())
}
