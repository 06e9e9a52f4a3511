//! Building the test driver's objects from a `<node>` file.

use super::state::{TestDomain, TestNetwork, TestPool, TestVolume};
use crate::api::{ApiError, DomainState, StoreProblem, VolumeKind};
use crate::backend::definition::edit::scaled;
use crate::backend::definition::{domain, network, pool};
use crate::xml::node::NodePool;
use crate::xml::{Element, NodeFile};

/// libvirt's test driver default pool size (100 GiB).
const DEFAULT_POOL_CAPACITY: u64 = 100 << 30;

/// The objects of a node file, states set as libvirt's test driver sets them.
pub(super) struct Loaded {
    pub domains: Vec<TestDomain>,
    pub networks: Vec<TestNetwork>,
    pub pools: Vec<TestPool>,
    /// Objects left out because Hangar's model rejects them.
    pub problems: Vec<StoreProblem>,
}

fn reason_for(state: DomainState) -> &'static str {
    match state {
        DomainState::Running => "booted",
        DomainState::Paused => "user",
        DomainState::Shutoff => "unknown",
        DomainState::Crashed => "unknown",
        _ => "unknown",
    }
}

/// Loads every object the model accepts; one it rejects (e.g. a pool type
/// libvirt 9 no longer supports) is left out and listed as a problem, so
/// the rest of the host stays usable.
pub(super) fn from_node(
    source: &str,
    node: &NodeFile,
    next_id: &mut u32,
) -> Result<Loaded, ApiError> {
    let mut problems = Vec::new();
    let mut skip = |kind: &str, name: &str, err: ApiError| {
        problems.push(StoreProblem {
            path: format!("{source}: {kind} '{name}'"),
            message: err.to_string(),
        });
    };
    let mut domains: Vec<TestDomain> = Vec::new();
    for d in &node.domains {
        let (config, uuid) = match domain::prepare(&d.definition.to_xml()) {
            Ok(v) => v,
            Err(e) => {
                skip("domain", &d.name, e);
                continue;
            }
        };
        if domains.iter().any(|o| o.name == d.name || o.uuid == uuid) {
            return Err(ApiError::AlreadyExists {
                kind: crate::api::ObjectKind::Domain,
                name: d.name.clone(),
                uuid: None,
            });
        }
        let state = match d.runstate {
            Some(n) => DomainState::from_libvirt(n).unwrap_or(DomainState::Running),
            None => DomainState::Running,
        };
        // As in libvirt, every state but shut off has a running VM behind it.
        let running = state != DomainState::Shutoff;
        let id = running.then(|| {
            let id = *next_id;
            *next_id += 1;
            id
        });
        domains.push(TestDomain {
            name: d.name.clone(),
            uuid,
            live: running.then(|| config.clone()),
            config,
            persistent: !d.transient,
            state,
            reason: reason_for(state),
            id,
            autostart: false,
            managed_save: d.has_managed_save,
            cpu_time_ns: 0,
        });
    }
    let mut networks: Vec<TestNetwork> = Vec::new();
    for n in &node.networks {
        let used: Vec<String> = networks
            .iter()
            .filter_map(|o| network::bridge(&o.config))
            .collect();
        let (config, uuid) = match network::prepare(&n.definition.to_xml(), &used) {
            Ok(v) => v,
            Err(e) => {
                skip("network", &n.name, e);
                continue;
            }
        };
        networks.push(TestNetwork {
            name: n.name.clone(),
            uuid,
            live: Some(config.clone()),
            config,
            persistent: true,
            autostart: false,
        });
    }
    let mut pools = Vec::new();
    for p in &node.pools {
        match load_pool(p) {
            Ok(pool) => pools.push(pool),
            Err(e) => skip("pool", &p.name, e),
        }
    }
    Ok(Loaded {
        domains,
        networks,
        pools,
        problems,
    })
}

fn size(el: &Element, name: &str) -> Result<Option<u64>, ApiError> {
    el.child(name).map(|c| scaled(c, "bytes")).transpose()
}

fn load_pool(p: &NodePool) -> Result<TestPool, ApiError> {
    let (config, uuid) = pool::prepare(&p.definition.to_xml())?;
    let capacity = size(&config, "capacity")?
        .filter(|c| *c > 0)
        .unwrap_or(DEFAULT_POOL_CAPACITY);
    let base_allocation = size(&config, "allocation")?.unwrap_or(0);
    let mut test_pool = TestPool {
        name: p.name.clone(),
        uuid,
        config,
        active: true,
        persistent: true,
        autostart: false,
        capacity,
        base_allocation,
        volumes: Vec::new(),
    };
    let target = test_pool.target();
    for v in &p.volumes {
        let name = v.child_text("name").unwrap_or_default();
        let path = v
            .child("target")
            .and_then(|t| t.child_text("path"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("{}/{}", target.trim_end_matches('/'), name));
        let key = v
            .child_text("key")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| path.clone());
        let format = v
            .child("target")
            .and_then(|t| t.child("format"))
            .and_then(|f| f.attr("type"))
            .unwrap_or("raw")
            .to_string();
        let backing = v.child("backingStore");
        test_pool.volumes.push(TestVolume {
            kind: v
                .attr("type")
                .and_then(VolumeKind::from_libvirt)
                .unwrap_or(VolumeKind::File),
            capacity: size(v, "capacity")?.unwrap_or(0),
            allocation: size(v, "allocation")?.unwrap_or(0),
            backing: backing.and_then(|b| b.child_text("path")),
            backing_format: backing
                .and_then(|b| b.child("format"))
                .and_then(|f| f.attr("type"))
                .map(str::to_string),
            name,
            path,
            key,
            format,
        });
    }
    test_pool.volumes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(test_pool)
}
