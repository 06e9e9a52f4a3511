//! A running virtual machine's consoles, in its window: the graphical one
//! (the guest's screen over VNC, drawn by [`vnc_display::VncDisplay`]) and
//! the serial one (a terminal on the guest's serial port), switched with
//! View > Consoles, with a Send Key menu, screenshots and fullscreen.
//!
//! The component follows the domain's state (given by its window): when
//! the domain runs it asks the backend where the display and the serial
//! console are and connects to both; when it stops it shows "not running"
//! with a Run button; when it starts again it reconnects.

mod keymap;
mod pages;
mod screen;
mod serial;
mod vnc_display;

use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use gettextrs::gettext;
use gtk4::gio;
use gtk4::prelude::*;
use hangar_core::api::{Command, Connection, DisplayEndpoint};
use relm4::prelude::*;

use crate::backend::{self, expect_reply, UiError};
use crate::i18n::gettext_f;
use pages::{page, Pages};
use vnc_display::DisplayEvent;

/// Which console shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleKind {
    /// The guest's screen.
    Graphical,
    /// The serial terminal.
    Serial,
}

/// What the console starts with.
pub struct ConsoleInit {
    /// The domain's connection.
    pub connection: Connection,
    /// The domain's name.
    pub name: String,
    /// The app's settings (scaling, grab keys).
    pub settings: gio::Settings,
}

/// Messages to the console.
#[derive(Debug)]
pub enum ConsoleInput {
    /// The domain runs (true) or not; a change connects or disconnects.
    Running(bool),
    /// The domain started again (reboot, restart): reconnect.
    Restarted,
    /// Show this console.
    Show(ConsoleKind),
    /// Something happened on the display's connection.
    Display(DisplayEvent),
    /// Connect the display again.
    Reconnect,
    /// The password prompt was answered.
    SubmitPassword,
    /// Send a Send Key combination (its menu target).
    SendKey(String),
    /// Ask where to save a screenshot.
    Screenshot,
    /// Save the screen there.
    SaveScreenshot(PathBuf),
    /// Enter or leave fullscreen.
    ToggleFullscreen,
    /// The window's fullscreen state changed.
    FullscreenChanged,
    /// Size the window to the guest's screen.
    ResizeToGuest,
    /// The scaling preference changed.
    ScalingChanged,
    /// The serial stream ended.
    SerialClosed,
    /// Copy the terminal's selection.
    Copy,
    /// Paste into the terminal.
    Paste,
    /// The message page's button.
    MessageButton,
}

/// What the console asks of its window.
#[derive(Debug)]
pub enum ConsoleOutput {
    /// Start the domain.
    Run,
    /// The keyboard grab's hint for the title ("Press Ctrl+Alt to
    /// release"), or none.
    GrabHint(Option<String>),
}

/// Backend answers.
#[derive(Debug)]
pub enum ConsoleCommand {
    /// Where the display is.
    Display(Result<DisplayEndpoint, UiError>),
    /// The serial console's open stream.
    Serial(Result<UnixStream, UiError>),
}

/// The state of the graphical console.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DisplayState {
    /// Not asked for (the domain does not run).
    Idle,
    /// Asking the backend or connecting.
    Connecting,
    /// Showing the screen.
    Connected,
    /// The domain has no display, with the reason.
    Unavailable(String),
    /// A password is needed; `Some` after a failed one.
    Password(Option<String>),
    /// The connection ended, with the reason if it failed.
    Disconnected(Option<String>),
}

/// What the message page's button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageAction {
    None,
    Run,
    Reconnect,
    ShowSerial,
}

/// The console's state.
pub struct ConsoleView {
    connection: Connection,
    name: String,
    settings: gio::Settings,
    pages: Pages,
    kind: ConsoleKind,
    running: bool,
    display: DisplayState,
    serial_problem: Option<String>,
    message_action: MessageAction,
}

impl Component for ConsoleView {
    type Init = ConsoleInit;
    type Input = ConsoleInput;
    type Output = ConsoleOutput;
    type CommandOutput = ConsoleCommand;
    type Root = gtk4::Box;
    type Widgets = ();

    fn init_root() -> gtk4::Box {
        gtk4::Box::new(gtk4::Orientation::Vertical, 0)
    }

    fn init(
        init: ConsoleInit,
        root: gtk4::Box,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let s = sender.clone();
        let pages = Pages::new(move || s.input(ConsoleInput::SerialClosed));
        root.append(&pages.root);
        let s = sender.clone();
        pages
            .display
            .set_handler(move |event| s.input(ConsoleInput::Display(event)));
        pages
            .display
            .set_grab_keys(&init.settings.string("console-grab-keys"));
        let display = pages.display.clone();
        init.settings
            .connect_changed(Some("console-grab-keys"), move |settings, key| {
                display.set_grab_keys(&settings.string(key));
            });
        let s = sender.clone();
        init.settings
            .connect_changed(Some("console-scaling"), move |_, _| {
                s.input(ConsoleInput::ScalingChanged)
            });
        let s = sender.clone();
        pages
            .message_button
            .connect_clicked(move |_| s.input(ConsoleInput::MessageButton));
        let s = sender.clone();
        pages
            .password_button
            .connect_clicked(move |_| s.input(ConsoleInput::SubmitPassword));
        let s = sender.clone();
        pages
            .password
            .connect_activate(move |_| s.input(ConsoleInput::SubmitPassword));
        root.insert_action_group("console", Some(&screen::actions(&sender)));
        let s = sender.clone();
        root.connect_realize(move |root| {
            if let Some(window) = root.root().and_downcast::<gtk4::Window>() {
                let s = s.clone();
                window
                    .connect_fullscreened_notify(move |_| s.input(ConsoleInput::FullscreenChanged));
            }
        });

        let mut model = ConsoleView {
            connection: init.connection,
            name: init.name,
            settings: init.settings,
            pages,
            kind: ConsoleKind::Graphical,
            running: false,
            display: DisplayState::Idle,
            serial_problem: None,
            message_action: MessageAction::None,
        };
        model.apply_scaling();
        model.show();
        ComponentParts { model, widgets: () }
    }

    fn update(&mut self, message: ConsoleInput, sender: ComponentSender<Self>, root: &gtk4::Box) {
        match message {
            ConsoleInput::Running(running) => {
                if running != self.running {
                    self.running = running;
                    if running {
                        self.connect_all(&sender);
                    } else {
                        self.disconnect_all();
                    }
                }
            }
            ConsoleInput::Restarted => {
                self.running = true;
                self.connect_all(&sender);
            }
            ConsoleInput::Show(kind) => {
                self.kind = kind;
                self.show();
                // The console brought up takes the keyboard.
                match kind {
                    ConsoleKind::Serial => self.pages.serial.widget().grab_focus(),
                    ConsoleKind::Graphical => self.pages.display.grab_focus(),
                };
            }
            ConsoleInput::Display(event) => self.display_event(event, &sender),
            ConsoleInput::Reconnect => {
                if self.running {
                    self.connect_display(&sender);
                    if !self.pages.serial.is_attached() {
                        self.connect_serial(&sender);
                    }
                }
            }
            ConsoleInput::SubmitPassword => {
                let password = self.pages.password.text().to_string();
                self.pages.password.set_text("");
                self.pages.display.set_password(Some(password));
                self.connect_display(&sender);
            }
            ConsoleInput::SendKey(name) => {
                if let Some(keys) = keymap::combination(&name) {
                    self.pages.display.send_keys(&keys);
                }
            }
            ConsoleInput::Screenshot => self.ask_screenshot_path(root, &sender),
            ConsoleInput::SaveScreenshot(path) => self.save_screenshot(root, &path),
            ConsoleInput::ToggleFullscreen => {
                if let Some(window) = window_of(root) {
                    if window.is_fullscreen() {
                        window.unfullscreen();
                    } else {
                        window.fullscreen();
                    }
                }
            }
            ConsoleInput::FullscreenChanged => {
                let fullscreen = window_of(root).is_some_and(|w| w.is_fullscreen());
                self.pages.toolbar.set_visible(!fullscreen);
                self.pages.fullscreen_bar.set_reveal_child(fullscreen);
                self.apply_scaling();
            }
            ConsoleInput::ResizeToGuest => self.resize_to_guest(root),
            ConsoleInput::ScalingChanged => self.apply_scaling(),
            ConsoleInput::SerialClosed => {
                self.serial_problem = Some(gettext("The serial console was disconnected."));
            }
            ConsoleInput::Copy => self.pages.serial.copy(),
            ConsoleInput::Paste => self.pages.serial.paste(),
            ConsoleInput::MessageButton => match self.message_action {
                MessageAction::None => {}
                MessageAction::Run => {
                    let _ = sender.output(ConsoleOutput::Run);
                }
                MessageAction::Reconnect => sender.input(ConsoleInput::Reconnect),
                MessageAction::ShowSerial => self.kind = ConsoleKind::Serial,
            },
        }
        self.show();
    }

    fn update_cmd(
        &mut self,
        message: ConsoleCommand,
        sender: ComponentSender<Self>,
        _root: &gtk4::Box,
    ) {
        match message {
            ConsoleCommand::Display(Ok(endpoint)) => {
                if !self.running {
                    return;
                }
                if let Err(err) = self.pages.display.open(&endpoint) {
                    self.display = DisplayState::Disconnected(Some(err.to_string()));
                }
            }
            ConsoleCommand::Display(Err(error)) => {
                self.display = DisplayState::Unavailable(error.to_string());
            }
            ConsoleCommand::Serial(Ok(stream)) => {
                if !self.running {
                    return;
                }
                match self.pages.serial.attach(stream) {
                    Ok(()) => self.serial_problem = None,
                    Err(err) => self.serial_problem = Some(err.to_string()),
                }
            }
            ConsoleCommand::Serial(Err(error)) => {
                self.serial_problem = Some(error.to_string());
            }
        }
        let _ = &sender;
        self.show();
    }
}

fn window_of(widget: &impl IsA<gtk4::Widget>) -> Option<gtk4::Window> {
    widget.root().and_downcast::<gtk4::Window>()
}

impl ConsoleView {
    fn connect_all(&mut self, sender: &ComponentSender<Self>) {
        self.connect_display(sender);
        self.connect_serial(sender);
    }

    fn disconnect_all(&mut self) {
        self.pages.display.close();
        self.pages.serial.detach();
        self.display = DisplayState::Idle;
        self.serial_problem = None;
    }

    fn connect_display(&mut self, sender: &ComponentSender<Self>) {
        self.pages.display.close();
        self.display = DisplayState::Connecting;
        let conn = self.connection.clone();
        let domain = self.name.clone();
        sender.oneshot_command(async move {
            let result = async {
                let uri = expect_reply!(
                    backend::call(conn, Command::DomainDisplay { domain }).await?,
                    Text
                )?;
                DisplayEndpoint::parse(&uri).map_err(UiError::from)
            }
            .await;
            ConsoleCommand::Display(result)
        });
    }

    fn connect_serial(&mut self, sender: &ComponentSender<Self>) {
        self.pages.serial.detach();
        let conn = self.connection.clone();
        let domain = self.name.clone();
        sender.oneshot_command(async move {
            let result = async {
                let endpoint = expect_reply!(
                    backend::call(conn, Command::DomainConsole { domain }).await?,
                    Console
                )?;
                backend::on_backend(async move { endpoint.connect() })
                    .await?
                    .map_err(UiError::from)
            }
            .await;
            ConsoleCommand::Serial(result)
        });
    }

    fn display_event(&mut self, event: DisplayEvent, sender: &ComponentSender<Self>) {
        match event {
            DisplayEvent::Connected => self.display = DisplayState::Connected,
            DisplayEvent::Resized(..) => {
                // The first frame sizes the window to the guest.
                if self.display == DisplayState::Connected {
                    sender.input(ConsoleInput::ResizeToGuest);
                }
            }
            DisplayEvent::PasswordNeeded => self.display = DisplayState::Password(None),
            DisplayEvent::AuthFailed(reason) => {
                self.pages.display.set_password(None);
                self.display = DisplayState::Password(Some(reason));
            }
            DisplayEvent::Disconnected(reason) => {
                if self.running {
                    self.display = DisplayState::Disconnected(reason);
                }
            }
            DisplayEvent::Grab(grabbed) => {
                let hint = grabbed.then(|| {
                    gettext_f(
                        "Press {keys} to release",
                        &[(
                            "keys",
                            &screen::grab_keys_label(&self.settings.string("console-grab-keys")),
                        )],
                    )
                });
                let _ = sender.output(ConsoleOutput::GrabHint(hint));
            }
        }
    }

    /// Brings the page that matches the state to the front, and sets what
    /// the message page's button does.
    fn show(&mut self) {
        let (text, button, action) = match self.page_message() {
            Some(message) => message,
            None => return,
        };
        self.message_action = action;
        self.pages.show_message(&text, button.as_deref());
    }

    /// The message page's text, button label and action, or `None` when
    /// another page (screen, terminal, password) was brought up.
    fn page_message(&self) -> Option<(String, Option<String>, MessageAction)> {
        let pages = &self.pages;
        if !self.running {
            return Some((
                gettext("The virtual machine is not running."),
                Some(gettext("_Run")),
                MessageAction::Run,
            ));
        }
        let reconnect = || Some(gettext("_Reconnect"));
        match self.kind {
            ConsoleKind::Serial => match &self.serial_problem {
                None => {
                    pages.stack.set_visible_child_name(page::SERIAL);
                    None
                }
                Some(problem) => Some((problem.clone(), reconnect(), MessageAction::Reconnect)),
            },
            ConsoleKind::Graphical => match &self.display {
                DisplayState::Idle | DisplayState::Connecting => Some((
                    gettext("Connecting to the graphical console…"),
                    None,
                    MessageAction::None,
                )),
                DisplayState::Connected => {
                    pages.stack.set_visible_child_name(page::DISPLAY);
                    None
                }
                DisplayState::Unavailable(_) => Some((
                    gettext("The virtual machine has no graphical display."),
                    Some(gettext("Show _Serial Console")),
                    MessageAction::ShowSerial,
                )),
                DisplayState::Password(failure) => {
                    let reason = match failure {
                        None => gettext("The graphical console needs a password."),
                        Some(why) => gettext_f(
                            "Authentication failed: {reason}",
                            &[("reason", why.as_str())],
                        ),
                    };
                    pages.password_reason.set_label(&reason);
                    pages.stack.set_visible_child_name(page::PASSWORD);
                    pages.password.grab_focus();
                    None
                }
                DisplayState::Disconnected(reason) => {
                    let text = match reason {
                        None => gettext("The graphical console was disconnected."),
                        Some(why) => gettext_f(
                            "The graphical console was disconnected: {reason}",
                            &[("reason", why.as_str())],
                        ),
                    };
                    Some((text, reconnect(), MessageAction::Reconnect))
                }
            },
        }
    }
}
