//! The state one `hangarctl` run keeps between commands: the URI, the open
//! connection and where output goes.

use super::CliError;
use crate::api::Connection;
use std::io::Write;

/// One `hangarctl` run: its connection (opened on first use) and its output.
pub struct Session {
    uri: String,
    quiet: bool,
    connection: Option<Connection>,
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Session {
    /// A session for `uri`; `quiet` hides informational messages and table headers.
    pub fn new(uri: String, quiet: bool) -> Self {
        Session {
            uri,
            quiet,
            connection: None,
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    /// Whether `-q` was given.
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// The URI the session connects (or is connected) to.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The connection, opened now if it is not yet.
    pub fn connection(&mut self) -> Result<Connection, CliError> {
        if let Some(c) = &self.connection {
            return Ok(c.clone());
        }
        let conn = Connection::open_blocking(&self.uri).map_err(|source| CliError::Api {
            context: "failed to connect to the hypervisor".to_string(),
            source,
        })?;
        self.connection = Some(conn.clone());
        Ok(conn)
    }

    /// Closes the connection and connects to `uri` instead (`connect URI`).
    pub fn reconnect(&mut self, uri: Option<&str>) -> Result<(), CliError> {
        self.connection = None;
        if let Some(u) = uri {
            self.uri = u.to_string();
        }
        self.connection().map(|_| ())
    }

    /// Prints output that is the command's result (virsh's `vshPrint`).
    pub fn print(&mut self, text: &str) {
        // A closed stdout (`| head`) is not worth an error message.
        let _ = self.out.write_all(text.as_bytes());
    }

    /// Prints an informational message, hidden by `-q` (virsh's `vshPrintExtra`).
    pub fn print_extra(&mut self, text: &str) {
        if !self.quiet {
            self.print(text);
        }
    }

    /// Flushes what was printed (before errors, prompts and editors).
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.flush();
    }
}
