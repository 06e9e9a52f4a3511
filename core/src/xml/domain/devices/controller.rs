//! `<controller>`, `<video>`, `<input>` and `<filesystem>`.

use super::super::common::{DeviceInfo, ElementReader, Extra};
use crate::xml::{Element, XmlError};

/// `<controller type='pci' index='0' model='pcie-root'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Controller {
    /// `ide`, `fdc`, `scsi`, `sata`, `usb`, `pci`, `virtio-serial`, `ccid`, `xenbus`, `isa`.
    pub controller_type: String,
    /// `index`; libvirt numbers unindexed controllers itself.
    pub index: Option<u32>,
    /// `model` (`pcie-root`, `qemu-xhci`, `virtio-scsi`, ...).
    pub model: Option<String>,
    /// Alias and address.
    pub info: DeviceInfo,
    /// Unknown attributes (`ports`, `vectors`, ...) and children
    /// (`<driver>`, `<target>`, `<model name>`, `<master>`).
    pub extra: Extra,
}

impl Controller {
    /// Reads `<controller>`.
    pub fn parse(el: &Element) -> Result<Controller, XmlError> {
        let mut r = ElementReader::new(el);
        let controller_type = r.req_attr("type")?.to_string();
        let index = match r.attr("index") {
            Some(i) => Some(i.trim().parse::<u32>().map_err(|_| {
                XmlError::invalid("<controller index>", i, "expected a non-negative integer")
            })?),
            None => None,
        };
        let model = r.attr_string("model");
        let info = DeviceInfo::parse(&mut r)?;
        Ok(Controller {
            controller_type,
            index,
            model,
            info,
            extra: r.finish(),
        })
    }

    /// Formats `<controller>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("controller")
            .with_attr("type", self.controller_type.clone())
            .with_opt_attr("index", self.index.map(|i| i.to_string()))
            .with_opt_attr("model", self.model.clone());
        self.extra.apply(&mut el);
        self.info.push_alias_address(&mut el);
        el
    }
}

/// `<video><model type='virtio' vram='16384' heads='1' primary='yes'/></video>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VideoModel {
    /// `type`: `vga`, `cirrus`, `qxl`, `virtio`, `bochs`, `ramfb`, `none`, ...
    pub model_type: String,
    /// `vram` in KiB.
    pub vram_kib: Option<u64>,
    /// `heads`.
    pub heads: Option<u32>,
    /// `primary='yes'`.
    pub primary: Option<bool>,
    /// `<resolution x y>`.
    pub resolution: Option<(u32, u32)>,
    /// Unknown attributes (`ram`, `vgamem`, `vram64`) and children (`<acceleration>`).
    pub extra: Extra,
}

/// `<video>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Video {
    /// `<model>`; libvirt picks a default when absent.
    pub model: Option<VideoModel>,
    /// Alias and address.
    pub info: DeviceInfo,
    /// Unknown attributes and children (`<driver>`).
    pub extra: Extra,
}

impl Video {
    /// Reads `<video>`.
    pub fn parse(el: &Element) -> Result<Video, XmlError> {
        let mut r = ElementReader::new(el);
        let model = match r.child("model")? {
            Some(m) => {
                let mut mr = ElementReader::new(m);
                let model_type = mr.req_attr("type")?.to_string();
                let vram_kib = mr.attr_uint("vram")?;
                let heads = mr.attr_parse::<u32>("heads")?;
                let primary = mr.attr_switch("primary")?;
                let resolution = match mr.child("resolution")? {
                    Some(res) => {
                        let x = res.req_attr("x")?;
                        let y = res.req_attr("y")?;
                        let parse = |v: &str| {
                            v.trim()
                                .parse::<u32>()
                                .ok()
                                .filter(|n| *n > 0)
                                .ok_or_else(|| {
                                    XmlError::invalid(
                                        "<video><resolution>",
                                        v,
                                        "expected a positive integer",
                                    )
                                })
                        };
                        Some((parse(x)?, parse(y)?))
                    }
                    None => None,
                };
                Some(VideoModel {
                    model_type,
                    vram_kib,
                    heads,
                    primary,
                    resolution,
                    extra: mr.finish(),
                })
            }
            None => None,
        };
        let info = DeviceInfo::parse(&mut r)?;
        let mut extra = r.finish();
        extra.sort_children_by_key(|n| usize::from(n != "driver"));
        Ok(Video { model, info, extra })
    }

    /// Formats `<video>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("video");
        self.extra.apply_attrs(&mut el);
        let (drivers, rest): (Vec<&Element>, Vec<&Element>) =
            self.extra.children.iter().partition(|c| c.name == "driver");
        for d in drivers {
            el.push(d.clone());
        }
        if let Some(m) = &self.model {
            let mut me = Element::new("model")
                .with_attr("type", m.model_type.clone())
                .with_opt_attr("vram", m.vram_kib.map(|v| v.to_string()))
                .with_opt_attr("heads", m.heads.map(|v| v.to_string()))
                .with_opt_attr("primary", m.primary.map(super::super::common::yes_no));
            m.extra.apply_attrs(&mut me);
            m.extra.apply_children(&mut me);
            if let Some((x, y)) = m.resolution {
                me.push(
                    Element::new("resolution")
                        .with_attr("x", x.to_string())
                        .with_attr("y", y.to_string()),
                );
            }
            el.push(me);
        }
        for c in rest {
            el.push(c.clone());
        }
        if let Some(t) = &self.extra.text {
            el.children.push(crate::xml::tree::Node::Text(t.clone()));
        }
        self.info.push_alias_address(&mut el);
        el
    }
}

/// `<input type='tablet' bus='usb'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Input {
    /// `mouse`, `tablet`, `keyboard`, `passthrough` or `evdev`.
    pub input_type: String,
    /// `ps2`, `usb`, `virtio`, `xen`, `none`.
    pub bus: Option<String>,
    /// `model` (`virtio`, `virtio-transitional`, ...).
    pub model: Option<String>,
    /// Alias and address.
    pub info: DeviceInfo,
    /// Unknown attributes and children (`<source evdev>`, `<driver>`).
    pub extra: Extra,
}

impl Input {
    /// Reads `<input>`.
    pub fn parse(el: &Element) -> Result<Input, XmlError> {
        let mut r = ElementReader::new(el);
        let input_type = r.req_attr("type")?.to_string();
        let bus = r.attr_string("bus");
        let model = r.attr_string("model");
        let info = DeviceInfo::parse(&mut r)?;
        Ok(Input {
            input_type,
            bus,
            model,
            info,
            extra: r.finish(),
        })
    }

    /// Formats `<input>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("input")
            .with_attr("type", self.input_type.clone())
            .with_opt_attr("bus", self.bus.clone())
            .with_opt_attr("model", self.model.clone());
        self.extra.apply(&mut el);
        self.info.push_alias_address(&mut el);
        el
    }
}

/// `<filesystem type='mount' accessmode='passthrough'>`: a host folder shared
/// with the guest (virtio-fs or 9p).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filesystem {
    /// `mount` (default), `block`, `file`, `template`, `ram`, `bind`, `volume`.
    pub fs_type: Option<String>,
    /// `passthrough`, `mapped` or `squash`.
    pub accessmode: Option<String>,
    /// `<driver type>`: `path`, `handle`, `virtiofs`, `loop`, `nbd`, `ploop`.
    pub driver_type: Option<String>,
    /// Unknown attributes of `<driver>` (`format`, `wrpolicy`, `queue`).
    pub driver_extra: Vec<(String, String)>,
    /// `<source dir|file|dev|name|socket|usage>`: the host side.
    pub source: Option<String>,
    /// Which attribute of `<source>` holds `source` (`dir`, `file`, `socket`, ...).
    pub source_attr: Option<String>,
    /// Other attributes of `<source>`.
    pub source_extra: Vec<(String, String)>,
    /// `<target dir>`: the mount tag the guest sees.
    pub target: String,
    /// `<readonly/>`.
    pub readonly: bool,
    /// Alias, boot order and address.
    pub info: DeviceInfo,
    /// Unknown attributes and children (`<binary>`, `<idmap>`, ...).
    pub extra: Extra,
}

impl Filesystem {
    /// Reads `<filesystem>`.
    pub fn parse(el: &Element) -> Result<Filesystem, XmlError> {
        let mut r = ElementReader::new(el);
        let fs_type = r.attr_string("type");
        let accessmode = r.attr_string("accessmode");
        let (driver_type, driver_extra) = match r.child("driver")? {
            Some(d) => {
                let mut dr = ElementReader::new(d);
                let t = dr.attr_string("type");
                let rest = dr.finish();
                if !rest.children.is_empty() || rest.text.is_some() {
                    return Err(XmlError::Unsupported(
                        "unknown content in <filesystem><driver>".to_string(),
                    ));
                }
                (t, rest.attrs)
            }
            None => (None, Vec::new()),
        };
        let (source, source_attr, source_extra) = match r.child("source")? {
            Some(s) => {
                let mut sr = ElementReader::new(s);
                let path = ["dir", "file", "dev", "name", "socket", "usage"]
                    .iter()
                    .find_map(|k| sr.attr_string(k).map(|v| (*k, v)));
                let rest = sr.finish();
                if !rest.children.is_empty() || rest.text.is_some() {
                    return Err(XmlError::Unsupported(
                        "unknown content in <filesystem><source>".to_string(),
                    ));
                }
                match path {
                    Some((k, v)) => (Some(v), Some(k.to_string()), rest.attrs),
                    None => (None, None, rest.attrs),
                }
            }
            None => (None, None, Vec::new()),
        };
        let target = match r.child("target")? {
            Some(t) => t.req_attr("dir")?.to_string(),
            None => {
                return Err(XmlError::missing("filesystem", "target"));
            }
        };
        let readonly = r.child("readonly")?.is_some();
        let info = DeviceInfo::parse(&mut r)?;
        Ok(Filesystem {
            fs_type,
            accessmode,
            driver_type,
            driver_extra,
            source,
            source_attr,
            source_extra,
            target,
            readonly,
            info,
            extra: {
                let mut extra = r.finish();
                extra.sort_children_by_key(|n| usize::from(n != "binary"));
                extra
            },
        })
    }

    /// Formats `<filesystem>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("filesystem")
            .with_opt_attr("type", self.fs_type.clone())
            .with_opt_attr("accessmode", self.accessmode.clone());
        self.extra.apply_attrs(&mut el);
        if self.driver_type.is_some() || !self.driver_extra.is_empty() {
            let mut d = Element::new("driver").with_opt_attr("type", self.driver_type.clone());
            d.attrs.extend(self.driver_extra.iter().cloned());
            el.push(d);
        }
        let (binary, rest): (Vec<&Element>, Vec<&Element>) =
            self.extra.children.iter().partition(|c| c.name == "binary");
        for b in binary {
            el.push(b.clone());
        }
        if self.source.is_some() || !self.source_extra.is_empty() {
            let mut s = Element::new("source");
            if let Some(p) = &self.source {
                s = s.with_attr(self.source_attr.as_deref().unwrap_or("dir"), p.clone());
            }
            s.attrs.extend(self.source_extra.iter().cloned());
            el.push(s);
        }
        el.push(Element::new("target").with_attr("dir", self.target.clone()));
        if self.readonly {
            el.push(Element::new("readonly"));
        }
        for c in rest {
            el.push(c.clone());
        }
        if let Some(t) = &self.extra.text {
            el.children.push(crate::xml::tree::Node::Text(t.clone()));
        }
        self.info.push_boot(&mut el);
        self.info.push_alias_address(&mut el);
        el
    }
}
