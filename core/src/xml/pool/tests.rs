use super::*;

fn pool(xml: &str) -> Result<StoragePool, XmlError> {
    StoragePool::parse(xml)
}

const DIR: &str = "<pool type='dir'><name>images</name>\
    <uuid>70a7eb15-6c34-ee9c-bf57-69e8e5ff3fb2</uuid>\
    <target><path>/var/lib/images//</path></target></pool>";

#[test]
fn parses_a_dir_pool_with_defaults() {
    let p = pool(DIR).expect("valid");
    assert_eq!(p.pool_type, PoolType::Dir);
    assert_eq!(p.name, "images");
    assert_eq!(p.target_path.as_deref(), Some("/var/lib/images"));
    assert!(p.uuid.is_some());
    let xml = p.to_xml();
    assert!(xml.contains("<capacity unit='bytes'>0</capacity>"), "{xml}");
    assert!(
        xml.contains("  <source>\n  </source>\n"),
        "as virsh prints it: {xml}"
    );
    assert_eq!(pool(&xml).expect("reparses"), p);
}

#[test]
fn keeps_uuid_absent_when_not_given() {
    let p = pool("<pool type='dir'><name>a</name><target><path>/a</path></target></pool>")
        .expect("valid");
    assert_eq!(p.uuid, None);
    assert!(!p.to_xml().contains("<uuid>"));
}

#[test]
fn rejects_bad_uuid_name_and_type() {
    let bad_uuid = DIR.replace("70a7eb15-6c34-ee9c-bf57-69e8e5ff3fb2", "not-a-uuid");
    assert!(matches!(pool(&bad_uuid), Err(XmlError::Invalid { .. })));
    let slash = DIR.replace("<name>images</name>", "<name>a/b</name>");
    let err = pool(&slash).expect_err("slash in name");
    assert!(err.to_string().contains("'/'"), "{err}");
    let no_name = DIR.replace("<name>images</name>", "");
    assert!(matches!(
        pool(&no_name),
        Err(XmlError::MissingElement { .. })
    ));
    let no_type = DIR.replace(" type='dir'", "");
    assert!(matches!(
        pool(&no_type),
        Err(XmlError::MissingAttribute { .. })
    ));
    let bad_type = DIR.replace("type='dir'", "type='sheepdog'");
    assert!(matches!(pool(&bad_type), Err(XmlError::Invalid { .. })));
    assert!(matches!(
        pool("<network><name>x</name></network>"),
        Err(XmlError::WrongRoot { .. })
    ));
}

#[test]
fn rejects_duplicate_elements() {
    let two_names = DIR.replace("<name>images</name>", "<name>a</name><name>b</name>");
    assert!(matches!(pool(&two_names), Err(XmlError::Conflict(_))));
    let two_paths = DIR.replace("<path>", "<path>/x</path><path>");
    assert!(matches!(pool(&two_paths), Err(XmlError::Conflict(_))));
    let two_targets = DIR.replace("</pool>", "<target><path>/b</path></target></pool>");
    assert!(matches!(pool(&two_targets), Err(XmlError::Conflict(_))));
}

#[test]
fn requires_what_each_type_needs() {
    // dir: target path.
    assert!(pool("<pool type='dir'><name>a</name></pool>").is_err());
    // netfs: host and dir.
    let netfs = "<pool type='netfs'><name>n</name><source><host name='h'/><dir path='/e'/></source><target><path>/mnt</path></target></pool>";
    let p = pool(netfs).expect("valid");
    assert_eq!(p.source.format.as_deref(), Some("auto"));
    assert!(pool(&netfs.replace("<host name='h'/>", "")).is_err());
    assert!(pool(&netfs.replace("<dir path='/e'/>", "")).is_err());
    // fs and disk: a device.
    assert!(
        pool("<pool type='fs'><name>f</name><target><path>/mnt</path></target></pool>").is_err()
    );
    // scsi: an adapter.
    assert!(
        pool("<pool type='scsi'><name>s</name><target><path>/dev</path></target></pool>").is_err()
    );
    // rbd: a source name.
    assert!(
        pool("<pool type='rbd'><name>r</name><source><host name='h'/></source></pool>").is_err()
    );
    // iscsi-direct: an initiator.
    assert!(pool("<pool type='iscsi-direct'><name>i</name><source><host name='h'/><device path='iqn.x'/></source></pool>").is_err());
}

#[test]
fn derives_logical_and_zfs_targets_from_the_source_name() {
    let p = pool("<pool type='logical'><source><name>vg0</name></source><target><path>/else</path></target></pool>")
        .expect("valid");
    assert_eq!(p.name, "vg0");
    assert_eq!(p.target_path.as_deref(), Some("/dev/vg0"));
    assert_eq!(p.source.format.as_deref(), Some("lvm2"));
    let z = pool("<pool type='zfs'><name>z</name></pool>").expect("valid");
    assert_eq!(z.source.name.as_deref(), Some("z"));
    assert_eq!(z.target_path.as_deref(), Some("/dev/zvol/z"));
}

#[test]
fn network_pools_have_no_target() {
    let p = pool("<pool type='gluster'><name>g</name><source><host name='h'/><name>vol</name></source><target><path>/x</path></target></pool>")
        .expect("valid");
    assert_eq!(p.target_path, None);
    assert_eq!(p.source.dir.as_deref(), Some("/"));
    assert!(!p.to_xml().contains("<target"));
}

#[test]
fn validates_source_details() {
    let iscsi = |src: &str| {
        pool(&format!(
            "<pool type='iscsi'><name>i</name><source><host name='h'/><device path='t'/>{src}</source><target><path>/dev</path></target></pool>"
        ))
    };
    assert!(iscsi("").is_ok());
    assert!(
        iscsi("<auth username='u'><secret uuid='2ec115d7-3a88-3ceb-bc12-0ac909a6fd87'/></auth>")
            .is_err(),
        "auth type required"
    );
    assert!(
        iscsi("<auth type='chap' username='u'/>").is_err(),
        "secret required"
    );
    assert!(iscsi("<auth type='chap' username='u'><secret uuid='bad'/></auth>").is_err());
    assert!(iscsi("<auth type='chap' username='u'><secret usage='x' uuid='2ec115d7-3a88-3ceb-bc12-0ac909a6fd87'/></auth>").is_err());
    let usage = iscsi("<auth type='chap' username='u'><secret usage='libvirtiscsi'/></auth>")
        .expect("usage ok");
    assert!(usage.to_xml().contains("<secret usage='libvirtiscsi'/>"));
    let host_port = |port: &str| {
        pool(&format!(
            "<pool type='netfs'><name>n</name><source><host name='h' port='{port}'/><dir path='/e'/></source><target><path>/m</path></target></pool>"
        ))
    };
    assert_eq!(
        host_port("2049").expect("valid").source.hosts[0].port,
        Some(2049)
    );
    assert!(host_port("70000").is_err());
    assert!(host_port("x").is_err());
    let proto = |fmt: &str, ver: &str| {
        pool(&format!(
            "<pool type='netfs'><name>n</name><source><host name='h'/><dir path='/e'/><format type='{fmt}'/><protocol ver='{ver}'/></source><target><path>/m</path></target></pool>"
        ))
    };
    assert!(proto("nfs", "4.1").is_ok());
    assert!(proto("nfs", "four").is_err());
    assert!(proto("cifs", "3").is_err());
    assert!(proto("zfs", "3").is_err(), "unknown netfs format");
}

#[test]
fn validates_adapters() {
    let scsi = |adapter: &str| {
        pool(&format!(
            "<pool type='scsi'><name>s</name><source>{adapter}</source><target><path>/dev</path></target></pool>"
        ))
    };
    assert!(
        scsi("<adapter type='fc_host' wwnn='20000000c9831b4b' wwpn='10000000c9831b4b'/>").is_ok()
    );
    assert!(scsi("<adapter type='fc_host' wwnn='20000000c9831b4b'/>").is_err());
    assert!(scsi("<adapter type='fc_host' wwnn='2000' wwpn='10000000c9831b4b'/>").is_err());
    assert!(scsi("<adapter type='fc_host' wwnn='20000000c9831b4b' wwpn='10000000c9831b4b' parent_wwnn='20000000c9831b4b'/>").is_err());
    assert!(scsi("<adapter type='scsi_host'/>").is_err());
    assert!(scsi("<adapter type='scsi_host' name='host0'><parentaddr unique_id='1'><address bus='0'/></parentaddr></adapter>").is_err());
    assert!(scsi("<adapter type='scsi_host'><parentaddr unique_id='1'><address slot='0x20'/></parentaddr></adapter>").is_err());
    assert!(scsi(
        "<adapter type='scsi_host'><parentaddr><address slot='0x1'/></parentaddr></adapter>"
    )
    .is_err());
    assert!(scsi("<adapter name='host0' wwnn='20000000c9831b4b'/>").is_err());
    assert!(scsi("<adapter type='usb'/>").is_err());
    let fc = scsi(
        "<adapter type='fc_host' managed='maybe' wwnn='20000000c9831b4b' wwpn='10000000c9831b4b'/>",
    );
    assert!(fc.is_err());
}

#[test]
fn cow_feature_only_for_dir_and_fs() {
    let with_cow = |t: &str, extra: &str| {
        pool(&format!(
            "<pool type='{t}'><name>c</name><features><cow state='yes'/></features><source>{extra}</source><target><path>/p</path></target></pool>"
        ))
    };
    assert_eq!(with_cow("dir", "").expect("dir").cow, Some(true));
    assert!(with_cow("mpath", "").is_err());
    assert!(pool("<pool type='dir'><name>c</name><features><cow state='on'/></features><target><path>/p</path></target></pool>").is_err());
}

#[test]
fn reads_sizes_only_in_state_files() {
    let xml = "<pool type='dir'><name>d</name><capacity unit='GiB'>2</capacity><allocation>5</allocation><available unit='XB'>1</available><target><path>/p</path></target></pool>";
    let p = pool(xml).expect("definition ignores sizes");
    assert_eq!(p.capacity, None);
    assert!(StoragePool::parse_state(xml).is_err(), "unknown unit");
    let state = StoragePool::parse_state(&xml.replace("XB", "KB")).expect("valid");
    assert_eq!(state.capacity, Some(2 << 30));
    assert_eq!(state.allocation, Some(5));
    assert_eq!(state.available, Some(1000));
    assert!(state
        .to_xml()
        .contains("<capacity unit='bytes'>2147483648</capacity>"));
    let huge = xml
        .replace("<capacity unit='GiB'>2", "<capacity unit='EiB'>9")
        .replace("XB", "b");
    assert!(StoragePool::parse_state(&huge).is_err(), "overflow");
}

#[test]
fn keeps_unknown_elements_and_namespaces() {
    let xml = "<pool type='dir' xmlns:app='urn:app' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'>\
        <name>d</name><target><path>/p</path><app:note>t</app:note></target>\
        <app:meta k='v'><app:x/></app:meta><fs:mount_opts><fs:option name='ro'/></fs:mount_opts></pool>";
    let p = pool(xml).expect("valid");
    assert!(
        p.mount_opts.is_empty(),
        "mount options only apply to fs/netfs pools"
    );
    let out = p.to_xml();
    assert!(out.contains("xmlns:app='urn:app'"), "{out}");
    assert!(out.contains("<app:meta k='v'>"), "{out}");
    assert!(out.contains("<app:note>t</app:note>"), "{out}");
    assert!(out.contains("<fs:mount_opts>"), "{out}");
    assert!(out.contains("xmlns:fs="), "{out}");
    assert_eq!(pool(&out).expect("reparses"), p);
}

#[test]
fn reads_mount_and_rbd_options_by_namespace_uri() {
    let xml = "<pool type='netfs' xmlns:m='http://libvirt.org/schemas/storagepool/fs/1.0'>\
        <name>n</name><source><host name='h'/><dir path='/e'/></source><target><path>/m</path></target>\
        <m:mount_opts><m:option name='sync'/></m:mount_opts></pool>";
    let p = pool(xml).expect("valid");
    assert_eq!(p.mount_opts, vec!["sync".to_string()]);
    let out = p.to_xml();
    assert!(out.contains("<fs:option name='sync'/>"), "{out}");
    assert!(!out.contains("xmlns:m="), "{out}");
    let missing = xml.replace(" name='sync'", "");
    assert!(pool(&missing).is_err());
}

#[test]
fn rejects_unknown_source_formats_and_refresh_modes() {
    assert!(pool("<pool type='fs'><name>f</name><source><device path='/dev/sda1'/><format type='ntfs'/></source><target><path>/m</path></target></pool>").is_err());
    assert!(pool("<pool type='dir'><name>d</name><target><path>/p</path></target><refresh><volume allocation='lazy'/></refresh></pool>").is_err());
}

#[test]
fn never_panics_on_truncated_or_odd_input() {
    let docs = [DIR, "<pool type='disk'><name>sda</name><source><device path='/dev/sda' part_separator='yes'/></source><target><path>/dev</path></target></pool>"];
    for doc in docs {
        for end in 0..doc.len() {
            if doc.is_char_boundary(end) {
                let _ = pool(&doc[..end]);
            }
        }
    }
    for odd in ["<pool type=''/>", "<pool type='dir'><name/></pool>", "<pool type='scsi'><name>x</name><source><adapter type='scsi_host'><parentaddr unique_id='-1'><address/></parentaddr></adapter></source></pool>"] {
        assert!(pool(odd).is_err());
    }
}

#[test]
fn builds_a_pool_in_code() {
    let mut p = StoragePool::new("file_virtimages", PoolType::Dir);
    p.target_path = Some("/var/lib/virt/images".into());
    p.target_permissions.mode = Some(0o711);
    let xml = p.to_xml();
    assert!(xml.contains("<path>/var/lib/virt/images</path>"), "{xml}");
    assert!(xml.contains("<mode>0711</mode>"), "{xml}");
    assert_eq!(pool(&xml).expect("reparses"), p);
    let mut n = StoragePool::new("nfs", PoolType::Netfs);
    assert_eq!(n.source.format.as_deref(), Some("auto"));
    n.source.hosts.push(SourceHost {
        name: "server".into(),
        port: None,
    });
    n.source.dir = Some("/export".into());
    n.target_path = Some("/mnt".into());
    n.mount_opts.push("nosuid".into());
    let xml = n.to_xml();
    assert!(
        xml.contains("xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'"),
        "{xml}"
    );
    assert_eq!(pool(&xml).expect("reparses"), n);
}

#[test]
fn formats_every_pool_type() {
    for t in PoolType::ALL {
        assert_eq!(PoolType::from_name(t.as_str()).ok(), Some(t));
        assert_eq!(t.as_str().parse::<PoolType>().ok(), Some(t));
        let mut p = StoragePool::new("p", t);
        p.target_path = Some("/p".into());
        let root = p.to_element();
        assert_eq!(root.attr("type"), Some(t.as_str()));
        assert_eq!(root.child("target").is_some(), t.has_target(), "{t}");
    }
}
