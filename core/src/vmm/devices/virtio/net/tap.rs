//! The host side of a virtio-net card: a tap device opened on
//! `/dev/net/tun` in non-blocking mode, whose frames carry a 12-byte
//! virtio-net header (`IFF_VNET_HDR` with `TUNSETVNETHDRSZ`), the header a
//! virtio 1.x driver uses. The tap is usually made (persistent, attached to
//! its bridge) by the driver; a name that does not exist yet is created if
//! we may (CAP_NET_ADMIN), and lives as long as this descriptor.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use super::NetError;

const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
/// `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `_IOW('T', 208, unsigned int)`.
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
/// `_IOW('T', 216, int)`.
const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54d8;

/// Size of `struct virtio_net_hdr_mrg_rxbuf`, the header of every frame
/// for a virtio 1.x driver (with or without mergeable buffers).
pub const VNET_HDR_LEN: usize = 12;

/// Name template the kernel completes when the XML names no tap.
const GENERATED_NAME: &str = "vnet%d";

/// `struct ifreq` as TUNSETIFF reads it: the name, then a union that
/// starts with the flags (40 bytes in all).
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// An open tap device.
#[derive(Debug)]
pub struct Tap {
    name: String,
    file: File,
}

impl Tap {
    /// Opens (or creates) the tap `name`, or a new `vnetN` when `None`.
    pub fn open(name: Option<&str>) -> Result<Tap, NetError> {
        let wanted = name.unwrap_or(GENERATED_NAME);
        if wanted.is_empty() || wanted.len() >= libc::IFNAMSIZ || wanted.contains('/') {
            return Err(NetError::TapName(wanted.to_string()));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|source| NetError::Tap {
                tap: wanted.to_string(),
                op: "open /dev/net/tun",
                source,
            })?;
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
            _pad: [0; 22],
        };
        req.name[..wanted.len()].copy_from_slice(wanted.as_bytes());
        // SAFETY: TUNSETIFF reads and writes a struct ifreq, which IfReq
        // lays out with its full 40 bytes; the fd is ours and open.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) };
        if rc != 0 {
            return Err(NetError::Tap {
                tap: wanted.to_string(),
                op: "attach (TUNSETIFF)",
                source: std::io::Error::last_os_error(),
            });
        }
        let end = req
            .name
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(req.name.len());
        let name = String::from_utf8_lossy(&req.name[..end]).into_owned();
        let hdr_len = VNET_HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer, which
        // points at a live local.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETVNETHDRSZ, &hdr_len) };
        if rc != 0 {
            return Err(NetError::Tap {
                tap: name,
                op: "set the header size (TUNSETVNETHDRSZ)",
                source: std::io::Error::last_os_error(),
            });
        }
        // No offloads: the kernel hands us frames with complete checksums
        // and no GSO, which is all a driver without CSUM/TSO features
        // accepts. (An argument, not a pointer.)
        // SAFETY: TUNSETOFFLOAD takes its flags by value; no memory is read.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETOFFLOAD, 0 as libc::c_ulong) };
        if rc != 0 {
            return Err(NetError::Tap {
                tap: name,
                op: "turn offloads off (TUNSETOFFLOAD)",
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(Tap { name, file })
    }

    /// The device's name as the kernel knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one frame (header included); `WouldBlock` when none waits.
    pub fn read_frame(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&self.file).read(buf)
    }

    /// Writes one frame (header included).
    pub fn write_frame(&self, frame: &[u8]) -> std::io::Result<usize> {
        (&self.file).write(frame)
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}
