//! A small rtnetlink client over a raw `NETLINK_ROUTE` socket: just the
//! requests a virtual network needs (bridges, links up/down and into a
//! bridge, addresses, routes), each acknowledged by the kernel.
//!
//! The socket belongs to the network namespace of the thread that opens it,
//! so a caller that moved its thread into another namespace acts there.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

// Message types and flags (linux/netlink.h, linux/rtnetlink.h): stable ABI.
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLA_F_NESTED: u16 = 0x8000;

// Link attributes (linux/if_link.h).
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_BR_FORWARD_DELAY: u16 = 1;
const IFLA_BR_STP_STATE: u16 = 5;

// Address and route attributes (linux/if_addr.h, linux/rtnetlink.h).
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const RTA_DST: u16 = 1;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_STATIC: u8 = 4;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;

const IFF_UP: u32 = 0x1;

/// A netlink request being built: header, fixed part, then attributes.
struct Request {
    buf: Vec<u8>,
    /// Start offsets of the nested attributes still open.
    open: Vec<usize>,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

impl Request {
    fn new(kind: u16, flags: u16) -> Request {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        Request {
            buf,
            open: Vec::new(),
        }
    }

    fn bytes(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
    }

    fn attr(&mut self, kind: u16, data: &[u8]) {
        let len = u16::try_from(4 + data.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.bytes(data);
    }

    fn attr_u32(&mut self, kind: u16, value: u32) {
        self.attr(kind, &value.to_ne_bytes());
    }

    fn attr_str(&mut self, kind: u16, value: &str) {
        let mut data = value.as_bytes().to_vec();
        data.push(0);
        self.attr(kind, &data);
    }

    fn begin_nested(&mut self, kind: u16) {
        self.open.push(self.buf.len());
        self.buf.extend_from_slice(&[0, 0]);
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    }

    fn end_nested(&mut self) {
        if let Some(start) = self.open.pop() {
            let len = u16::try_from(self.buf.len() - start).unwrap_or(u16::MAX);
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

/// `struct ifinfomsg` for link requests.
fn ifinfo(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0] = libc::AF_UNSPEC as u8;
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

fn family(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    }
}

fn addr_bytes(addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// How a bridge is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    /// Device name.
    pub name: String,
    /// MTU, if not the default.
    pub mtu: Option<u32>,
    /// MAC address, if fixed.
    pub mac: Option<[u8; 6]>,
    /// Spanning tree on.
    pub stp: bool,
    /// Forward delay in seconds.
    pub delay: u64,
}

/// An open rtnetlink socket.
pub struct Rtnl {
    fd: OwnedFd,
    seq: u32,
}

impl Rtnl {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Rtnl> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly created descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Rtnl { fd, seq: 1 })
    }

    /// Sends one request and waits for the kernel's acknowledgement.
    fn call(&mut self, request: Request) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let msg = request.finish(seq);
        // SAFETY: the buffer is valid for its length; a zeroed sockaddr_nl
        // with the family set addresses the kernel.
        let sent = unsafe {
            let mut to: libc::sockaddr_nl = std::mem::zeroed();
            to.nl_family = libc::AF_NETLINK as u16;
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&to as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; 8192];
        loop {
            // SAFETY: buf is valid for writes of its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            let data = &buf[..usize::try_from(n).unwrap_or(0)];
            let mut at = 0;
            while at + 16 <= data.len() {
                let len = u32::from_ne_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
                    as usize;
                let kind = u16::from_ne_bytes([data[at + 4], data[at + 5]]);
                let got_seq =
                    u32::from_ne_bytes([data[at + 8], data[at + 9], data[at + 10], data[at + 11]]);
                if len < 16 || at + len > data.len() {
                    break;
                }
                if got_seq == seq && kind == NLMSG_ERROR && len >= 20 {
                    let code = i32::from_ne_bytes([
                        data[at + 16],
                        data[at + 17],
                        data[at + 18],
                        data[at + 19],
                    ]);
                    return if code == 0 {
                        Ok(())
                    } else {
                        Err(io::Error::from_raw_os_error(-code))
                    };
                }
                if got_seq == seq && kind == NLMSG_DONE {
                    return Ok(());
                }
                at += align4(len);
            }
        }
    }

    /// Creates a bridge (fails with `EEXIST` if the name is taken); it stays down.
    pub fn create_bridge(&mut self, spec: &BridgeSpec) -> io::Result<()> {
        let mut r = Request::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        r.bytes(&ifinfo(0, 0, 0));
        r.attr_str(IFLA_IFNAME, &spec.name);
        if let Some(mtu) = spec.mtu {
            r.attr_u32(IFLA_MTU, mtu);
        }
        if let Some(mac) = spec.mac {
            r.attr(IFLA_ADDRESS, &mac);
        }
        r.begin_nested(IFLA_LINKINFO);
        r.attr_str(IFLA_INFO_KIND, "bridge");
        r.begin_nested(IFLA_INFO_DATA);
        // The kernel applies the delay before the STP state, and only
        // accepts a delay under 2 s while STP is still off.
        let centiseconds = u32::try_from(spec.delay.saturating_mul(100)).unwrap_or(u32::MAX);
        r.attr_u32(IFLA_BR_FORWARD_DELAY, centiseconds);
        r.attr_u32(IFLA_BR_STP_STATE, u32::from(spec.stp));
        r.end_nested();
        r.end_nested();
        self.call(r)
    }

    /// Removes a link by index.
    pub fn delete_link(&mut self, index: u32) -> io::Result<()> {
        let mut r = Request::new(RTM_DELLINK, 0);
        r.bytes(&ifinfo(index, 0, 0));
        self.call(r)
    }

    /// Brings a link up or down.
    pub fn set_up(&mut self, index: u32, up: bool) -> io::Result<()> {
        let mut r = Request::new(RTM_NEWLINK, 0);
        r.bytes(&ifinfo(index, if up { IFF_UP } else { 0 }, IFF_UP));
        self.call(r)
    }

    /// Makes `index` a port of the bridge `master` (0 to release it).
    pub fn set_master(&mut self, index: u32, master: u32) -> io::Result<()> {
        let mut r = Request::new(RTM_NEWLINK, 0);
        r.bytes(&ifinfo(index, 0, 0));
        r.attr_u32(IFLA_MASTER, master);
        self.call(r)
    }

    /// Sets a link's MAC address.
    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> io::Result<()> {
        let mut r = Request::new(RTM_NEWLINK, 0);
        r.bytes(&ifinfo(index, 0, 0));
        r.attr(IFLA_ADDRESS, &mac);
        self.call(r)
    }

    /// Sets a link's MTU.
    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> io::Result<()> {
        let mut r = Request::new(RTM_NEWLINK, 0);
        r.bytes(&ifinfo(index, 0, 0));
        r.attr_u32(IFLA_MTU, mtu);
        self.call(r)
    }

    /// Adds `addr/prefix` to a link (with the broadcast address for IPv4).
    pub fn add_address(&mut self, index: u32, addr: IpAddr, prefix: u8) -> io::Result<()> {
        let mut r = Request::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        let mut m = [0u8; 8];
        m[0] = family(addr);
        m[1] = prefix;
        m[4..8].copy_from_slice(&index.to_ne_bytes());
        r.bytes(&m);
        r.attr(IFA_LOCAL, &addr_bytes(addr));
        r.attr(IFA_ADDRESS, &addr_bytes(addr));
        if let IpAddr::V4(a) = addr {
            let host_bits = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            let broadcast = std::net::Ipv4Addr::from(u32::from(a) | host_bits);
            r.attr(IFA_BROADCAST, &broadcast.octets());
        }
        self.call(r)
    }

    /// Adds a route to `dest/prefix` through `gateway` in the main table.
    pub fn add_route(
        &mut self,
        dest: IpAddr,
        prefix: u8,
        gateway: IpAddr,
        metric: Option<u32>,
    ) -> io::Result<()> {
        let mut r = Request::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        let m = [
            family(dest),
            prefix,
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_STATIC,
            RT_SCOPE_UNIVERSE,
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ];
        r.bytes(&m);
        r.attr(RTA_DST, &addr_bytes(dest));
        r.attr(RTA_GATEWAY, &addr_bytes(gateway));
        if let Some(metric) = metric {
            r.attr_u32(RTA_PRIORITY, metric);
        }
        self.call(r)
    }
}

/// The index of a link by name, `None` if there is no such link (in the
/// calling thread's network namespace).
pub fn link_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string for the call's duration.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (index != 0).then_some(index)
}

/// True when a link of that name exists in the calling thread's namespace.
pub fn link_exists(name: &str) -> bool {
    link_index(name).is_some()
}
