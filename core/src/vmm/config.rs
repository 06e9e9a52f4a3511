//! What `hangar-vmm` runs: read from a libvirt domain definition.

use crate::xml::{units, Element, XmlError};
use std::path::PathBuf;

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
    /// A required element is missing.
    #[error("the domain has no {0}: hangar-vmm boots a kernel directly")]
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
}

/// Most vCPUs a VM may have (APIC ids fit in 8 bits in the MADT we write).
pub const MAX_VCPUS: u32 = 254;

impl VmConfig {
    /// Reads the settings from a `<domain>` document.
    pub fn from_domain_xml(xml: &str) -> Result<Self, ConfigError> {
        let root = crate::xml::parse_root(xml, "domain")?;
        let name = root
            .child_text("name")
            .ok_or(ConfigError::Missing("<name>"))?;
        let memory_bytes = scaled(&root, "currentMemory")
            .or_else(|| scaled(&root, "memory"))
            .ok_or(ConfigError::Missing("<memory>"))??;
        let vcpus_text = root.child_text("vcpu").unwrap_or_else(|| "1".into());
        let vcpus: u32 = vcpus_text
            .trim()
            .parse()
            .map_err(|_| ConfigError::Invalid {
                what: "<vcpu>",
                why: format!("'{vcpus_text}' is not a number"),
            })?;
        if vcpus == 0 || vcpus > MAX_VCPUS {
            return Err(ConfigError::Invalid {
                what: "<vcpu>",
                why: format!("{vcpus} vCPUs; a VM needs between 1 and {MAX_VCPUS}"),
            });
        }
        if memory_bytes < (16 << 20) {
            return Err(ConfigError::Invalid {
                what: "<memory>",
                why: format!("{} KiB is less than the 16 MiB minimum", memory_bytes >> 10),
            });
        }
        let os = root.child("os").ok_or(ConfigError::Missing("<os>"))?;
        let kernel = os
            .child_text("kernel")
            .filter(|k| !k.trim().is_empty())
            .ok_or(ConfigError::Missing("<os><kernel>"))?;
        let on_reboot = match root.child_text("on_reboot").as_deref().map(str::trim) {
            None | Some("restart") => OnReboot::Restart,
            Some("destroy") => OnReboot::Destroy,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    what: "<on_reboot>",
                    why: format!("'{other}' is not supported (use restart or destroy)"),
                })
            }
        };
        Ok(VmConfig {
            name,
            // Whole pages only.
            memory_bytes: memory_bytes & !0xfff,
            vcpus,
            kernel: PathBuf::from(kernel.trim()),
            initrd: os
                .child_text("initrd")
                .filter(|i| !i.trim().is_empty())
                .map(|i| PathBuf::from(i.trim())),
            cmdline: os
                .child_text("cmdline")
                .unwrap_or_default()
                .trim()
                .to_string(),
            on_reboot,
        })
    }
}

fn scaled(root: &Element, name: &str) -> Option<Result<u64, ConfigError>> {
    let el = root.child(name)?;
    Some(units::parse_scaled(&el.text(), el.attr("unit"), "KiB").map_err(ConfigError::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = "<domain type='kvm'><name>t</name><memory unit='MiB'>256</memory>\
        <vcpu placement='static'>2</vcpu><os><type>hvm</type><kernel>/k</kernel>\
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
            .contains("0 vCPUs"));
        let nokernel = XML.replace("<kernel>/k</kernel>", "");
        assert!(matches!(
            VmConfig::from_domain_xml(&nokernel),
            Err(ConfigError::Missing("<os><kernel>"))
        ));
    }
}
