//! The manager window's actions (toolbar, menus, shortcuts, context menu)
//! and which of them the selected domain allows.

use gtk4::prelude::*;
use gtk4::{gio, glib};
use hangar_core::api::DomainState;
use relm4::ComponentSender;

use super::{DomainAction, ManagerInput, ManagerWindow};

/// Window actions whose sensitivity follows the selection.
pub struct DomainActions {
    run: gio::SimpleAction,
    pause: gio::SimpleAction,
    resume: gio::SimpleAction,
    shutdown: gio::SimpleAction,
    reboot: gio::SimpleAction,
    reset: gio::SimpleAction,
    force_off: gio::SimpleAction,
    save: gio::SimpleAction,
    delete: gio::SimpleAction,
    open: gio::SimpleAction,
    new_vm: gio::SimpleAction,
    details: gio::SimpleAction,
}

fn action(
    window: &gtk4::ApplicationWindow,
    name: &str,
    sender: &ComponentSender<ManagerWindow>,
    message: impl Fn() -> ManagerInput + 'static,
) -> gio::SimpleAction {
    let action = gio::SimpleAction::new(name, None);
    let sender = sender.clone();
    action.connect_activate(move |_, _| sender.input(message()));
    window.add_action(&action);
    action
}

impl DomainActions {
    /// Installs the `win.*` actions on `window`.
    pub fn install(
        window: &gtk4::ApplicationWindow,
        sender: &ComponentSender<ManagerWindow>,
    ) -> Self {
        let domain = |name: &str, what: DomainAction| {
            action(window, name, sender, move || ManagerInput::Domain(what))
        };
        let actions = Self {
            run: domain("run", DomainAction::Run),
            pause: domain("pause", DomainAction::Pause),
            resume: domain("resume", DomainAction::Resume),
            shutdown: domain("shutdown", DomainAction::Shutdown),
            reboot: domain("reboot", DomainAction::Reboot),
            reset: domain("reset", DomainAction::Reset),
            force_off: domain("force-off", DomainAction::ForceOff),
            save: domain("save", DomainAction::Save),
            delete: action(window, "delete", sender, || ManagerInput::Delete),
            open: action(window, "open", sender, || ManagerInput::Open),
            new_vm: action(window, "new-vm", sender, || ManagerInput::NewVm),
            details: action(window, "connection-details", sender, || {
                ManagerInput::ConnectionDetails
            }),
        };
        // Cloning arrives with its own issue; the menu entry is reserved.
        let clone = gio::SimpleAction::new("clone", None);
        clone.set_enabled(false);
        window.add_action(&clone);
        let close = gio::SimpleAction::new("close", None);
        let weak = window.downgrade();
        close.connect_activate(move |_, _| {
            if let Some(window) = weak.upgrade() {
                window.close();
            }
        });
        window.add_action(&close);
        actions
    }

    /// Enables what the selected domain's state allows.
    pub fn update(&self, selected: Option<DomainState>, connected: bool) {
        let state = selected;
        let is = |states: &[DomainState]| state.is_some_and(|s| states.contains(&s));
        use DomainState::*;
        self.run.set_enabled(is(&[Shutoff, Crashed, NoState]));
        self.pause.set_enabled(is(&[Running, Blocked]));
        self.resume.set_enabled(is(&[Paused, PmSuspended]));
        self.shutdown.set_enabled(is(&[Running, Blocked, Paused]));
        self.reboot.set_enabled(is(&[Running, Blocked]));
        self.reset.set_enabled(is(&[Running, Blocked, Paused]));
        self.force_off.set_enabled(is(&[
            Running,
            Blocked,
            Paused,
            Shutdown,
            PmSuspended,
            Crashed,
        ]));
        self.save.set_enabled(is(&[Running, Blocked, Paused]));
        self.delete.set_enabled(state.is_some());
        self.open.set_enabled(state.is_some());
        self.new_vm.set_enabled(connected);
        self.details.set_enabled(connected);
    }
}

/// Installs the app-wide actions and keyboard shortcuts once.
pub fn install_app_actions(
    app: &gtk4::Application,
    settings: &gio::Settings,
    sender: &ComponentSender<ManagerWindow>,
) {
    if app.lookup_action("preferences").is_some() {
        return;
    }
    let simple = |name: &str, message: fn() -> ManagerInput| {
        let action = gio::SimpleAction::new(name, None);
        let sender = sender.clone();
        action.connect_activate(move |_, _| sender.input(message()));
        app.add_action(&action);
    };
    simple("preferences", || ManagerInput::Preferences);
    simple("about", || ManagerInput::About);
    simple("add-connection", || ManagerInput::ShowAddConnection);
    let quit = gio::SimpleAction::new("quit", None);
    let weak_app = app.downgrade();
    quit.connect_activate(move |_, _| {
        if let Some(app) = weak_app.upgrade() {
            for window in app.windows() {
                window.close();
            }
            app.quit();
        }
    });
    app.add_action(&quit);
    for key in [
        "show-cpu-column",
        "show-memory-column",
        "show-disk-column",
        "show-network-column",
    ] {
        app.add_action(&settings.create_action(key));
    }
    for (action, accels) in [
        ("win.new-vm", &["<Primary>n"][..]),
        ("win.open", &["<Primary>o"]),
        ("win.delete", &["Delete"]),
        ("win.connection-details", &["<Primary>d"]),
        ("win.close", &["<Primary>w"]),
        ("win.show-help-overlay", &["<Primary>question"]),
        ("app.preferences", &["<Primary>comma"]),
        ("app.quit", &["<Primary>q"]),
    ] {
        app.set_accels_for_action(action, accels);
    }
}

/// Shows the domain context menu at the pointer.
pub fn popup_context_menu(list: &gtk4::ListBox, x: f64, y: f64) {
    let menus =
        gtk4::Builder::from_resource(&format!("{}/ui/menus.ui", crate::config::RESOURCE_BASE));
    let Some(model) = menus.object::<gio::MenuModel>("domain-context-menu") else {
        return;
    };
    let popover = gtk4::PopoverMenu::from_model(Some(&model));
    popover.set_parent(list);
    popover.set_has_arrow(false);
    popover.set_pointing_to(Some(&gtk4::gdk::Rectangle::new(x as i32, y as i32, 1, 1)));
    popover.connect_closed(|popover| {
        let popover = popover.clone();
        glib::idle_add_local_once(move || popover.unparent());
    });
    popover.popup();
}
