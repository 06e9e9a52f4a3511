//! `vol-*` commands.

use super::{by_name, call, done, fail, print_xml, read_file, text, Target};
use crate::api::{ApiError, Command, Connection, Reply, VolumeAs, VolumeInfo, VolumeRef};
use crate::cli::args::Args;
use crate::cli::format::{field, pretty_capacity, Table};
use crate::cli::{CliError, Session};
use crate::xml::tree::Node;
use crate::xml::units::parse_size_arg;
use crate::xml::Element;

fn volume_reply(reply: Reply) -> Result<VolumeInfo, ApiError> {
    match reply {
        Reply::Volume(v) => Ok(v),
        other => Err(other.unexpected("volume")),
    }
}

/// The volume named by `--vol`/`--pool` (or `name_opt` for other option names).
fn volume_ref(a: &Args, name_opt: &str) -> Result<VolumeRef, CliError> {
    Ok(VolumeRef {
        pool: a.get("pool").map(str::to_string),
        volume: a.req(name_opt)?.to_string(),
    })
}

fn target(r: &VolumeRef) -> Target<'_> {
    Target::Vol {
        name: &r.volume,
        pool: r.pool.as_deref(),
    }
}

/// Looks the volume up as virsh does before acting on it.
fn lookup(c: &Connection, r: &VolumeRef) -> Result<VolumeInfo, CliError> {
    call(c, Command::LookupVolume { volume: r.clone() })
        .and_then(volume_reply)
        .map_err(|e| fail(e, target(r), None))
}

/// A size argument in bytes (virsh's scaled integers: `10G`, `512MiB`, `1000KB`).
fn size(arg: &str) -> Result<u64, CliError> {
    parse_size_arg(arg, "b").map_err(|_| CliError::msg(format!("Malformed size {arg}")))
}

pub(super) fn list(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let pool = a.req("pool")?;
    let mut vols = match call(
        c,
        Command::ListVolumes {
            pool: pool.to_string(),
        },
    )
    .map_err(|e| fail(e, Target::Pool(pool), Some("Failed to list volumes".into())))?
    {
        Reply::Volumes(v) => v,
        other => return Err(fail(other.unexpected("volumes"), Target::Pool(pool), None)),
    };
    vols.sort_by(|x, y| by_name(&x.name, &y.name));
    let quiet = s.quiet();
    let table = if a.flag("details") {
        let mut t = Table::new(&["Name", "Path", "Type", "Capacity", "Allocation"]);
        for v in &vols {
            t.row(&[
                v.name.clone(),
                v.path.clone(),
                v.kind.as_virsh().to_string(),
                pretty_capacity(v.capacity),
                pretty_capacity(v.allocation),
            ]);
        }
        t
    } else {
        let mut t = Table::new(&["Name", "Path"]);
        for v in &vols {
            t.row(&[v.name.as_str(), v.path.as_str()]);
        }
        t
    };
    s.print(&table.render(!quiet));
    Ok(())
}

fn text_child(name: &str, value: impl Into<String>) -> Element {
    Element::new(name).with_text(value)
}

/// The XML virsh builds from `vol-create-as` arguments (for `--print-xml`).
fn create_as_xml(v: &VolumeAs, backing_path: Option<&str>) -> String {
    let mut vol = Element::new("volume")
        .with_child(text_child("name", v.name.clone()))
        .with_child(text_child("capacity", v.capacity.to_string()));
    if let Some(alloc) = v.allocation {
        vol.push(text_child("allocation", alloc.to_string()));
    }
    if let Some(format) = &v.format {
        vol.push(
            Element::new("target")
                .with_child(Element::new("format").with_attr("type", format.clone())),
        );
    }
    if let Some(path) = backing_path {
        let mut backing = Element::new("backingStore").with_child(text_child("path", path));
        backing.push_opt(
            v.backing_format
                .as_ref()
                .map(|f| Element::new("format").with_attr("type", f.clone())),
        );
        vol.push(backing);
    }
    vol.to_xml()
}

pub(super) fn create_as(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let pool = a.req("pool")?;
    let name = a.req("name")?;
    let capacity = size(a.req("capacity")?)?;
    let allocation = a.get("allocation").map(size).transpose()?;
    let args = VolumeAs {
        name: name.to_string(),
        capacity,
        allocation,
        format: a.get("format").map(str::to_string),
        backing_vol: a.get("backing-vol").map(str::to_string),
        backing_format: a.get("backing-vol-format").map(str::to_string),
        prealloc_metadata: a.flag("prealloc-metadata"),
    };
    if a.flag("print-xml") {
        let backing = match &args.backing_vol {
            Some(b) => Some(backing_path(c, pool, b)?),
            None => None,
        };
        print_xml(s, &create_as_xml(&args, backing.as_deref()));
        return Ok(());
    }
    call(
        c,
        Command::CreateVolumeAs {
            pool: pool.to_string(),
            args,
        },
    )
    .and_then(volume_reply)
    .map_err(|e| {
        fail(
            e,
            Target::Pool(pool),
            Some(format!("Failed to create vol {name}")),
        )
    })?;
    s.print_extra(&format!("Vol {name} created\n"));
    Ok(())
}

/// Finds a backing volume as virsh does: by name in the pool, then by key or path.
fn backing_path(c: &Connection, pool: &str, backing: &str) -> Result<String, CliError> {
    let tries = [
        VolumeRef::in_pool(pool, backing),
        VolumeRef::by_path(backing),
    ];
    for r in tries {
        if let Ok(v) = call(c, Command::LookupVolume { volume: r }).and_then(volume_reply) {
            return Ok(v.path);
        }
    }
    Err(CliError::msg(format!("failed to get vol '{backing}'")))
}

pub(super) fn create(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let pool = a.req("pool")?;
    let file = a.req("file")?;
    let xml = read_file(file)?;
    let vol = call(
        c,
        Command::CreateVolumeXml {
            pool: pool.to_string(),
            xml,
        },
    )
    .and_then(volume_reply)
    .map_err(|e| {
        fail(
            e,
            Target::Pool(pool),
            Some(format!("Failed to create vol from {file}")),
        )
    })?;
    s.print_extra(&format!("Vol {} created from {file}\n", vol.name));
    Ok(())
}

/// Replaces the `<name>` of a `<volume>` document (virsh's `virshMakeCloneXML`).
fn rename_volume_xml(xml: &str, new_name: &str) -> Result<String, CliError> {
    let mut root = Element::parse(xml).map_err(|e| CliError::msg(e.to_string()))?;
    for node in &mut root.children {
        if let Node::Element(e) = node {
            if e.name == "name" {
                e.children = vec![Node::Text(new_name.to_string())];
            }
        }
    }
    Ok(root.to_xml())
}

pub(super) fn clone(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let source = volume_ref(a, "vol")?;
    let new_name = a.req("newname")?;
    let original = lookup(c, &source)?;
    let resolved = VolumeRef::in_pool(&original.pool, &original.name);
    if a.flag("print-xml") {
        let xml = text(c, Command::VolumeXml { volume: resolved })
            .map_err(|e| fail(e, target(&source), None))?;
        print_xml(s, &rename_volume_xml(&xml, new_name)?);
        return Ok(());
    }
    let new = call(
        c,
        Command::CloneVolume {
            volume: resolved,
            new_name: new_name.to_string(),
        },
    )
    .and_then(volume_reply)
    .map_err(|e| CliError::Api {
        context: format!("Failed to clone vol from {}", original.name),
        source: e,
    })?;
    s.print_extra(&format!("Vol {} cloned from {}\n", new.name, original.name));
    Ok(())
}

pub(super) fn resize(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let volume = volume_ref(a, "vol")?;
    let raw = a.req("capacity")?.trim_start();
    let shrink = a.flag("shrink");
    let mut delta = a.flag("delta");
    // virsh accepts a negative size as a shrinking delta, but only with --shrink.
    let capacity_str = match raw.strip_prefix('-') {
        Some(rest) if shrink => {
            delta = true;
            rest
        }
        Some(_) => return Err(CliError::msg("negative size requires --shrink")),
        None => raw,
    };
    let capacity = size(capacity_str)?;
    let info = lookup(c, &volume)?;
    let (failed, succeeded) = if delta {
        (
            "Failed to change size of volume '{}' by {}",
            "Size of volume '{}' successfully changed by {}",
        )
    } else {
        (
            "Failed to change size of volume '{}' to {}",
            "Size of volume '{}' successfully changed to {}",
        )
    };
    let fill = |t: &str| {
        t.replacen("{}", &info.name, 1)
            .replacen("{}", capacity_str, 1)
    };
    done(
        c,
        Command::ResizeVolume {
            volume: VolumeRef::in_pool(&info.pool, &info.name),
            capacity,
            delta,
            shrink,
            allocate: a.flag("allocate"),
        },
    )
    .map_err(|e| CliError::Api {
        context: fill(failed),
        source: e,
    })?;
    s.print_extra(&format!("{}\n", fill(succeeded)));
    Ok(())
}

pub(super) fn delete(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let volume = volume_ref(a, "vol")?;
    let info = lookup(c, &volume)?;
    done(
        c,
        Command::DeleteVolume {
            volume: VolumeRef::in_pool(&info.pool, &info.name),
        },
    )
    .map_err(|e| CliError::Api {
        context: format!("Failed to delete vol {}", volume.volume),
        source: e,
    })?;
    s.print_extra(&format!("Vol {} deleted\n", volume.volume));
    Ok(())
}

pub(super) fn wipe(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    const ALGORITHMS: &[&str] = &[
        "zero",
        "nnsa",
        "dod",
        "bsi",
        "gutmann",
        "schneier",
        "pfitzner7",
        "pfitzner33",
        "random",
        "trim",
    ];
    let volume = volume_ref(a, "vol")?;
    let info = lookup(c, &volume)?;
    let algorithm = a.get("algorithm");
    if let Some(alg) = algorithm.filter(|alg| !ALGORITHMS.contains(alg)) {
        return Err(CliError::msg(format!("Unsupported algorithm '{alg}'")));
    }
    done(
        c,
        Command::WipeVolume {
            volume: VolumeRef::in_pool(&info.pool, &info.name),
            algorithm: algorithm.map(str::to_string),
        },
    )
    .map_err(|e| CliError::Api {
        context: format!("Failed to wipe vol {}", volume.volume),
        source: e,
    })?;
    s.print_extra(&format!("Vol {} wiped\n", volume.volume));
    Ok(())
}

pub(super) fn info(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let volume = volume_ref(a, "vol")?;
    let v = call(
        c,
        Command::VolumeInfo {
            volume: volume.clone(),
        },
    )
    .and_then(volume_reply)
    .map_err(|e| fail(e, target(&volume), None))?;
    let mut out = field("Name:", &v.name);
    out.push_str(&field("Type:", v.kind.as_virsh()));
    if a.flag("bytes") {
        out.push_str(&field("Capacity:", format!("{} bytes", v.capacity)));
        out.push_str(&field("Allocation:", format!("{} bytes", v.allocation)));
    } else {
        out.push_str(&field("Capacity:", pretty_capacity(v.capacity)));
        out.push_str(&field("Allocation:", pretty_capacity(v.allocation)));
    }
    s.print(&out);
    Ok(())
}

pub(super) fn dumpxml(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let volume = volume_ref(a, "vol")?;
    let xml = text(
        c,
        Command::VolumeXml {
            volume: volume.clone(),
        },
    )
    .map_err(|e| fail(e, target(&volume), None))?;
    print_xml(s, &xml);
    Ok(())
}

pub(super) fn path(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let volume = volume_ref(a, "vol")?;
    let path = text(
        c,
        Command::VolumePath {
            volume: volume.clone(),
        },
    )
    .map_err(|e| fail(e, target(&volume), None))?;
    s.print(&format!("{}\n", path.trim_end_matches('\n')));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_xml_matches_virsh_vol_create_as() {
        let v = VolumeAs {
            name: "kvm1.qcow2".into(),
            capacity: 10 << 30,
            format: Some("qcow2".into()),
            backing_format: Some("raw".into()),
            ..VolumeAs::default()
        };
        let expected = "<volume>\n  <name>kvm1.qcow2</name>\n  <capacity>10737418240</capacity>\n  <target>\n    <format type='qcow2'/>\n  </target>\n  <backingStore>\n    <path>/p/base.img</path>\n    <format type='raw'/>\n  </backingStore>\n</volume>";
        assert_eq!(create_as_xml(&v, Some("/p/base.img")).trim_end(), expected);
    }

    #[test]
    fn clone_xml_only_renames() {
        let xml = "<volume type='file'>\n  <name>a</name>\n  <capacity unit='bytes'>5</capacity>\n</volume>\n";
        let renamed = rename_volume_xml(xml, "b").unwrap_or_default();
        assert!(renamed.contains("<name>b</name>"));
        assert!(renamed.contains("<capacity unit='bytes'>5</capacity>"));
    }

    #[test]
    fn sizes_accept_virsh_units() {
        assert_eq!(size("10G").ok(), Some(10 << 30));
        assert_eq!(size("1000KB").ok(), Some(1_000_000));
        assert_eq!(size("20").ok(), Some(20));
        assert_eq!(
            size("ten").map_err(|e| e.to_string()).err().as_deref(),
            Some("Malformed size ten")
        );
    }
}
