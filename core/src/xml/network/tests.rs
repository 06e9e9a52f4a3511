//! Unit tests of the network model: validation errors and canonical output.

use super::*;

fn net(body: &str) -> String {
    format!("<network><name>n</name>{body}</network>")
}

fn err(body: &str) -> String {
    match Network::parse(&net(body)) {
        Ok(n) => panic!("accepted invalid network: {}", n.to_xml()),
        Err(e) => e.to_string(),
    }
}

const IP: &str = "<ip address='192.168.10.1' netmask='255.255.255.0'/>";

#[test]
fn rejects_bad_identifiers() {
    assert!(err("<uuid>not-a-uuid</uuid>").contains("UUID"));
    assert!(Network::parse("<network><name>a/b</name></network>")
        .expect_err("rejected")
        .to_string()
        .contains("'/'"));
    assert!(Network::parse("<network/>")
        .expect_err("rejected")
        .to_string()
        .contains("name"));
    assert!(err("<mac address='52:54:00:zz:00:01'/>").contains("MAC"));
    assert!(err("<mac address='01:00:5e:00:00:01'/>").contains("multicast"));
    assert!(err("<bridge name='a-name-far-too-long-for-linux'/>").contains("interface name"));
}

#[test]
fn rejects_bad_addresses_and_masks() {
    assert!(err("<ip address='192.168.10.300' netmask='255.255.255.0'/>").contains("IPv4 or IPv6"));
    assert!(err("<ip address='192.168.10.1' netmask='255.0.255.0'/>").contains("contiguous"));
    assert!(err("<ip address='192.168.10.1' prefix='33'/>").contains("0-32"));
    assert!(
        err("<ip address='192.168.10.1' netmask='255.255.255.0' prefix='24'/>")
            .contains("both a prefix and a netmask")
    );
    assert!(err("<ip family='ipv6' address='192.168.10.1'/>").contains("non-IPv6"));
    assert!(err("<ip address='fd00::1' prefix='64'/>").contains("non-IPv4"));
    assert!(err("<ip family='ipv6' address='fd00::1' netmask='255.0.0.0'/>").contains("netmask"));
    assert!(err("<ip family='ipv7' address='fd00::1'/>").contains("ipv4"));
}

#[test]
fn rejects_dhcp_ranges_outside_or_reversed() {
    let range = |s: &str, e: &str| {
        err(&format!(
            "<ip address='192.168.10.1' netmask='255.255.255.0'><dhcp>\
             <range start='{s}' end='{e}'/></dhcp></ip>"
        ))
    };
    assert!(range("192.168.11.2", "192.168.11.9").contains("not entirely within"));
    assert!(range("192.168.10.9", "192.168.10.2").contains("reversed"));
    assert!(range("192.168.10.0", "192.168.10.9").contains("network address"));
    assert!(range("192.168.10.2", "192.168.10.255").contains("broadcast"));
    assert!(range("fd00::2", "fd00::9").contains("family"));
    assert!(
        err("<ip address='192.168.10.1' netmask='255.255.255.0'><dhcp>\
         <range start='192.168.10.2' end='192.168.10.9'><lease expiry='1'/></range></dhcp></ip>")
        .contains("2 minutes")
    );
}

#[test]
fn rejects_bad_static_hosts() {
    let host = |attrs: &str| {
        err(&format!(
            "<ip address='192.168.10.1' netmask='255.255.255.0'><dhcp><host {attrs}/></dhcp></ip>"
        ))
    };
    assert!(host("ip='192.168.10.5'").contains("mac or name"));
    assert!(host("mac='52:54:00:00:00:01'").contains("ip"));
    assert!(host("name='9lives' ip='192.168.10.5'").contains("letter"));
    assert!(host("mac='52:54:00:00:00:01' ip='fd00::5'").contains("IPv4"));
    let v6 = err("<ip family='ipv6' address='fd00::1' prefix='64'><dhcp>\
         <host mac='52:54:00:00:00:01' ip='fd00::5'/></dhcp></ip>");
    assert!(v6.contains("IPv6"), "{v6}");
}

#[test]
fn rejects_duplicate_and_conflicting_elements() {
    assert!(err("<bridge name='a'/><bridge name='b'/>").contains("more than one <bridge>"));
    assert!(err(
        "<forward mode='route'/><ip address='10.0.0.1' prefix='24'><dhcp>\
         <range start='10.0.0.2' end='10.0.0.9'/></dhcp><dhcp/></ip>"
    )
    .contains("multiple <dhcp>"));
    assert!(err("<forward mode='nat'/>").contains("no IP address"));
    assert!(err(&format!(
        "<forward mode='route' dev='eth0'><interface dev='eth1'/></forward>{IP}"
    ))
    .contains("must match"));
    assert!(
        err(&format!("<forward mode='open' dev='eth0'/>{IP}")).contains("forward dev not allowed")
    );
    assert!(
        err("<forward mode='passthrough'><interface dev='a'/><interface dev='a'/></forward>")
            .contains("listed once")
    );
    assert!(err("<forward mode='bridge'/><bridge name='br0' stp='on'/>").contains("stp"));
    assert!(
        err("<forward mode='vepa'><interface dev='a'/></forward><bridge name='br0'/>")
            .contains("bridge name not allowed")
    );
    assert!(err("<forward mode='bridge'/><mtu size='9000'/>").contains("mtu"));
    assert!(err("<forward mode='route'><nat/></forward>").contains("<nat>"));
    assert!(err("<dns enable='no'><txt name='a' value='b'/></dns>").contains("disabled"));
    assert!(err(&format!(
        "{IP}<route address='10.9.0.0' prefix='16' gateway='172.16.0.1'/>"
    ))
    .contains("unreachable"));
    assert!(err(&format!(
        "{IP}<route address='10.9.0.1' prefix='16' gateway='192.168.10.5'/>"
    ))
    .contains("not a network address"));
    assert!(
        err("<portgroup name='a' default='yes'/><portgroup name='b' default='yes'/>")
            .contains("default")
    );
    assert!(err("<vlan><tag id='5000'/></vlan>").contains("4095"));
    assert!(err("<virtualport/>").contains("type"));
    assert!(
        err("<virtualport type='802.1Qbh'><parameters managerid='1'/></virtualport>")
            .contains("managerid")
    );
    assert!(err("<bandwidth><inbound peak='10'/></bandwidth>").contains("average"));
    assert!(err(&format!(
        "<forward mode='nat'><nat><port start='2000' end='1000'/></nat></forward>{IP}"
    ))
    .contains("end is before start"));
    assert!(err(&format!(
        "<forward mode='nat'><nat><address start='10.0.0.9' end='10.0.0.1'/></nat></forward>{IP}"
    ))
    .contains("reversed"));
    assert!(err(
        "<forward mode='hostdev'><address type='pci' domain='0' bus='0' slot='0x20' function='0'/></forward>"
    )
    .contains("slot"));
}

#[test]
fn fills_in_libvirt_defaults_when_formatting() {
    let n = Network::parse(&net(
        "<forward dev='eth0'/><mac address='52:54:00:AB:CD:EF'/>\
         <ip address='192.168.10.1' prefix='24'/>",
    ))
    .expect("valid");
    assert_eq!(n.forward.mode, ForwardMode::Nat);
    assert_eq!(n.forward.dev(), Some("eth0"));
    assert_eq!(n.forward.nat.effective_ports().start, 1024);
    let xml = n.to_xml();
    assert!(xml.contains("<forward dev='eth0' mode='nat'>"), "{xml}");
    assert!(xml.contains("<interface dev='eth0'/>"), "{xml}");
    assert!(xml.contains("<bridge stp='on' delay='0'/>"), "{xml}");
    assert!(xml.contains("52:54:00:ab:cd:ef"), "{xml}");
    assert!(
        !xml.contains("<port"),
        "libvirt never writes the default NAT ports: {xml}"
    );
    assert_eq!(Network::parse(&xml).expect("reparses"), n);
}

#[test]
fn keeps_unknown_elements_and_dnsmasq_options() {
    let xml = "<network xmlns:x='urn:x' xmlns:d='http://libvirt.org/schemas/network/dnsmasq/1.0'>\
               <name>n</name><x:thing a='1'>t</x:thing>\
               <d:options><d:option value='foo=bar'/></d:options></network>";
    let n = Network::parse(xml).expect("valid");
    assert_eq!(n.dnsmasq_options, vec!["foo=bar".to_string()]);
    assert_eq!(n.unknown.len(), 1);
    let out = n.to_xml();
    assert!(out.contains("xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'"));
    assert!(out.contains("<dnsmasq:option value='foo=bar'/>"), "{out}");
    assert!(out.contains("<x:thing a='1'>t</x:thing>"), "{out}");
    assert_eq!(Network::parse(&out).expect("reparses"), n);
}

const RICH: &str = "<network ipv6='yes'><name>n</name><forward mode='nat' dev='e'><nat ipv6='yes'>\
     <address start='1.2.3.4' end='1.2.3.5'/><port start='1' end='2'/></nat></forward>\
     <bridge name='b' stp='off' delay='3'/><dns><forwarder addr='8.8.8.8'/>\
     <srv service='s' protocol='tcp' target='t' port='1'/><host ip='1.1.1.1'>\
     <hostname>h</hostname></host></dns><ip address='10.0.0.1' prefix='24' localPtr='yes'>\
     <tftp root='/t'/><dhcp><range start='10.0.0.2' end='10.0.0.9'><lease expiry='5'/></range>\
     <host mac='52:54:00:00:00:01' ip='10.0.0.5'/><bootp file='f'/></dhcp></ip>\
     <route address='10.1.0.0' prefix='16' gateway='10.0.0.3'/><portgroup name='p'>\
     <vlan><tag id='4'/></vlan></portgroup></network>";

/// Parses, and when that succeeds checks that the output is a fixed point.
fn parse_and_reformat(xml: &str) {
    if let Ok(n) = Network::parse(xml) {
        let out = n.to_xml();
        assert_eq!(
            Network::parse(&out).as_ref(),
            Ok(&n),
            "not a fixed point:\n{xml}\n{out}"
        );
    }
}

#[test]
fn never_panics_on_mangled_input() {
    assert!(Network::parse(RICH).is_ok());
    for cut in (0..RICH.len()).filter(|i| RICH.is_char_boundary(*i)) {
        parse_and_reformat(&RICH[..cut]);
    }
    let bytes = RICH.as_bytes();
    for i in 0..bytes.len() {
        for b in [b'0', b'x', b'\'', b'/'] {
            let mut m = bytes.to_vec();
            m[i] = b;
            if let Ok(s) = std::str::from_utf8(&m) {
                parse_and_reformat(s);
            }
        }
    }
}

#[test]
fn unset_values_are_fixed_points() {
    for body in [
        "<forward mode='bridge' managed='yes'/>",
        "<mtu size='0'/>",
        "<bandwidth><inbound average='0'/><outbound average='5' peak='0'/></bandwidth>",
        "<portgroup name='p'><virtualport/></portgroup>",
        "<dns><srv service='s' protocol='tcp' target='t' priority='0' weight='0'/></dns>",
        "<ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.3'>\
         <lease expiry='0' unit='hours'/></range></dhcp></ip>",
        "<forward mode='nat'><nat><port start='0' end='0'/></nat></forward>\
         <ip address='10.0.0.1' prefix='0'/>",
    ] {
        parse_and_reformat(&net(body));
        assert!(Network::parse(&net(body)).is_ok(), "{body}");
    }
}

#[test]
fn live_xml_shows_connections_and_the_nat_port_range() {
    let n = Network::parse(&net(&format!("<forward mode='nat'/>{IP}"))).expect("valid");
    let live = n.to_live_xml(2);
    assert!(live.starts_with("<network connections='2'>"), "{live}");
    assert!(live.contains("<port start='1024' end='65535'/>"), "{live}");
    // The live form is accepted back as a definition (connections ignored).
    let again = Network::parse(&live).expect("reparses");
    assert_eq!(
        again.forward.nat.effective_ports(),
        n.forward.nat.effective_ports()
    );
    assert!(!n.to_live_xml(0).contains("connections"));
}
