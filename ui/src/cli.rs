//! Command-line options, virt-manager's: `--connect URI`,
//! `--show-host-summary`, `--show-domain-console NAME`,
//! `--show-domain-editor NAME`.
//!
//! GApplication parses them, so a second `hangar` invocation forwards its
//! options to the running instance instead of starting another one.

use gettextrs::gettext;
use gtk4::glib::{self, OptionArg, OptionFlags};
use gtk4::prelude::*;

/// What one invocation of `hangar` asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchRequest {
    /// `--connect URI`: open (and show) this connection.
    pub connect: Option<String>,
    /// `--show-host-summary`: open the connection's details window.
    pub show_host_summary: bool,
    /// `--show-domain-console NAME`: open the domain's console.
    pub show_domain_console: Option<String>,
    /// `--show-domain-editor NAME`: open the domain's details.
    pub show_domain_editor: Option<String>,
}

/// Registers the options on the application.
pub fn register(app: &gtk4::Application) {
    app.add_main_option(
        "connect",
        glib::Char::from(b'c'),
        OptionFlags::NONE,
        OptionArg::String,
        &gettext("Connect to the hypervisor at URI"),
        Some("URI"),
    );
    app.add_main_option(
        "show-host-summary",
        glib::Char::from(0),
        OptionFlags::NONE,
        OptionArg::None,
        &gettext("Show the connection details window"),
        None,
    );
    app.add_main_option(
        "show-domain-console",
        glib::Char::from(0),
        OptionFlags::NONE,
        OptionArg::String,
        &gettext("Show the console of the domain NAME"),
        Some("NAME"),
    );
    app.add_main_option(
        "show-domain-editor",
        glib::Char::from(0),
        OptionFlags::NONE,
        OptionArg::String,
        &gettext("Show the details of the domain NAME"),
        Some("NAME"),
    );
}

impl LaunchRequest {
    /// Reads the parsed options of one invocation.
    pub fn from_options(options: &glib::VariantDict) -> Self {
        let string = |name: &str| {
            options
                .lookup_value(name, Some(glib::VariantTy::STRING))
                .and_then(|value| value.get::<String>())
                .filter(|value| !value.is_empty())
        };
        Self {
            connect: string("connect"),
            show_host_summary: options.contains("show-host-summary"),
            show_domain_console: string("show-domain-console"),
            show_domain_editor: string("show-domain-editor"),
        }
    }

    /// Whether the request names a domain or window to show, which needs a
    /// connection to act on.
    pub fn needs_connection(&self) -> bool {
        self.show_host_summary
            || self.show_domain_console.is_some()
            || self.show_domain_editor.is_some()
    }
}
