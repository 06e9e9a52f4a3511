//! `net-*` commands.

use super::{
    by_name, call, done, exclusive, fail, print_xml, read_file, set_autostart, text,
    AutostartWords, Target,
};
use crate::api::{ApiError, Command, Connection, NetworkInfo, NetworkUpdateOp, Reply, Scope};
use crate::cli::args::Args;
use crate::cli::edit::{self, EditOutcome, Editable};
use crate::cli::format::{field, yes_no, Table};
use crate::cli::{CliError, Session};

fn network_reply(reply: Reply) -> Result<NetworkInfo, ApiError> {
    match reply {
        Reply::Network(n) => Ok(n),
        other => Err(other.unexpected("network")),
    }
}

pub(super) fn list(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let modes = [a.flag("table"), a.flag("name"), a.flag("uuid")];
    if modes.iter().filter(|m| **m).count() > 1 {
        return Err(CliError::msg(
            "Only one argument from --table, --name and --uuid may be specified.",
        ));
    }
    let mut nets = match call(c, Command::ListNetworks).map_err(|e| {
        fail(
            e,
            Target::Network(""),
            Some("Failed to list networks".into()),
        )
    })? {
        Reply::Networks(v) => v,
        other => {
            return Err(fail(
                other.unexpected("networks"),
                Target::Network(""),
                None,
            ))
        }
    };
    let (want_active, want_inactive) = if a.flag("all") {
        (true, true)
    } else if a.flag("inactive") {
        (false, true)
    } else {
        (true, false)
    };
    nets.retain(|n| {
        (if n.active { want_active } else { want_inactive })
            && (!(a.flag("persistent") || a.flag("transient"))
                || (a.flag("persistent") && n.persistent)
                || (a.flag("transient") && !n.persistent))
            && (!(a.flag("autostart") || a.flag("no-autostart"))
                || (a.flag("autostart") && n.autostart)
                || (a.flag("no-autostart") && !n.autostart))
    });
    nets.sort_by(|x, y| by_name(&x.name, &y.name));
    if a.flag("uuid") || a.flag("name") {
        for n in &nets {
            let line = if a.flag("uuid") { &n.uuid } else { &n.name };
            s.print(&format!("{line}\n"));
        }
        return Ok(());
    }
    let mut table = Table::new(&["Name", "State", "Autostart", "Persistent"]);
    for n in &nets {
        table.row(&[
            n.name.as_str(),
            if n.active { "active" } else { "inactive" },
            yes_no(n.autostart),
            yes_no(n.persistent),
        ]);
    }
    let quiet = s.quiet();
    s.print(&table.render(!quiet));
    Ok(())
}

pub(super) fn define(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let file = a.req("file")?;
    let xml = read_file(file)?;
    let net = call(c, Command::DefineNetwork { xml })
        .and_then(network_reply)
        .map_err(|e| CliError::Api {
            context: format!("Failed to define network from {file}"),
            source: e,
        })?;
    s.print_extra(&format!("Network {} defined from {file}\n", net.name));
    Ok(())
}

pub(super) fn create(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let file = a.req("file")?;
    let xml = read_file(file)?;
    let net = call(c, Command::CreateNetwork { xml })
        .and_then(network_reply)
        .map_err(|e| CliError::Api {
            context: format!("Failed to create network from {file}"),
            source: e,
        })?;
    s.print_extra(&format!("Network {} created from {file}\n", net.name));
    Ok(())
}

pub(super) fn info(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("network")?;
    let n = call(
        c,
        Command::NetworkInfo {
            network: name.to_string(),
        },
    )
    .and_then(network_reply)
    .map_err(|e| fail(e, Target::Network(name), None))?;
    let mut out = field("Name:", &n.name);
    out.push_str(&field("UUID:", &n.uuid));
    out.push_str(&field("Active:", yes_no(n.active)));
    out.push_str(&field("Persistent:", yes_no(n.persistent)));
    out.push_str(&field("Autostart:", yes_no(n.autostart)));
    if let Some(bridge) = &n.bridge {
        out.push_str(&field("Bridge:", bridge));
    }
    s.print(&out);
    Ok(())
}

pub(super) fn dumpxml(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("network")?;
    let xml = text(
        c,
        Command::NetworkXml {
            network: name.to_string(),
            inactive: a.flag("inactive"),
        },
    )
    .map_err(|e| fail(e, Target::Network(name), None))?;
    print_xml(s, &xml);
    Ok(())
}

struct EditNetwork<'a> {
    conn: &'a Connection,
    name: &'a str,
}

impl Editable for EditNetwork<'_> {
    fn current_xml(&mut self) -> Result<String, CliError> {
        text(
            self.conn,
            Command::NetworkXml {
                network: self.name.to_string(),
                inactive: true,
            },
        )
        .map_err(|e| fail(e, Target::Network(self.name), None))
    }

    fn define(&mut self, xml: &str, _validate: bool) -> Result<String, CliError> {
        call(
            self.conn,
            Command::DefineNetwork {
                xml: xml.to_string(),
            },
        )
        .and_then(network_reply)
        .map(|n| n.name)
        .map_err(|e| CliError::Failed(vec![e.to_string()]))
    }
}

pub(super) fn edit(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("network")?;
    s.flush();
    let mut object = EditNetwork { conn: c, name };
    match edit::edit(&mut object, false)? {
        EditOutcome::NotChanged => {
            s.print_extra(&format!("Network {name} XML configuration not changed.\n"))
        }
        EditOutcome::Edited(new) => {
            s.print_extra(&format!("Network {new} XML configuration edited.\n"))
        }
    }
    Ok(())
}

pub(super) fn autostart(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("network")?;
    let enabled = !a.flag("disable");
    let command = Command::SetNetworkAutostart {
        network: name.to_string(),
        enabled,
    };
    let words = AutostartWords {
        failed: "failed",
        subject: format!("network {name}"),
        subject_capitalised: format!("Network {name}"),
    };
    set_autostart(s, c, command, enabled, Target::Network(name), words)
}

fn simple(
    s: &mut Session,
    c: &Connection,
    a: &Args,
    command: fn(String) -> Command,
    failed: &str,
    succeeded: &str,
) -> Result<(), CliError> {
    let name = a.req("network")?;
    done(c, command(name.to_string())).map_err(|e| {
        fail(
            e,
            Target::Network(name),
            Some(format!("Failed to {failed} network {name}")),
        )
    })?;
    s.print_extra(&format!("Network {name} {succeeded}\n"));
    Ok(())
}

pub(super) fn undefine(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    simple(
        s,
        c,
        a,
        |network| Command::UndefineNetwork { network },
        "undefine",
        "has been undefined",
    )
}

pub(super) fn start(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    simple(
        s,
        c,
        a,
        |network| Command::StartNetwork { network },
        "start",
        "started",
    )
}

pub(super) fn destroy(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    simple(
        s,
        c,
        a,
        |network| Command::DestroyNetwork { network },
        "destroy",
        "destroyed",
    )
}

/// virsh's section names for `net-update`.
const UPDATE_SECTIONS: &[&str] = &[
    "bridge",
    "domain",
    "ip",
    "ip-dhcp-host",
    "ip-dhcp-range",
    "forward",
    "forward-interface",
    "forward-pf",
    "portgroup",
    "dns-host",
    "dns-txt",
    "dns-srv",
];

pub(super) fn update(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    exclusive(a, "current", "live")?;
    exclusive(a, "current", "config")?;
    let name = a.req("network")?;
    let net = call(
        c,
        Command::NetworkInfo {
            network: name.to_string(),
        },
    )
    .and_then(network_reply)
    .map_err(|e| fail(e, Target::Network(name), None))?;
    let op = match a.req("command")? {
        "add" | "add-last" => NetworkUpdateOp::AddLast,
        "add-first" => NetworkUpdateOp::AddFirst,
        "delete" => NetworkUpdateOp::Delete,
        "modify" => NetworkUpdateOp::Modify,
        other => {
            return Err(CliError::msg(format!(
                "unrecognized command name '{other}'"
            )))
        }
    };
    let section = a.req("section")?;
    if !UPDATE_SECTIONS.contains(&section) {
        return Err(CliError::msg(format!(
            "unrecognized section name '{section}'"
        )));
    }
    let parent_index = match a.get("parent-index") {
        Some(v) => Some(v.parse::<usize>().map_err(|_| {
            CliError::msg(format!(
                "Numeric value '{v}' for <parent-index> option is malformed or out of range"
            ))
        })?),
        None => None,
    };
    // The XML is given inline when it starts with '<', else it names a file.
    let given = a.req("xml")?;
    let xml = if given.starts_with('<') {
        given.to_string()
    } else {
        read_file(given)?
    };
    let scope = Scope {
        live: a.flag("live"),
        config: a.flag("config"),
    };
    done(
        c,
        Command::UpdateNetwork {
            network: net.name.clone(),
            op,
            section: section.to_string(),
            xml,
            parent_index,
            scope,
        },
    )
    .map_err(|e| CliError::Api {
        context: format!("Failed to update network {}", net.name),
        source: e,
    })?;
    let what = match (scope.config, scope.live) {
        (true, true) => "persistent config and live state",
        (true, false) => "persistent config",
        (false, true) => "live state",
        (false, false) if net.active => "live state",
        (false, false) => "persistent config",
    };
    // virsh prints this one without a newline; the command's blank line ends it.
    s.print_extra(&format!("Updated network {} {what}", net.name));
    Ok(())
}

pub(super) fn dhcp_leases(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("network")?;
    let mac = a.get("mac").map(str::to_string);
    let mut leases = match call(
        c,
        Command::NetworkDhcpLeases {
            network: name.to_string(),
            mac,
        },
    )
    .map_err(|e| {
        fail(
            e,
            Target::Network(name),
            Some("Failed to get leases info".into()),
        )
    })? {
        Reply::Leases(l) => l,
        other => {
            return Err(fail(
                other.unexpected("leases"),
                Target::Network(name),
                None,
            ))
        }
    };
    leases.sort_by(|x, y| by_name(&x.mac, &y.mac));
    let mut table = Table::new(&[
        "Expiry Time",
        "MAC address",
        "Protocol",
        "IP address",
        "Hostname",
        "Client ID or DUID",
    ]);
    let dash = |v: &Option<String>| {
        v.clone()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "-".into())
    };
    for l in &leases {
        table.row(&[
            local_time(l.expiry_time),
            // A DHCPv6 client whose DUID carries no link-layer address.
            dash(&Some(l.mac.clone())),
            l.protocol.clone(),
            format!("{}/{}", l.ip, l.prefix),
            dash(&l.hostname),
            dash(&l.client_id),
        ]);
    }
    let quiet = s.quiet();
    s.print(&table.render(!quiet));
    Ok(())
}

/// Seconds since the epoch as local `YYYY-MM-DD HH:MM:SS`, as virsh prints lease expiry.
fn local_time(secs: i64) -> String {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: tm is plain data, filled by localtime_r before it is read.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to locals that outlive the call.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return secs.to_string();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        i64::from(tm.tm_year) + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}
