//! Device commands: `attach-disk`, `detach-disk`, `attach-interface`,
//! `detach-interface`, `attach-device`, `detach-device`. As virsh, the
//! `*-disk` and `*-interface` commands build (or find in the domain's XML)
//! the device element and send it to the driver.

use std::os::unix::fs::FileTypeExt;

use super::{call, done, exclusive, fail, print_xml, read_file, text, Target};
use crate::api::{ApiError, Command, Connection, Reply, Scope};
use crate::cli::args::Args;
use crate::cli::{CliError, Session};
use crate::xml::domain::{Disk, Interface};
use crate::xml::{Domain, Element, MacAddr};

/// `--config` / `--live` / `--current` / `--persistent` as virsh combines
/// them: `--persistent` is `--config`, plus `--live` when the domain runs.
fn scope(c: &Connection, a: &Args, name: &str) -> Result<Scope, CliError> {
    exclusive(a, "current", "live")?;
    exclusive(a, "current", "config")?;
    exclusive(a, "persistent", "current")?;
    let mut scope = Scope {
        live: a.flag("live"),
        config: a.flag("config"),
    };
    if a.flag("persistent") {
        scope.config = true;
        let info = call(
            c,
            Command::DomainInfo {
                domain: name.to_string(),
            },
        )
        .map_err(|e| fail(e, Target::Domain(name), None))?;
        if let Reply::Domain(d) = info {
            scope.live |= d.id.is_some();
        }
    }
    Ok(scope)
}

/// The domain's definition that virsh searches for the device to detach:
/// the persistent one when only `--config` applies, else the current one.
fn domain_xml(c: &Connection, name: &str, scope: Scope) -> Result<Domain, CliError> {
    let xml = text(
        c,
        Command::DomainXml {
            domain: name.to_string(),
            inactive: scope.config && !scope.live,
        },
    )
    .map_err(|e| fail(e, Target::Domain(name), None))?;
    Domain::parse(&xml).map_err(|e| CliError::msg(format!("XML error: {e}")))
}

fn change(
    s: &mut Session,
    c: &Connection,
    name: &str,
    device: &Element,
    scope: Scope,
    attach: bool,
    what: &str,
) -> Result<(), CliError> {
    let domain = name.to_string();
    let xml = device.to_xml();
    let command = if attach {
        Command::AttachDevice { domain, xml, scope }
    } else {
        Command::DetachDevice { domain, xml, scope }
    };
    let verb = if attach { "attach" } else { "detach" };
    done(c, command).map_err(|e| {
        fail(
            e,
            Target::Domain(name),
            Some(format!("Failed to {verb} {what}")),
        )
    })?;
    let capital = format!("{}{}", what[..1].to_uppercase(), &what[1..]);
    s.print_extra(&format!("{capital} {verb}ed successfully\n"));
    Ok(())
}

/// `attach-disk DOMAIN SOURCE TARGET [--targetbus] [--driver] [--subdriver]
/// [--type] [--mode] [--sourcetype] [--serial] [--print-xml]`.
pub(super) fn attach_disk(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let source = a.req("source")?;
    let target = a.req("target")?;
    let mode = a.get("mode");
    if let Some(m) = mode.filter(|m| *m != "readonly" && *m != "shareable") {
        return Err(CliError::msg(format!(
            "No support for {m} in command 'attach-disk'"
        )));
    }
    let source_type = match a.get("sourcetype") {
        Some(t @ ("file" | "block")) => t,
        Some(other) => return Err(CliError::msg(format!("Unknown source type: '{other}'"))),
        None => match std::fs::metadata(source) {
            Ok(m) if m.file_type().is_block_device() => "block",
            _ => "file",
        },
    };
    let mut disk = Element::new("disk")
        .with_attr("type", source_type)
        .with_attr("device", a.get("type").unwrap_or("disk"));
    if a.get("driver").is_some() || a.get("subdriver").is_some() {
        disk.push(
            Element::new("driver")
                .with_opt_attr("name", a.get("driver"))
                .with_opt_attr("type", a.get("subdriver")),
        );
    }
    let source_attr = if source_type == "block" {
        "dev"
    } else {
        "file"
    };
    disk.push(Element::new("source").with_attr(source_attr, source));
    disk.push(
        Element::new("target")
            .with_attr("dev", target)
            .with_opt_attr("bus", a.get("targetbus")),
    );
    if let Some(m) = mode {
        disk.push(Element::new(m));
    }
    if let Some(serial) = a.get("serial") {
        disk.push(Element::new("serial").with_text(serial));
    }
    // The same checks the driver makes, so --print-xml shows only valid XML.
    Disk::parse(&disk).map_err(|e| CliError::msg(format!("XML error: {e}")))?;
    if a.flag("print-xml") {
        print_xml(s, &disk.to_xml());
        return Ok(());
    }
    let scope = scope(c, a, name)?;
    change(s, c, name, &disk, scope, true, "disk")
}

/// `detach-disk DOMAIN TARGET`: the disk whose target or source is TARGET.
pub(super) fn detach_disk(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let target = a.req("target")?;
    let scope = scope(c, a, name)?;
    let def = domain_xml(c, name, scope)?;
    let disk = def
        .devices
        .disks
        .iter()
        .find(|d| d.target.dev == target || d.source_path() == Some(target))
        .ok_or_else(|| {
            CliError::msg(format!(
                "No disk found whose source path or target is {target}"
            ))
        })?;
    let el = disk.to_element();
    if a.flag("print-xml") {
        print_xml(s, &el.to_xml());
        return Ok(());
    }
    change(s, c, name, &el, scope, false, "disk")
}

/// `attach-interface DOMAIN TYPE SOURCE [--target] [--mac] [--model]`.
pub(super) fn attach_interface(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let if_type = a.req("type")?;
    let source_attr = match if_type {
        "network" => Some("network"),
        "bridge" => Some("bridge"),
        "direct" => Some("dev"),
        "user" | "ethernet" => None,
        other => {
            return Err(CliError::msg(format!(
                "No support for {other} in command 'attach-interface'"
            )))
        }
    };
    let mut iface = Element::new("interface").with_attr("type", if_type);
    if let Some(mac) = a.get("mac") {
        let mac = MacAddr::parse(mac)
            .map_err(|_| CliError::msg(format!("unable to parse mac address '{mac}'")))?;
        iface.push(Element::new("mac").with_attr("address", mac.to_string()));
    }
    match (source_attr, a.get("source")) {
        (Some(attr), Some(source)) => {
            iface.push(Element::new("source").with_attr(attr, source));
        }
        (Some(_), None) => {
            return Err(CliError::msg(format!(
                "interface type '{if_type}' needs a <source>"
            )))
        }
        (None, _) => {}
    }
    if let Some(target) = a.get("target") {
        iface.push(Element::new("target").with_attr("dev", target));
    }
    if let Some(model) = a.get("model") {
        iface.push(Element::new("model").with_attr("type", model));
    }
    Interface::parse(&iface).map_err(|e| CliError::msg(format!("XML error: {e}")))?;
    if a.flag("print-xml") {
        print_xml(s, &iface.to_xml());
        return Ok(());
    }
    let scope = scope(c, a, name)?;
    change(s, c, name, &iface, scope, true, "interface")
}

/// `detach-interface DOMAIN TYPE [--mac]`, with virsh's own messages when
/// the interface cannot be singled out.
pub(super) fn detach_interface(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let if_type = a.req("type")?;
    let scope = scope(c, a, name)?;
    let failed =
        |line: String| CliError::Failed(vec![line, "Failed to detach interface".to_string()]);
    let mac = match a.get("mac") {
        Some(m) => Some(
            MacAddr::parse(m).map_err(|_| failed(format!("unable to parse mac address '{m}'")))?,
        ),
        None => None,
    };
    let def = domain_xml(c, name, scope)?;
    let of_type: Vec<&Interface> = def
        .devices
        .interfaces
        .iter()
        .filter(|i| i.if_type == if_type)
        .collect();
    let iface = match (of_type.as_slice(), mac) {
        ([], _) => {
            return Err(failed(format!(
                "No interface found whose type is {if_type}"
            )))
        }
        (_, Some(mac)) => of_type
            .iter()
            .find(|i| i.mac == Some(mac))
            .ok_or_else(|| failed(format!("No interface with MAC address {mac} was found")))?,
        ([one], None) => one,
        (many, None) => {
            return Err(failed(format!(
                "Domain has {} interfaces. Please specify which one to detach using --mac",
                many.len()
            )))
        }
    };
    change(s, c, name, &iface.to_element(), scope, false, "interface")
}

/// `attach-device DOMAIN FILE` / `detach-device DOMAIN FILE`.
pub(super) fn device_file(
    s: &mut Session,
    c: &Connection,
    a: &Args,
    attach: bool,
) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let file = a.req("file")?;
    let xml = read_file(file)?;
    let scope = scope(c, a, name)?;
    let domain = name.to_string();
    let (command, verb) = if attach {
        (Command::AttachDevice { domain, xml, scope }, "attach")
    } else {
        (Command::DetachDevice { domain, xml, scope }, "detach")
    };
    done(c, command).map_err(|e: ApiError| {
        fail(
            e,
            Target::Domain(name),
            Some(format!("Failed to {verb} device from {file}")),
        )
    })?;
    s.print_extra(&format!("Device {verb}ed successfully\n"));
    Ok(())
}
