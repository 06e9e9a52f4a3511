//! `dommemstat`: the balloon's size and the guest's memory statistics,
//! one `name value` line each as virsh prints them.

use super::{call, fail, Target};
use crate::api::{Command, Connection, Reply};
use crate::cli::args::Args;
use crate::cli::{CliError, Session};

/// `dommemstat DOMAIN`.
pub(super) fn dommemstat(s: &mut Session, c: &Connection, a: &Args) -> Result<(), CliError> {
    let name = a.req("domain")?;
    let context = || Some("Failed to get memory statistics for domain".to_string());
    let reply = call(
        c,
        Command::DomainMemoryStats {
            domain: name.to_string(),
        },
    )
    .map_err(|e| fail(e, Target::Domain(name), context()))?;
    let lines = match reply {
        Reply::MemoryStats(lines) => lines,
        other => {
            return Err(fail(
                other.unexpected("memory-stats"),
                Target::Domain(name),
                context(),
            ))
        }
    };
    let mut out = String::new();
    for line in lines {
        out.push_str(&format!("{} {}\n", line.tag, line.value));
    }
    s.print(&out);
    Ok(())
}
