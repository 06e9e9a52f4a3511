//! Host commands: `nodeinfo`, `hostname`, `uri`, `version`.

use super::{call, print_xml, text};
use crate::api::{Command, Connection, HostInfo, Reply};
use crate::cli::format::wide_field;
use crate::cli::{CliError, Session};

fn host(c: &Connection) -> Result<HostInfo, CliError> {
    match call(c, Command::HostInfo).map_err(|e| CliError::Failed(vec![e.to_string()]))? {
        Reply::Host(h) => Ok(h),
        other => Err(CliError::Failed(vec![other.unexpected("host").to_string()])),
    }
}

pub(super) fn nodeinfo(s: &mut Session, c: &Connection) -> Result<(), CliError> {
    let h = host(c)?;
    let mut out = wide_field("CPU model:", &h.cpu_model);
    out.push_str(&wide_field("CPU(s):", h.cpus));
    out.push_str(&wide_field("CPU frequency:", format!("{} MHz", h.mhz)));
    out.push_str(&wide_field("CPU socket(s):", h.sockets));
    out.push_str(&wide_field("Core(s) per socket:", h.cores));
    out.push_str(&wide_field("Thread(s) per core:", h.threads));
    out.push_str(&wide_field("NUMA cell(s):", h.nodes));
    out.push_str(&wide_field("Memory size:", format!("{} KiB", h.memory_kib)));
    s.print(&out);
    Ok(())
}

pub(super) fn hostname(s: &mut Session, c: &Connection) -> Result<(), CliError> {
    let h = host(c)?;
    s.print(&format!("{}\n", h.hostname));
    Ok(())
}

pub(super) fn uri(s: &mut Session, c: &Connection) -> Result<(), CliError> {
    let h = host(c)?;
    s.print(&format!("{}\n", h.uri));
    Ok(())
}

pub(super) fn version(s: &mut Session, c: &Connection) -> Result<(), CliError> {
    let h = host(c)?;
    let ours = env!("CARGO_PKG_VERSION");
    s.print(&format!(
        "Compiled against library: hangar {ours}\nUsing library: hangar {ours}\nUsing API: {} {ours}\nRunning hypervisor: {} {}\n",
        h.hypervisor, h.hypervisor, h.hypervisor_version
    ));
    Ok(())
}

pub(super) fn capabilities(s: &mut Session, c: &Connection) -> Result<(), CliError> {
    let xml = text(c, Command::Capabilities).map_err(|e| {
        CliError::Failed(vec![
            "failed to get capabilities".to_string(),
            e.to_string(),
        ])
    })?;
    print_xml(s, &xml);
    Ok(())
}
