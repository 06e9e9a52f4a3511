//! A small ordered XML element tree, read and written with quick-xml.
//!
//! libvirt's formats mix attributes, text and free-form namespaced metadata,
//! and a user's XML must survive a parse → format round trip even where our
//! typed model does not know an element. serde cannot express "keep whatever
//! else is here verbatim", so every typed model is built from this tree (the
//! way libvirt itself reads libxml2 nodes) and formats back into it.

use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::error::XmlError;

/// One child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A nested element.
    Element(Element),
    /// Character data (entities already decoded; CDATA is folded in).
    Text(String),
    /// A comment, kept so that verbatim metadata round-trips.
    Comment(String),
}

/// An XML element with its attributes in document order.
///
/// Equality compares names, attributes and children, not source lines.
#[derive(Debug, Clone, Eq, Default)]
pub struct Element {
    /// Qualified name as written (`dnsmasq:options`, `app1:foo`).
    pub name: String,
    /// Attributes in document order, qualified names as written.
    pub attrs: Vec<(String, String)>,
    /// Children in document order.
    pub children: Vec<Node>,
    /// 1-based line where the element starts (0 when built in code).
    pub line: usize,
}

impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.attrs == other.attrs && self.children == other.children
    }
}

impl Element {
    /// A new empty element.
    pub fn new(name: impl Into<String>) -> Self {
        Element {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Parses a whole document and returns its root element.
    pub fn parse(xml: &str) -> Result<Element, XmlError> {
        parse_document(xml)
    }

    /// The value of attribute `name`, if present.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of attribute `name`, or an error naming the element.
    pub fn req_attr(&self, name: &str) -> Result<&str, XmlError> {
        self.attr(name).ok_or_else(|| XmlError::MissingAttribute {
            element: self.name.clone(),
            attribute: name.to_string(),
        })
    }

    /// Iterates over child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The first child element called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// All child elements called `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.name == name)
    }

    /// The text content of this element (concatenated direct text children).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s
    }

    /// The trimmed text of child `name`, if the child exists.
    pub fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(|e| e.text().trim().to_string())
    }

    /// Builder: adds an attribute.
    pub fn with_attr(mut self, name: &str, value: impl Into<String>) -> Self {
        self.attrs.push((name.to_string(), value.into()));
        self
    }

    /// Builder: adds an attribute when `value` is `Some`.
    pub fn with_opt_attr<V: Into<String>>(mut self, name: &str, value: Option<V>) -> Self {
        if let Some(v) = value {
            self.attrs.push((name.to_string(), v.into()));
        }
        self
    }

    /// Builder: adds a child element.
    pub fn with_child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    /// Builder: sets the text content.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.children.push(Node::Text(text.into()));
        self
    }

    /// Adds a child element in place.
    pub fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// Adds a child element in place when present.
    pub fn push_opt(&mut self, child: Option<Element>) {
        if let Some(c) = child {
            self.push(c);
        }
    }

    /// Sets (or replaces) an attribute in place.
    pub fn set_attr(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.attrs.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((name.to_string(), value)),
        }
    }

    /// True when the element has neither attributes nor children.
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty() && self.children.is_empty()
    }

    /// Formats the element as libvirt does: two-space indentation, single-quoted
    /// attributes, text-only elements on one line, empty elements self-closed.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        indent(out, depth);
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            let _ = write!(out, " {}='{}'", k, escape(v));
        }
        let has_elements = self.children.iter().any(|n| !matches!(n, Node::Text(_)));
        if self.children.is_empty() {
            out.push_str("/>\n");
        } else if !has_elements {
            out.push('>');
            out.push_str(&escape_text(&self.text()));
            let _ = writeln!(out, "</{}>", self.name);
        } else {
            out.push_str(">\n");
            for n in &self.children {
                match n {
                    Node::Element(e) => e.write(out, depth + 1),
                    Node::Comment(c) => {
                        indent(out, depth + 1);
                        let _ = writeln!(out, "<!--{c}-->");
                    }
                    Node::Text(t) => {
                        // Mixed content: keep meaningful text, drop layout whitespace.
                        let t = t.trim();
                        if !t.is_empty() {
                            indent(out, depth + 1);
                            out.push_str(&escape_text(t));
                            out.push('\n');
                        }
                    }
                }
            }
            indent(out, depth);
            let _ = writeln!(out, "</{}>", self.name);
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Escapes an attribute value the way libvirt's buffer escaper does.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '\'' => o.push_str("&apos;"),
            '"' => o.push_str("&quot;"),
            // A reader normalises literal tabs and line breaks in attribute
            // values to spaces; character references keep them.
            '\n' => o.push_str("&#10;"),
            '\r' => o.push_str("&#13;"),
            '\t' => o.push_str("&#9;"),
            c => o.push(c),
        }
    }
    o
}

/// Escapes element text.
pub fn escape_text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            c => o.push(c),
        }
    }
    o
}

/// Turns a byte offset into a 1-based (line, column) pair.
fn line_col(xml: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(xml.len());
    let before = &xml.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

fn malformed(xml: &str, offset: usize, message: impl Into<String>) -> XmlError {
    let (line, column) = line_col(xml, offset);
    XmlError::Malformed {
        line,
        column,
        message: message.into(),
    }
}

/// Tracks the line of increasing byte offsets without rescanning the
/// document from its start for every element (which made parsing quadratic).
struct LineCursor {
    offset: usize,
    line: usize,
}

impl LineCursor {
    fn line_at(&mut self, xml: &str, offset: usize) -> usize {
        let offset = offset.min(xml.len());
        if offset < self.offset {
            return line_col(xml, offset).0;
        }
        self.line += xml.as_bytes()[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

fn start_element(
    xml: &str,
    offset: usize,
    line: usize,
    e: &BytesStart<'_>,
) -> Result<Element, XmlError> {
    let name = e.name().as_ref().to_string();
    let mut el = Element::new(name);
    el.line = line;
    for a in e.attributes() {
        let a = a.map_err(|err| malformed(xml, offset, err.to_string()))?;
        let key = a.key.as_ref().to_string();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| malformed(xml, offset, err.to_string()))?
            .into_owned();
        if el.attr(&key).is_some() {
            return Err(malformed(
                xml,
                offset,
                format!("attribute '{key}' redefined"),
            ));
        }
        el.attrs.push((key, value));
    }
    Ok(el)
}

fn parse_document(xml: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut lines = LineCursor { offset: 0, line: 1 };
    loop {
        let offset = reader.buffer_position() as usize;
        let ev = reader
            .read_event()
            .map_err(|e| malformed(xml, reader.error_position() as usize, e.to_string()))?;
        match ev {
            Event::Start(e) => {
                if root.is_some() {
                    return Err(malformed(
                        xml,
                        offset,
                        "extra content at the end of the document",
                    ));
                }
                stack.push(start_element(xml, offset, lines.line_at(xml, offset), &e)?);
            }
            Event::Empty(e) => {
                if root.is_some() {
                    return Err(malformed(
                        xml,
                        offset,
                        "extra content at the end of the document",
                    ));
                }
                let el = start_element(xml, offset, lines.line_at(xml, offset), &e)?;
                match stack.last_mut() {
                    Some(parent) => parent.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let Some(mut el) = stack.pop() else {
                    return Err(malformed(xml, offset, "unexpected closing tag"));
                };
                drop_layout_whitespace(&mut el);
                match stack.last_mut() {
                    Some(parent) => parent.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let text = unescape_text(xml, offset, &t.xml10_content())?;
                push_text(&mut stack, &root, xml, offset, text)?;
            }
            Event::GeneralRef(r) => {
                let name = r.into_inner();
                let text = resolve_entity(&name)
                    .ok_or_else(|| malformed(xml, offset, format!("unknown entity '&{name};'")))?;
                push_text(&mut stack, &root, xml, offset, text)?;
            }
            Event::CData(t) => {
                let text = t.xml10_content().into_owned();
                push_text(&mut stack, &root, xml, offset, text)?;
            }
            Event::Comment(c) => {
                if let Some(parent) = stack.last_mut() {
                    parent
                        .children
                        .push(Node::Comment(c.xml10_content().into_owned()));
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(malformed(
            xml,
            xml.len(),
            format!("premature end of data: <{}> is not closed", open.name),
        ));
    }
    root.ok_or_else(|| malformed(xml, xml.len(), "document is empty"))
}

/// Whitespace between child elements is layout, not content (libxml2's
/// NOBLANKS): dropping it makes parse → format → parse a fixed point.
fn drop_layout_whitespace(el: &mut Element) {
    if el.children.iter().any(|n| matches!(n, Node::Element(_))) {
        el.children
            .retain(|n| !matches!(n, Node::Text(t) if t.trim().is_empty()));
    }
}

fn resolve_entity(name: &str) -> Option<String> {
    let s = match name {
        "lt" => "<".to_string(),
        "gt" => ">".to_string(),
        "amp" => "&".to_string(),
        "apos" => "'".to_string(),
        "quot" => "\"".to_string(),
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()?
            } else {
                name.strip_prefix('#')?.parse().ok()?
            };
            char::from_u32(code)?.to_string()
        }
    };
    Some(s)
}

fn unescape_text(xml: &str, offset: usize, text: &str) -> Result<String, XmlError> {
    if !text.contains('&') {
        return Ok(text.to_string());
    }
    quick_xml::escape::unescape(text)
        .map(|c| c.into_owned())
        .map_err(|e| malformed(xml, offset, e.to_string()))
}

fn push_text(
    stack: &mut [Element],
    root: &Option<Element>,
    xml: &str,
    offset: usize,
    text: String,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.push_str(&text);
            } else {
                parent.children.push(Node::Text(text));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None if root.is_some() => Err(malformed(
            xml,
            offset,
            "extra content at the end of the document",
        )),
        None => Err(malformed(xml, offset, "start tag expected, '<' not found")),
    }
}

/// Compares two documents as XML: attribute order, layout whitespace and
/// surrounding whitespace of text are ignored. Returns where they first differ.
///
/// This is the rule libvirt's xml2xml tests use, so conformance tests call it.
pub fn compare_documents(a: &str, b: &str) -> Result<(), String> {
    let a = Element::parse(a).map_err(|e| format!("left side: {e}"))?;
    let b = Element::parse(b).map_err(|e| format!("right side: {e}"))?;
    compare_elements(&a, &b, &mut String::new())
}

fn compare_elements(a: &Element, b: &Element, path: &mut String) -> Result<(), String> {
    let len = path.len();
    path.push('/');
    path.push_str(&a.name);
    if a.name != b.name {
        return Err(format!("{path}: element <{}> vs <{}>", a.name, b.name));
    }
    let mut aa = a.attrs.clone();
    let mut ba = b.attrs.clone();
    aa.sort();
    ba.sort();
    if aa != ba {
        return Err(format!("{path}: attributes {aa:?} vs {ba:?}"));
    }
    let (at, bt) = (a.text(), b.text());
    if at.trim() != bt.trim() {
        return Err(format!("{path}: text {:?} vs {:?}", at.trim(), bt.trim()));
    }
    let ae: Vec<&Element> = a.elements().collect();
    let be: Vec<&Element> = b.elements().collect();
    for (x, y) in ae.iter().zip(be.iter()) {
        compare_elements(x, y, path)?;
    }
    if ae.len() != be.len() {
        let names = |v: &[&Element]| {
            v.iter()
                .map(|e| e.name.clone())
                .collect::<Vec<_>>()
                .join(",")
        };
        return Err(format!(
            "{path}: children [{}] vs [{}]",
            names(&ae),
            names(&be)
        ));
    }
    path.truncate(len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_attributes_text_and_metadata() {
        let src = "<network>\n  <name>a&amp;b</name>\n  <metadata><app:x xmlns:app='urn:a' k=\"v\"/></metadata>\n</network>";
        let el = Element::parse(src).expect("parses");
        assert_eq!(el.child_text("name").as_deref(), Some("a&b"));
        let again = Element::parse(&el.to_xml()).expect("reparses");
        assert_eq!(again.child("metadata"), el.child("metadata"));
        assert!(el.to_xml().contains("<name>a&amp;b</name>"));
    }

    #[test]
    fn attribute_line_breaks_survive_a_round_trip() {
        let el = Element::new("a").with_attr("v", "x\ny\tz\r");
        let again = Element::parse(&el.to_xml()).expect("reparses");
        assert_eq!(again.attr("v"), Some("x\ny\tz\r"));
    }

    #[test]
    fn compares_documents_ignoring_attribute_order() {
        assert!(compare_documents(
            "<a x='1' y='2'><b/></a>",
            "<a y=\"2\" x=\"1\">\n  <b/>\n</a>"
        )
        .is_ok());
        assert!(compare_documents("<a><b/></a>", "<a><c/></a>").is_err());
        assert!(compare_documents("<a><b/></a>", "<a><b/><b/></a>").is_err());
    }

    #[test]
    fn records_the_line_of_each_element() {
        let el = Element::parse("<a>\n  <b/>\n\n  <c>\n<d/></c>\n</a>").expect("parses");
        let lines: Vec<usize> = el.elements().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 4]);
        assert_eq!(
            el.child("c").and_then(|c| c.child("d")).map(|d| d.line),
            Some(5)
        );
    }

    #[test]
    fn reports_line_and_column_of_malformed_input() {
        let err = Element::parse("<network>\n  <name>x</nam>\n</network>").unwrap_err();
        match err {
            XmlError::Malformed { line, .. } => assert_eq!(line, 2),
            other => panic!("unexpected {other:?}"),
        }
        assert!(Element::parse("").is_err());
        assert!(Element::parse("<a>").is_err());
        assert!(Element::parse("<a/><b/>").is_err());
        assert!(Element::parse("<a x='1' x='2'/>").is_err());
    }
}
