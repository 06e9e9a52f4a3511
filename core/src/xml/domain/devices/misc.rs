//! Small device families whose typed part is a few attributes: sound,
//! watchdog, panic, hub, smartcard, redirdev, iommu, shmem, tpm, memballoon,
//! rng and vsock. Everything else inside them is kept verbatim.

use super::super::common::{DeviceInfo, ElementReader, Extra};
use crate::xml::{Element, XmlError};

/// Declares a device with optional string attributes, [`DeviceInfo`] and
/// verbatim extras; `required` lists attributes that must be present.
macro_rules! simple_device {
    (
        $(#[$meta:meta])* $name:ident, $tag:literal, required [$($req:literal),*],
        { $($(#[$fmeta:meta])* $field:ident = $attr:literal),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: Option<String>,)*
            /// Alias, boot order and address.
            pub info: DeviceInfo,
            /// Unknown attributes and children, verbatim.
            pub extra: Extra,
        }

        impl $name {
            /// Reads the element.
            pub fn parse(el: &Element) -> Result<Self, XmlError> {
                let mut r = ElementReader::new(el);
                $(r.req_attr($req)?;)*
                $(let $field = r.attr_string($attr);)*
                let info = DeviceInfo::parse(&mut r)?;
                Ok($name { $($field,)* info, extra: r.finish() })
            }

            /// Formats the element.
            pub fn to_element(&self) -> Element {
                let mut el = Element::new($tag);
                $(el = el.with_opt_attr($attr, self.$field.clone());)*
                self.extra.apply_attrs(&mut el);
                self.extra.apply_children(&mut el);
                self.info.push_boot(&mut el);
                self.info.push_alias_address(&mut el);
                el
            }
        }
    };
}

simple_device! {
    /// `<sound model='ich9'>`.
    Sound, "sound", required ["model"], {
        /// Sound card model (`ich6`, `ich9`, `ac97`, `es1370`, `sb16`, `usb`, ...).
        model = "model",
    }
}

simple_device! {
    /// `<watchdog model='i6300esb' action='reset'>`.
    Watchdog, "watchdog", required ["model"], {
        /// Watchdog model (`i6300esb`, `ib700`, `diag288`, `itco`).
        model = "model",
        /// What happens when it fires (`reset`, `shutdown`, `poweroff`, `pause`, ...).
        action = "action",
    }
}

simple_device! {
    /// `<panic model='isa'>`: the guest reports a panic to the host.
    Panic, "panic", required [], {
        /// Panic device model (`isa`, `pseries`, `hyperv`, `s390`, `pvpanic`).
        model = "model",
    }
}

simple_device! {
    /// `<hub type='usb'>`.
    Hub, "hub", required ["type"], {
        /// Hub type (`usb`).
        hub_type = "type",
    }
}

simple_device! {
    /// `<smartcard mode='host'>` and its certificates or character device.
    Smartcard, "smartcard", required ["mode"], {
        /// `host`, `host-certificates` or `passthrough`.
        mode = "mode",
        /// Character device type in passthrough mode (`tcp`, `spicevmc`, ...).
        smartcard_type = "type",
    }
}

simple_device! {
    /// `<redirdev bus='usb' type='spicevmc'>`: USB redirection.
    Redirdev, "redirdev", required ["bus"], {
        /// Bus (`usb`).
        bus = "bus",
        /// Character device carrying it (`spicevmc`, `tcp`).
        redir_type = "type",
    }
}

simple_device! {
    /// `<iommu model='intel'>`.
    Iommu, "iommu", required ["model"], {
        /// `intel`, `smmuv3` or `virtio`.
        model = "model",
    }
}

simple_device! {
    /// `<shmem name='...'>`: inter-VM shared memory.
    Shmem, "shmem", required ["name"], {
        /// Name of the shared memory region.
        name = "name",
        /// `role` (`master`/`peer`).
        role = "role",
    }
}

simple_device! {
    /// `<tpm model='tpm-crb'>` with its `<backend>` (kept verbatim).
    Tpm, "tpm", required [], {
        /// `tpm-tis`, `tpm-crb`, `tpm-spapr`, `spapr-tpm-proxy`.
        model = "model",
    }
}

simple_device! {
    /// `<memballoon model='virtio'>`.
    Memballoon, "memballoon", required ["model"], {
        /// `virtio`, `virtio-transitional`, `virtio-non-transitional`, `xen` or `none`.
        model = "model",
        /// `autodeflate='on'`: deflate when the guest runs out of memory.
        autodeflate = "autodeflate",
        /// `freePageReporting='on'`.
        free_page_reporting = "freePageReporting",
    }
}

simple_device! {
    /// `<vsock model='virtio'>` with `<cid auto= address=>` (kept verbatim).
    Vsock, "vsock", required [], {
        /// `virtio`, `virtio-transitional`, `virtio-non-transitional`.
        model = "model",
    }
}

/// `<rng model='virtio'>`: an entropy source for the guest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rng {
    /// `virtio`, `virtio-transitional`, `virtio-non-transitional`.
    pub model: String,
    /// `<backend model>`: `random`, `egd` or `builtin`.
    pub backend_model: Option<String>,
    /// Host file of a `random` backend (e.g. `/dev/urandom`).
    pub backend_path: Option<String>,
    /// Unknown content of `<backend>` (an `egd` backend's chardev source).
    pub backend_extra: Extra,
    /// Alias and address.
    pub info: DeviceInfo,
    /// Unknown attributes and children (`<rate>`, `<driver>`).
    pub extra: Extra,
}

impl Rng {
    /// Reads `<rng>`.
    pub fn parse(el: &Element) -> Result<Rng, XmlError> {
        let mut r = ElementReader::new(el);
        let model = r.req_attr("model")?.to_string();
        let (backend_model, backend_path, backend_extra) = match r.child("backend")? {
            Some(b) => {
                let mut br = ElementReader::new(b);
                let m = br.req_attr("model")?.to_string();
                let path = (m == "random").then(|| br.text()).filter(|t| !t.is_empty());
                (Some(m), path, br.finish())
            }
            None => (None, None, Extra::default()),
        };
        let info = DeviceInfo::parse(&mut r)?;
        Ok(Rng {
            model,
            backend_model,
            backend_path,
            backend_extra,
            info,
            extra: r.finish(),
        })
    }

    /// Formats `<rng>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("rng").with_attr("model", self.model.clone());
        self.extra.apply_attrs(&mut el);
        if self.backend_model.is_some() || !self.backend_extra.is_empty() {
            let mut b = Element::new("backend").with_opt_attr("model", self.backend_model.clone());
            self.backend_extra.apply_attrs(&mut b);
            if let Some(p) = &self.backend_path {
                b = b.with_text(p.clone());
            }
            self.backend_extra.apply_children(&mut b);
            el.push(b);
        }
        self.extra.apply_children(&mut el);
        self.info.push_alias_address(&mut el);
        el
    }
}
