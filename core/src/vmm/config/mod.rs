//! What `hangar-vmm` runs: read from a libvirt domain definition.

use crate::xml::domain::LifecycleAction;
use crate::xml::{Domain, XmlError};
use std::path::PathBuf;

mod devices;

pub use devices::{
    DeviceConfig, DiskConfig, DiskFormat, DisplayConfig, NetConfig, RngConfig, VncConfig,
    VncListen, DEFAULT_DISPLAY,
};

/// What to do when the guest reboots (`<on_reboot>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnReboot {
    /// Start the guest again in the same process.
    Restart,
    /// End the VM (as shut off).
    Destroy,
}

/// Errors reading the VM's configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The domain XML is malformed.
    #[error("invalid domain definition: {0}")]
    Xml(#[from] XmlError),
    /// The domain has no kernel to boot.
    #[error("the domain has no <os><kernel>: hangar-vmm boots a kernel directly")]
    NoKernel,
    /// A required element is missing.
    #[error("the domain has no {0}")]
    Missing(&'static str),
    /// A value is out of range or unsupported.
    #[error("{what}: {why}")]
    Invalid {
        /// Which setting.
        what: &'static str,
        /// Why it cannot be used.
        why: String,
    },
}

/// The VM to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmConfig {
    /// Domain name.
    pub name: String,
    /// Guest RAM in bytes.
    pub memory_bytes: u64,
    /// Number of vCPUs.
    pub vcpus: u32,
    /// The bzImage to boot.
    pub kernel: PathBuf,
    /// The initrd, if any.
    pub initrd: Option<PathBuf>,
    /// Kernel command line.
    pub cmdline: String,
    /// Reaction to a guest reboot.
    pub on_reboot: OnReboot,
    /// Disks, NICs, entropy, balloon and display.
    pub devices: DeviceConfig,
}

/// Most vCPUs a VM may have (APIC ids fit in 8 bits in the MADT we write).
pub const MAX_VCPUS: u32 = 254;

impl VmConfig {
    /// Reads the settings from a `<domain>` document.
    pub fn from_domain_xml(xml: &str) -> Result<Self, ConfigError> {
        Self::from_domain(&Domain::parse(xml)?)
    }

    /// Reads the settings from a parsed domain.
    pub fn from_domain(domain: &Domain) -> Result<Self, ConfigError> {
        let memory_bytes = domain.boot_memory_kib().saturating_mul(1024);
        if domain.vcpus == 0 || domain.vcpus > MAX_VCPUS {
            return Err(ConfigError::Invalid {
                what: "<vcpu>",
                why: format!(
                    "{} vCPUs; a VM needs between 1 and {MAX_VCPUS}",
                    domain.vcpus
                ),
            });
        }
        if memory_bytes < (16 << 20) {
            return Err(ConfigError::Invalid {
                what: "<memory>",
                why: format!("{} KiB is less than the 16 MiB minimum", memory_bytes >> 10),
            });
        }
        let path = |p: &Option<String>| {
            p.as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        };
        let kernel = path(&domain.os.kernel).ok_or(ConfigError::NoKernel)?;
        let on_reboot = match domain.on_reboot {
            LifecycleAction::Restart => OnReboot::Restart,
            LifecycleAction::Destroy => OnReboot::Destroy,
            other => {
                return Err(ConfigError::Invalid {
                    what: "<on_reboot>",
                    why: format!(
                        "'{}' is not supported (use restart or destroy)",
                        other.as_str()
                    ),
                })
            }
        };
        Ok(VmConfig {
            name: domain.name.clone(),
            // Whole pages only.
            memory_bytes: memory_bytes & !0xfff,
            vcpus: domain.vcpus,
            kernel,
            initrd: path(&domain.os.initrd),
            cmdline: domain
                .os
                .cmdline
                .as_deref()
                .unwrap_or_default()
                .trim()
                .to_string(),
            on_reboot,
            devices: DeviceConfig::from_domain(domain)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = "<domain type='kvm'><name>t</name><memory unit='MiB'>256</memory>\
        <vcpu placement='static'>2</vcpu><os><type arch='x86_64'>hvm</type><kernel>/k</kernel>\
        <initrd>/i</initrd><cmdline>console=ttyS0</cmdline></os>\
        <on_reboot>destroy</on_reboot></domain>";

    #[test]
    fn reads_memory_vcpus_and_boot_files() {
        let c = VmConfig::from_domain_xml(XML).expect("config");
        assert_eq!(c.memory_bytes, 256 << 20);
        assert_eq!(c.vcpus, 2);
        assert_eq!(c.kernel, PathBuf::from("/k"));
        assert_eq!(c.initrd, Some(PathBuf::from("/i")));
        assert_eq!(c.cmdline, "console=ttyS0");
        assert_eq!(c.on_reboot, OnReboot::Destroy);
    }

    #[test]
    fn refuses_zero_vcpus_and_missing_kernel() {
        let zero = XML.replace(">2</vcpu>", ">0</vcpu>");
        assert!(VmConfig::from_domain_xml(&zero)
            .expect_err("0 vcpus")
            .to_string()
            .contains("at least one vCPU"));
        let nokernel = XML.replace("<kernel>/k</kernel>", "");
        assert!(matches!(
            VmConfig::from_domain_xml(&nokernel),
            Err(ConfigError::NoKernel)
        ));
    }
}
