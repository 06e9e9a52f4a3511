//! Running virtual networks on the host: what `net-start` makes and
//! `net-destroy` removes.
//!
//! - [`netlink`]: bridges, links, addresses and routes over rtnetlink.
//! - [`checks`]: refusals before anything is made (name taken, route
//!   collision, DHCP range outside its subnet).
//! - [`dnsmasq_run`]: the network's dnsmasq process and its lease file.
//! - [`lifecycle`]: [`NetworkRuntime`], start / stop / adopt / update, with
//!   the state of each running network kept under the runtime folder so a
//!   restarted Hangar finds its networks again.
//! - [`tap`]: tap devices for VM NICs, attached to a network's bridge.
//! - [`session`]: the user's own namespace for rootless networks, with a
//!   `pasta` uplink.
//!
//! Everything acts in the network namespace of the calling thread, which is
//! how the tests run a whole network stack without touching the machine's.

pub mod checks;
pub mod dnsmasq_run;
pub mod lifecycle;
pub mod netlink;
pub mod session;
pub mod tap;

use thiserror::Error;

pub use lifecycle::{ActiveNetwork, NetworkRuntime};
pub use session::SessionNamespace;
pub use tap::{
    create_tap, is_vm_tap_name, remove_tap, remove_vm_taps, TapDevice, TapSpec, VM_TAP_TEMPLATE,
};

use super::NetworkError;

/// Why a network could not be started, stopped or changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuntimeError {
    /// The configuration could not be generated.
    #[error(transparent)]
    Generate(#[from] NetworkError),
    /// A name or subnet is already used on the host.
    #[error("{0}")]
    InUse(String),
    /// The definition cannot be run as it is.
    #[error("{0}")]
    Config(String),
    /// The network is not running (or is already running).
    #[error("{0}")]
    State(String),
    /// A kernel or file operation failed.
    #[error("{op}: {message}")]
    Io {
        /// What was being done.
        op: String,
        /// The system's message.
        message: String,
    },
    /// A helper program (nft, dnsmasq) failed.
    #[error("{tool} failed: {message}")]
    Tool {
        /// The program.
        tool: &'static str,
        /// What it printed.
        message: String,
    },
}

impl RuntimeError {
    /// An I/O failure while doing `op`.
    pub fn io(op: impl Into<String>, err: &std::io::Error) -> RuntimeError {
        RuntimeError::Io {
            op: op.into(),
            message: crate::api::io_message(err),
        }
    }
}
