//! `<os>`: guest type, firmware, boot devices and direct kernel boot.

use super::common::{xml_enum, yes_no, ElementReader, Extra};
use crate::xml::{Element, XmlError};

xml_enum! {
    /// `<boot dev>`: a device class the firmware tries in order.
    BootDevice {
        /// Floppy.
        Floppy = "fd",
        /// Hard disk.
        HardDisk = "hd",
        /// CD-ROM.
        Cdrom = "cdrom",
        /// Network (PXE).
        Network = "network",
    }
}

/// `<loader>`: the firmware image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loader {
    /// Path of the firmware image (e.g. `/usr/share/OVMF/OVMF_CODE.fd`).
    pub path: Option<String>,
    /// `readonly='yes'`: the image is mapped read-only (pflash code).
    pub readonly: Option<bool>,
    /// `type='rom'` or `type='pflash'`.
    pub loader_type: Option<String>,
    /// `secure='yes'`: Secure Boot firmware.
    pub secure: Option<bool>,
    /// Unknown attributes and children.
    pub extra: Extra,
}

/// `<nvram>`: the per-VM UEFI variable store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nvram {
    /// Path of the variable store.
    pub path: Option<String>,
    /// Template it is created from.
    pub template: Option<String>,
    /// Unknown attributes and children (e.g. a network `<source>`).
    pub extra: Extra,
}

/// `<bootmenu enable='yes' timeout='3000'/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BootMenu {
    /// Whether the firmware shows its boot menu.
    pub enable: bool,
    /// Milliseconds the menu waits (0 to 65535).
    pub timeout_ms: Option<u32>,
}

/// `<os>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Os {
    /// `<type>` text: `hvm` for full virtualisation, `linux` (Xen PV), `exe`.
    pub os_type: String,
    /// `<type arch>` (e.g. `x86_64`).
    pub arch: Option<String>,
    /// `<type machine>` (e.g. `pc-q35-7.2`, `q35`, `pc`).
    pub machine: Option<String>,
    /// `<os firmware>`: `efi` or `bios` auto-selection.
    pub firmware: Option<String>,
    /// `<loader>`.
    pub loader: Option<Loader>,
    /// `<nvram>`.
    pub nvram: Option<Nvram>,
    /// `<kernel>`: kernel image for direct boot.
    pub kernel: Option<String>,
    /// `<initrd>`: initial ramdisk for direct boot.
    pub initrd: Option<String>,
    /// `<cmdline>`: kernel command line for direct boot.
    pub cmdline: Option<String>,
    /// `<dtb>`: device tree blob.
    pub dtb: Option<String>,
    /// `<boot dev>` elements, in boot order.
    pub boot: Vec<BootDevice>,
    /// `<bootmenu>`.
    pub bootmenu: Option<BootMenu>,
    /// `<smbios mode>`: `emulate`, `host` or `sysinfo`.
    pub smbios_mode: Option<String>,
    /// Unknown attributes of `<os>`/`<type>` and unknown children
    /// (`<firmware>`, `<bios>`, `<init>`, `<acpi>`, ...).
    pub extra: Extra,
    /// Unknown attributes of `<type>`.
    pub type_extra: Vec<(String, String)>,
}

impl Default for Os {
    fn default() -> Self {
        Os {
            os_type: "hvm".to_string(),
            arch: None,
            machine: None,
            firmware: None,
            loader: None,
            nvram: None,
            kernel: None,
            initrd: None,
            cmdline: None,
            dtb: None,
            boot: Vec::new(),
            bootmenu: None,
            smbios_mode: None,
            extra: Extra::default(),
            type_extra: Vec::new(),
        }
    }
}

impl Os {
    /// Reads `<os>`.
    pub fn parse(el: &Element) -> Result<Os, XmlError> {
        let mut r = ElementReader::new(el);
        let firmware = r.attr_string("firmware");
        let ty = r
            .child("type")?
            .ok_or_else(|| XmlError::missing("os", "type"))?;
        let mut tr = ElementReader::new(ty);
        let arch = tr.attr_string("arch");
        let machine = tr.attr_string("machine");
        let os_type = tr.text();
        if os_type.is_empty() {
            return Err(XmlError::invalid(
                "<os><type>",
                "",
                "an OS type is required (e.g. hvm)",
            ));
        }
        let type_rest = tr.finish();
        if !type_rest.children.is_empty() {
            return Err(XmlError::Unsupported(format!(
                "element <{}> in <os><type>",
                type_rest.children[0].name
            )));
        }

        let loader = r.child("loader")?.map(parse_loader).transpose()?;
        let nvram = match r.child("nvram")? {
            Some(n) => {
                let mut nr = ElementReader::new(n);
                let template = nr.attr_string("template");
                let text = nr.text();
                Some(Nvram {
                    path: (!text.is_empty()).then_some(text),
                    template,
                    extra: nr.finish(),
                })
            }
            None => None,
        };
        let kernel = r.child_text("kernel")?;
        let initrd = r.child_text("initrd")?;
        let cmdline = r.child("cmdline")?.map(|c| c.text());
        let dtb = r.child_text("dtb")?;
        let mut boot = Vec::new();
        for b in r.children("boot") {
            let dev = b.req_attr("dev")?;
            let d: BootDevice = dev.parse().map_err(|_| {
                XmlError::invalid("<boot dev>", dev, "expected hd, cdrom, fd or network")
            })?;
            boot.push(d);
        }
        let bootmenu = match r.child("bootmenu")? {
            Some(m) => {
                let mut mr = ElementReader::new(m);
                let enable =
                    mr.attr_switch("enable")?
                        .ok_or_else(|| XmlError::MissingAttribute {
                            element: "bootmenu".to_string(),
                            attribute: "enable".to_string(),
                        })?;
                let timeout_ms = match mr.attr("timeout") {
                    Some(t) => Some(
                        t.trim()
                            .parse::<u32>()
                            .ok()
                            .filter(|v| *v <= 65535)
                            .ok_or_else(|| {
                                XmlError::invalid(
                                    "<bootmenu timeout>",
                                    t,
                                    "must be in range [0,65535]",
                                )
                            })?,
                    ),
                    None => None,
                };
                let rest = mr.finish();
                if !rest.is_empty() {
                    return Err(XmlError::Unsupported(
                        "unknown content in <bootmenu>".to_string(),
                    ));
                }
                Some(BootMenu { enable, timeout_ms })
            }
            None => None,
        };
        let smbios_mode = match r.child("smbios")? {
            Some(s) => Some(s.req_attr("mode")?.to_string()),
            None => None,
        };
        Ok(Os {
            os_type,
            arch,
            machine,
            firmware,
            loader,
            nvram,
            kernel,
            initrd,
            cmdline,
            dtb,
            boot,
            bootmenu,
            smbios_mode,
            extra: {
                let mut extra = r.finish();
                extra.sort_children_by_key(|n| match n {
                    "acpi" => 1,
                    "bios" => 2,
                    _ => 0,
                });
                extra
            },
            type_extra: type_rest.attrs,
        })
    }

    /// Formats `<os>` in libvirt's order.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("os").with_opt_attr("firmware", self.firmware.clone());
        self.extra.apply_attrs(&mut el);
        let mut ty = Element::new("type")
            .with_opt_attr("arch", self.arch.clone())
            .with_opt_attr("machine", self.machine.clone());
        ty.attrs.extend(self.type_extra.iter().cloned());
        el.push(ty.with_text(self.os_type.clone()));
        // <firmware>, <init>, ... (kept verbatim) come right after <type>.
        let (early, late): (Vec<&Element>, Vec<&Element>) = self
            .extra
            .children
            .iter()
            .partition(|c| !matches!(c.name.as_str(), "bios" | "acpi"));
        for c in early {
            el.push(c.clone());
        }
        if let Some(l) = &self.loader {
            let mut le = Element::new("loader")
                .with_opt_attr("readonly", l.readonly.map(yes_no))
                .with_opt_attr("secure", l.secure.map(yes_no))
                .with_opt_attr("type", l.loader_type.clone());
            l.extra.apply_attrs(&mut le);
            if let Some(p) = &l.path {
                le = le.with_text(p.clone());
            }
            for c in &l.extra.children {
                le.push(c.clone());
            }
            el.push(le);
        }
        if let Some(n) = &self.nvram {
            let mut ne = Element::new("nvram").with_opt_attr("template", n.template.clone());
            n.extra.apply_attrs(&mut ne);
            if let Some(p) = &n.path {
                ne = ne.with_text(p.clone());
            }
            for c in &n.extra.children {
                ne.push(c.clone());
            }
            el.push(ne);
        }
        for (name, v) in [
            ("kernel", &self.kernel),
            ("initrd", &self.initrd),
            ("cmdline", &self.cmdline),
            ("dtb", &self.dtb),
        ] {
            if let Some(v) = v {
                el.push(Element::new(name).with_text(v.clone()));
            }
        }
        for c in late.iter().filter(|c| c.name == "acpi") {
            el.push((*c).clone());
        }
        for b in &self.boot {
            el.push(Element::new("boot").with_attr("dev", b.as_str()));
        }
        if let Some(m) = &self.bootmenu {
            el.push(
                Element::new("bootmenu")
                    .with_attr("enable", yes_no(m.enable))
                    .with_opt_attr("timeout", m.timeout_ms.map(|t| t.to_string())),
            );
        }
        if let Some(mode) = &self.smbios_mode {
            el.push(Element::new("smbios").with_attr("mode", mode.clone()));
        }
        for c in late.iter().filter(|c| c.name == "bios") {
            el.push((*c).clone());
        }
        if let Some(t) = &self.extra.text {
            el.children.push(crate::xml::tree::Node::Text(t.clone()));
        }
        el
    }
}

fn parse_loader(el: &Element) -> Result<Loader, XmlError> {
    let mut r = ElementReader::new(el);
    let readonly = r.attr_switch("readonly")?;
    let secure = r.attr_switch("secure")?;
    let loader_type = r.attr_string("type");
    if let Some(t) = &loader_type {
        if t != "rom" && t != "pflash" {
            return Err(XmlError::invalid(
                "<loader type>",
                t.clone(),
                "expected rom or pflash",
            ));
        }
    }
    let text = r.text();
    Ok(Loader {
        path: (!text.is_empty()).then_some(text),
        readonly,
        loader_type,
        secure,
        extra: r.finish(),
    })
}
