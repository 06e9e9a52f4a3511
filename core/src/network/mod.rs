//! Virtual networks: what a running network is made of, generated from its
//! [`crate::xml::Network`] definition the way libvirt's network driver does.
//!
//! - [`dnsmasq`]: the dnsmasq configuration (DHCP, DNS, TFTP, router
//!   advertisements) and its hosts files.
//! - [`nftables`]: the firewall ruleset of a network, one `nft` table each.
//! - [`runtime`]: running networks on the host (bridge, addresses, routes,
//!   firewall, dnsmasq) and tap devices for VM NICs.
//!
//! These are pure functions of the definition (paths passed in), so the
//! driver that starts bridges and processes stays thin and testable.

pub mod dnsmasq;
pub mod nftables;
pub mod runtime;

use thiserror::Error;

pub use dnsmasq::{dnsmasq_config, needs_dnsmasq, DnsmasqConfig, DnsmasqPaths};
pub use nftables::{nft_delete_script, nft_ruleset, nft_table_name, NftRuleset};

/// Why the runtime configuration of a network cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NetworkError {
    /// The network has no bridge device name (the driver assigns one first).
    #[error("network '{network}' has no bridge name")]
    NoBridge {
        /// Network name.
        network: String,
    },
    /// An `<ip>` has no usable prefix length.
    #[error("network '{network}': address {address} has no valid prefix or netmask")]
    NoPrefix {
        /// Network name.
        network: String,
        /// The address.
        address: String,
    },
    /// A value would break the generated file (line break, quote).
    #[error("network '{network}': {what} {value:?} cannot be written to {target}: {reason}")]
    UnsafeValue {
        /// Network name.
        network: String,
        /// What the value is.
        what: String,
        /// The value.
        value: String,
        /// The file or tool it was meant for.
        target: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The definition is valid XML but cannot be realised.
    #[error("network '{network}': {reason}")]
    Unsupported {
        /// Network name.
        network: String,
        /// Why.
        reason: String,
    },
}
