//! Translation set-up (once, in `main`) and helpers for strings with
//! placeholders.

use gettextrs::{bind_textdomain_codeset, bindtextdomain, setlocale, textdomain, LocaleCategory};

use crate::config;

/// Selects the user's locale and binds the `hangar` domain to the catalogs.
///
/// Failures leave the app in English, which is the right fallback for a
/// missing catalog, so they are reported and otherwise ignored.
pub fn init() {
    setlocale(LocaleCategory::LcAll, "");
    let dir = config::locale_dir();
    if let Err(err) = bindtextdomain(config::GETTEXT_PACKAGE, dir.clone()) {
        eprintln!(
            "hangar: cannot bind translations in {}: {err}",
            dir.display()
        );
    }
    if let Err(err) = bind_textdomain_codeset(config::GETTEXT_PACKAGE, "UTF-8") {
        eprintln!("hangar: cannot select UTF-8 translations: {err}");
    }
    if let Err(err) = textdomain(config::GETTEXT_PACKAGE) {
        eprintln!("hangar: cannot select the text domain: {err}");
    }
}

/// Translates `msgid` and fills its `{name}` placeholders.
///
/// Translators may reorder the placeholders freely.
pub fn gettext_f(msgid: &str, args: &[(&str, &str)]) -> String {
    fill(gettextrs::gettext(msgid), args)
}

fn fill(mut text: String, args: &[(&str, &str)]) -> String {
    for (key, value) in args {
        text = text.replace(&format!("{{{key}}}"), value);
    }
    text
}
