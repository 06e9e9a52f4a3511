//! Small in-place edits of an [`Element`] tree.

use crate::api::ApiError;
use crate::xml::tree::Node;
use crate::xml::{ids, units, Element};

/// The first child element called `name`, mutable.
pub fn child_mut<'a>(el: &'a mut Element, name: &str) -> Option<&'a mut Element> {
    el.children.iter_mut().find_map(|n| match n {
        Node::Element(e) if e.name == name => Some(e),
        _ => None,
    })
}

/// Runs `f` on the child `name`, creating it first (after the last child
/// named in `after`, or at the end) when absent.
pub fn edit_child(el: &mut Element, name: &str, after: &[&str], f: impl FnOnce(&mut Element)) {
    let found = el
        .children
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.name == name));
    let index = found.unwrap_or_else(|| {
        let at = el
            .children
            .iter()
            .rposition(|n| matches!(n, Node::Element(e) if after.contains(&e.name.as_str())))
            .map_or(el.children.len(), |i| i + 1);
        el.children.insert(at, Node::Element(Element::new(name)));
        at
    });
    if let Some(Node::Element(e)) = el.children.get_mut(index) {
        f(e);
    }
}

/// Replaces the text of `el`.
pub fn set_text(el: &mut Element, text: impl Into<String>) {
    el.children.retain(|n| !matches!(n, Node::Text(_)));
    el.children.insert(0, Node::Text(text.into()));
}

/// Removes every child element called `name`.
pub fn remove_children(el: &mut Element, name: &str) {
    el.children
        .retain(|n| !matches!(n, Node::Element(e) if e.name == name));
}

/// A size element (`<memory unit='KiB'>`, `<capacity unit='bytes'>`) in bytes.
pub fn scaled(el: &Element, default_unit: &str) -> Result<u64, ApiError> {
    Ok(units::parse_scaled(
        &el.text(),
        el.attr("unit"),
        default_unit,
    )?)
}

/// The UUID of a definition, lower-case with dashes, if it has a valid one.
pub fn uuid_of(el: &Element) -> Option<String> {
    el.child_text("uuid")
        .and_then(|u| ids::parse_uuid(&u).ok())
        .map(|u| u.hyphenated().to_string())
}

/// Gives a definition a random UUID when it has none; returns the UUID.
pub fn ensure_uuid(el: &mut Element) -> Result<String, ApiError> {
    if let Some(text) = el.child_text("uuid") {
        let uuid = ids::parse_uuid(&text)?;
        return Ok(uuid.hyphenated().to_string());
    }
    let uuid = uuid::Uuid::new_v4().hyphenated().to_string();
    edit_child(el, "uuid", &["name"], |slot| set_text(slot, uuid.clone()));
    Ok(uuid)
}
