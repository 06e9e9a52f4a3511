//! `hangarctl`: a virsh-compatible command line over the [`crate::api`].
//!
//! The command table ([`spec`]) and argument rules ([`args`]) follow virsh 9.0;
//! output uses virsh's layouts ([`format`]); with no command the [`shell`]
//! reads commands from the terminal or from a pipe. Every command talks to the
//! backend only through [`crate::api::Connection`].

pub mod args;
mod commands;
pub mod console;
pub mod edit;
pub mod format;
mod help;
mod session;
pub mod shell;
pub mod spec;
mod tty;

pub use session::Session;

use crate::api::ApiError;
use std::io::{BufRead, IsTerminal, Write};

/// Why a command failed; every line is printed after `error: `.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line itself is wrong (unknown option, missing argument).
    #[error("{0}")]
    Usage(String),
    /// The backend refused; `context` says what hangarctl was doing, as virsh words it.
    #[error("{context}\n{source}")]
    Api {
        /// virsh's first line, e.g. `failed to get network 'x'`.
        context: String,
        /// The backend's error, printed on the second line.
        source: ApiError,
    },
    /// Anything else, already worded line by line.
    #[error("{}", .0.join("\n"))]
    Failed(Vec<String>),
}

impl CliError {
    /// A one-line failure.
    pub fn msg(text: impl Into<String>) -> Self {
        CliError::Failed(vec![text.into()])
    }

    /// The lines printed after `error: `.
    pub fn lines(&self) -> Vec<String> {
        self.to_string().lines().map(str::to_string).collect()
    }
}

/// Prints `error: ...` lines on stderr.
pub fn report_error(err: &CliError) {
    let mut stderr = std::io::stderr().lock();
    for line in err.lines() {
        let _ = writeln!(stderr, "error: {line}");
    }
}

/// Options given before the command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct GlobalOptions {
    uri: Option<String>,
    quiet: bool,
    help: bool,
    version: bool,
    /// The command and its arguments; empty for the shell.
    command: Vec<String>,
}

fn parse_global(argv: &[String]) -> Result<GlobalOptions, CliError> {
    let mut opts = GlobalOptions::default();
    let mut i = 0;
    while i < argv.len() {
        let word = argv[i].as_str();
        i += 1;
        match word {
            "-q" | "--quiet" => opts.quiet = true,
            "-h" | "--help" => opts.help = true,
            "-v" | "-V" | "--version" => opts.version = true,
            "-c" | "--connect" => {
                let uri = argv.get(i).ok_or_else(|| {
                    CliError::Usage(format!("option '{word}' requires an argument"))
                })?;
                opts.uri = Some(uri.clone());
                i += 1;
            }
            _ if word.starts_with("--connect=") => {
                opts.uri = Some(word["--connect=".len()..].to_string());
            }
            "--" => {
                opts.command = argv[i..].to_vec();
                break;
            }
            _ if word.starts_with('-') && word.len() > 1 => {
                return Err(CliError::Usage(format!(
                    "unsupported option '{word}'. See --help."
                )));
            }
            _ => {
                opts.command = argv[i - 1..].to_vec();
                break;
            }
        }
    }
    Ok(opts)
}

/// Runs `hangarctl` with `argv` (without the program name); returns the exit code.
pub fn main(argv: Vec<String>) -> i32 {
    let opts = match parse_global(&argv) {
        Ok(o) => o,
        Err(e) => {
            report_error(&e);
            return 1;
        }
    };
    if opts.version {
        println!("{}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    if opts.help {
        print!("{}", help::usage());
        return 0;
    }
    let uri = opts.uri.clone().unwrap_or_else(crate::api::default_uri);
    let mut session = Session::new(uri, opts.quiet);
    if !opts.command.is_empty() {
        return match run_words(&mut session, &opts.command) {
            Outcome::Ok => 0,
            Outcome::Failed => 1,
            Outcome::Quit(ok) => i32::from(!ok),
        };
    }
    run_shell(&mut session)
}

/// How one command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Failed,
    /// `quit`/`exit`: leave the shell with this status of the last command.
    Quit(bool),
}

/// Runs one command given as words, printing virsh's blank line after it.
fn run_words(session: &mut Session, words: &[String]) -> Outcome {
    let Some((name, rest)) = words.split_first() else {
        return Outcome::Ok;
    };
    session.flush();
    let Some(spec) = spec::find(name) else {
        report_error(&CliError::Usage(format!("unknown command: '{name}'")));
        return Outcome::Failed;
    };
    let parsed = match args::parse(spec, rest) {
        Ok(a) => a,
        Err(e) => {
            report_error(&e);
            return Outcome::Failed;
        }
    };
    if spec.name == "quit" || spec.name == "exit" {
        return Outcome::Quit(true);
    }
    // Like virsh, a connection that cannot open fails the command before it runs
    // (no trailing empty line).
    if !matches!(spec.name, "help" | "connect") {
        if let Err(e) = session.connection() {
            report_error(&e);
            return Outcome::Failed;
        }
    }
    let result = commands::dispatch(session, spec, &parsed);
    session.flush();
    if let Err(e) = &result {
        report_error(e);
    }
    // virsh ends every command's output with an empty line (not in quiet mode).
    session.print_extra("\n");
    session.flush();
    if result.is_ok() {
        Outcome::Ok
    } else {
        Outcome::Failed
    }
}

/// The interactive shell; reads a pipe line by line without a prompt.
fn run_shell(session: &mut Session) -> i32 {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    if interactive {
        session.print_extra(shell::banner());
    }
    let mut last_ok = true;
    loop {
        if interactive {
            session.print(shell::PROMPT);
            session.flush();
        }
        let mut line = String::new();
        // The lock is taken per line: `edit` reads its answer from the same stdin.
        match stdin.lock().read_line(&mut line) {
            Ok(0) => {
                if interactive {
                    session.print("\n");
                }
                break;
            }
            Ok(_) => {}
            Err(e) => {
                report_error(&CliError::msg(format!("cannot read the input: {e}")));
                return 1;
            }
        }
        let commands = match shell::split_commands(&line) {
            Ok(c) => c,
            Err(e) => {
                session.flush();
                report_error(&e);
                last_ok = false;
                continue;
            }
        };
        for words in commands {
            match run_words(session, &words) {
                Outcome::Ok => last_ok = true,
                Outcome::Failed => last_ok = false,
                Outcome::Quit(_) => return i32::from(!last_ok),
            }
        }
    }
    i32::from(!last_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn global_options_stop_at_the_command() {
        let o = parse_global(&words("-c test:///default -q net-list --all")).unwrap_or_default();
        assert_eq!(o.uri.as_deref(), Some("test:///default"));
        assert!(o.quiet);
        assert_eq!(o.command, words("net-list --all"));
        let o = parse_global(&words("--connect=hangar:///system list -q")).unwrap_or_default();
        assert_eq!(o.uri.as_deref(), Some("hangar:///system"));
        assert!(!o.quiet);
        assert_eq!(o.command, words("list -q"));
        assert!(parse_global(&words("-c")).is_err());
        assert!(parse_global(&words("--bogus list")).is_err());
    }

    #[test]
    fn api_errors_print_two_lines() {
        let e = CliError::Api {
            context: "failed to get network '192.168.10.0'".into(),
            source: ApiError::not_found(crate::api::ObjectKind::Network, "192.168.10.0"),
        };
        assert_eq!(
            e.lines(),
            vec![
                "failed to get network '192.168.10.0'".to_string(),
                "Network not found: no network with matching name '192.168.10.0'".to_string(),
            ]
        );
    }
}
