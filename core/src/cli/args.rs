//! Argument parsing for one command, with virsh's rules: `--name VALUE`,
//! `--name=VALUE`, flags, and bare words that fill the value options in the
//! order the command lists them.

use super::spec::{CommandSpec, OptKind};
use super::CliError;
use std::collections::{HashMap, HashSet};

/// The options given to one command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    values: HashMap<&'static str, String>,
    flags: HashSet<&'static str>,
}

impl Args {
    /// The value of option `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of a required option (checked by [`parse`]).
    pub fn req(&self, name: &str) -> Result<&str, CliError> {
        self.get(name)
            .ok_or_else(|| CliError::Usage(format!("missing <{name}> option")))
    }

    /// Whether flag `name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.contains(name)
    }
}

/// Parses the words after the command name against `spec`.
pub fn parse(spec: &CommandSpec, words: &[String]) -> Result<Args, CliError> {
    let mut args = Args::default();
    let mut only_positional = false;
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        if !only_positional && word == "--" {
            only_positional = true;
            continue;
        }
        if let (false, Some(long)) = (only_positional, word.strip_prefix("--")) {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let opt = spec.opts.iter().find(|o| o.name == name).ok_or_else(|| {
                CliError::Usage(format!(
                    "command '{}' doesn't support option --{name}",
                    spec.name
                ))
            })?;
            if opt.kind == OptKind::Bool {
                if inline.is_some() {
                    return Err(CliError::Usage(format!(
                        "option --{name} doesn't take a value"
                    )));
                }
                if !args.flags.insert(opt.name) {
                    return Err(CliError::Usage(format!("option --{name} already seen")));
                }
                continue;
            }
            let value = match inline {
                Some(v) => v,
                None => {
                    let v = words.get(i).ok_or_else(|| {
                        CliError::Usage(format!("expected syntax: --{name} <string>"))
                    })?;
                    i += 1;
                    v.clone()
                }
            };
            if args.values.insert(opt.name, value).is_some() {
                return Err(CliError::Usage(format!("option --{name} already seen")));
            }
            continue;
        }
        let slot = spec
            .opts
            .iter()
            .find(|o| o.kind != OptKind::Bool && !args.values.contains_key(o.name))
            .ok_or_else(|| CliError::Usage(format!("unexpected data '{word}'")))?;
        args.values.insert(slot.name, word.clone());
    }
    if let Some(missing) = spec
        .opts
        .iter()
        .find(|o| o.kind == OptKind::Required && !args.values.contains_key(o.name))
    {
        return Err(CliError::Usage(format!(
            "command '{}' requires <{}> option",
            spec.name, missing.name
        )));
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::spec::find;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn parse_line(cmd: &str, rest: &str) -> Result<Args, CliError> {
        let spec = find(cmd).ok_or_else(|| CliError::Usage(cmd.to_string()))?;
        parse(spec, &words(rest))
    }

    #[test]
    fn positional_and_named_forms_fill_the_same_options() {
        let a = parse_line("vol-clone", "--pool default kvm1.qcow2 kvm2.qcow2").ok();
        let b = parse_line("vol-clone", "kvm1.qcow2 kvm2.qcow2 default").ok();
        let c = parse_line(
            "vol-clone",
            "kvm1.qcow2 --newname=kvm2.qcow2 --pool=default",
        )
        .ok();
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_eq!(a, c);
        let a = a.unwrap_or_default();
        assert_eq!(a.get("vol"), Some("kvm1.qcow2"));
        assert_eq!(a.get("newname"), Some("kvm2.qcow2"));
        assert_eq!(a.get("pool"), Some("default"));
    }

    #[test]
    fn vol_create_as_takes_format_after_size() {
        let a = parse_line("vol-create-as", "default kvm1.qcow2 10G --format qcow2")
            .unwrap_or_default();
        assert_eq!(a.get("capacity"), Some("10G"));
        assert_eq!(a.get("format"), Some("qcow2"));
        assert_eq!(a.get("allocation"), None);
    }

    #[test]
    fn pool_define_as_fills_the_optional_strings_in_order() {
        let a = parse_line("pool-define-as", "p dir - - - - /srv/images").unwrap_or_default();
        assert_eq!(a.get("target"), Some("/srv/images"));
        assert_eq!(a.get("source-host"), Some("-"));
    }

    #[test]
    fn errors_use_virsh_wording() {
        let msg = |cmd: &str, rest: &str| match parse_line(cmd, rest) {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        };
        assert_eq!(
            msg("net-info", ""),
            "command 'net-info' requires <network> option"
        );
        assert_eq!(
            msg("net-list", "--bogus"),
            "command 'net-list' doesn't support option --bogus"
        );
        assert_eq!(msg("net-list", "extra"), "unexpected data 'extra'");
        assert_eq!(
            msg("vol-list", "--pool"),
            "expected syntax: --pool <string>"
        );
        assert_eq!(msg("net-list", "--all --all"), "option --all already seen");
        let a = parse_line("net-autostart", "x --disable").unwrap_or_default();
        assert!(a.flag("disable"));
    }

    #[test]
    fn double_dash_makes_the_rest_positional() {
        let a = parse_line("dominfo", "-- --odd-name").unwrap_or_default();
        assert_eq!(a.get("domain"), Some("--odd-name"));
    }
}
