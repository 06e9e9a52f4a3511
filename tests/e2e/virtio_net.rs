//! virtio-net with real guests: two guests on one bridge ping each other
//! (issue 5), and a guest on a NAT network of `hangar:///system` gets its
//! address from dnsmasq and reaches an "upstream" namespace (issue 8).

use crate::sandbox::Scenario;

/// Boots a guest in `netstatic` mode on a tap hangar-vmm makes itself.
const NET_VM: &str = r#"
net_vm() {
    cat >"$WORK/$1.xml" <<XML
<domain type='kvm'>
  <name>$1</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>$KERNEL</kernel>
    <initrd>$INITRD</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 pci=noearly hangar_mode=netstatic hangar_ip=$4 hangar_ping=$5</cmdline>
  </os>
  <devices>
    <interface type='ethernet'>
      <mac address='$2'/>
      <target dev='$3'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
XML
    (
        "$HV" run --domain "$WORK/$1.xml" --socket "$WORK/$1.sock" \
            --serial-log "$WORK/$1.log" --state-file "$WORK/$1.state" >"$WORK/$1.out" 2>&1
        echo $? >"$WORK/$1.rc"
    ) &
}
"#;

/// The scenarios of this file.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        // Two guests on an L1 bridge, static addresses, ping both ways.
        Scenario::new(
            "net-bridge",
            &format!(
                "{NET_VM}{}",
                r#"
brctl addbr hgbr0
ip link set hgbr0 up
net_vm na 52:54:00:0a:00:01 hgtapa 10.77.0.1/24 10.77.0.2
net_vm nb 52:54:00:0a:00:02 hgtapb 10.77.0.2/24 10.77.0.1
for t in hgtapa hgtapb; do
    n=0
    while [ ! -e /sys/class/net/$t ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
    brctl addif hgbr0 $t
    ip link set $t up
done
brctl show | sed 's/^/BRIDGE /'
wait_for "$WORK/na.log" 'HANGAR-L2-PING-' 420
wait_for "$WORK/nb.log" 'HANGAR-L2-PING-' 120
for vm in na nb; do
    echo "FACT ${vm}_mac=$(sed -n 's/.*HANGAR-L2-NET-MAC \([0-9a-f:]*\).*/\1/p' "$WORK/$vm.log" | head -n 1)"
done
echo "FACT na_ping=$(count_lines "$WORK/na.log" 'HANGAR-L2-PING-OK 10.77.0.2')"
echo "FACT nb_ping=$(count_lines "$WORK/nb.log" 'HANGAR-L2-PING-OK 10.77.0.1')"
ctl na destroy
ctl nb destroy
wait_exit na 60
wait_exit nb 60
echo "FACT taps_left=$(ls /sys/class/net | grep -c hgtap)"
show na
show nb
"#
            ),
        ),
        // hangar:///system: a NAT network, a domain on it, DHCP from
        // dnsmasq, NAT to an upstream namespace that has no route back.
        Scenario::new(
            "net-nat",
            r#"
export PATH=/usr/sbin:$PATH
IP=/usr/sbin/ip
hs() { "$HCTL" -c hangar:///system "$@" 2>&1; }
$IP netns add up
$IP link add hgup0 type veth peer name hgup1 netns up
$IP addr add 198.51.100.1/24 dev hgup0
$IP link set hgup0 up
$IP netns exec up $IP addr add 198.51.100.2/24 dev hgup1
$IP netns exec up $IP link set hgup1 up
$IP netns exec up $IP link set lo up
cat >"$WORK/natnet.xml" <<XML
<network>
  <name>natnet</name>
  <forward mode='nat'/>
  <bridge name='hgnat0' stp='on' delay='0'/>
  <ip address='192.168.77.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.77.100' end='192.168.77.150'/></dhcp>
  </ip>
</network>
XML
hs net-define "$WORK/natnet.xml" | sed 's/^/NET-DEFINE /'
hs net-start natnet | sed 's/^/NET-START /'
cat >"$WORK/vmn.xml" <<XML
<domain type='kvm'>
  <name>vmn</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>$KERNEL</kernel>
    <initrd>$INITRD</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 pci=noearly hangar_mode=netdhcp hangar_ping=198.51.100.2</cmdline>
  </os>
  <devices>
    <interface type='network'>
      <source network='natnet'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
XML
hs define "$WORK/vmn.xml" | sed 's/^/DEFINE /'
mac=$(sed -n "s/.*<mac address='\([^']*\)'.*/\1/p" /var/lib/hangar/domains/vmn.xml)
echo "FACT nat_stored_mac=$mac"
hs start vmn | sed 's/^/START /'
echo "FACT nat_live_target=$(grep -c "<target dev='vnet0'/>" /run/hangar/domains/vmn.xml)"
echo "FACT nat_tap_on_bridge=$($IP -o link show master hgnat0 | grep -c 'vnet0')"
sock=/run/hangar/domains/vmn.sock
n=0
# The whole line: a capture can end in the middle of it.
until grep -q 'HANGAR-L2-PING-[A-Z]* 198\.51\.100\.2' "$WORK/vmn.console" 2>/dev/null; do
    (sleep 2) | "$HV" ctl --socket "$sock" console 2>/dev/null | tr -d '\r' >"$WORK/vmn.console"
    n=$((n + 1))
    [ $n -gt 180 ] && { echo "TIMEOUT waiting for the guest"; break; }
done
grep 'HANGAR-L2-' "$WORK/vmn.console" | sed 's/^/GUEST /'
echo "FACT nat_guest_mac=$(sed -n 's/.*HANGAR-L2-NET-MAC \([0-9a-f:]*\).*/\1/p' "$WORK/vmn.console" | head -n 1)"
echo "FACT nat_lease=$(sed -n 's/.*HANGAR-L2-DHCP-LEASE \([0-9.]*\).*/\1/p' "$WORK/vmn.console" | head -n 1)"
echo "FACT nat_ping=$(count_lines "$WORK/vmn.console" 'HANGAR-L2-PING-OK 198.51.100.2')"
hs net-dhcp-leases natnet | sed 's/^/LEASES /'
echo "FACT nat_leases_listed=$(hs net-dhcp-leases natnet | grep "$mac" | grep -c 'l2dhcp')"
hs destroy vmn | sed 's/^/DESTROY /'
echo "FACT nat_taps_after_destroy=$(ls /sys/class/net | grep -c '^vnet')"
hs net-destroy natnet | sed 's/^/NET-DESTROY /'
echo "FACT nat_bridge_after_destroy=$(ls /sys/class/net | grep -c '^hgnat0$')"
cat /run/hangar/domains/vmn.log 2>/dev/null | tail -n 20 | sed 's/^/VMM-LOG /'
"#,
        ),
    ]
}

#[test]
fn two_guests_on_one_bridge_ping_each_other_with_their_xml_macs() {
    let s = crate::scenario("net-bridge");
    assert_eq!(crate::fact(s, "na_mac"), "52:54:00:0a:00:01");
    assert_eq!(crate::fact(s, "nb_mac"), "52:54:00:0a:00:02");
    assert_eq!(crate::fact(s, "na_ping"), "1");
    assert_eq!(crate::fact(s, "nb_ping"), "1");
    assert_eq!(crate::fact(s, "taps_left"), "0", "taps go with their VMM");
}

#[test]
fn a_guest_on_a_nat_network_gets_a_lease_and_reaches_upstream() {
    let s = crate::scenario("net-nat");
    let mac = crate::fact(s, "nat_stored_mac");
    assert!(mac.starts_with("52:54:00:"), "{mac}");
    assert_eq!(crate::fact(s, "nat_live_target"), "1");
    assert_eq!(crate::fact(s, "nat_tap_on_bridge"), "1");
    assert_eq!(
        crate::fact(s, "nat_guest_mac"),
        mac,
        "the guest sees the stored MAC"
    );
    let lease = crate::fact(s, "nat_lease");
    assert!(lease.starts_with("192.168.77."), "lease {lease:?}");
    assert_eq!(crate::fact(s, "nat_leases_listed"), "1");
    assert_eq!(
        crate::fact(s, "nat_ping"),
        "1",
        "upstream reached through NAT"
    );
    assert_eq!(crate::fact(s, "nat_taps_after_destroy"), "0");
    assert_eq!(crate::fact(s, "nat_bridge_after_destroy"), "0");
}
