//! `pool-*` commands.

use super::{
    by_name, call, done, exclusive, fail, print_xml, read_file, set_autostart, text,
    AutostartWords, Target,
};
use crate::api::{ApiError, Command, Connection, PoolAs, PoolInfo, PoolState, Reply};
use crate::cli::args::Args;
use crate::cli::edit::{self, EditOutcome, Editable};
use crate::cli::format::{field, pretty_capacity, yes_no, Table};
use crate::cli::{CliError, Session};
use crate::xml::Element;

/// Pool types virsh's `pool-list --type` accepts.
const POOL_TYPES: &[&str] = &[
    "dir",
    "fs",
    "netfs",
    "logical",
    "disk",
    "iscsi",
    "iscsi-direct",
    "scsi",
    "mpath",
    "rbd",
    "sheepdog",
    "gluster",
    "zfs",
    "vstorage",
];

fn pool_reply(reply: Reply) -> Result<PoolInfo, ApiError> {
    match reply {
        Reply::Pool(p) => Ok(p),
        other => Err(other.unexpected("pool")),
    }
}

fn has_sizes(state: PoolState) -> bool {
    matches!(state, PoolState::Running | PoolState::Degraded)
}

pub(super) fn list(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    exclusive(a, "all", "inactive")?;
    exclusive(a, "details", "uuid")?;
    exclusive(a, "details", "name")?;
    let types: Vec<&str> = match a.get("type") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect(),
        None => Vec::new(),
    };
    if let Some(bad) = types.iter().find(|t| !POOL_TYPES.contains(t)) {
        return Err(CliError::msg(format!("Invalid pool type '{bad}'")));
    }
    let mut pools = match call(c, Command::ListPools)
        .map_err(|e| fail(e, Target::Pool(""), Some("Failed to list pools".into())))?
    {
        Reply::Pools(v) => v,
        other => return Err(fail(other.unexpected("pools"), Target::Pool(""), None)),
    };
    let (want_active, want_inactive) = if a.flag("all") {
        (true, true)
    } else if a.flag("inactive") {
        (false, true)
    } else {
        (true, false)
    };
    pools.retain(|p| {
        let active = p.state != PoolState::Inactive;
        (if active { want_active } else { want_inactive })
            && (!(a.flag("persistent") || a.flag("transient"))
                || (a.flag("persistent") && p.persistent)
                || (a.flag("transient") && !p.persistent))
            && (!(a.flag("autostart") || a.flag("no-autostart"))
                || (a.flag("autostart") && p.autostart)
                || (a.flag("no-autostart") && !p.autostart))
            && (types.is_empty() || types.contains(&p.pool_type.as_str()))
    });
    pools.sort_by(|x, y| by_name(&x.name, &y.name));
    let quiet = s.quiet();
    if a.flag("details") {
        let mut table = Table::new(&[
            "Name",
            "State",
            "Autostart",
            "Persistent",
            "Capacity",
            "Allocation",
            "Available",
        ]);
        for p in &pools {
            let sizes = if has_sizes(p.state) {
                [p.capacity, p.allocation, p.available].map(pretty_capacity)
            } else {
                ["-", "-", "-"].map(str::to_string)
            };
            table.row(&[
                p.name.as_str(),
                p.state.as_virsh(),
                yes_no(p.autostart),
                yes_no(p.persistent),
                &sizes[0],
                &sizes[1],
                &sizes[2],
            ]);
        }
        s.print(&table.render(!quiet));
        return Ok(());
    }
    if a.flag("uuid") || a.flag("name") {
        for p in &pools {
            if a.flag("uuid") {
                let end = if a.flag("name") { ' ' } else { '\n' };
                s.print(&format!("{:<36}{end}", p.uuid));
            }
            if a.flag("name") {
                s.print(&format!("{:<20}\n", p.name));
            }
        }
        return Ok(());
    }
    let mut table = Table::new(&["Name", "State", "Autostart"]);
    for p in &pools {
        let state = if p.state == PoolState::Inactive {
            "inactive"
        } else {
            "active"
        };
        table.row(&[p.name.as_str(), state, yes_no(p.autostart)]);
    }
    s.print(&table.render(!quiet));
    Ok(())
}

pub(super) fn define(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let file = a.req("file")?;
    let xml = read_file(file)?;
    let pool = call(c, Command::DefinePool { xml })
        .and_then(pool_reply)
        .map_err(|e| CliError::Api {
            context: format!("Failed to define pool from {file}"),
            source: e,
        })?;
    s.print_extra(&format!("Pool {} defined from {file}\n", pool.name));
    Ok(())
}

/// An optional `pool-define-as` argument; `-` stands for "not given", as in
/// the usual `pool-define-as NAME dir - - - - TARGET`.
fn given<'a>(a: &'a Args, name: &str) -> Option<&'a str> {
    a.get(name).filter(|v| !v.is_empty() && *v != "-")
}

fn pool_as(a: &Args) -> Result<PoolAs, CliError> {
    let owned = |n: &str| given(a, n).map(str::to_string);
    Ok(PoolAs {
        name: a.req("name")?.to_string(),
        pool_type: a.req("type")?.to_string(),
        source_host: owned("source-host"),
        source_path: owned("source-path"),
        source_dev: owned("source-dev"),
        source_name: owned("source-name"),
        source_format: owned("source-format"),
        target: owned("target"),
    })
}

/// The XML virsh builds from `pool-define-as` arguments (for `--print-xml`).
fn pool_as_xml(p: &PoolAs) -> String {
    let mut pool = Element::new("pool")
        .with_attr("type", p.pool_type.clone())
        .with_child(Element::new("name").with_text(p.name.clone()));
    let mut source = Element::new("source");
    let attr_child = |tag: &str, attr: &str, v: &Option<String>| {
        v.as_ref()
            .map(|v| Element::new(tag).with_attr(attr, v.clone()))
    };
    source.push_opt(attr_child("host", "name", &p.source_host));
    source.push_opt(attr_child("dir", "path", &p.source_path));
    source.push_opt(attr_child("device", "path", &p.source_dev));
    source.push_opt(attr_child("format", "type", &p.source_format));
    source.push_opt(
        p.source_name
            .as_ref()
            .map(|n| Element::new("name").with_text(n.clone())),
    );
    if !source.is_empty() {
        pool.push(source);
    }
    if let Some(target) = &p.target {
        pool.push(
            Element::new("target").with_child(Element::new("path").with_text(target.clone())),
        );
    }
    pool.to_xml()
}

pub(super) fn define_as(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let args = pool_as(a)?;
    if a.flag("print-xml") {
        print_xml(s, &pool_as_xml(&args));
        return Ok(());
    }
    let name = args.name.clone();
    call(c, Command::DefinePoolAs(args))
        .and_then(pool_reply)
        .map_err(|e| CliError::Api {
            context: format!("Failed to define pool {name}"),
            source: e,
        })?;
    s.print_extra(&format!("Pool {name} defined\n"));
    Ok(())
}

fn simple(
    s: &mut Session,
    c: &Connection,
    a: &Args,
    command: Command,
    failed: &str,
    succeeded: &str,
) -> Result<(), CliError> {
    let name = a.req("pool")?;
    done(c, command).map_err(|e| {
        fail(
            e,
            Target::Pool(name),
            Some(format!("Failed to {failed} pool {name}")),
        )
    })?;
    s.print_extra(&format!("Pool {name} {succeeded}\n"));
    Ok(())
}

pub(super) fn build(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    exclusive(a, "overwrite", "no-overwrite")?;
    let command = Command::BuildPool {
        pool: a.req("pool")?.to_string(),
        overwrite: a.flag("overwrite"),
        no_overwrite: a.flag("no-overwrite"),
    };
    simple(s, c, a, command, "build", "built")
}

pub(super) fn start(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let command = Command::StartPool {
        pool: a.req("pool")?.to_string(),
        build: a.flag("build"),
    };
    simple(s, c, a, command, "start", "started")
}

pub(super) fn refresh(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let command = Command::RefreshPool {
        pool: a.req("pool")?.to_string(),
    };
    simple(s, c, a, command, "refresh", "refreshed")
}

pub(super) fn destroy(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let command = Command::DestroyPool {
        pool: a.req("pool")?.to_string(),
    };
    simple(s, c, a, command, "destroy", "destroyed")
}

pub(super) fn undefine(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let command = Command::UndefinePool {
        pool: a.req("pool")?.to_string(),
    };
    simple(s, c, a, command, "undefine", "has been undefined")
}

pub(super) fn delete(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let command = Command::DeletePool {
        pool: a.req("pool")?.to_string(),
    };
    simple(s, c, a, command, "delete", "deleted")
}

pub(super) fn autostart(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("pool")?;
    let enabled = !a.flag("disable");
    let command = Command::SetPoolAutostart {
        pool: name.to_string(),
        enabled,
    };
    let words = AutostartWords {
        failed: "failed",
        subject: format!("pool {name}"),
        subject_capitalised: format!("Pool {name}"),
    };
    set_autostart(s, c, command, enabled, Target::Pool(name), words)
}

pub(super) fn info(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("pool")?;
    let p = call(
        c,
        Command::PoolInfo {
            pool: name.to_string(),
        },
    )
    .and_then(pool_reply)
    .map_err(|e| fail(e, Target::Pool(name), None))?;
    let mut out = field("Name:", &p.name);
    out.push_str(&field("UUID:", &p.uuid));
    out.push_str(&field("State:", p.state.as_virsh()));
    out.push_str(&field("Persistent:", yes_no(p.persistent)));
    out.push_str(&field("Autostart:", yes_no(p.autostart)));
    if has_sizes(p.state) {
        let sizes = [
            ("Capacity:", p.capacity),
            ("Allocation:", p.allocation),
            ("Available:", p.available),
        ];
        for (label, bytes) in sizes {
            if a.flag("bytes") {
                out.push_str(&field(label, bytes));
            } else {
                out.push_str(&field(label, pretty_capacity(bytes)));
            }
        }
    }
    s.print(&out);
    Ok(())
}

pub(super) fn dumpxml(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("pool")?;
    let xml = text(
        c,
        Command::PoolXml {
            pool: name.to_string(),
            inactive: a.flag("inactive"),
        },
    )
    .map_err(|e| fail(e, Target::Pool(name), None))?;
    print_xml(s, &xml);
    Ok(())
}

struct EditPool<'a> {
    conn: &'a Connection,
    name: &'a str,
}

impl Editable for EditPool<'_> {
    fn current_xml(&mut self) -> Result<String, CliError> {
        text(
            self.conn,
            Command::PoolXml {
                pool: self.name.to_string(),
                inactive: true,
            },
        )
        .map_err(|e| fail(e, Target::Pool(self.name), None))
    }

    fn define(&mut self, xml: &str, _validate: bool) -> Result<String, CliError> {
        call(
            self.conn,
            Command::DefinePool {
                xml: xml.to_string(),
            },
        )
        .and_then(pool_reply)
        .map(|p| p.name)
        .map_err(|e| CliError::Failed(vec![e.to_string()]))
    }
}

pub(super) fn edit(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("pool")?;
    s.flush();
    match edit::edit(&mut EditPool { conn: c, name }, false)? {
        EditOutcome::NotChanged => {
            s.print_extra(&format!("Pool {name} XML configuration not changed.\n"))
        }
        EditOutcome::Edited(new) => {
            s.print_extra(&format!("Pool {new} XML configuration edited.\n"))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_xml_matches_virsh_pool_define_as() {
        let p = PoolAs {
            name: "P".into(),
            pool_type: "dir".into(),
            source_host: Some("src-host".into()),
            source_path: Some("/src/path".into()),
            source_dev: Some("/src/dev".into()),
            source_name: Some("S".into()),
            source_format: None,
            target: Some("/target-path".into()),
        };
        let expected = "<pool type='dir'>\n  <name>P</name>\n  <source>\n    <host name='src-host'/>\n    <dir path='/src/path'/>\n    <device path='/src/dev'/>\n    <name>S</name>\n  </source>\n  <target>\n    <path>/target-path</path>\n  </target>\n</pool>";
        assert_eq!(pool_as_xml(&p).trim_end(), expected);
    }
}
