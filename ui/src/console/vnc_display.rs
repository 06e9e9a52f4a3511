//! `VncDisplay`: a GTK4 widget showing a VNC server's screen through
//! gvnc (libgvnc, the protocol half of gtk-vnc; its GTK widget is GTK3
//! only). gvnc decodes into a buffer this widget owns, and each frame after
//! an update uploads it as a texture, which works on GTK 4.8.
//!
//! The widget only speaks the protocol and draws; the console component
//! decides what to connect to and what to show around it. Its events come
//! out as [`DisplayEvent`]s to one handler.

mod input;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gtk4::glib::translate::{FromGlibPtrFull, IntoGlib, ToGlibPtr};
use gtk4::prelude::*;
use gtk4::subclass::prelude::*;
use gtk4::{gdk, gio, glib, graphene};
use gvnc::prelude::*;

use hangar_core::api::DisplayEndpoint;

const BYTES_PER_PIXEL: usize = 4;

/// What happened on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisplayEvent {
    /// The first frame was asked for: the screen is live.
    Connected,
    /// The guest's screen now has this size.
    Resized(i32, i32),
    /// The server wants a password and none was given.
    PasswordNeeded,
    /// The server refused the password, with its reason.
    AuthFailed(String),
    /// The connection ended, with the reason if it failed.
    Disconnected(Option<String>),
    /// The keyboard grab was taken (true) or released (false).
    Grab(bool),
}

type Handler = Rc<dyn Fn(DisplayEvent)>;

/// 32-bit little-endian xRGB: B, G, R, unused in memory.
fn local_format() -> Option<gvnc::PixelFormat> {
    gvnc::PixelFormat::new_with(
        (255, 255, 255),
        (16, 8, 0),
        24,
        32,
        gvnc::ByteOrder::Little,
        1,
    )
    .ok()
}

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct VncDisplay {
        pub(super) connection: RefCell<Option<gvnc::Connection>>,
        pub(super) framebuffer: RefCell<Option<gvnc::BaseFramebuffer>>,
        pub(super) texture: RefCell<Option<gdk::Texture>>,
        pub(super) dirty: Cell<bool>,
        pub(super) update_queued: Cell<bool>,
        pub(super) password: RefCell<Option<String>>,
        pub(super) auth_failure: RefCell<Option<String>>,
        pub(super) error: RefCell<Option<String>>,
        pub(super) asked_password: Cell<bool>,
        pub(super) scaling: Cell<bool>,
        pub(super) handler: RefCell<Option<Handler>>,
        pub(super) input: input::InputState,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for VncDisplay {
        const NAME: &'static str = "HangarVncDisplay";
        type Type = super::VncDisplay;
        type ParentType = gtk4::Widget;

        fn class_init(klass: &mut Self::Class) {
            klass.set_css_name("vnc-display");
            klass.set_accessible_role(gtk4::AccessibleRole::Img);
        }
    }

    impl ObjectImpl for VncDisplay {
        fn constructed(&self) {
            self.parent_constructed();
            let obj = self.obj();
            obj.set_focusable(true);
            obj.set_focus_on_click(true);
            obj.set_overflow(gtk4::Overflow::Hidden);
            obj.set_hexpand(true);
            obj.set_vexpand(true);
            input::attach(&obj);
        }

        fn dispose(&self) {
            self.obj().close();
        }
    }

    impl WidgetImpl for VncDisplay {
        fn snapshot(&self, snapshot: &gtk4::Snapshot) {
            let obj = self.obj();
            if self.dirty.replace(false) {
                let texture = obj.copy_framebuffer();
                self.texture.replace(texture);
            }
            let Some(texture) = self.texture.borrow().clone() else {
                return;
            };
            let (x, y, scale) = obj.placement();
            let rect = graphene::Rect::new(
                x as f32,
                y as f32,
                (f64::from(texture.width()) * scale) as f32,
                (f64::from(texture.height()) * scale) as f32,
            );
            snapshot.append_texture(&texture, &rect);
        }

        fn measure(&self, orientation: gtk4::Orientation, _for_size: i32) -> (i32, i32, i32, i32) {
            // Unscaled, the widget asks for the whole screen (a scrolled
            // window around it scrolls); scaled, it fits any size.
            if self.scaling.get() {
                return (0, 0, -1, -1);
            }
            let (width, height) = self.obj().guest_size().unwrap_or((0, 0));
            let size = match orientation {
                gtk4::Orientation::Horizontal => width,
                _ => height,
            };
            (size, size, -1, -1)
        }
    }
}

glib::wrapper! {
    /// A VNC client drawn as a GTK4 widget.
    pub struct VncDisplay(ObjectSubclass<imp::VncDisplay>)
        @extends gtk4::Widget,
        @implements gtk4::Accessible, gtk4::Buildable, gtk4::ConstraintTarget;
}

impl Default for VncDisplay {
    fn default() -> Self {
        glib::Object::new()
    }
}

impl VncDisplay {
    /// Sends every later [`DisplayEvent`] to `handler`.
    pub fn set_handler(&self, handler: impl Fn(DisplayEvent) + 'static) {
        self.imp().handler.replace(Some(Rc::new(handler)));
    }

    fn emit(&self, event: DisplayEvent) {
        let handler = self.imp().handler.borrow().clone();
        if let Some(handler) = handler {
            handler(event);
        }
    }

    /// Whether the screen is scaled to the widget's size.
    pub fn set_scaling(&self, scaling: bool) {
        if self.imp().scaling.replace(scaling) != scaling {
            self.queue_resize();
        }
    }

    /// The password given to the next VNC authentication.
    pub fn set_password(&self, password: Option<String>) {
        self.imp().password.replace(password);
    }

    /// Whether a connection is open or opening.
    pub fn is_open(&self) -> bool {
        self.imp().connection.borrow().is_some()
    }

    /// The guest screen's size, once known.
    pub fn guest_size(&self) -> Option<(i32, i32)> {
        let fb = self.imp().framebuffer.borrow().clone()?;
        Some((
            i32::from(FramebufferExt::width(&fb)),
            i32::from(FramebufferExt::height(&fb)),
        ))
    }

    /// Connects to the server at `endpoint`, closing any earlier connection.
    pub fn open(&self, endpoint: &DisplayEndpoint) -> Result<(), glib::BoolError> {
        self.close();
        let imp = self.imp();
        imp.auth_failure.replace(None);
        imp.error.replace(None);
        imp.asked_password.set(false);
        let conn = gvnc::Connection::new();
        self.watch(&conn);
        imp.connection.replace(Some(conn.clone()));
        let opened = match endpoint {
            DisplayEndpoint::Unix { path } => {
                conn.open_addr(&gio::UnixSocketAddress::new(path.as_ref()), None)
            }
            DisplayEndpoint::Tcp { host, port } => conn.open_host(host, &port.to_string()),
        };
        if opened.is_err() {
            imp.connection.replace(None);
        }
        opened
    }

    /// Ends the connection and forgets the screen.
    pub fn close(&self) {
        let imp = self.imp();
        if let Some(conn) = imp.connection.take() {
            conn.shutdown();
        }
        input::reset(self);
        imp.framebuffer.replace(None);
        imp.texture.replace(None);
        self.queue_resize();
        self.queue_draw();
    }

    /// The screen as last drawn, for screenshots.
    pub fn texture(&self) -> Option<gdk::Texture> {
        let imp = self.imp();
        if imp.dirty.replace(false) {
            imp.texture.replace(self.copy_framebuffer());
        }
        imp.texture.borrow().clone()
    }

    /// Presses and releases `keys` in the guest, as a combination: all
    /// down in order, then up in reverse.
    pub fn send_keys(&self, keys: &[super::keymap::Key]) {
        let Some(conn) = self.connection() else {
            return;
        };
        for key in keys {
            let _ = conn.key_event(true, key.keysym, key.scancode);
        }
        for key in keys.iter().rev() {
            let _ = conn.key_event(false, key.keysym, key.scancode);
        }
    }

    /// Sets the keys that release the keyboard grab (GDK key names joined
    /// by '+', e.g. "Control_L+Alt_L"); unknown names are skipped.
    pub fn set_grab_keys(&self, spec: &str) {
        input::set_grab_keys(self, spec);
    }

    /// Takes or releases the keyboard grab.
    pub fn set_grab(&self, grab: bool) {
        input::set_grab(self, grab);
    }

    pub(super) fn connection(&self) -> Option<gvnc::Connection> {
        self.imp().connection.borrow().clone()
    }

    fn watch(&self, conn: &gvnc::Connection) {
        conn.connect_vnc_auth_choose_type(|conn, types| {
            let offered: Vec<gvnc::ConnectionAuth> =
                types.iter().filter_map(|v| v.get().ok()).collect();
            let chosen = [gvnc::ConnectionAuth::None, gvnc::ConnectionAuth::Vnc]
                .into_iter()
                .find(|auth| offered.contains(auth))
                .unwrap_or(gvnc::ConnectionAuth::Invalid);
            // An unsupported choice makes gvnc fail the connection, which
            // then reports why.
            let _ = conn.set_auth_type(chosen.into_glib() as u32);
        });
        let weak = self.downgrade();
        conn.connect_vnc_auth_credential(move |conn, wanted| {
            let Some(display) = weak.upgrade() else {
                return;
            };
            let password = display.imp().password.borrow().clone();
            for value in wanted.iter() {
                let Ok(kind) = value.get::<gvnc::ConnectionCredential>() else {
                    continue;
                };
                match (kind, password.as_deref()) {
                    (gvnc::ConnectionCredential::Password, Some(password)) => {
                        let _ = conn.set_credential(kind.into_glib(), password);
                    }
                    (gvnc::ConnectionCredential::Password, None) => {
                        display.imp().asked_password.set(true);
                        conn.shutdown();
                        return;
                    }
                    (gvnc::ConnectionCredential::Clientname, _) => {
                        let _ = conn.set_credential(kind.into_glib(), "hangar");
                    }
                    _ => {
                        conn.shutdown();
                        return;
                    }
                }
            }
        });
        let weak = self.downgrade();
        conn.connect_vnc_auth_failure(move |_, reason| {
            if let Some(display) = weak.upgrade() {
                display.imp().auth_failure.replace(Some(reason.to_string()));
            }
        });
        let weak = self.downgrade();
        conn.connect_vnc_error(move |_, message| {
            if let Some(display) = weak.upgrade() {
                display.imp().error.replace(Some(message.to_string()));
            }
        });
        let weak = self.downgrade();
        conn.connect_vnc_initialized(move |conn| {
            if let Some(display) = weak.upgrade() {
                display.on_initialized(conn);
            }
        });
        let weak = self.downgrade();
        conn.connect_vnc_desktop_resize(move |conn, _, _| {
            if let Some(display) = weak.upgrade() {
                display.new_framebuffer(conn);
            }
        });
        let weak = self.downgrade();
        conn.connect_vnc_pixel_format_changed(move |conn, _| {
            if let Some(display) = weak.upgrade() {
                display.new_framebuffer(conn);
            }
        });
        let weak = self.downgrade();
        conn.connect_vnc_framebuffer_update(move |_, _, _, _, _| {
            if let Some(display) = weak.upgrade() {
                display.imp().dirty.set(true);
                display.queue_draw();
                display.queue_update_request();
            }
        });
        let weak = self.downgrade();
        conn.connect_vnc_disconnected(move |conn| {
            let Some(display) = weak.upgrade() else {
                return;
            };
            if display.connection().as_ref() != Some(conn) {
                return;
            }
            let imp = display.imp();
            let event = if imp.asked_password.replace(false) {
                DisplayEvent::PasswordNeeded
            } else if let Some(reason) = imp.auth_failure.take() {
                DisplayEvent::AuthFailed(reason)
            } else {
                DisplayEvent::Disconnected(imp.error.take())
            };
            display.close();
            display.emit(event);
        });
    }

    fn on_initialized(&self, conn: &gvnc::Connection) {
        use gvnc::ConnectionEncoding as E;
        if let Some(format) = local_format() {
            let _ = conn.set_pixel_format(&format);
        }
        let encodings: Vec<i32> = [
            E::Zrle,
            E::Hextile,
            E::CopyRect,
            E::Raw,
            E::DesktopResize,
            E::ExtendedDesktopResize,
            E::LastRect,
            E::ExtKeyEvent,
            E::PointerChange,
        ]
        .into_iter()
        .map(|e| e.into_glib())
        .collect();
        let _ = conn.set_encodings(&encodings);
        self.new_framebuffer(conn);
        self.emit(DisplayEvent::Connected);
    }

    /// A framebuffer for the server's current size, and a full frame.
    fn new_framebuffer(&self, conn: &gvnc::Connection) {
        let (Ok(width), Ok(height)) = (u16::try_from(conn.width()), u16::try_from(conn.height()))
        else {
            return;
        };
        let (Some(remote), Some(local)) = (conn.pixel_format(), local_format()) else {
            return;
        };
        if width == 0 || height == 0 {
            return;
        }
        let stride = usize::from(width) * BYTES_PER_PIXEL;
        let Ok(stride_c) = i32::try_from(stride) else {
            return;
        };
        let mut buffer = vec![0u8; stride * usize::from(height)].into_boxed_slice();
        // SAFETY: `buffer` holds `height` rows of `stride` bytes; it is
        // stored on the framebuffer object right after, so it lives as long
        // as the framebuffer does, and a boxed slice's bytes never move.
        // `vnc_base_framebuffer_new` returns a new reference we own.
        let framebuffer: gvnc::BaseFramebuffer = unsafe {
            let raw = gvnc::ffi::vnc_base_framebuffer_new(
                buffer.as_mut_ptr(),
                width,
                height,
                stride_c,
                local.to_glib_none().0,
                remote.to_glib_none().0,
            );
            gvnc::BaseFramebuffer::from_glib_full(raw)
        };
        // SAFETY: this key is only ever set here, always to a `Box<[u8]>`,
        // and never read back with another type.
        unsafe { framebuffer.set_data("hangar-pixels", buffer) };
        if conn.set_framebuffer(&framebuffer).is_err() {
            return;
        }
        let _ = conn.framebuffer_update_request(false, 0, 0, width, height);
        let imp = self.imp();
        imp.framebuffer.replace(Some(framebuffer));
        imp.dirty.set(true);
        self.queue_resize();
        self.queue_draw();
        self.emit(DisplayEvent::Resized(i32::from(width), i32::from(height)));
    }

    /// gvnc asks for the first frame only: every later (incremental) one is
    /// asked for once the main loop has handled the current batch of
    /// rectangles.
    fn queue_update_request(&self) {
        if self.imp().update_queued.replace(true) {
            return;
        }
        let weak = self.downgrade();
        glib::idle_add_local_once(move || {
            let Some(display) = weak.upgrade() else {
                return;
            };
            display.imp().update_queued.set(false);
            let fb = display.imp().framebuffer.borrow().clone();
            if let (Some(conn), Some(fb)) = (display.connection(), fb) {
                let _ = conn.framebuffer_update_request(
                    true,
                    0,
                    0,
                    FramebufferExt::width(&fb),
                    FramebufferExt::height(&fb),
                );
            }
        });
    }

    /// The framebuffer as an opaque texture (GTK 4.8 has no xRGB format, so
    /// the unused byte becomes an opaque alpha).
    fn copy_framebuffer(&self) -> Option<gdk::Texture> {
        let fb = self.imp().framebuffer.borrow().clone()?;
        let mut pixels = gvnc::FramebufferManualExt::buffer(&fb).to_vec();
        for alpha in pixels.iter_mut().skip(3).step_by(BYTES_PER_PIXEL) {
            *alpha = 0xff;
        }
        let width = FramebufferExt::width(&fb);
        let texture = gdk::MemoryTexture::new(
            i32::from(width),
            i32::from(FramebufferExt::height(&fb)),
            gdk::MemoryFormat::B8g8r8a8,
            &glib::Bytes::from_owned(pixels),
            usize::from(width) * BYTES_PER_PIXEL,
        );
        Some(texture.upcast())
    }

    /// Where the screen goes in the widget: its offset and scale (1 when
    /// not scaling; else as large as fits, aspect ratio kept).
    pub(super) fn placement(&self) -> (f64, f64, f64) {
        let Some((width, height)) = self.guest_size() else {
            return (0.0, 0.0, 1.0);
        };
        let (w, h) = (f64::from(self.width()), f64::from(self.height()));
        let (fw, fh) = (f64::from(width.max(1)), f64::from(height.max(1)));
        let scale = if self.imp().scaling.get() {
            (w / fw).min(h / fh)
        } else {
            1.0
        };
        (
            ((w - fw * scale) / 2.0).max(0.0),
            ((h - fh * scale) / 2.0).max(0.0),
            scale,
        )
    }
}
