//! The command handlers, one file per kind of object, and what they share:
//! dispatch, typed calls and virsh's two-line error wording.

mod device;
mod display;
mod domain;
mod host;
mod memory;
mod network;
mod pool;
mod volume;

use super::args::Args;
use super::spec::CommandSpec;
use super::{help, CliError, Session};
use crate::api::{ApiError, Command, Connection, ObjectKind, Reply};

/// Runs one parsed command.
pub fn dispatch(s: &mut Session, spec: &CommandSpec, a: &Args) -> Result<(), CliError> {
    match spec.name {
        "help" => {
            let text = match a.get("command") {
                Some(name) => help::topic(name)?,
                None => help::all_commands(),
            };
            s.print(&text);
            return Ok(());
        }
        "connect" => return s.reconnect(a.get("name")),
        _ => {}
    }
    let conn = s.connection()?;
    let c = &conn;
    match spec.name {
        "net-list" => network::list(s, c, a),
        "net-define" => network::define(s, c, a),
        "net-create" => network::create(s, c, a),
        "net-info" => network::info(s, c, a),
        "net-dumpxml" => network::dumpxml(s, c, a),
        "net-edit" => network::edit(s, c, a),
        "net-autostart" => network::autostart(s, c, a),
        "net-undefine" => network::undefine(s, c, a),
        "net-start" => network::start(s, c, a),
        "net-destroy" => network::destroy(s, c, a),
        "net-update" => network::update(s, c, a),
        "net-dhcp-leases" => network::dhcp_leases(s, c, a),
        "pool-list" => pool::list(s, c, a),
        "pool-define" => pool::define(s, c, a),
        "pool-define-as" => pool::define_as(s, c, a),
        "pool-build" => pool::build(s, c, a),
        "pool-start" => pool::start(s, c, a),
        "pool-autostart" => pool::autostart(s, c, a),
        "pool-info" => pool::info(s, c, a),
        "pool-dumpxml" => pool::dumpxml(s, c, a),
        "pool-edit" => pool::edit(s, c, a),
        "pool-refresh" => pool::refresh(s, c, a),
        "pool-destroy" => pool::destroy(s, c, a),
        "pool-undefine" => pool::undefine(s, c, a),
        "pool-delete" => pool::delete(s, c, a),
        "vol-list" => volume::list(s, c, a),
        "vol-create-as" => volume::create_as(s, c, a),
        "vol-create" => volume::create(s, c, a),
        "vol-clone" => volume::clone(s, c, a),
        "vol-resize" => volume::resize(s, c, a),
        "vol-delete" => volume::delete(s, c, a),
        "vol-info" => volume::info(s, c, a),
        "vol-dumpxml" => volume::dumpxml(s, c, a),
        "vol-path" => volume::path(s, c, a),
        "vol-wipe" => volume::wipe(s, c, a),
        "dommemstat" => memory::dommemstat(s, c, a),
        "attach-disk" => device::attach_disk(s, c, a),
        "detach-disk" => device::detach_disk(s, c, a),
        "attach-interface" => device::attach_interface(s, c, a),
        "detach-interface" => device::detach_interface(s, c, a),
        "attach-device" => device::device_file(s, c, a, true),
        "detach-device" => device::device_file(s, c, a, false),
        "nodeinfo" => host::nodeinfo(s, c),
        "capabilities" => host::capabilities(s, c),
        "hostname" => host::hostname(s, c),
        "uri" => host::uri(s, c),
        "version" => host::version(s, c),
        "domdisplay" => display::domdisplay(s, c, a),
        "vncdisplay" => display::vncdisplay(s, c, a),
        other => domain::dispatch(s, c, other, a),
    }
}

/// What a command named, for virsh's `failed to get ...` first line.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target<'a> {
    Domain(&'a str),
    Network(&'a str),
    Pool(&'a str),
    Vol {
        name: &'a str,
        pool: Option<&'a str>,
    },
}

/// Words `err` as virsh: a failed lookup of the named object gives
/// `failed to get <kind> '<name>'`, anything else `op` (when virsh has one)
/// followed by the backend's message.
pub(super) fn fail(err: ApiError, target: Target<'_>, op: Option<String>) -> CliError {
    let lookup = match (&err, target) {
        (
            ApiError::NotFound {
                kind: ObjectKind::Domain,
                ..
            },
            Target::Domain(n),
        ) => Some(format!("failed to get domain '{n}'")),
        (
            ApiError::NotFound {
                kind: ObjectKind::Network,
                ..
            },
            Target::Network(n),
        ) => Some(format!("failed to get network '{n}'")),
        (
            ApiError::NotFound {
                kind: ObjectKind::Pool,
                ..
            },
            Target::Pool(n),
        )
        | (
            ApiError::NotFound {
                kind: ObjectKind::Pool,
                ..
            },
            Target::Vol { pool: Some(n), .. },
        ) => Some(format!("failed to get pool '{n}'")),
        (
            ApiError::NotFound {
                kind: ObjectKind::Volume,
                ..
            },
            Target::Vol { name, pool },
        ) => Some(match pool {
            Some(_) => format!("failed to get vol '{name}'"),
            None => format!("failed to get vol '{name}', specifying --pool might help"),
        }),
        _ => None,
    };
    match lookup.or(op) {
        Some(context) => CliError::Api {
            context,
            source: err,
        },
        None => CliError::Failed(vec![err.to_string()]),
    }
}

/// Sends `command` and waits for the reply.
pub(super) fn call(conn: &Connection, command: Command) -> Result<Reply, ApiError> {
    conn.call_blocking(command)
}

/// Sends a command that answers [`Reply::Done`].
/// How virsh words one object kind's autostart messages: domains quote the
/// name and capitalise "Failed"; networks and pools do neither.
pub(super) struct AutostartWords {
    /// "Failed" or "failed", as virsh's error line starts.
    pub failed: &'static str,
    /// The object as the error line names it, e.g. `domain 'x'`.
    pub subject: String,
    /// The object as the success line names it, e.g. `Domain 'x'`.
    pub subject_capitalised: String,
}

/// `autostart`, `net-autostart` and `pool-autostart`: sends `command` and
/// prints virsh's "marked/unmarked as autostarted" line.
pub(super) fn set_autostart(
    s: &mut Session,
    c: &Connection,
    command: Command,
    enabled: bool,
    target: Target<'_>,
    words: AutostartWords,
) -> Result<(), CliError> {
    let verb = if enabled { "mark" } else { "unmark" };
    let op = format!(
        "{} to {verb} {} as autostarted",
        words.failed, words.subject
    );
    done(c, command).map_err(|e| fail(e, target, Some(op)))?;
    s.print_extra(&format!(
        "{} {verb}ed as autostarted\n",
        words.subject_capitalised
    ));
    Ok(())
}

pub(super) fn done(conn: &Connection, command: Command) -> Result<(), ApiError> {
    match call(conn, command)? {
        Reply::Done => Ok(()),
        other => Err(other.unexpected("done")),
    }
}

/// Sends a command that answers XML or a line of text.
pub(super) fn text(conn: &Connection, command: Command) -> Result<String, ApiError> {
    match call(conn, command)? {
        Reply::Xml(t) | Reply::Text(t) => Ok(t),
        other => Err(other.unexpected("xml")),
    }
}

/// Prints an XML document as virsh does, ending with exactly one newline.
pub(super) fn print_xml(s: &mut Session, xml: &str) {
    s.print(xml.trim_end_matches('\n'));
    s.print("\n");
}

/// Reads a definition file given on the command line (`net-define FILE`, ...).
pub(super) fn read_file(path: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError::msg(format!(
            "Failed to open file '{path}': {}",
            crate::api::io_message(&e)
        ))
    })
}

/// ASCII case-insensitive name order, as virsh's `vshStrcasecmp` sorts lists.
pub(super) fn by_name(a: &str, b: &str) -> std::cmp::Ordering {
    a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase())
}

/// Rejects two options virsh does not allow together.
pub(super) fn exclusive(a: &Args, first: &str, second: &str) -> Result<(), CliError> {
    if a.flag(first) && a.flag(second) {
        return Err(CliError::msg(format!(
            "Options --{first} and --{second} are mutually exclusive"
        )));
    }
    Ok(())
}
