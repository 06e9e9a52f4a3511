//! The devices of a VM as `hangar-vmm` builds them, read from the domain's
//! `<devices>`: disks, NICs, entropy, balloon, input and the display.
//!
//! Only what the engine can build is accepted; anything else in the XML is
//! left to the definition (the engine ignores controllers, channels, …) or,
//! when the guest would miss it (a disk on a bus we do not emulate), refused
//! with the element named.

use super::ConfigError;
use crate::vmm::devices::virtio::input::InputKind;
use crate::xml::domain::Domain;
use crate::xml::domain::{Disk, DiskDevice, DiskType, Input, Interface};
use crate::xml::MacAddr;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// Image format of a disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFormat {
    /// Plain bytes.
    Raw,
    /// QEMU copy-on-write v2 (with backing chains).
    Qcow2,
}

/// A `<disk>` the guest sees as virtio-blk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskConfig {
    /// `<target dev>` (vda, vdb, …): disks are created in this order.
    pub target: String,
    /// The image (or host block device).
    pub path: PathBuf,
    /// Its format (`<driver type>`; raw when absent).
    pub format: DiskFormat,
    /// `<readonly/>`, always true for a CD-ROM.
    pub read_only: bool,
    /// A CD-ROM (read-only media).
    pub cdrom: bool,
    /// `<serial>` the guest reads as the disk's id.
    pub serial: Option<String>,
    /// `<driver discard='unmap'>`: pass discards to the image.
    pub discard: bool,
}

/// An `<interface>` the guest sees as virtio-net.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// The guest's MAC address.
    pub mac: MacAddr,
    /// The host tap device (`<target dev>`), created by the driver (or by
    /// the VMM when it does not exist and we may create it).
    pub tap: Option<String>,
    /// `<link state>`: false starts the card with its link down.
    pub link_up: bool,
}

/// `<rng model='virtio'>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RngConfig {
    /// Host entropy source (`<backend model='random'>`; /dev/urandom).
    pub source: PathBuf,
}

/// Where the VNC server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VncListen {
    /// TCP on `address`; `port` None means autoport (first free from 5900).
    Tcp {
        /// Listen address (127.0.0.1 by default).
        address: IpAddr,
        /// Fixed port, or None for autoport.
        port: Option<u16>,
    },
    /// A unix socket.
    Unix(PathBuf),
}

/// `<graphics type='vnc'>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VncConfig {
    /// Where to listen.
    pub listen: VncListen,
    /// `passwd`: VNC authentication when set.
    pub password: Option<String>,
}

/// The guest's framebuffer and how it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayConfig {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The VNC server, when the domain has `<graphics type='vnc'>`.
    pub vnc: Option<VncConfig>,
}

/// Default framebuffer size (virt-manager's default resolution).
pub const DEFAULT_DISPLAY: (u32, u32) = (1024, 768);

/// All devices of the VM beyond the fixed PC ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceConfig {
    /// virtio-blk disks in `<target dev>` order.
    pub disks: Vec<DiskConfig>,
    /// virtio-net cards in document order.
    pub nets: Vec<NetConfig>,
    /// virtio-rng.
    pub rng: Option<RngConfig>,
    /// virtio-balloon (`<memballoon model='virtio'>`).
    pub balloon: bool,
    /// `<memballoon autodeflate='on'>`: the guest deflates when out of memory.
    pub balloon_autodeflate: bool,
    /// virtio-input devices in document order (see [`input_kind`]).
    pub inputs: Vec<InputKind>,
    /// Framebuffer and VNC, when there is `<graphics>` or `<video>`.
    pub display: Option<DisplayConfig>,
}

impl DeviceConfig {
    /// Reads the devices of `domain`.
    pub fn from_domain(domain: &Domain) -> Result<Self, ConfigError> {
        let devices = &domain.devices;
        let mut disks = Vec::new();
        for disk in &devices.disks {
            if let Some(d) = disk_config(disk)? {
                disks.push(d);
            }
        }
        disks.sort_by(|a, b| target_order(&a.target).cmp(&target_order(&b.target)));
        let nets = devices
            .interfaces
            .iter()
            .map(net_config)
            .collect::<Result<Vec<_>, _>>()?;
        let rng = devices
            .rngs
            .iter()
            .find(|r| r.model.starts_with("virtio"))
            .map(|r| RngConfig {
                source: PathBuf::from(r.backend_path.as_deref().unwrap_or("/dev/urandom")),
            });
        let balloon = devices
            .memballoon
            .as_ref()
            .and_then(|m| m.model.as_deref())
            .is_some_and(|m| m.starts_with("virtio"));
        let balloon_autodeflate = devices
            .memballoon
            .as_ref()
            .and_then(|m| m.autodeflate.as_deref())
            == Some("on");
        Ok(DeviceConfig {
            disks,
            nets,
            rng,
            balloon,
            balloon_autodeflate,
            inputs: input_kinds(&devices.inputs)?,
            display: display_config(domain)?,
        })
    }
}

/// Sort key of a target name: `vdb` < `vdz` < `vdaa`, as the kernel names them.
fn target_order(target: &str) -> (usize, String) {
    (target.len(), target.to_string())
}

fn disk_config(disk: &Disk) -> Result<Option<DiskConfig>, ConfigError> {
    let cdrom = match disk.device {
        DiskDevice::Disk => false,
        DiskDevice::Cdrom => true,
        other => {
            return Err(ConfigError::Invalid {
                what: "<disk device>",
                why: format!(
                    "'{}' disks are not supported (disk or cdrom)",
                    other.as_str()
                ),
            })
        }
    };
    let source = disk.source.as_ref();
    let path = match disk.disk_type {
        DiskType::File => source.and_then(|s| s.file.clone()),
        DiskType::Block => source.and_then(|s| s.dev.clone()),
        other => {
            return Err(ConfigError::Invalid {
                what: "<disk type>",
                why: format!(
                    "'{}' disks are not supported by hangar-vmm (file or block)",
                    other.as_str()
                ),
            })
        }
    };
    let Some(path) = path.filter(|p| !p.trim().is_empty()) else {
        // An empty CD-ROM drive has no media to show.
        if cdrom {
            return Ok(None);
        }
        return Err(ConfigError::Missing("<disk><source file>"));
    };
    let driver = disk.driver.as_ref();
    let format = match driver.and_then(|d| d.format.as_deref()).unwrap_or("raw") {
        "raw" => DiskFormat::Raw,
        "qcow2" => DiskFormat::Qcow2,
        other => {
            return Err(ConfigError::Invalid {
                what: "<disk><driver type>",
                why: format!("image format '{other}' is not supported (raw or qcow2)"),
            })
        }
    };
    if disk.target.dev.trim().is_empty() {
        return Err(ConfigError::Missing("<disk><target dev>"));
    }
    Ok(Some(DiskConfig {
        target: disk.target.dev.trim().to_string(),
        path: PathBuf::from(path.trim()),
        format,
        read_only: disk.readonly || cdrom,
        cdrom,
        serial: disk.serial.clone(),
        discard: driver.and_then(|d| d.discard.as_deref()) == Some("unmap"),
    }))
}

fn net_config(iface: &Interface) -> Result<NetConfig, ConfigError> {
    if let Some(model) = iface.model.as_deref() {
        if !model.starts_with("virtio") {
            return Err(ConfigError::Invalid {
                what: "<interface><model type>",
                why: format!("NIC model '{model}' is not supported (virtio)"),
            });
        }
    }
    // The driver stores a generated MAC in the definition before a start;
    // a bare XML handed to hangar-vmm directly still gets a stable card.
    let mac = iface.mac.unwrap_or_else(MacAddr::random_kvm);
    Ok(NetConfig {
        mac,
        tap: iface
            .target_dev
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        link_up: iface.link_up.unwrap_or(true),
    })
}

fn input_kinds(inputs: &[Input]) -> Result<Vec<InputKind>, ConfigError> {
    let mut kinds = Vec::new();
    for input in inputs {
        if let Some(kind) = input_kind(input)? {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// The virtio-input device an `<input>` becomes, if any:
/// - `tablet` and `keyboard` on `bus='virtio'` are virtio-input devices;
/// - on `bus='usb'` (virt-manager adds a USB tablet to every new VM with
///   graphics) they become the same virtio devices: the engine has no USB
///   controller, and the guest gets the absolute pointer it was meant to;
/// - `bus='ps2'` keyboards and mice are the i8042 every machine has (libvirt
///   adds them implicitly): nothing more to build;
/// - a relative `mouse` on virtio or USB, `passthrough` and `evdev` are
///   refused with the element named.
pub fn input_kind(input: &Input) -> Result<Option<InputKind>, ConfigError> {
    let bus = input
        .bus
        .as_deref()
        .unwrap_or(match input.input_type.as_str() {
            // libvirt's defaults on x86.
            "tablet" => "usb",
            "keyboard" | "mouse" => "ps2",
            _ => "none",
        });
    let refuse = |why: String| ConfigError::Invalid {
        what: "<input>",
        why,
    };
    match (input.input_type.as_str(), bus) {
        ("keyboard" | "mouse", "ps2") => Ok(None),
        ("tablet", "virtio" | "usb") => Ok(Some(InputKind::Tablet)),
        ("keyboard", "virtio" | "usb") => Ok(Some(InputKind::Keyboard)),
        ("mouse", "virtio" | "usb") => Err(refuse(format!(
            "a relative mouse on bus '{bus}' is not supported (use type='tablet')"
        ))),
        (kind, bus) => Err(refuse(format!(
            "type '{kind}' on bus '{bus}' is not supported (tablet or keyboard on virtio or usb, keyboard or mouse on ps2)"
        ))),
    }
}

fn display_config(domain: &Domain) -> Result<Option<DisplayConfig>, ConfigError> {
    let devices = &domain.devices;
    let vnc = devices.graphics.iter().find(|g| g.graphics_type == "vnc");
    let video = devices.videos.iter().find_map(|v| v.model.as_ref());
    if vnc.is_none() && video.is_none_or(|m| m.model_type == "none") {
        return Ok(None);
    }
    let (width, height) = video.and_then(|m| m.resolution).unwrap_or(DEFAULT_DISPLAY);
    if !(320..=2560).contains(&width) || !(200..=1600).contains(&height) {
        return Err(ConfigError::Invalid {
            what: "<video><model><resolution>",
            why: format!("{width}x{height} is outside 320x200 .. 2560x1600"),
        });
    }
    let vnc = match vnc {
        None => None,
        Some(g) => {
            let socket = g
                .socket
                .clone()
                .or_else(|| g.listens.iter().find_map(|l| l.socket.clone()));
            let listen = match socket {
                Some(path) => VncListen::Unix(PathBuf::from(path)),
                None => {
                    let text = g
                        .listens
                        .iter()
                        .find_map(|l| l.address.clone())
                        .or_else(|| g.listen.clone());
                    let address = match text.as_deref().map(str::trim) {
                        None | Some("") => IpAddr::V4(Ipv4Addr::LOCALHOST),
                        Some(a) => a.parse().map_err(|_| ConfigError::Invalid {
                            what: "<graphics listen>",
                            why: format!("'{a}' is not an IP address"),
                        })?,
                    };
                    let autoport = g.autoport.unwrap_or(false) || g.port.is_none_or(|p| p < 0);
                    let port = if autoport {
                        None
                    } else {
                        g.port.and_then(|p| u16::try_from(p).ok())
                    };
                    VncListen::Tcp { address, port }
                }
            };
            Some(VncConfig {
                listen,
                password: g.passwd.clone().filter(|p| !p.is_empty()),
            })
        }
    };
    Ok(Some(DisplayConfig { width, height, vnc }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices(inner: &str) -> Result<DeviceConfig, ConfigError> {
        let xml = format!(
            "<domain type='kvm'><name>t</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>\
             <os><type>hvm</type><kernel>/k</kernel></os><devices>{inner}</devices></domain>"
        );
        DeviceConfig::from_domain(&Domain::parse(&xml).map_err(ConfigError::from)?)
    }

    #[test]
    fn disks_come_in_target_order_with_their_settings() {
        let d = devices(
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2' discard='unmap'/>\
             <source file='/b.qcow2'/><target dev='vdb' bus='virtio'/><serial>S2</serial></disk>\
             <disk type='file' device='cdrom'><source file='/x.iso'/><target dev='vdaa'/></disk>\
             <disk type='file' device='disk'><source file='/a.img'/><target dev='vda'/></disk>\
             <disk type='file' device='cdrom'><target dev='vdc'/></disk>",
        )
        .expect("config");
        let targets: Vec<&str> = d.disks.iter().map(|d| d.target.as_str()).collect();
        assert_eq!(targets, ["vda", "vdb", "vdaa"]);
        assert_eq!(d.disks[1].format, DiskFormat::Qcow2);
        assert!(d.disks[1].discard);
        assert_eq!(d.disks[1].serial.as_deref(), Some("S2"));
        assert!(d.disks[2].cdrom && d.disks[2].read_only);
        assert!(!d.disks[0].read_only);
    }

    #[test]
    fn unsupported_disks_are_named() {
        let err = devices(
            "<disk type='file'><driver type='vmdk'/><source file='/a'/><target dev='vda'/></disk>",
        )
        .expect_err("vmdk");
        assert!(err.to_string().contains("vmdk"), "{err}");
        let dup = devices(
            "<disk type='file'><source file='/a'/><target dev='vda'/></disk>\
             <disk type='file'><source file='/b'/><target dev='vda'/></disk>",
        )
        .expect_err("duplicate target");
        assert!(dup.to_string().contains("'vda' duplicated"), "{dup}");
    }

    #[test]
    fn nics_rng_balloon_and_vnc() {
        let d = devices(
            "<interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/>\
             <target dev='vnet3'/><model type='virtio'/><link state='down'/></interface>\
             <rng model='virtio'><backend model='random'>/dev/random</backend></rng>\
             <memballoon model='virtio'/>\
             <graphics type='vnc' port='-1' autoport='yes' passwd='pw'><listen type='address' address='0.0.0.0'/></graphics>\
             <video><model type='virtio'><resolution x='1280' y='800'/></model></video>",
        )
        .expect("config");
        assert_eq!(d.nets[0].mac.to_string(), "52:54:00:aa:bb:cc");
        assert_eq!(d.nets[0].tap.as_deref(), Some("vnet3"));
        assert!(!d.nets[0].link_up);
        assert_eq!(
            d.rng,
            Some(RngConfig {
                source: "/dev/random".into()
            })
        );
        assert!(d.balloon);
        let display = d.display.expect("display");
        assert_eq!((display.width, display.height), (1280, 800));
        let vnc = display.vnc.expect("vnc");
        assert_eq!(vnc.password.as_deref(), Some("pw"));
        assert_eq!(
            vnc.listen,
            VncListen::Tcp {
                address: "0.0.0.0".parse().expect("ip"),
                port: None
            }
        );
    }

    #[test]
    fn tablets_and_keyboards_become_virtio_input() {
        let d = devices(
            "<input type='tablet' bus='usb'/><input type='mouse' bus='ps2'/>\
             <input type='keyboard' bus='ps2'/><input type='keyboard' bus='virtio'/>\
             <input type='tablet' bus='virtio' model='virtio-non-transitional'/><input type='tablet'/>",
        )
        .expect("config");
        assert_eq!(
            d.inputs,
            [
                InputKind::Tablet,
                InputKind::Keyboard,
                InputKind::Tablet,
                InputKind::Tablet
            ]
        );
        let mouse = devices("<input type='mouse' bus='virtio'/>").expect_err("mouse");
        assert!(mouse.to_string().contains("type='tablet'"), "{mouse}");
        let evdev = devices("<input type='evdev'><source dev='/dev/input/event1'/></input>")
            .expect_err("evdev");
        assert!(evdev.to_string().contains("'evdev'"), "{evdev}");
        let ps2_tablet = devices("<input type='tablet' bus='ps2'/>").expect_err("ps2 tablet");
        assert!(ps2_tablet.to_string().contains("bus 'ps2'"), "{ps2_tablet}");
    }

    #[test]
    fn vnc_on_a_unix_socket_with_the_default_resolution() {
        let d = devices("<graphics type='vnc' socket='/run/x.sock'/>").expect("config");
        let display = d.display.expect("display");
        assert_eq!((display.width, display.height), DEFAULT_DISPLAY);
        assert_eq!(
            display.vnc.expect("vnc").listen,
            VncListen::Unix("/run/x.sock".into())
        );
        assert_eq!(devices("").expect("none").display, None);
    }
}
