//! Host taps for a running domain's NICs.
//!
//! For each `<interface type='network'>` (whose network must be running)
//! and `type='bridge'`, the driver makes a persistent tap `vnetN`, plugs it
//! into the bridge, and names it in the live definition handed to
//! `hangar-vmm` as `<target dev='vnetN'/>`; the VMM opens it by name. The
//! taps are listed in `domains/NAME.taps` so they are removed when the VM
//! stops: by the watcher that sees the VMM end, by `destroy`, or, after a
//! crash nobody watched, by the next connection's poll.

use std::path::Path;

use super::vm_process::{self, VmFiles};
use super::HangarDriver;
use crate::api::ApiError;
use crate::backend::definition::edit::child_mut;
use crate::backend::store::atomic::{remove_durable, write_atomic};
use crate::backend::DriverUri;
use crate::network::runtime::{create_tap, remove_tap, TapSpec};
use crate::xml::tree::Node;
use crate::xml::{Element, MacAddr};

/// Name template the kernel completes with the lowest free number.
const TAP_TEMPLATE: &str = "vnet%d";

impl HangarDriver {
    /// Makes the taps of `el`'s bridged NICs and writes their names into
    /// it. On failure the taps made so far are gone again.
    pub(super) fn plug_nics(&self, name: &str, el: &mut Element) -> Result<(), ApiError> {
        // What an earlier run of this (stopped) domain may have left.
        unplug_nics(&self.vm_files, name);
        let system = self.host.uri == DriverUri::HangarSystem.canonical();
        let mut made: Vec<String> = Vec::new();
        let result = self.plug_each(el, system, &mut made);
        let recorded = result.and_then(|()| {
            if made.is_empty() {
                return Ok(());
            }
            let path = self.vm_files.taps(name);
            std::fs::create_dir_all(&self.vm_files.dir)
                .and_then(|()| write_atomic(&path, (made.join("\n") + "\n").as_bytes(), 0o600))
                .map_err(|e| ApiError::io("cannot write file", &path, &e))
        });
        if recorded.is_err() {
            for tap in &made {
                let _ = remove_tap(tap);
            }
        }
        recorded
    }

    fn plug_each(
        &self,
        el: &mut Element,
        system: bool,
        made: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        let Some(devices) = child_mut(el, "devices") else {
            return Ok(());
        };
        for node in devices.children.iter_mut() {
            let Node::Element(iface) = node else {
                continue;
            };
            if iface.name != "interface" {
                continue;
            }
            match iface.attr("type") {
                Some("network") | Some("bridge") => {}
                Some("user") => {
                    return Err(ApiError::unsupported(
                        "<interface type='user'> is not supported by hangar-vmm; \
                         use a virtual network (type='network')",
                    ))
                }
                // type='ethernet' names its own tap (or lets the VMM make one).
                _ => continue,
            }
            let bridge = self.net_runtime.interface_bridge(iface)?;
            if !system {
                return Err(ApiError::unsupported(
                    "hangar:///session cannot plug VM NICs into its networks yet; \
                     run the domain in hangar:///system",
                ));
            }
            let guest_mac = iface
                .child("mac")
                .and_then(|m| m.attr("address"))
                .and_then(|a| MacAddr::parse(a).ok())
                .map(|m| m.0);
            let tap = create_tap(&TapSpec {
                name: TAP_TEMPLATE.to_string(),
                bridge,
                guest_mac,
                mtu: None,
                vnet_hdr: true,
                persistent: true,
            })?;
            made.push(tap.name.clone());
            set_target_dev(iface, &tap.name);
        }
        Ok(())
    }

    /// Removes the taps of domains that no longer run (a VMM that crashed
    /// or was stopped while no Hangar process watched).
    pub(super) fn unplug_stopped(&self) {
        for name in self.vm_files.names_with_taps() {
            if !vm_process::run_state(&self.vm_files, &name).is_active() {
                unplug_nics(&self.vm_files, &name);
            }
        }
    }
}

/// Sets `<target dev>` (replacing one the definition had: in libvirt the
/// name of an auto-made tap is not the user's to choose).
fn set_target_dev(iface: &mut Element, dev: &str) {
    match child_mut(iface, "target") {
        Some(target) => target.set_attr("dev", dev),
        None => iface.push(Element::new("target").with_attr("dev", dev)),
    }
}

/// Removes the taps recorded for `name` and the record.
pub fn unplug_nics(files: &VmFiles, name: &str) {
    let path = files.taps(name);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let mut all_gone = true;
    for tap in text.lines().map(str::trim).filter(|t| valid_tap_name(t)) {
        if let Err(e) = remove_tap(tap) {
            eprintln!("warning: domain '{name}': {e}");
            all_gone = false;
        }
    }
    if all_gone {
        let _ = remove_durable(Path::new(&path));
    }
}

/// Only names the driver makes are removed, whatever the file says.
fn valid_tap_name(name: &str) -> bool {
    name.strip_prefix("vnet")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_tap_names_are_removed() {
        assert!(valid_tap_name("vnet0"));
        assert!(valid_tap_name("vnet12"));
        assert!(!valid_tap_name("vnet"));
        assert!(!valid_tap_name("eth0"));
        assert!(!valid_tap_name("vnet1 ; x"));
    }

    #[test]
    fn the_tap_name_goes_into_target_dev() {
        let mut iface =
            Element::parse("<interface type='network'><source network='n'/></interface>")
                .expect("xml");
        set_target_dev(&mut iface, "vnet3");
        assert!(iface.to_xml().contains("<target dev='vnet3'/>"));
        set_target_dev(&mut iface, "vnet4");
        let xml = iface.to_xml();
        assert!(xml.contains("<target dev='vnet4'/>") && !xml.contains("vnet3"));
    }
}
