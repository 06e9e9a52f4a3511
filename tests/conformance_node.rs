//! libvirt's test-driver `<node>` files load with every object and state:
//! virt-manager's `testdriver.xml` (14 domains, 16 networks, 16 `<pool>`
//! elements of which the test driver loads 15: `pool-sheepdog` is a type
//! libvirt 9 dropped) and
//! libvirt's `testnode.xml`, which includes its objects from other files.

use std::path::PathBuf;

use hangar_core::xml::NodeFile;

/// `shared/conformance/` beside the project (found by walking up, so the
/// tests also run from a git worktree placed deeper than the main clone).
fn conformance(rel: &str) -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let base = manifest
        .ancestors()
        .map(|a| a.join("shared/conformance"))
        .find(|c| c.is_dir())
        .unwrap_or_else(|| manifest.join("../../shared/conformance"));
    base.join(rel)
}

#[test]
fn virt_manager_testdriver_loads_with_counts_and_states() {
    let path = conformance("virt-manager/testdriver.xml");
    let node = NodeFile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    println!(
        "testdriver.xml: {} domains, {} networks, {} pools, {} volumes, {} devices; cpu {:?}, memory {} KiB",
        node.domains.len(),
        node.networks.len(),
        node.pools.len(),
        node.pools.iter().map(|p| p.volumes.len()).sum::<usize>(),
        node.devices.len(),
        node.cpu,
        node.memory_kib
    );
    for d in &node.domains {
        println!(
            "  domain {:<24} runstate {:?} transient {} managedsave {}",
            d.name, d.runstate, d.transient, d.has_managed_save
        );
    }
    for p in &node.pools {
        println!("  pool {:<26} {} volumes", p.name, p.volumes.len());
    }
    assert_eq!(node.domains.len(), 14);
    assert_eq!(node.networks.len(), 16);
    assert_eq!(node.pools.len(), 16);
    assert_eq!(node.memory_kib, 10_000_000);
    assert_eq!(node.cpu.sockets, 4);
    assert_eq!(node.cpu.mhz, 4000);
    let state = |name: &str| {
        node.domains
            .iter()
            .find(|d| d.name == name)
            .map(|d| (d.runstate, d.transient, d.has_managed_save))
    };
    assert_eq!(state("test"), Some((None, false, false)));
    assert_eq!(state("test-state-shutoff"), Some((Some(5), false, false)));
    assert_eq!(state("test-state-paused"), Some((Some(3), false, false)));
    assert_eq!(state("test-state-crashed"), Some((Some(6), false, false)));
    assert_eq!(
        state("test-state-pmsuspended"),
        Some((Some(7), false, false))
    );
    assert_eq!(state("test-state-transient"), Some((None, true, false)));
    assert_eq!(
        state("test-state-managedsave"),
        Some((Some(5), false, true))
    );
    let snapshots = node
        .domains
        .iter()
        .find(|d| d.name == "test-snapshots")
        .map_or(0, |d| d.snapshots.len());
    assert_eq!(snapshots, 10);
    let pool_dir = node.pools.iter().find(|p| p.name == "pool-dir");
    assert_eq!(pool_dir.map(|p| p.volumes.len()), Some(19));
    // Definitions are clean libvirt XML once the test namespace is split out.
    for d in &node.domains {
        hangar_core::xml::Domain::parse(&d.definition.to_xml())
            .unwrap_or_else(|e| panic!("domain {}: {e}", d.name));
        assert!(!d.definition.to_xml().contains("test:"), "{}", d.name);
    }
}

#[test]
fn libvirt_testnode_loads_with_includes() {
    let path = conformance("libvirt-9.0.0/examples-xml-test/testnode.xml");
    let node = NodeFile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let names = |v: Vec<&str>| v.join(", ");
    println!(
        "testnode.xml: domains [{}], networks [{}], pools [{}]",
        names(node.domains.iter().map(|d| d.name.as_str()).collect()),
        names(node.networks.iter().map(|n| n.name.as_str()).collect()),
        names(node.pools.iter().map(|p| p.name.as_str()).collect()),
    );
    assert_eq!(node.domains.len(), 3);
    assert_eq!(node.networks.len(), 2);
    assert_eq!(node.pools.len(), 1);
    assert_eq!(node.pools[0].name, "default-pool");
    assert_eq!(node.pools[0].volumes.len(), 1);
    assert_eq!(node.devices.len(), 1);
    assert_eq!(node.cpu.active, 50);
    assert_eq!(node.memory_kib, 8_192_000);

    let inline = conformance("libvirt-9.0.0/examples-xml-test/testnodeinline.xml");
    let inline = NodeFile::load(&inline).unwrap_or_else(|e| panic!("{}: {e}", inline.display()));
    assert_eq!(inline.domains.len(), 3);
    let fc5 = inline.domains.iter().find(|d| d.name == "fc5");
    assert_eq!(fc5.and_then(|d| d.runstate), Some(3));
}
