//! Where the app finds its translations and settings schema, in the
//! development tree (`cargo run`, `make run`) and once installed.

use std::path::PathBuf;

/// The reverse-DNS application id, also the GSettings schema id and the
/// name of the `.desktop` file and icon.
pub const APP_ID: &str = "org.hangar.Hangar";

/// The gettext domain of every translatable string.
pub const GETTEXT_PACKAGE: &str = "hangar";

/// GResource path of the bundled resources.
pub const RESOURCE_BASE: &str = "/org/hangar/Hangar";

/// The locale directory holding `<lang>/LC_MESSAGES/hangar.mo`.
///
/// `HANGAR_LOCALEDIR` wins; then the installed layout next to the binary
/// (`<prefix>/bin/hangar` → `<prefix>/share/locale`); then the directory the
/// build script compiled the catalogs into.
pub fn locale_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HANGAR_LOCALEDIR") {
        return PathBuf::from(dir);
    }
    if let Some(installed) = installed_share_dir().map(|share| share.join("locale")) {
        if installed.join("vi/LC_MESSAGES/hangar.mo").is_file() {
            return installed;
        }
    }
    PathBuf::from(env!("HANGAR_BUILD_LOCALE_DIR"))
}

/// The directory holding the compiled schema built with this binary.
pub fn build_schema_dir() -> PathBuf {
    PathBuf::from(env!("HANGAR_BUILD_SCHEMA_DIR"))
}

/// `<prefix>/share` when the binary runs from `<prefix>/bin`.
fn installed_share_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin_dir = exe.parent()?;
    if bin_dir.file_name()? != "bin" {
        return None;
    }
    Some(bin_dir.parent()?.join("share"))
}
