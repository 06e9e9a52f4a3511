//! Domain commands: definitions (`define`, `edit`, `setmem`, ...), the list
//! and info, and life-cycle commands passed through to the driver.

use super::{
    call, done, exclusive, fail, print_xml, read_file, set_autostart, text, AutostartWords, Target,
};
use crate::api::{ApiError, Command, Connection, DomainInfo, DomainState, Reply, Scope};
use crate::cli::args::Args;
use crate::cli::edit::{self, EditOutcome, Editable};
use crate::cli::format::{field, Table};
use crate::cli::{CliError, Session};
use crate::vmm::control::{self as vmm_control, Reply as VmmReply, Request};
use crate::xml::units::parse_size_arg;
use std::io::IsTerminal;

fn domain_reply(reply: Reply) -> Result<DomainInfo, ApiError> {
    match reply {
        Reply::Domain(d) => Ok(d),
        other => Err(other.unexpected("domain")),
    }
}

fn lookup(c: &Connection, name: &str) -> Result<DomainInfo, CliError> {
    call(
        c,
        Command::DomainInfo {
            domain: name.to_string(),
        },
    )
    .and_then(domain_reply)
    .map_err(|e| fail(e, Target::Domain(name), None))
}

pub(super) fn dispatch(
    s: &mut Session,
    c: &Connection,
    name: &str,
    a: &Args,
) -> Result<(), CliError> {
    match name {
        "list" => list(s, c, a),
        "define" => define(s, c, a),
        "create" => create(s, c, a),
        "managedsave-remove" => managedsave_remove(s, c, a),
        "undefine" => undefine(s, c, a),
        "dumpxml" => dumpxml(s, c, a),
        "dominfo" => dominfo(s, c, a),
        "domstate" => domstate(s, c, a),
        "edit" => edit(s, c, a),
        "autostart" => autostart(s, c, a),
        "setmem" | "setmaxmem" => set_memory(s, c, a, name == "setmaxmem"),
        "setvcpus" => setvcpus(s, c, a),
        "start" => start(s, c, a),
        "console" => console(s, c, a),
        "save" => save(s, c, a),
        "restore" => restore(s, c, a),
        "managedsave" => managedsave(s, c, a),
        other => lifecycle(s, c, a, other),
    }
}

fn list(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    exclusive(a, "table", "name")?;
    exclusive(a, "table", "uuid")?;
    exclusive(a, "table", "id")?;
    let mut doms = match call(c, Command::ListDomains)
        .map_err(|e| fail(e, Target::Domain(""), Some("Failed to list domains".into())))?
    {
        Reply::Domains(v) => v,
        other => return Err(fail(other.unexpected("domains"), Target::Domain(""), None)),
    };
    let (want_active, want_inactive) = if a.flag("all") {
        (true, true)
    } else if a.flag("inactive") {
        (false, true)
    } else {
        (true, false)
    };
    let state_filters = [
        "state-running",
        "state-paused",
        "state-shutoff",
        "state-other",
    ];
    let any_state_filter = state_filters.iter().any(|f| a.flag(f));
    doms.retain(|d| {
        let active = d.id.is_some();
        let state_ok = !any_state_filter
            || match d.state {
                DomainState::Running => a.flag("state-running"),
                DomainState::Paused => a.flag("state-paused"),
                DomainState::Shutoff => a.flag("state-shutoff"),
                _ => a.flag("state-other"),
            };
        (if active { want_active } else { want_inactive })
            && state_ok
            && (!(a.flag("persistent") || a.flag("transient"))
                || (a.flag("persistent") && d.persistent)
                || (a.flag("transient") && !d.persistent))
            && (!(a.flag("autostart") || a.flag("no-autostart"))
                || (a.flag("autostart") && d.autostart)
                || (a.flag("no-autostart") && !d.autostart))
    });
    // Running domains by id first, then the others by name (virsh's order).
    doms.sort_by(|x, y| match (x.id, y.id) {
        (Some(i), Some(j)) => i.cmp(&j),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => super::by_name(&x.name, &y.name),
    });
    let (uuid, name, id) = (a.flag("uuid"), a.flag("name"), a.flag("id"));
    if uuid || name || id {
        for d in &doms {
            let line = if uuid && name {
                format!("{:<36}  {:<30}\n", d.uuid, d.name)
            } else if uuid {
                format!("{}\n", d.uuid)
            } else if name {
                format!("{}\n", d.name)
            } else {
                match d.id {
                    Some(i) => format!("{i}\n"),
                    None => continue,
                }
            };
            s.print(&line);
        }
        return Ok(());
    }
    let mut table = Table::new(&["Id", "Name", "State"]);
    for d in &doms {
        let id = d.id.map_or_else(|| "-".to_string(), |i| i.to_string());
        table.row(&[id.as_str(), d.name.as_str(), d.state.as_virsh()]);
    }
    let quiet = s.quiet();
    s.print(&table.render(!quiet));
    Ok(())
}

fn define(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let file = a.req("file")?;
    let xml = read_file(file)?;
    let dom = call(c, Command::DefineDomain { xml })
        .and_then(domain_reply)
        .map_err(|e| CliError::Api {
            context: format!("Failed to define domain from {file}"),
            source: e,
        })?;
    s.print_extra(&format!("Domain '{}' defined from {file}\n", dom.name));
    Ok(())
}

fn create(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let file = a.req("file")?;
    let xml = read_file(file)?;
    let dom = call(c, Command::CreateDomain { xml })
        .and_then(domain_reply)
        .map_err(|e| CliError::Api {
            context: format!("Failed to create domain from {file}"),
            source: e,
        })?;
    if a.flag("paused") {
        done(
            c,
            Command::SuspendDomain {
                domain: dom.name.clone(),
            },
        )
        .map_err(|e| CliError::Api {
            context: format!("Failed to suspend domain '{}'", dom.name),
            source: e,
        })?;
    }
    s.print_extra(&format!("Domain '{}' created from {file}\n", dom.name));
    Ok(())
}

fn undefine(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    done(
        c,
        Command::UndefineDomain {
            domain: name.to_string(),
            managed_save: a.flag("managed-save"),
        },
    )
    .map_err(|e| {
        fail(
            e,
            Target::Domain(name),
            Some(format!("Failed to undefine domain '{name}'")),
        )
    })?;
    s.print_extra(&format!("Domain '{name}' has been undefined\n"));
    Ok(())
}

fn dumpxml(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let xml = text(
        c,
        Command::DomainXml {
            domain: name.to_string(),
            inactive: a.flag("inactive"),
        },
    )
    .map_err(|e| fail(e, Target::Domain(name), None))?;
    print_xml(s, &xml);
    Ok(())
}

fn dominfo(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let d = lookup(c, a.req("domain")?)?;
    let mut out = field(
        "Id:",
        d.id.map_or_else(|| "-".to_string(), |i| i.to_string()),
    );
    out.push_str(&field("Name:", &d.name));
    out.push_str(&field("UUID:", &d.uuid));
    out.push_str(&field("OS Type:", &d.os_type));
    out.push_str(&field("State:", d.state.as_virsh()));
    out.push_str(&field("CPU(s):", d.vcpus));
    if d.cpu_time_ns != 0 {
        out.push_str(&field(
            "CPU time:",
            format!("{:.1}s", d.cpu_time_ns as f64 / 1e9),
        ));
    }
    out.push_str(&field("Max memory:", format!("{} KiB", d.max_memory_kib)));
    out.push_str(&field("Used memory:", format!("{} KiB", d.memory_kib)));
    out.push_str(&field(
        "Persistent:",
        if d.persistent { "yes" } else { "no" },
    ));
    out.push_str(&field(
        "Autostart:",
        if d.autostart { "enable" } else { "disable" },
    ));
    out.push_str(&field(
        "Managed save:",
        if d.managed_save { "yes" } else { "no" },
    ));
    s.print(&out);
    Ok(())
}

fn domstate(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let st = match call(
        c,
        Command::DomainState {
            domain: name.to_string(),
        },
    )
    .map_err(|e| fail(e, Target::Domain(name), None))?
    {
        Reply::DomainState(st) => st,
        other => {
            return Err(fail(
                other.unexpected("domain-state"),
                Target::Domain(name),
                None,
            ))
        }
    };
    if a.flag("reason") {
        s.print(&format!("{} ({})\n", st.state.as_virsh(), st.reason));
    } else {
        s.print(&format!("{}\n", st.state.as_virsh()));
    }
    Ok(())
}

struct EditDomain<'a> {
    conn: &'a Connection,
    name: &'a str,
}

impl Editable for EditDomain<'_> {
    fn current_xml(&mut self) -> Result<String, CliError> {
        text(
            self.conn,
            Command::DomainXml {
                domain: self.name.to_string(),
                inactive: true,
            },
        )
        .map_err(|e| fail(e, Target::Domain(self.name), None))
    }

    fn define(&mut self, xml: &str, _validate: bool) -> Result<String, CliError> {
        call(
            self.conn,
            Command::DefineDomain {
                xml: xml.to_string(),
            },
        )
        .and_then(domain_reply)
        .map(|d| d.name)
        .map_err(|e| CliError::Failed(vec![e.to_string()]))
    }
}

fn edit(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    s.flush();
    match edit::edit(&mut EditDomain { conn: c, name }, false)? {
        EditOutcome::NotChanged => {
            s.print_extra(&format!("Domain '{name}' XML configuration not changed.\n"))
        }
        EditOutcome::Edited(new) => {
            s.print_extra(&format!("Domain '{new}' XML configuration edited.\n"))
        }
    }
    Ok(())
}

fn autostart(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let enabled = !a.flag("disable");
    let command = Command::SetDomainAutostart {
        domain: name.to_string(),
        enabled,
    };
    let words = AutostartWords {
        failed: "Failed",
        subject: format!("domain '{name}'"),
        subject_capitalised: format!("Domain '{name}'"),
    };
    set_autostart(s, c, command, enabled, Target::Domain(name), words)
}

/// `--config` / `--live` / `--current` as an API scope.
fn scope(a: &Args) -> Result<Scope, CliError> {
    exclusive(a, "current", "live")?;
    exclusive(a, "current", "config")?;
    Ok(Scope {
        live: a.flag("live"),
        config: a.flag("config"),
    })
}

fn set_memory(s: &mut Session, c: &Connection, a: &Args, maximum: bool) -> Result<(), CliError> {
    let _ = s;
    let name = a.req("domain")?;
    let size_arg = a.req("size")?;
    let bytes = parse_size_arg(size_arg, "KiB").map_err(|_| {
        CliError::msg(format!(
            "Scaled numeric value '{size_arg}' for <size> option is malformed or out of range"
        ))
    })?;
    let kib = bytes.div_ceil(1024);
    let domain = name.to_string();
    let scope = scope(a)?;
    let (command, op) = if maximum {
        (
            Command::SetDomainMaxMemory { domain, kib, scope },
            Some("Unable to change MaxMemorySize".to_string()),
        )
    } else {
        (Command::SetDomainMemory { domain, kib, scope }, None)
    };
    done(c, command).map_err(|e| fail(e, Target::Domain(name), op))
}

fn setvcpus(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let _ = s;
    let name = a.req("domain")?;
    let count_arg = a.req("count")?;
    let count: u32 = count_arg.parse().map_err(|_| {
        CliError::msg(format!(
            "Numeric value '{count_arg}' for <count> option is malformed or out of range"
        ))
    })?;
    let command = Command::SetDomainVcpus {
        domain: name.to_string(),
        count,
        maximum: a.flag("maximum"),
        scope: scope(a)?,
    };
    done(c, command).map_err(|e| fail(e, Target::Domain(name), None))
}

fn start(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let d = lookup(c, name)?;
    if d.id.is_some() {
        return Err(CliError::msg("Domain is already active"));
    }
    done(
        c,
        Command::StartDomain {
            domain: d.name.clone(),
            paused: a.flag("paused"),
        },
    )
    .map_err(|e| CliError::Api {
        context: format!("Failed to start domain '{}'", d.name),
        source: e,
    })?;
    s.print_extra(&format!("Domain '{}' started\n", d.name));
    Ok(())
}

/// Commands that only name the domain and print one message.
fn lifecycle(s: &mut Session, c: &Connection, a: &Args, command: &str) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let domain = name.to_string();
    let (request, verb, message) = match command {
        "shutdown" => (
            Command::ShutdownDomain { domain },
            "shutdown",
            "is being shutdown",
        ),
        "reboot" => (
            Command::RebootDomain { domain },
            "reboot",
            "is being rebooted",
        ),
        "reset" => (Command::ResetDomain { domain }, "reset", "was reset"),
        "destroy" => (Command::DestroyDomain { domain }, "destroy", "destroyed"),
        "suspend" => (Command::SuspendDomain { domain }, "suspend", "suspended"),
        "resume" => (Command::ResumeDomain { domain }, "resume", "resumed"),
        other => return Err(CliError::Usage(format!("unknown command: '{other}'"))),
    };
    done(c, request).map_err(|e| {
        fail(
            e,
            Target::Domain(name),
            Some(format!("Failed to {verb} domain '{name}'")),
        )
    })?;
    s.print_extra(&format!("Domain '{name}' {message}\n"));
    Ok(())
}

fn save(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let file = a.req("file")?;
    done(
        c,
        Command::SaveDomain {
            domain: name.to_string(),
            path: file.to_string(),
        },
    )
    .map_err(|e| {
        fail(
            e,
            Target::Domain(name),
            Some(format!("Failed to save domain '{name}' to {file}")),
        )
    })?;
    s.print_extra(&format!("\nDomain '{name}' saved to {file}\n"));
    Ok(())
}

fn restore(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let file = a.req("file")?;
    call(
        c,
        Command::RestoreDomain {
            path: file.to_string(),
        },
    )
    .and_then(domain_reply)
    .map_err(|e| CliError::Api {
        context: format!("Failed to restore domain from {file}"),
        source: e,
    })?;
    s.print_extra(&format!("Domain restored from {file}\n"));
    Ok(())
}

fn managedsave(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    done(
        c,
        Command::ManagedSave {
            domain: name.to_string(),
        },
    )
    .map_err(|e| {
        fail(
            e,
            Target::Domain(name),
            Some(format!("Failed to save domain '{name}' state")),
        )
    })?;
    s.print_extra(&format!("\nDomain '{name}' state saved by libvirt\n"));
    Ok(())
}

fn managedsave_remove(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let d = lookup(c, name)?;
    if !d.managed_save {
        s.print_extra(&format!(
            "Domain '{name}' has no manage save image; removal skipped\n"
        ));
        return Ok(());
    }
    done(
        c,
        Command::ManagedSaveRemove {
            domain: d.name.clone(),
        },
    )
    .map_err(|e| CliError::Api {
        context: format!("Failed to remove managed save image for domain '{name}'"),
        source: e,
    })?;
    s.print_extra(&format!("Removed managedsave image for domain '{name}'\n"));
    Ok(())
}

fn console(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let d = lookup(c, a.req("domain")?)?;
    if !d.state.is_active() {
        return Err(CliError::msg("The domain is not running"));
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::msg(
            "Cannot run interactive console without a controlling TTY",
        ));
    }
    let socket = match call(
        c,
        Command::DomainConsoleSocket {
            domain: d.name.clone(),
        },
    ) {
        Ok(Reply::Text(path)) => path,
        Ok(other) => {
            return Err(fail(
                other.unexpected("text"),
                Target::Domain(&d.name),
                None,
            ))
        }
        Err(e) => return Err(fail(e, Target::Domain(&d.name), None)),
    };
    let stream = match vmm_control::request(std::path::Path::new(&socket), Request::Console) {
        Ok((VmmReply::Ok, stream)) => stream,
        Ok((VmmReply::Error(e), _)) => {
            return Err(CliError::msg(format!(
                "internal error: cannot open the console of domain '{}': {e}",
                d.name
            )))
        }
        Ok((VmmReply::Status(_) | VmmReply::Memory(_), _)) => {
            return Err(CliError::msg(format!(
                "internal error: cannot open the console of domain '{}'",
                d.name
            )))
        }
        Err(e) => {
            return Err(CliError::msg(format!(
                "internal error: cannot open the console of domain '{}': {e}",
                d.name
            )))
        }
    };
    crate::cli::console::attach(s, &d.name, stream)?;
    // virsh ends the session on a new line.
    s.print_extra("\n");
    Ok(())
}
