//! The guest's screen and the viewers watching it.
//!
//! [`framebuffer`] is the memory the guest draws into; a refresh thread
//! reads the pages KVM's dirty log says were written, compares them per
//! tile with the last frame ([`screen`]) and adds the changed tiles to every
//! viewer's own damage set. Viewers (the [`vnc`] server's clients) send
//! from their own threads at their own pace: a slow one only accumulates
//! damage, it never blocks the refresh or the other viewers.

pub mod framebuffer;
pub mod keymap;
pub mod screen;
pub mod vnc;

use framebuffer::{FramebufferMemory, VideoMode};
use screen::{Screen, TileSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock, Weak};
use std::time::Duration;

/// How often the refresh thread looks for guest writes.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(10);

/// Errors of the display.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    /// The mode does not fit the framebuffer window.
    #[error("a {width}x{height} framebuffer does not fit the guest's framebuffer window")]
    TooLarge {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// The framebuffer memory could not be mapped.
    #[error("cannot map the framebuffer: {0}")]
    Map(std::io::Error),
    /// The refresh thread could not start.
    #[error("cannot start the display refresh thread: {0}")]
    Thread(std::io::Error),
}

/// Where keys and pointer moves go (the guest's input devices).
pub trait InputSink: Send + Sync {
    /// A key, as an XT (set 1) scancode; extended keys carry 0xe0 in the
    /// high byte. `down` is press, else release.
    fn key(&self, scancode: u16, down: bool);

    /// The viewer's pointer at pixel (`x`, `y`) of a `width` x `height`
    /// screen, with the RFB button mask `buttons` (bit 0 left, 1 middle,
    /// 2 right, 3/4 wheel up/down). Dropped by guests without a pointer.
    fn pointer(&self, _x: u16, _y: u16, _buttons: u8, _width: u32, _height: u32) {}

    /// Whether pointer positions reach the guest as absolute coordinates
    /// (it has a tablet), what viewers are told by the QEMU pointer type
    /// change pseudo-encoding.
    fn absolute_pointer(&self) -> bool {
        false
    }
}

/// Reads and clears the KVM dirty bitmap of the framebuffer's slot (one
/// bit per 4 KiB page); None when dirty logging is not available.
pub type DirtyLog = Box<dyn FnMut() -> Option<Vec<u64>> + Send>;

/// One viewer's damage: what changed since it last sent.
#[derive(Debug)]
pub struct ViewerState {
    /// Changed tiles not yet sent.
    pub damage: TileSet,
    /// Bumped when the viewer's own client asks for something.
    pub pokes: u64,
    /// The display is gone (the VM ended).
    pub closed: bool,
}

/// A viewer's damage set and the condition its sender waits on.
#[derive(Debug)]
pub struct Viewer {
    /// The state, under its lock.
    pub state: Mutex<ViewerState>,
    /// Signalled on new damage, pokes and close.
    pub wake: Condvar,
}

impl Viewer {
    /// Locks the state (a poisoned lock still holds consistent data).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, ViewerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the sender after the client asked for something.
    pub fn poke(&self) {
        self.lock().pokes += 1;
        self.wake.notify_all();
    }
}

/// The guest's screen, shared by the VM (memory, dirty log, input) and the
/// viewers.
pub struct Display {
    memory: Arc<FramebufferMemory>,
    screen: RwLock<Screen>,
    viewers: Mutex<Vec<Weak<Viewer>>>,
    input: Mutex<Option<Arc<dyn InputSink>>>,
    dirty_log: Mutex<Option<DirtyLog>>,
    stop: AtomicBool,
}

impl Display {
    /// A black screen of `mode` and its refresh thread.
    pub fn start(mode: VideoMode) -> Result<Arc<Display>, DisplayError> {
        let display = Arc::new(Display {
            memory: Arc::new(FramebufferMemory::new(mode)?),
            screen: RwLock::new(Screen::new(mode)),
            viewers: Mutex::new(Vec::new()),
            input: Mutex::new(None),
            dirty_log: Mutex::new(None),
            stop: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&display);
        std::thread::Builder::new()
            .name("display".into())
            .spawn(move || refresh_loop(weak))
            .map_err(DisplayError::Thread)?;
        Ok(display)
    }

    /// The memory the guest draws into.
    pub fn memory(&self) -> &Arc<FramebufferMemory> {
        &self.memory
    }

    /// The screen's mode.
    pub fn mode(&self) -> VideoMode {
        self.memory.mode()
    }

    /// Starts a new boot: a black screen, the new VM's dirty log and input.
    pub fn attach(&self, dirty_log: Option<DirtyLog>, input: Option<Arc<dyn InputSink>>) {
        self.memory.clear();
        *self.dirty_log.lock().unwrap_or_else(|e| e.into_inner()) = dirty_log;
        *self.input.lock().unwrap_or_else(|e| e.into_inner()) = input;
    }

    /// Forgets the ended boot's VM (its dirty log and input devices).
    pub fn detach(&self) {
        *self.dirty_log.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self.input.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Stops the refresh thread and tells every viewer.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for viewer in self.live_viewers() {
            viewer.lock().closed = true;
            viewer.wake.notify_all();
        }
    }

    /// A new viewer whose damage starts as the whole screen.
    pub fn add_viewer(&self) -> Arc<Viewer> {
        let mode = self.mode();
        let mut damage = TileSet::new(mode.width, mode.height);
        damage.mark_all();
        let viewer = Arc::new(Viewer {
            state: Mutex::new(ViewerState {
                damage,
                pokes: 0,
                closed: self.stop.load(Ordering::SeqCst),
            }),
            wake: Condvar::new(),
        });
        let mut viewers = self.viewers.lock().unwrap_or_else(|e| e.into_inner());
        viewers.retain(|v| v.strong_count() > 0);
        viewers.push(Arc::downgrade(&viewer));
        viewer
    }

    /// Read access to the last frame.
    pub fn screen(&self) -> std::sync::RwLockReadGuard<'_, Screen> {
        self.screen.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a key to the guest, if it has a keyboard.
    pub fn key(&self, scancode: u16, down: bool) {
        let input = self.input.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(input) = input {
            input.key(scancode, down);
        }
    }

    /// Sends the viewer's pointer (position on the current screen and RFB
    /// button mask) to the guest, if it has a pointer device.
    pub fn pointer(&self, x: u16, y: u16, buttons: u8) {
        let input = self.input.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(input) = input {
            let mode = self.mode();
            input.pointer(x, y, buttons, mode.width, mode.height);
        }
    }

    /// Whether the guest takes absolute pointer positions (a tablet).
    pub fn absolute_pointer(&self) -> bool {
        self.input
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|i| i.absolute_pointer())
    }

    fn live_viewers(&self) -> Vec<Arc<Viewer>> {
        self.viewers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Looks for guest writes once: compares written lines with the last
    /// frame and hands the changed tiles to the viewers.
    pub fn refresh(&self) {
        let mode = self.mode();
        let lines = self.written_lines(mode);
        let mut changed = TileSet::new(mode.width, mode.height);
        let mut line = vec![0u32; mode.width as usize];
        {
            let mut screen = self.screen.write().unwrap_or_else(|e| e.into_inner());
            for (y, written) in lines.iter().enumerate() {
                if *written {
                    self.memory.read_line(y as u32, &mut line);
                    screen.update_line(y as u32, &line, &mut changed);
                }
            }
        }
        if changed.is_empty() {
            return;
        }
        for viewer in self.live_viewers() {
            viewer.lock().damage.merge(&changed);
            viewer.wake.notify_all();
        }
    }

    /// Which lines the guest wrote since the last call: from the dirty log
    /// when KVM keeps one, else every line (compared in full).
    fn written_lines(&self, mode: VideoMode) -> Vec<bool> {
        let bitmap = self
            .dirty_log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .and_then(|read| read());
        let Some(bitmap) = bitmap else {
            return vec![true; mode.height as usize];
        };
        let mut lines = vec![false; mode.height as usize];
        let stride = u64::from(mode.stride());
        for (word_index, word) in bitmap.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let bit = u64::from(bits.trailing_zeros());
                bits &= bits - 1;
                let page = word_index as u64 * 64 + bit;
                let first = page * 4096 / stride;
                let last = ((page + 1) * 4096 - 1) / stride;
                for y in first..=last.min(u64::from(mode.height).saturating_sub(1)) {
                    if let Some(l) = lines.get_mut(y as usize) {
                        *l = true;
                    }
                }
            }
        }
        lines
    }
}

fn refresh_loop(display: Weak<Display>) {
    loop {
        std::thread::sleep(REFRESH_INTERVAL);
        let Some(display) = display.upgrade() else {
            return;
        };
        if display.stop.load(Ordering::SeqCst) {
            return;
        }
        display.refresh();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_writes_reach_every_viewer_as_damage() {
        let display = Display::start(VideoMode {
            width: 320,
            height: 200,
        })
        .expect("display");
        let a = display.add_viewer();
        let b = display.add_viewer();
        a.lock().damage = TileSet::new(320, 200);
        b.lock().damage = TileSet::new(320, 200);
        // Without a dirty log every line is compared.
        display.memory().write_pixels(100, 150, &[0x0012_3456]);
        display.refresh();
        for v in [&a, &b] {
            let mut st = v.lock();
            assert_eq!(st.damage.count(), 1);
            st.damage = TileSet::new(320, 200);
        }
        assert_eq!(display.screen().pixels[150 * 320 + 100], 0x0012_3456);
        // With a dirty log naming only page 0, the write at line 150 is unseen.
        display.memory().write_pixels(0, 150, &[7]);
        display.attach(Some(Box::new(|| Some(vec![1u64]))), None);
        display.memory().write_pixels(0, 150, &[7]);
        display.memory().write_pixels(1, 0, &[9]);
        display.refresh();
        assert_eq!(a.lock().damage.count(), 1);
        assert_eq!(display.screen().pixels[1], 9);
        display.shutdown();
        assert!(a.lock().closed);
    }
}
