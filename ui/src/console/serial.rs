//! The serial console: a VTE terminal fed with the guest's serial output
//! and sending what is typed (or pasted) back to the guest, over a stream
//! the backend opened ([`hangar_core::api::ConsoleEndpoint::connect`]).
//!
//! The stream is read on the GTK main loop when it is readable, so no
//! thread is involved; reads and writes never block.

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use gettextrs::gettext;
use gtk4::glib;
use gtk4::glib::translate::{from_glib_full, ToGlibPtr};
use gtk4::prelude::*;
use vte4::prelude::*;

/// How many characters of the screen's end the accessible description
/// carries (VTE 0.70's GTK4 build exposes no text to screen readers).
const ACCESSIBLE_TAIL: usize = 2000;

struct Attached {
    stream: UnixStream,
    source: Option<glib::SourceId>,
}

/// A terminal attached to one console stream at a time.
#[derive(Clone)]
pub struct SerialTerminal {
    terminal: vte4::Terminal,
    attached: Rc<RefCell<Option<Attached>>>,
    on_closed: Rc<dyn Fn()>,
}

impl SerialTerminal {
    /// A terminal with nothing attached; `on_closed` runs when an attached
    /// stream ends (the guest stopped or the VMM went away).
    pub fn new(on_closed: impl Fn() + 'static) -> Self {
        let terminal = vte4::Terminal::builder()
            .hexpand(true)
            .vexpand(true)
            .scrollback_lines(10_000)
            .build();
        terminal.update_property(&[gtk4::accessible::Property::Label(&gettext(
            "Serial console",
        ))]);
        let serial = SerialTerminal {
            terminal,
            attached: Rc::new(RefCell::new(None)),
            on_closed: Rc::new(on_closed),
        };
        let attached = Rc::clone(&serial.attached);
        serial.terminal.connect_commit(move |_, text, _| {
            let mut attached = attached.borrow_mut();
            if let Some(a) = attached.as_mut() {
                // A console that stopped taking input is detected by the
                // reader; typed keys are simply lost then.
                let _ = write_all_nonblocking(&mut a.stream, text.as_bytes());
            }
        });
        serial.terminal.connect_contents_changed(|terminal| {
            let text = screen_text(terminal);
            let trimmed = text.trim_end();
            let start = trimmed
                .char_indices()
                .rev()
                .nth(ACCESSIBLE_TAIL)
                .map(|(i, _)| i)
                .unwrap_or(0);
            terminal.update_property(&[gtk4::accessible::Property::Description(&trimmed[start..])]);
        });
        serial
    }

    /// The terminal widget.
    pub fn widget(&self) -> &vte4::Terminal {
        &self.terminal
    }

    /// Whether a stream is attached.
    pub fn is_attached(&self) -> bool {
        self.attached.borrow().is_some()
    }

    /// Attaches `stream`: its bytes appear in the terminal, typed keys go
    /// to it. A stream attached before is closed.
    pub fn attach(&self, stream: UnixStream) -> std::io::Result<()> {
        self.detach();
        stream.set_nonblocking(true)?;
        let fd = stream.as_raw_fd();
        self.terminal.reset(true, true);
        let terminal = self.terminal.downgrade();
        let attached = Rc::clone(&self.attached);
        let this = self.clone();
        let source = glib::unix_fd_add_local(
            fd,
            glib::IOCondition::IN | glib::IOCondition::HUP | glib::IOCondition::ERR,
            move |_, _| {
                let Some(terminal) = terminal.upgrade() else {
                    return glib::ControlFlow::Break;
                };
                let mut buf = [0u8; 8192];
                loop {
                    let read = {
                        let mut guard = attached.borrow_mut();
                        let Some(a) = guard.as_mut() else {
                            return glib::ControlFlow::Break;
                        };
                        a.stream.read(&mut buf)
                    };
                    match read {
                        Ok(0) => {
                            this.closed();
                            return glib::ControlFlow::Break;
                        }
                        Ok(n) => terminal.feed(&buf[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            return glib::ControlFlow::Continue
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(_) => {
                            this.closed();
                            return glib::ControlFlow::Break;
                        }
                    }
                }
            },
        );
        self.attached.replace(Some(Attached {
            stream,
            source: Some(source),
        }));
        Ok(())
    }

    /// Closes the attached stream, if any.
    pub fn detach(&self) {
        if let Some(mut attached) = self.attached.take() {
            if let Some(source) = attached.source.take() {
                source.remove();
            }
            let _ = attached.stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// The stream ended on its own: drop it (its source is already
    /// finishing) and tell the owner.
    fn closed(&self) {
        if let Some(mut attached) = self.attached.take() {
            // The source returns Break itself; removing it here too would
            // remove it twice.
            attached.source.take();
        }
        (self.on_closed)();
    }

    /// Copies the selection to the clipboard.
    pub fn copy(&self) {
        self.terminal.copy_clipboard_format(vte4::Format::Text);
    }

    /// Types the clipboard's text into the guest.
    pub fn paste(&self) {
        self.terminal.paste_clipboard();
    }
}

/// Writes all of `bytes` to a non-blocking stream, waiting briefly when
/// the peer's buffer is full (typed text is small).
fn write_all_nonblocking(stream: &mut UnixStream, mut bytes: &[u8]) -> std::io::Result<()> {
    let mut stalls = 0;
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock && stalls < 100 => {
                stalls += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The text on the terminal's screen and scrollback.
fn screen_text(terminal: &vte4::Terminal) -> String {
    // SAFETY: `vte_terminal_get_text` reads the terminal it is given (a live
    // object borrowed for the call) and returns a newly allocated UTF-8
    // string or NULL, which `from_glib_full` takes ownership of. No
    // selection callback or attribute array is passed.
    let text: Option<glib::GString> = unsafe {
        from_glib_full(vte4::ffi::vte_terminal_get_text(
            terminal.to_glib_none().0,
            None,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        ))
    };
    text.map(|t| t.to_string()).unwrap_or_default()
}
