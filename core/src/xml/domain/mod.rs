//! `<domain>`: a virtual machine definition in libvirt's format.
//!
//! The typed model covers what virt-install, virt-manager and the seeds
//! produce; everything else is kept verbatim in its position class (unknown
//! top-level elements in [`Domain::other`], unknown devices in
//! [`Devices::other`], unknown attributes and children of known elements in
//! each struct's `extra`), so parse → format loses nothing the user wrote.
//!
//! Formatting follows libvirt's canonical element order and fills in the
//! defaults libvirt always writes (`<vcpu placement='static'>`, the three
//! lifecycle actions, sizes in KiB).

mod common;
mod cpu;
mod devices;
mod format;
mod os;
mod parse;

pub use common::{Address, DeviceInfo, Extra};
pub use cpu::{
    Clock, ClockOffset, Cpu, CpuFeature, CpuFeaturePolicy, CpuMode, CpuTopology, Features, Pm,
    Timer,
};
pub use devices::*;
pub use os::{BootDevice, BootMenu, Loader, Nvram, Os};

use uuid::Uuid;

use super::{Element, XmlError};
use common::xml_enum;

xml_enum! {
    /// What happens when the guest powers off, reboots or crashes
    /// (`<on_poweroff>`, `<on_reboot>`, `<on_crash>`).
    LifecycleAction {
        /// End the VM.
        Destroy = "destroy",
        /// Start it again.
        Restart = "restart",
        /// Keep the stopped VM's resources for inspection.
        Preserve = "preserve",
        /// Rename the old VM and start a new one.
        RenameRestart = "rename-restart",
        /// Dump core, then end the VM (`<on_crash>` only).
        CoredumpDestroy = "coredump-destroy",
        /// Dump core, then start it again (`<on_crash>` only).
        CoredumpRestart = "coredump-restart",
    }
}

xml_enum! {
    /// `<vcpu placement>`: whether vCPU pinning is static or chosen by numad.
    VcpuPlacement {
        /// Pinned to `cpuset` (or unpinned).
        Static = "static",
        /// Placement chosen automatically.
        Auto = "auto",
    }
}

/// `<maxMemory slots='N' unit='KiB'>`: the hot-plug ceiling.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MaxMemory {
    /// Maximum memory in KiB.
    pub kib: u64,
    /// Number of memory slots for hot-plugged DIMMs.
    pub slots: Option<u32>,
    /// Unknown attributes.
    pub extra: Vec<(String, String)>,
}

/// A `<domain>` definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// `<domain type>`: the hypervisor (`kvm`, `qemu`, `hangar`, `test`, ...).
    pub domain_type: String,
    /// `<domain id>` of a running domain (live XML only).
    pub id: Option<i64>,
    /// Unique name.
    pub name: String,
    /// UUID, if the document has one.
    pub uuid: Option<Uuid>,
    /// Short one-line title.
    pub title: Option<String>,
    /// Free-form description, kept exactly as written.
    pub description: Option<String>,
    /// `<metadata>`, verbatim (applications' namespaced elements).
    pub metadata: Option<Element>,
    /// `<maxMemory>`: memory hot-plug ceiling.
    pub max_memory: Option<MaxMemory>,
    /// `<memory>`: the guest's maximum memory at boot, in KiB.
    pub memory_kib: u64,
    /// `<memory dumpCore>`: whether guest memory goes into core dumps.
    pub memory_dump_core: Option<bool>,
    /// `<currentMemory>` in KiB (the balloon target); `None` means equal to `memory_kib`.
    pub current_memory_kib: Option<u64>,
    /// `<vcpu>`: number of virtual CPUs (at least 1).
    pub vcpus: u32,
    /// `<vcpu current>`: vCPUs online at boot when fewer than `vcpus`.
    pub vcpus_current: Option<u32>,
    /// `<vcpu placement>`.
    pub vcpu_placement: VcpuPlacement,
    /// `<vcpu cpuset>`: host CPUs the vCPUs may run on (e.g. `1-4,^3`).
    pub vcpu_cpuset: Option<String>,
    /// `<os>`: guest type, firmware, boot order and direct kernel boot.
    pub os: Os,
    /// `<features>` (acpi, apic, pae, hyperv, ...).
    pub features: Option<Features>,
    /// `<cpu>`: model, topology and feature flags.
    pub cpu: Option<Cpu>,
    /// `<clock>`: offset and timers.
    pub clock: Option<Clock>,
    /// `<on_poweroff>` (default destroy).
    pub on_poweroff: LifecycleAction,
    /// `<on_reboot>` (default restart).
    pub on_reboot: LifecycleAction,
    /// `<on_crash>` (default destroy).
    pub on_crash: LifecycleAction,
    /// `<pm>`: whether the guest may suspend to memory or disk.
    pub pm: Option<Pm>,
    /// `<devices>`.
    pub devices: Devices,
    /// Top-level elements the typed model keeps verbatim (`memoryBacking`,
    /// `numatune`, `cputune`, `seclabel`, `qemu:commandline`, ...); they are
    /// written back at libvirt's position for their name.
    pub other: Vec<Element>,
    /// Unknown attributes of `<domain>` (e.g. `xmlns:qemu`).
    pub extra_attrs: Vec<(String, String)>,
}

impl Domain {
    /// A minimal definition: `name`, 1 vCPU, `memory_kib` of memory, an
    /// `hvm` guest and no devices.
    pub fn new(domain_type: &str, name: &str, memory_kib: u64) -> Domain {
        Domain {
            domain_type: domain_type.to_string(),
            id: None,
            name: name.to_string(),
            uuid: None,
            title: None,
            description: None,
            metadata: None,
            max_memory: None,
            memory_kib,
            memory_dump_core: None,
            current_memory_kib: None,
            vcpus: 1,
            vcpus_current: None,
            vcpu_placement: VcpuPlacement::Static,
            vcpu_cpuset: None,
            os: Os::default(),
            features: None,
            cpu: None,
            clock: None,
            on_poweroff: LifecycleAction::Destroy,
            on_reboot: LifecycleAction::Restart,
            on_crash: LifecycleAction::Destroy,
            pm: None,
            devices: Devices::default(),
            other: Vec::new(),
            extra_attrs: Vec::new(),
        }
    }

    /// Parses and validates a `<domain>` document.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        let root = super::parse_root(xml, "domain")?;
        parse::domain_from_element(&root)
    }

    /// Reads a `<domain>` element already parsed into a tree (e.g. inside a
    /// test driver's `<node>` file).
    pub fn from_element(el: &Element) -> Result<Self, XmlError> {
        if el.name != "domain" {
            return Err(XmlError::WrongRoot {
                expected: "domain".to_string(),
                found: el.name.clone(),
            });
        }
        parse::domain_from_element(el)
    }

    /// The definition as an element tree, in libvirt's canonical order.
    pub fn to_element(&self) -> Element {
        format::domain_to_element(self)
    }

    /// Formats the definition as libvirt would.
    pub fn to_xml(&self) -> String {
        self.to_element().to_xml()
    }

    /// Memory the guest starts with, in KiB (`currentMemory`, else `memory`).
    pub fn boot_memory_kib(&self) -> u64 {
        self.current_memory_kib.unwrap_or(self.memory_kib)
    }
}

#[cfg(test)]
mod tests;
