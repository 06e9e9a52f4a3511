//! The app's GSettings, found in the installed schema directories or, in a
//! development tree, in the schema the build script compiled.

use std::path::PathBuf;

use gtk4::{gio, glib};

use crate::config;

/// Why the settings could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The build-time schema directory cannot be read.
    #[error("cannot read the settings schemas in {dir}: {source}")]
    Source {
        /// The directory that was tried.
        dir: PathBuf,
        /// GLib's reason.
        source: glib::Error,
    },
    /// No schema with the app id exists anywhere.
    #[error("the settings schema {id} is not installed (looked in the system schemas and {dir})")]
    Missing {
        /// The schema id.
        id: &'static str,
        /// The build-time directory that was tried last.
        dir: PathBuf,
    },
}

/// Opens the `org.hangar.Hangar` settings.
///
/// Installed schemas (and `GSETTINGS_SCHEMA_DIR`) take precedence; without
/// them the schema compiled next to the binary is used, so `cargo run`
/// works without installing anything.
pub fn open() -> Result<gio::Settings, SettingsError> {
    let default_source = gio::SettingsSchemaSource::default();
    if let Some(schema) = default_source
        .as_ref()
        .and_then(|source| source.lookup(config::APP_ID, true))
    {
        return Ok(gio::Settings::new_full(
            &schema,
            None::<&gio::SettingsBackend>,
            None,
        ));
    }
    let dir = config::build_schema_dir();
    let source = gio::SettingsSchemaSource::from_directory(&dir, default_source.as_ref(), false)
        .map_err(|source| SettingsError::Source {
            dir: dir.clone(),
            source,
        })?;
    let schema = source
        .lookup(config::APP_ID, false)
        .ok_or(SettingsError::Missing {
            id: config::APP_ID,
            dir,
        })?;
    Ok(gio::Settings::new_full(
        &schema,
        None::<&gio::SettingsBackend>,
        None,
    ))
}
