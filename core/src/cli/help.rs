//! `help`, `help GROUP`, `help COMMAND` and `--help`, laid out as virsh's.

use super::spec::{self, CommandSpec, Group, OptKind};
use super::CliError;

/// `hangarctl --help`.
pub fn usage() -> String {
    let mut out = String::from(
        "\nhangarctl [options]... [<command_string>]\n\
         hangarctl [options]... <command> [args...]\n\n\
         \x20 options:\n\
         \x20   -c | --connect=URI      hypervisor connection URI\n\
         \x20   -h | --help             this help\n\
         \x20   -q | --quiet            quiet mode\n\
         \x20   -v | --version          program version\n\n\
         \x20 commands (non interactive mode):\n\n",
    );
    out.push_str(&groups(&Group::ALL));
    out.push_str(
        "\n  (specify help <group> for details about the commands in the group)\n\n\
         \x20 (specify help <command> for details about the command)\n\n",
    );
    out
}

/// `help` with no argument.
pub fn all_commands() -> String {
    format!("Grouped commands:\n\n{}", groups(&Group::ALL))
}

fn groups(groups: &[Group]) -> String {
    let mut out = String::new();
    for group in groups {
        out.push_str(&format!(" {}:\n", group.title()));
        for c in spec::COMMANDS.iter().filter(|c| c.group == *group) {
            out.push_str(&format!("    {:<30} {}\n", c.name, c.help));
        }
        out.push('\n');
    }
    out
}

/// `help NAME`: a command's page, or a group's command list.
pub fn topic(name: &str) -> Result<String, CliError> {
    if let Some(group) = Group::ALL.iter().find(|g| g.keyword() == name) {
        return Ok(groups(&[*group]));
    }
    let command = spec::find(name)
        .ok_or_else(|| CliError::msg(format!("command or command group '{name}' doesn't exist")))?;
    Ok(command_page(command))
}

fn command_page(c: &CommandSpec) -> String {
    let mut synopsis = String::from(c.name);
    let mut options = String::new();
    for o in c.opts {
        let (syn, label) = match o.kind {
            OptKind::Bool => (format!(" [--{}]", o.name), format!("--{}", o.name)),
            OptKind::Required => (format!(" <{}>", o.name), format!("[--{}] <string>", o.name)),
            OptKind::Optional => (
                format!(" [--{} <string>]", o.name),
                format!("--{} <string>", o.name),
            ),
        };
        synopsis.push_str(&syn);
        options.push_str(&format!("    {label:<15}  {}\n", o.help));
    }
    let mut out = format!(
        "  NAME\n    {} - {}\n\n  SYNOPSIS\n    {synopsis}\n\n",
        c.name, c.help
    );
    if !c.desc.is_empty() {
        out.push_str(&format!("  DESCRIPTION\n    {}\n\n", c.desc));
    }
    if !options.is_empty() {
        out.push_str(&format!("  OPTIONS\n{options}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_page_lists_synopsis_and_options() {
        let page = topic("net-autostart").unwrap_or_default();
        assert!(page.contains("  SYNOPSIS\n    net-autostart <network> [--disable]\n"));
        assert!(page.contains("    [--network] <string>  network name or uuid\n"));
        assert!(page.contains("    --disable        disable autostarting\n"));
        assert!(topic("network")
            .unwrap_or_default()
            .contains("    net-list "));
        assert!(topic("nope").is_err());
        assert!(all_commands().starts_with("Grouped commands:\n\n Domain Management"));
    }
}
