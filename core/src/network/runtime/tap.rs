//! Tap devices for VM NICs (`<interface type='network'>` and
//! `type='bridge'`): opened on `/dev/net/tun`, given the guest's MAC with
//! its first byte set to 0xFE (so the bridge never adopts the guest's
//! address, as libvirt does), attached to the bridge and brought up. The
//! open descriptor is handed to the VMM; a tap that is not persistent
//! disappears when the last descriptor closes, so a VM that stops (or
//! crashes) leaves nothing behind.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, OwnedFd};

use super::netlink::{link_index, Rtnl};
use super::RuntimeError;

const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
/// `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `_IOW('T', 203, int)`.
const TUNSETPERSIST: libc::c_ulong = 0x4004_54cb;

/// What tap to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapSpec {
    /// Device name, or a template such as `vnet%d` the kernel completes.
    pub name: String,
    /// The bridge to attach it to.
    pub bridge: String,
    /// The guest's MAC address (the tap gets it with 0xFE as first byte).
    pub guest_mac: Option<[u8; 6]>,
    /// MTU, if the network sets one.
    pub mtu: Option<u32>,
    /// Frames carry a virtio-net header (what virtio-net backends want).
    pub vnet_hdr: bool,
    /// Keep the device after the descriptor closes (removed with [`remove_tap`]).
    pub persistent: bool,
}

/// An open tap device attached to its bridge.
#[derive(Debug)]
pub struct TapDevice {
    /// The device's name (as the kernel completed it).
    pub name: String,
    /// The open tap; frames are read and written here.
    pub fd: OwnedFd,
}

/// `struct ifreq` as TUNSETIFF reads it: the name and the flags.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Creates a tap, attaches it to `spec.bridge` and brings it up. On any
/// failure the tap is gone again.
pub fn create_tap(spec: &TapSpec) -> Result<TapDevice, RuntimeError> {
    let bridge = link_index(&spec.bridge).ok_or_else(|| {
        RuntimeError::Config(format!("the bridge '{}' does not exist", spec.bridge))
    })?;
    if spec.name.is_empty() || spec.name.len() >= libc::IFNAMSIZ || spec.name.contains('/') {
        return Err(RuntimeError::Config(format!(
            "'{}' is not a valid device name",
            spec.name
        )));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| RuntimeError::io("cannot open /dev/net/tun", &e))?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: IFF_TAP | IFF_NO_PI | if spec.vnet_hdr { IFF_VNET_HDR } else { 0 },
        _pad: [0; 22],
    };
    req.name[..spec.name.len()].copy_from_slice(spec.name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes a struct ifreq, which IfReq lays
    // out (name, then a union starting with the flags, 40 bytes in all).
    if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) } != 0 {
        let err = std::io::Error::last_os_error();
        return Err(RuntimeError::io(
            format!("cannot create tap '{}'", spec.name),
            &err,
        ));
    }
    let end = req
        .name
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(req.name.len());
    let name = String::from_utf8_lossy(&req.name[..end]).into_owned();
    let fd = OwnedFd::from(file);
    let attach = || -> Result<(), RuntimeError> {
        if spec.persistent {
            // SAFETY: TUNSETPERSIST takes an integer argument, no memory.
            if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETPERSIST, 1 as libc::c_ulong) } != 0 {
                let err = std::io::Error::last_os_error();
                return Err(RuntimeError::io("cannot make the tap persistent", &err));
            }
        }
        let index = link_index(&name)
            .ok_or_else(|| RuntimeError::State(format!("tap '{name}' vanished")))?;
        let mut rtnl = Rtnl::open().map_err(|e| RuntimeError::io("cannot open rtnetlink", &e))?;
        if let Some(mut mac) = spec.guest_mac {
            mac[0] = 0xfe;
            rtnl.set_mac(index, mac)
                .map_err(|e| RuntimeError::io(format!("cannot set the MAC of '{name}'"), &e))?;
        }
        if let Some(mtu) = spec.mtu {
            rtnl.set_mtu(index, mtu)
                .map_err(|e| RuntimeError::io(format!("cannot set the MTU of '{name}'"), &e))?;
        }
        rtnl.set_master(index, bridge).map_err(|e| {
            RuntimeError::io(format!("cannot attach '{name}' to '{}'", spec.bridge), &e)
        })?;
        rtnl.set_up(index, true)
            .map_err(|e| RuntimeError::io(format!("cannot bring '{name}' up"), &e))
    };
    if let Err(e) = attach() {
        if spec.persistent {
            let _ = remove_tap(&name);
        }
        return Err(e);
    }
    Ok(TapDevice { name, fd })
}

/// Removes a (persistent) tap by name; absent is not an error.
pub fn remove_tap(name: &str) -> Result<(), RuntimeError> {
    let Some(index) = link_index(name) else {
        return Ok(());
    };
    let mut rtnl = Rtnl::open().map_err(|e| RuntimeError::io("cannot open rtnetlink", &e))?;
    match rtnl.delete_link(index) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
        Err(e) => Err(RuntimeError::io(format!("cannot remove tap '{name}'"), &e)),
    }
}

/// Name template of VM taps; the kernel completes it with the lowest free number.
pub const VM_TAP_TEMPLATE: &str = "vnet%d";

/// Whether `name` is a VM tap name this module makes (`vnetN`): only
/// those are ever removed on a record's word.
pub fn is_vm_tap_name(name: &str) -> bool {
    name.strip_prefix("vnet")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl super::NetworkRuntime {
    /// Makes a persistent VM tap `vnetN` on `bridge` (in the user's
    /// namespace for `hangar:///session`) and returns its name.
    pub fn plug_vm_tap(
        &self,
        bridge: &str,
        guest_mac: Option<[u8; 6]>,
    ) -> Result<String, RuntimeError> {
        match self.session_namespace() {
            None => {
                let tap = create_tap(&TapSpec {
                    name: VM_TAP_TEMPLATE.to_string(),
                    bridge: bridge.to_string(),
                    guest_mac,
                    mtu: None,
                    vnet_hdr: true,
                    persistent: true,
                })?;
                Ok(tap.name)
            }
            Some(ns) => {
                let pid = ns.holder().ok_or_else(|| {
                    RuntimeError::State("the session's network namespace is not running".into())
                })?;
                let mac = guest_mac.map(|m| crate::xml::MacAddr(m).to_string());
                let mut args = vec!["tap", bridge];
                args.extend(mac.as_deref());
                let name = ns.helper(pid, &args, None)?.trim().to_string();
                if !is_vm_tap_name(&name) {
                    return Err(RuntimeError::State(format!(
                        "hangar-net-helper made an unexpected tap '{name}'"
                    )));
                }
                Ok(name)
            }
        }
    }
}

/// Removes VM taps by name, in the session namespace recorded in `ns_dir`
/// when given (nothing to do when that namespace has ended: its taps went
/// with it). Names other than `vnetN` are ignored.
pub fn remove_vm_taps(
    ns_dir: Option<&std::path::Path>,
    names: &[&str],
) -> Result<(), RuntimeError> {
    let names: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| is_vm_tap_name(n))
        .collect();
    match ns_dir {
        None => names.iter().try_for_each(|n| remove_tap(n)),
        Some(dir) => {
            let ns = super::SessionNamespace::new(dir);
            let Some(pid) = ns.holder() else {
                return Ok(());
            };
            let mut args = vec!["untap"];
            args.extend(names.iter().copied());
            ns.helper(pid, &args, None).map(|_| ())
        }
    }
}
