//! `<pool>` facts, `pool-define-as` documents and live size figures.

use super::edit::{edit_child, ensure_uuid, set_text};
use crate::api::{ApiError, PoolAs};
use crate::xml::{Element, StoragePool};

/// A pool definition checked by the model, with its UUID filled in.
pub fn prepare(xml: &str) -> Result<(Element, String), ApiError> {
    StoragePool::parse(xml)?;
    let mut el = crate::xml::parse_root(xml, "pool")?;
    let uuid = ensure_uuid(&mut el)?;
    Ok((el, uuid))
}

/// Re-checks an edited definition with the model and formats it canonically.
pub fn canonical(el: &Element) -> Result<String, ApiError> {
    Ok(StoragePool::parse(&el.to_xml())?.to_xml())
}

/// `<pool type>`.
pub fn pool_type(el: &Element) -> String {
    el.attr("type").unwrap_or("dir").to_string()
}

/// `<target><path>`, if any.
pub fn target_path(el: &Element) -> Option<String> {
    el.child("target")
        .and_then(|t| t.child_text("path"))
        .filter(|p| !p.is_empty())
}

/// The `<pool>` document `pool-define-as` builds from its arguments.
pub fn define_as_xml(args: &PoolAs) -> Result<String, ApiError> {
    if args.name.is_empty() {
        return Err(ApiError::InvalidArg("a pool needs a name".into()));
    }
    let pool_type = if args.pool_type.is_empty() {
        "dir"
    } else {
        args.pool_type.as_str()
    };
    let mut source = Element::new("source");
    if let Some(host) = &args.source_host {
        source.push(Element::new("host").with_attr("name", host.clone()));
    }
    if let Some(dev) = &args.source_dev {
        source.push(Element::new("device").with_attr("path", dev.clone()));
    }
    if let Some(path) = &args.source_path {
        let tag = if pool_type == "netfs" || pool_type == "dir" {
            "dir"
        } else {
            "device"
        };
        source.push(Element::new(tag).with_attr("path", path.clone()));
    }
    if let Some(name) = &args.source_name {
        source.push(Element::new("name").with_text(name.clone()));
    }
    if let Some(format) = &args.source_format {
        source.push(Element::new("format").with_attr("type", format.clone()));
    }
    let mut pool = Element::new("pool")
        .with_attr("type", pool_type)
        .with_child(Element::new("name").with_text(args.name.clone()))
        .with_child(source);
    if let Some(target) = &args.target {
        pool.push(
            Element::new("target").with_child(Element::new("path").with_text(target.clone())),
        );
    }
    Ok(pool.to_xml())
}

/// Writes the live `capacity`, `allocation` and `available` figures into a definition.
pub fn set_sizes(el: &mut Element, capacity: u64, allocation: u64, available: u64) {
    let after_uuid: &[&str] = &["name", "uuid"];
    edit_child(el, "capacity", after_uuid, |c| {
        c.set_attr("unit", "bytes");
        set_text(c, capacity.to_string());
    });
    edit_child(el, "allocation", &["capacity"], |c| {
        c.set_attr("unit", "bytes");
        set_text(c, allocation.to_string());
    });
    edit_child(el, "available", &["allocation"], |c| {
        c.set_attr("unit", "bytes");
        set_text(c, available.to_string());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn define_as_builds_a_dir_pool() {
        let args = PoolAs {
            name: "file_virtimages".into(),
            pool_type: "dir".into(),
            target: Some("/var/lib/virt/images".into()),
            ..PoolAs::default()
        };
        let xml = define_as_xml(&args).expect("valid");
        let (el, _) = prepare(&xml).expect("parses");
        assert_eq!(pool_type(&el), "dir");
        assert_eq!(target_path(&el).as_deref(), Some("/var/lib/virt/images"));
    }
}
