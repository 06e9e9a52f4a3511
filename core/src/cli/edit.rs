//! `edit`, `net-edit` and `pool-edit`: the definition goes to a temporary
//! file, `$VISUAL`/`$EDITOR` (default `vi`) edits it, and the result is
//! defined again. A result the backend refuses keeps the old definition and,
//! on a terminal, asks `Failed. Try again? [y,n,f,?]:` like virsh.

use super::CliError;
use std::fs::{self, File, OpenOptions};
use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

/// The object being edited, as the edit loop needs it.
pub trait Editable {
    /// The definition as `edit` shows it (the persistent, inactive XML).
    fn current_xml(&mut self) -> Result<String, CliError>;
    /// Defines `xml`; `validate` is false after the user answered `i`.
    /// Returns the name of the defined object.
    fn define(&mut self, xml: &str, validate: bool) -> Result<String, CliError>;
}

/// What the edit ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditOutcome {
    /// The file was saved unchanged.
    NotChanged,
    /// The new definition was accepted; the object's name.
    Edited(String),
}

/// A user's answer to `Try again?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Open the editor again.
    Yes,
    /// Give up and keep the old definition.
    No,
    /// Define again without validation.
    Relax,
    /// Try to define the same text again.
    Force,
}

/// Runs the whole edit loop on `object`. `relax_available` offers `i`
/// (domains, whose definition can skip validation).
pub fn edit<E: Editable>(object: &mut E, relax_available: bool) -> Result<EditOutcome, CliError> {
    let mut original = object.current_xml()?;
    let file = TempXml::create(&original)?;
    let mut validate = true;
    let mut relax_available = relax_available;
    'reedit: loop {
        run_editor(file.path())?;
        let edited = file.read()?;
        if edited == original {
            return Ok(EditOutcome::NotChanged);
        }
        loop {
            // Someone else may have changed the definition while the editor was open.
            let reread = object.current_xml()?;
            let failure = if reread != original {
                original = reread;
                CliError::Failed(vec![
                    "The XML configuration was changed by another user.".to_string()
                ])
            } else {
                match object.define(&edited, validate) {
                    Ok(name) => return Ok(EditOutcome::Edited(name)),
                    Err(e) => e,
                }
            };
            match ask_reedit(&failure, relax_available)? {
                Some(Answer::Yes) => continue 'reedit,
                Some(Answer::Force) => continue,
                Some(Answer::Relax) => {
                    validate = false;
                    relax_available = false;
                    continue;
                }
                Some(Answer::No) | None => {
                    let mut lines = vec!["Failed.".to_string()];
                    if let CliError::Failed(more) = &failure {
                        lines.extend(more.iter().cloned());
                    } else {
                        lines.push(failure.to_string());
                    }
                    return Err(CliError::Failed(lines));
                }
            }
        }
    }
}

/// A private temporary file holding the XML being edited; removed on drop.
struct TempXml {
    path: PathBuf,
}

impl TempXml {
    fn create(contents: &str) -> Result<Self, CliError> {
        let dir = std::env::temp_dir();
        let mut attempt = 0u32;
        loop {
            let path = dir.join(format!(
                "hangarctl{}-{}.xml",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(mut f) => {
                    let temp = TempXml { path };
                    f.write_all(contents.as_bytes())
                        .and_then(|()| f.sync_all())
                        .map_err(|e| io_error(&temp.path, "write", e))?;
                    return Ok(temp);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => {
                    attempt += 1;
                }
                Err(e) => return Err(io_error(&path, "create", e)),
            }
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<String, CliError> {
        let mut text = String::new();
        File::open(&self.path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(|e| io_error(&self.path, "read", e))?;
        Ok(text)
    }
}

impl Drop for TempXml {
    fn drop(&mut self) {
        // Best effort: a leftover private temp file is harmless.
        let _ = fs::remove_file(&self.path);
    }
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> CliError {
    CliError::Failed(vec![format!(
        "failed to {what} temporary file '{}': {e}",
        path.display()
    )])
}

/// The editor command: `$VISUAL`, then `$EDITOR`, then `vi`.
pub fn editor_command() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string())
}

/// Runs the editor on `path` through `sh -c`, so `EDITOR="emacs -nw"` works.
fn run_editor(path: &Path) -> Result<(), CliError> {
    let editor = editor_command();
    let status = Process::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
        .map_err(|e| CliError::Failed(vec![format!("{editor}: cannot run the editor: {e}")]))?;
    if !status.success() {
        return Err(CliError::Failed(vec![format!(
            "{editor}: command exited with status {}",
            status
                .code()
                .map_or_else(|| "(killed)".to_string(), |c| c.to_string())
        )]));
    }
    Ok(())
}

/// Asks whether to edit again; `None` when stdin is not a terminal (nobody to ask).
fn ask_reedit(failure: &CliError, relax_available: bool) -> Result<Option<Answer>, CliError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(None);
    }
    super::report_error(failure);
    let choices = if relax_available {
        "[y,n,i,f,?]"
    } else {
        "[y,n,f,?]"
    };
    let _raw = super::tty::RawTerminal::enter();
    let mut out = std::io::stdout();
    loop {
        // Raw mode: every line ends with \r\n.
        let _ = write!(out, "\rFailed. Try again? {choices}: ");
        let _ = out.flush();
        let mut byte = [0u8; 1];
        let n = stdin
            .lock()
            .read(&mut byte)
            .map_err(|e| CliError::Failed(vec![format!("cannot read the answer: {e}")]))?;
        if n == 0 {
            let _ = write!(out, "\r\n");
            return Ok(Some(Answer::No));
        }
        let answer = match byte[0].to_ascii_lowercase() {
            b'y' => Some(Answer::Yes),
            b'n' => Some(Answer::No),
            b'f' => Some(Answer::Force),
            b'i' if relax_available => Some(Answer::Relax),
            b'?' => {
                let mut help = String::from(
                    "\r\ny - yes, start editor again\r\nn - no, throw away my changes\r\n",
                );
                if relax_available {
                    help.push_str("i - turn off validation and try to redefine again\r\n");
                }
                help.push_str("f - force, try to redefine again\r\n? - print this help\r\n");
                let _ = write!(out, "{help}");
                None
            }
            _ => None,
        };
        if let Some(a) = answer {
            let _ = write!(out, "\r\n");
            let _ = out.flush();
            return Ok(Some(a));
        }
    }
}
