//! The `<capabilities>` document (`virsh capabilities`).

use crate::api::HostInfo;
use crate::xml::Element;

/// Capabilities of a host on `arches[0]` whose guests are `domain_type`
/// (`kvm`, `test`) machines of each of `arches`.
pub fn document(host: &HostInfo, host_uuid: &str, domain_type: &str, arches: &[&str]) -> String {
    let arch = arches.first().copied().unwrap_or(std::env::consts::ARCH);
    let topology = Element::new("topology")
        .with_attr("sockets", host.sockets.to_string())
        .with_attr("dies", "1")
        .with_attr("cores", host.cores.to_string())
        .with_attr("threads", host.threads.to_string());
    let cpu = Element::new("cpu")
        .with_child(Element::new("arch").with_text(arch))
        .with_child(Element::new("model").with_text(host.cpu_model.clone()))
        .with_child(topology);
    let host_el = Element::new("host")
        .with_child(Element::new("uuid").with_text(host_uuid))
        .with_child(cpu)
        .with_child(Element::new("power_management").with_child(Element::new("suspend_mem")));
    let mut caps = Element::new("capabilities").with_child(host_el);
    for guest_arch in arches {
        caps.push(guest(domain_type, guest_arch));
    }
    caps.to_xml()
}

fn guest(domain_type: &str, arch: &str) -> Element {
    Element::new("guest")
        .with_child(Element::new("os_type").with_text("hvm"))
        .with_child(
            Element::new("arch")
                .with_attr("name", arch)
                .with_child(Element::new("wordsize").with_text(if arch == "i686" {
                    "32"
                } else {
                    "64"
                }))
                .with_child(Element::new("domain").with_attr("type", domain_type)),
        )
        .with_child(
            Element::new("features")
                .with_child(
                    Element::new("acpi")
                        .with_attr("default", "on")
                        .with_attr("toggle", "yes"),
                )
                .with_child(
                    Element::new("apic")
                        .with_attr("default", "on")
                        .with_attr("toggle", "no"),
                ),
        )
}
