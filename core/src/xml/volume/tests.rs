use super::*;

fn vol(xml: &str) -> Result<StorageVolume, XmlError> {
    StorageVolume::parse(xml)
}

const QCOW2: &str = "<volume><name>a.qcow2</name><capacity unit='G'>5</capacity>\
    <target><path>/images/a.qcow2</path><format type='qcow2'/></target></volume>";

#[test]
fn parses_sizes_and_fills_defaults() {
    let v = vol(QCOW2).expect("valid");
    assert_eq!(v.capacity, Some(5 << 30));
    assert_eq!(v.allocation, None);
    assert_eq!(v.effective_allocation(), 5 << 30);
    assert_eq!(v.format.as_deref(), Some("qcow2"));
    assert_eq!(v.vol_type, VolumeType::File);
    let out = v.to_xml();
    assert!(out.contains("<volume type='file'>"), "{out}");
    assert!(
        out.contains("<allocation unit='bytes'>5368709120</allocation>"),
        "{out}"
    );
    let raw = vol("<volume><name>r</name><capacity>1</capacity></volume>").expect("valid");
    assert_eq!(raw.format.as_deref(), Some("raw"));
}

#[test]
fn rejects_bad_sizes() {
    let with_cap = |cap: &str| vol(&QCOW2.replace("<capacity unit='G'>5</capacity>", cap));
    assert!(with_cap("<capacity unit='Q'>5</capacity>").is_err());
    assert!(with_cap("<capacity>-5</capacity>").is_err());
    assert!(with_cap("<capacity>5.5</capacity>").is_err());
    assert!(with_cap("<capacity unit='EiB'>8</capacity>").is_err());
    assert!(with_cap("<capacity>18446744073709551616</capacity>").is_err());
    assert!(with_cap("<capacity unit='PB'>9224</capacity>").is_err());
    assert_eq!(
        with_cap("<capacity unit='PB'>9223</capacity>")
            .expect("fits")
            .capacity,
        Some(9_223_000_000_000_000_000)
    );
    assert!(matches!(with_cap(""), Err(XmlError::MissingElement { .. })));
    assert!(with_cap("<capacity>1</capacity><capacity>2</capacity>").is_err());
    let alloc = QCOW2.replace(
        "</capacity>",
        "</capacity><allocation unit='zz'>1</allocation>",
    );
    assert!(vol(&alloc).is_err());
}

#[test]
fn capacity_rules() {
    let no_cap = QCOW2.replace("<capacity unit='G'>5</capacity>", "");
    assert!(vol(&no_cap).is_err());
    let opt = |xml: &str, rule| {
        StorageVolume::parse_with(
            xml,
            ParseOptions {
                pool_type: PoolType::Dir,
                capacity: rule,
            },
        )
    };
    let v = opt(&no_cap, CapacityRule::Optional).expect("optional");
    assert_eq!(v.capacity, None);
    assert!(v.to_xml().contains("<capacity unit='bytes'>0</capacity>"));
    assert!(opt(&no_cap, CapacityRule::OptionalWithBacking).is_err());
    let backed = no_cap.replace(
        "</volume>",
        "<backingStore><path>/b.img</path></backingStore></volume>",
    );
    let v = opt(&backed, CapacityRule::OptionalWithBacking).expect("backing gives size");
    let bs = v.backing_store.expect("backing");
    assert_eq!(bs.format.as_deref(), Some("raw"));
}

#[test]
fn validates_names_types_and_formats() {
    assert!(vol(&QCOW2.replace("a.qcow2</name>", "a/b</name>")).is_err());
    assert!(vol(&QCOW2.replace("<name>a.qcow2</name>", "")).is_err());
    assert!(vol(&QCOW2.replace("<volume>", "<volume type='tape'>")).is_err());
    assert!(vol(&QCOW2.replace("qcow2'/>", "qcow3'/>")).is_err());
    assert!(
        vol(&QCOW2.replace("qcow2'/>", "none'/>")).is_err(),
        "none is no file format"
    );
    let partition = QCOW2.replace("qcow2'/>", "linux-swap'/>");
    assert!(vol(&partition).is_err());
    let v = StorageVolume::parse_in_pool(&partition, PoolType::Disk).expect("disk pool");
    assert_eq!(v.format.as_deref(), Some("linux-swap"));
    let lv = StorageVolume::parse_in_pool(QCOW2, PoolType::Logical).expect("logical");
    assert_eq!(lv.format, None);
    assert!(!lv.to_xml().contains("<format"));
}

#[test]
fn validates_qcow2_options() {
    let target = |extra: &str| vol(&QCOW2.replace("</target>", &format!("{extra}</target>")));
    let v = target(
        "<clusterSize unit='KiB'>64</clusterSize><features><lazy_refcounts/></features><nocow/>",
    )
    .expect("valid");
    assert_eq!(v.cluster_size, Some(65536));
    assert!(v.lazy_refcounts);
    assert!(v.nocow);
    assert_eq!(
        v.compat.as_deref(),
        Some("1.1"),
        "features imply compat 1.1"
    );
    let out = v.to_xml();
    assert!(
        out.contains("<clusterSize unit='B'>65536</clusterSize>"),
        "{out}"
    );
    assert!(!out.contains("nocow"), "libvirt never writes nocow back");
    assert!(target("<compat>1.1.1</compat>").is_err());
    assert!(target("<compat>one</compat>").is_err());
    assert_eq!(
        target("<compat>0.10</compat>")
            .expect("valid")
            .compat
            .as_deref(),
        Some("0.10")
    );
    assert!(target("<features><zero_init/></features>").is_err());
    assert!(target("<clusterSize unit='x'>1</clusterSize>").is_err());
    assert!(
        target("<clusterSize unit='EiB'>16</clusterSize>").is_err(),
        "2^64 overflows"
    );
    assert_eq!(
        target("<clusterSize unit='EiB'>8</clusterSize>")
            .expect("fits u64")
            .cluster_size,
        Some(1 << 63),
        "cluster sizes are not limited to off_t"
    );
    assert_eq!(
        target("<clusterSize>0</clusterSize>")
            .expect("zero")
            .cluster_size,
        None,
        "zero means unset"
    );
    assert!(target("<compat>1.1</compat><compat>0.10</compat>").is_err());
    let empty = target("<features/>").expect("valid");
    assert!(empty.to_xml().contains("<features/>"));
}

#[test]
fn validates_encryption() {
    let enc = |e: &str| vol(&QCOW2.replace("</target>", &format!("{e}</target>")));
    let ok = enc("<encryption format='luks'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/><cipher name='aes' size='256' mode='xts'/><ivgen name='plain64'/></encryption>")
        .expect("valid");
    let e = ok.encryption.expect("encryption");
    assert_eq!(e.format, EncryptionFormat::Luks);
    assert_eq!(e.cipher.map(|c| c.size), Some(256));
    assert!(enc("<encryption/>").is_err());
    assert!(enc("<encryption format='rot13'/>").is_err());
    assert!(enc("<encryption format='luks'><secret uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/></encryption>").is_err());
    assert!(enc("<encryption format='luks'><secret type='passphrase'/></encryption>").is_err());
    assert!(enc("<encryption format='luks'><cipher name='aes' size='big'/></encryption>").is_err());
    assert!(enc("<encryption format='luks'><ivgen hash='sha256'/></encryption>").is_err());
}

#[test]
fn keeps_unknown_elements() {
    let xml = QCOW2.replace(
        "</target>",
        "<hint>fast</hint></target><app:x xmlns:app='urn:a'/>",
    );
    let v = vol(&xml).expect("valid");
    let out = v.to_xml();
    assert!(out.contains("<hint>fast</hint>"), "{out}");
    assert!(out.contains("<app:x xmlns:app='urn:a'/>"), "{out}");
    // Formatting is a fixed point (allocation is now explicit, so compare text).
    assert_eq!(vol(&out).expect("reparses").to_xml(), out);
}

#[test]
fn formats_state_the_backend_sets() {
    let mut v = StorageVolume::new("lv", PoolType::Logical);
    v.capacity = Some(100);
    v.extents = vec![
        VolumeExtent {
            device: "/dev/sda".into(),
            start: 0,
            end: 50,
        },
        VolumeExtent {
            device: "/dev/sda".into(),
            start: 60,
            end: 110,
        },
        VolumeExtent {
            device: "/dev/sdb".into(),
            start: 0,
            end: 10,
        },
    ];
    v.timestamps = Some(Timestamps {
        mtime: Some(Timestamp {
            seconds: 5,
            nanos: 7,
        }),
        ..Timestamps::default()
    });
    v.physical = Some(200);
    let out = v.to_xml();
    assert_eq!(out.matches("<device ").count(), 2, "{out}");
    assert!(out.contains("<mtime>5.000000007</mtime>"), "{out}");
    assert!(
        out.contains("<physical unit='bytes'>200</physical>"),
        "{out}"
    );
    // State is never read back from a definition.
    let again = StorageVolume::parse_in_pool(&out, PoolType::Logical).expect("reparses");
    assert!(again.extents.is_empty() && again.timestamps.is_none() && again.physical.is_none());
}

#[test]
fn never_panics_on_truncated_input() {
    for end in 0..QCOW2.len() {
        let _ = vol(&QCOW2[..end]);
    }
}

#[test]
fn builds_a_volume_in_code() {
    let mut v = StorageVolume::new("kvm1.qcow2", PoolType::Dir);
    assert_eq!(v.format.as_deref(), Some("raw"));
    v.format = Some("qcow2".into());
    v.capacity = Some(10 << 30);
    v.allocation = Some(0);
    v.target_path = Some("/var/lib/hangar/images/kvm1.qcow2".into());
    v.key = v.target_path.clone();
    v.compat = Some("1.1".into());
    v.lazy_refcounts = true;
    v.cluster_size = Some(65536);
    v.backing_store = Some(BackingStore::new("/base.qcow2", Some("qcow2".into())));
    let xml = v.to_xml();
    let again = vol(&xml).expect("reparses");
    assert_eq!(again, v);
    assert!(
        xml.contains("<capacity unit='bytes'>10737418240</capacity>"),
        "{xml}"
    );
    assert!(xml.contains("<lazy_refcounts/>"), "{xml}");
}

#[test]
fn allocation_units_and_defaults() {
    let v = vol(&QCOW2.replace(
        "</capacity>",
        "</capacity><allocation unit='MiB'>3</allocation>",
    ))
    .expect("valid");
    assert_eq!(v.allocation, Some(3 << 20));
    assert_eq!(v.effective_allocation(), 3 << 20);
    let empty = vol(&QCOW2.replace("</capacity>", "</capacity><allocation/>")).expect("valid");
    assert_eq!(
        empty.allocation, None,
        "an empty element counts as absent, as in libvirt"
    );
}

#[test]
fn errors_say_what_is_wrong() {
    let msg = |xml: &str| vol(xml).expect_err("invalid").to_string();
    assert_eq!(
        msg("<volume><name>a/b</name><capacity>1</capacity></volume>"),
        "invalid volume name 'a/b': name cannot contain '/'"
    );
    assert_eq!(
        msg("<volume><name>a</name></volume>"),
        "missing element <capacity> in <volume>"
    );
    assert_eq!(
        msg("<volume><name>a</name><capacity unit='GQ'>1</capacity></volume>"),
        "invalid <capacity> unit 'GQ': unknown unit (use bytes, KiB, MiB, GiB, TiB, PiB, EiB, KB, MB, GB, ...)"
    );
    assert_eq!(
        msg("<volume><name>a</name><capacity unit='EiB'>8</capacity></volume>"),
        "invalid <capacity> '8 EiB': value too large (the limit is 9223372036854775807 bytes)"
    );
    assert_eq!(
        msg("<volume><name>a</name><name>b</name><capacity>1</capacity></volume>"),
        "<volume> has more than one <name> element"
    );
    assert!(msg("<volume><name>a</name><capacity>1</capacity><target><format type='qcow3'/></target></volume>")
        .starts_with("invalid volume <format type> 'qcow3': unknown format type (expected one of raw, dir,"));
    let malformed = msg("<volume>\n<name>a</name>\n<capacity>1</capacity\n</volume>");
    assert!(
        malformed.starts_with("malformed XML at line 3"),
        "{malformed}"
    );
}
