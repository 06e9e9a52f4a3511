//! Host taps for a running domain's NICs.
//!
//! For each `<interface type='network'>` (whose network must be running)
//! and `type='bridge'`, the driver makes a persistent tap `vnetN`, plugs it
//! into the bridge, and names it in the live definition handed to
//! `hangar-vmm` as `<target dev='vnetN'/>`; the VMM opens it by name. The
//! taps are listed in `domains/NAME.taps` so they are removed when the VM
//! stops: by the watcher that sees the VMM end, by `destroy`, or, after a
//! crash nobody watched, by the next connection's poll.
//!
//! In `hangar:///session` the networks' bridges live in the user's own
//! namespace: the taps are made there (by `hangar-net-helper`), the record
//! starts with `netns DIR`, and the VMM is started inside that namespace
//! (see [`HangarDriver::plug_nics`]'s result) so it can open them.

use std::path::PathBuf;

use super::vm_process::{self, VmFiles};
use super::HangarDriver;
use crate::api::ApiError;
use crate::backend::definition::edit::child_mut;
use crate::backend::store::atomic::{remove_durable, write_atomic};
use crate::network::runtime::remove_vm_taps;
use crate::xml::tree::Node;
use crate::xml::{Element, MacAddr};

impl HangarDriver {
    /// Makes the taps of `el`'s bridged NICs and writes their names into
    /// it. Returns the pid of the session namespace the VMM must run in
    /// (`None`: the host's). On failure the taps made so far are gone again.
    pub(super) fn plug_nics(&self, name: &str, el: &mut Element) -> Result<Option<u32>, ApiError> {
        // What an earlier run of this (stopped) domain may have left.
        unplug_nics(&self.vm_files, name);
        let ns = self.net_runtime.session_namespace();
        let mut made: Vec<String> = Vec::new();
        let result = self.plug_each(el, &mut made);
        let recorded = result.and_then(|()| {
            if made.is_empty() {
                return Ok(None);
            }
            let mut record = String::new();
            if let Some(ns) = ns {
                record.push_str(&format!("netns {}\n", ns.dir().display()));
            }
            record.push_str(&(made.join("\n") + "\n"));
            let path = self.vm_files.taps(name);
            std::fs::create_dir_all(&self.vm_files.dir)
                .and_then(|()| write_atomic(&path, record.as_bytes(), 0o600))
                .map_err(|e| ApiError::io("cannot write file", &path, &e))?;
            Ok(ns.and_then(|ns| ns.holder()))
        });
        if recorded.is_err() {
            let names: Vec<&str> = made.iter().map(String::as_str).collect();
            let _ = remove_vm_taps(ns.map(|ns| ns.dir()), &names);
        }
        recorded
    }

    fn plug_each(&self, el: &mut Element, made: &mut Vec<String>) -> Result<(), ApiError> {
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
            let guest_mac = iface
                .child("mac")
                .and_then(|m| m.attr("address"))
                .and_then(|a| MacAddr::parse(a).ok())
                .map(|m| m.0);
            let tap = self.net_runtime.plug_vm_tap(&bridge, guest_mac)?;
            set_target_dev(iface, &tap);
            made.push(tap);
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
    let mut ns_dir = None;
    let mut taps = Vec::new();
    for line in text.lines().map(str::trim) {
        match line.strip_prefix("netns ") {
            Some(dir) => ns_dir = Some(PathBuf::from(dir)),
            None => taps.push(line),
        }
    }
    match remove_vm_taps(ns_dir.as_deref(), &taps) {
        Ok(()) => {
            let _ = remove_durable(&path);
        }
        Err(e) => eprintln!("warning: domain '{name}': {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_tap_names_are_removed() {
        use crate::network::runtime::is_vm_tap_name;
        assert!(is_vm_tap_name("vnet0"));
        assert!(is_vm_tap_name("vnet12"));
        assert!(!is_vm_tap_name("vnet"));
        assert!(!is_vm_tap_name("eth0"));
        assert!(!is_vm_tap_name("vnet1 ; x"));
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
