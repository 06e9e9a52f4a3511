//! `console`: virsh's interactive serial console over a stream already
//! attached to the guest's serial port (a VMM control socket after its
//! `console` request). `^]` leaves, as in virsh.

use super::{CliError, Session};
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

/// virsh's default escape character, Ctrl + ].
pub const ESCAPE: u8 = 0x1d;

/// How a console session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleEnd {
    /// The user typed the escape character (or closed stdin).
    Escaped,
    /// The guest side closed the stream (the VM stopped).
    GuestClosed,
}

/// Runs the console for domain `name` on `stream` until `^]` or until the
/// stream closes, with the terminal in raw mode.
pub fn attach(s: &mut Session, name: &str, stream: UnixStream) -> Result<ConsoleEnd, CliError> {
    if !io::stdin().is_terminal() {
        return Err(CliError::msg(
            "Cannot run interactive console without a controlling TTY",
        ));
    }
    s.print_extra(&format!("Connected to domain '{name}'\n"));
    s.print_extra("Escape character is ^] (Ctrl + ])\n");
    s.flush();
    let _raw = super::tty::RawTerminal::enter();
    let stdin = io::stdin();
    pump(&stdin, io::stdout(), stream)
        .map_err(|e| CliError::msg(format!("console for domain '{name}' failed: {e}")))
}

/// Copies `input` to the guest and the guest's output to `output` until the
/// escape character, the end of `input`, or the end of the guest's stream.
pub fn pump<I: AsRawFd>(
    input: &I,
    mut output: impl Write,
    mut stream: UnixStream,
) -> io::Result<ConsoleEnd>
where
    for<'a> &'a I: Read,
{
    let mut buf = [0u8; 4096];
    let fds = [input.as_raw_fd(), stream.as_raw_fd()];
    let end = loop {
        let [input_ready, guest_ready] = wait_readable(fds)?;
        if guest_ready {
            let n = read_retrying(&mut stream, &mut buf)?;
            if n == 0 {
                break ConsoleEnd::GuestClosed;
            }
            output.write_all(&buf[..n])?;
            output.flush()?;
        }
        if input_ready {
            let mut reader = input;
            let n = read_retrying(&mut reader, &mut buf)?;
            if n == 0 {
                break ConsoleEnd::Escaped;
            }
            let typed = &buf[..n];
            match typed.iter().position(|b| *b == ESCAPE) {
                Some(at) => {
                    stream.write_all(&typed[..at])?;
                    break ConsoleEnd::Escaped;
                }
                None => stream.write_all(typed)?,
            }
        }
    };
    // Tell the VMM this client has left; it keeps the guest running.
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Ok(end)
}

fn read_retrying(mut from: impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match from.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Waits until one of the two descriptors can be read (or has hung up).
fn wait_readable(fds: [RawFd; 2]) -> io::Result<[bool; 2]> {
    let mut polled = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    loop {
        // SAFETY: `polled` is a valid array of two pollfd for the whole call.
        let rc = unsafe { libc::poll(polled.as_mut_ptr(), 2, -1) };
        if rc >= 0 {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let ready = |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
    Ok([ready(&polled[0]), ready(&polled[1])])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_bytes_reach_the_guest_until_the_escape_character() {
        let (mut keyboard, input) = UnixStream::pair().expect("pair");
        let (console, mut guest) = UnixStream::pair().expect("pair");
        guest.write_all(b"login: ").expect("guest writes");
        keyboard.write_all(b"root\r").expect("type");
        let worker = std::thread::spawn(move || {
            let mut screen = Vec::new();
            let end = pump(&input, &mut screen, console);
            (end.ok(), screen)
        });
        let mut got = [0u8; 5];
        guest.read_exact(&mut got).expect("guest reads");
        assert_eq!(&got, b"root\r");
        keyboard.write_all(b"ls\x1dignored").expect("type");
        let (end, screen) = worker.join().unwrap_or((None, Vec::new()));
        assert_eq!(end, Some(ConsoleEnd::Escaped));
        assert_eq!(screen, b"login: ");
        let mut rest = Vec::new();
        guest.read_to_end(&mut rest).expect("stream closed");
        assert_eq!(rest, b"ls");
    }

    #[test]
    fn the_guest_closing_ends_the_console() {
        let (_keyboard, input) = UnixStream::pair().expect("pair");
        let (console, mut guest) = UnixStream::pair().expect("pair");
        guest
            .write_all(b"reboot: Power down\r\n")
            .expect("guest writes");
        drop(guest);
        let mut screen = Vec::new();
        let end = pump(&input, &mut screen, console).ok();
        assert_eq!(end, Some(ConsoleEnd::GuestClosed));
        assert_eq!(screen, b"reboot: Power down\r\n");
    }
}
