//! What the Storage tab shows of one pool: its info and XML, its volumes,
//! and which domains use each volume.

use std::collections::HashMap;

use hangar_core::api::{Command, Connection, PoolInfo, PoolState, VolumeInfo};
use hangar_core::xml::Element;

use crate::backend::{self, expect_reply, UiError};

/// The selected pool's details.
#[derive(Debug)]
pub struct PoolContents {
    /// The pool.
    pub info: PoolInfo,
    /// Its XML.
    pub xml: String,
    /// Its volumes.
    pub volumes: Vec<VolumeInfo>,
    /// Domains using each volume, by volume path.
    pub used_by: HashMap<String, Vec<String>>,
}

/// Reads a pool, its volumes, and which domains use each volume.
pub async fn load_pool(conn: Connection, name: String) -> Result<PoolContents, UiError> {
    let info = expect_reply!(
        backend::call(conn.clone(), Command::PoolInfo { pool: name.clone() }).await?,
        Pool
    )?;
    let xml = expect_reply!(
        backend::call(
            conn.clone(),
            Command::PoolXml {
                pool: name.clone(),
                inactive: false
            }
        )
        .await?,
        Xml
    )?;
    let volumes = if info.state == PoolState::Inactive {
        Vec::new()
    } else {
        expect_reply!(
            backend::call(conn.clone(), Command::ListVolumes { pool: name.clone() }).await?,
            Volumes
        )?
    };
    let mut used_by: HashMap<String, Vec<String>> = HashMap::new();
    let domains = expect_reply!(
        backend::call(conn.clone(), Command::ListDomains).await?,
        Domains
    )?;
    for domain in domains {
        let Ok(reply) = backend::call(
            conn.clone(),
            Command::DomainXml {
                domain: domain.name.clone(),
                inactive: true,
            },
        )
        .await
        else {
            continue;
        };
        let Ok(xml) = expect_reply!(reply, Xml) else {
            continue;
        };
        for path in disk_sources(&xml, &name, &volumes) {
            used_by.entry(path).or_default().push(domain.name.clone());
        }
    }
    Ok(PoolContents {
        info,
        xml,
        volumes,
        used_by,
    })
}

/// The volume paths a domain's disks use: file/block sources, and
/// `<source pool volume>` references into `pool`.
fn disk_sources(xml: &str, pool: &str, volumes: &[VolumeInfo]) -> Vec<String> {
    let Ok(root) = Element::parse(xml) else {
        return Vec::new();
    };
    let Some(devices) = root.child("devices") else {
        return Vec::new();
    };
    devices
        .children_named("disk")
        .filter_map(|disk| disk.child("source"))
        .filter_map(|source| {
            if let Some(path) = source.attr("file").or_else(|| source.attr("dev")) {
                return Some(path.to_string());
            }
            if source.attr("pool") == Some(pool) {
                let volume = source.attr("volume")?;
                return volumes
                    .iter()
                    .find(|v| v.name == volume)
                    .map(|v| v.path.clone());
            }
            None
        })
        .collect()
}
