//! Raw mode for the terminal on stdin (the edit prompt's single key, the console).

/// Keeps the terminal on stdin in raw mode while alive; restores it on drop.
pub struct RawTerminal {
    saved: Option<libc::termios>,
}

impl RawTerminal {
    /// Switches stdin to raw mode; does nothing when stdin is not a terminal.
    pub fn enter() -> Self {
        // SAFETY: termios is plain data; tcgetattr fills it or fails, and we
        // only use it after success.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 is valid for the whole process; the pointer is to a local.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0 {
            return RawTerminal { saved: None };
        }
        let mut raw = saved;
        // SAFETY: cfmakeraw only edits the struct it is given.
        unsafe { libc::cfmakeraw(&mut raw) };
        // SAFETY: as above; a failure leaves the terminal as it was.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) } != 0 {
            return RawTerminal { saved: None };
        }
        RawTerminal { saved: Some(saved) }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the attributes read in `enter` on the same fd.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved) };
        }
    }
}
