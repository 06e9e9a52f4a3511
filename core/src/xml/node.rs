//! libvirt's test-driver `<node>` host file: a fake host's CPUs and memory,
//! its domains (with their run states), networks, storage pools and their
//! volumes, node devices and interfaces.
//!
//! Objects are written inline or included with `<domain file='x.xml'/>`,
//! paths relative to the node file. Domains carry run-time facts in the test
//! namespace `http://libvirt.org/schemas/domain/test/1.0` (any prefix):
//! `<test:runstate>N</test:runstate>` (libvirt's `virDomainState` number;
//! absent means running), `<test:transient/>`, `<test:hasmanagedsave/>` and
//! `<test:domainsnapshot>`. As in libvirt, every network and pool of a node
//! file starts active and none autostarts.

use std::path::Path;

use super::tree::Node;
use super::{Element, XmlError};

/// The namespace of the test driver's extra domain elements.
pub const TEST_NAMESPACE: &str = "http://libvirt.org/schemas/domain/test/1.0";

/// The host's processor description (`nodeinfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCpu {
    /// NUMA nodes.
    pub nodes: u32,
    /// Sockets per node.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
    /// Online CPUs.
    pub active: u32,
    /// Frequency in MHz.
    pub mhz: u32,
    /// Model name.
    pub model: String,
}

impl Default for NodeCpu {
    /// libvirt's test driver defaults (2 nodes of 2 sockets of 2 cores of 2 threads).
    fn default() -> Self {
        NodeCpu {
            nodes: 2,
            sockets: 2,
            cores: 2,
            threads: 2,
            active: 16,
            mhz: 1400,
            model: "i686".to_string(),
        }
    }
}

/// A domain of the node file with its test-namespace facts split out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDomain {
    /// Name.
    pub name: String,
    /// The `<domain>` element without the test-namespace children.
    pub definition: Element,
    /// libvirt `virDomainState` number from `<test:runstate>` (`None` = running).
    pub runstate: Option<u32>,
    /// `<test:transient/>`: the domain has no persistent definition.
    pub transient: bool,
    /// `<test:hasmanagedsave/>`.
    pub has_managed_save: bool,
    /// `<test:domainsnapshot>` elements, verbatim.
    pub snapshots: Vec<Element>,
}

/// A storage pool of the node file and its volumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePool {
    /// Name.
    pub name: String,
    /// The `<pool>` element without its `<volume>` children.
    pub definition: Element,
    /// The `<volume>` elements.
    pub volumes: Vec<Element>,
}

/// A named object of the node file (network, interface, device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeObject {
    /// Name.
    pub name: String,
    /// The element.
    pub definition: Element,
}

/// A `<node>` file describing a fake host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFile {
    /// Processors.
    pub cpu: NodeCpu,
    /// Memory in KiB.
    pub memory_kib: u64,
    /// Domains in file order.
    pub domains: Vec<NodeDomain>,
    /// Networks in file order.
    pub networks: Vec<NodeObject>,
    /// Storage pools in file order.
    pub pools: Vec<NodePool>,
    /// Host interfaces.
    pub interfaces: Vec<NodeObject>,
    /// Node devices.
    pub devices: Vec<NodeObject>,
    raw: Element,
}

/// libvirt's test driver default memory (16 GiB in KiB).
const DEFAULT_MEMORY_KIB: u64 = 16 * 1024 * 1024;

impl NodeFile {
    /// Parses a self-contained `<node>` document; a `file=` include is an error.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        NodeFile::parse_with(xml, &mut |file| {
            Err(XmlError::invalid(
                "included file",
                file,
                "includes need the node file's folder; load it from a path",
            ))
        })
    }

    /// Reads a node file, resolving `file=` includes relative to its folder.
    pub fn load(path: &Path) -> Result<Self, XmlError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            XmlError::invalid("node file", path.display().to_string(), e.to_string())
        })?;
        let base = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        NodeFile::parse_with(&text, &mut |file| {
            let full = base.join(file);
            std::fs::read_to_string(&full).map_err(|e| {
                XmlError::invalid("included file", full.display().to_string(), e.to_string())
            })
        })
    }

    /// Parses a `<node>` document; `read_include` returns the text of a `file=` include.
    pub fn parse_with(
        xml: &str,
        read_include: &mut dyn FnMut(&str) -> Result<String, XmlError>,
    ) -> Result<Self, XmlError> {
        let raw = super::parse_root(xml, "node")?;
        let root_prefixes = test_prefixes(&raw, &[]);
        let mut node = NodeFile {
            cpu: NodeCpu::default(),
            memory_kib: DEFAULT_MEMORY_KIB,
            domains: Vec::new(),
            networks: Vec::new(),
            pools: Vec::new(),
            interfaces: Vec::new(),
            devices: Vec::new(),
            raw: raw.clone(),
        };
        for child in raw.elements() {
            match child.name.as_str() {
                "cpu" => node.cpu = parse_cpu(child)?,
                "memory" => node.memory_kib = parse_number(child, "node memory")?,
                "domain" => {
                    let el = resolve(child, "domain", read_include)?;
                    node.domains.push(parse_domain(el, &root_prefixes)?);
                }
                "network" => {
                    let el = resolve(child, "network", read_include)?;
                    node.networks.push(named(el, "network")?);
                }
                "interface" => {
                    let el = resolve(child, "interface", read_include)?;
                    node.interfaces.push(named(el, "interface")?);
                }
                "device" => {
                    let el = resolve(child, "device", read_include)?;
                    node.devices.push(named(el, "device")?);
                }
                "pool" => node.pools.push(parse_pool(child, read_include)?),
                _ => {}
            }
        }
        Ok(node)
    }

    /// Formats the node file as it was read (includes are kept as includes).
    pub fn to_xml(&self) -> String {
        self.raw.to_xml()
    }
}

fn parse_number(el: &Element, what: &str) -> Result<u64, XmlError> {
    let text = el.text();
    text.trim()
        .parse()
        .map_err(|_| XmlError::invalid(what, text.trim(), "expected a non-negative integer"))
}

fn parse_cpu(el: &Element) -> Result<NodeCpu, XmlError> {
    let mut cpu = NodeCpu::default();
    for child in el.elements() {
        let what = format!("<cpu><{}>", child.name);
        let number = || -> Result<u32, XmlError> {
            let n = parse_number(child, &what)?;
            u32::try_from(n).map_err(|_| XmlError::invalid(&what, n.to_string(), "too large"))
        };
        match child.name.as_str() {
            "nodes" => cpu.nodes = number()?,
            "sockets" => cpu.sockets = number()?,
            "cores" => cpu.cores = number()?,
            "threads" => cpu.threads = number()?,
            "active" => cpu.active = number()?,
            "mhz" => cpu.mhz = number()?,
            "model" => cpu.model = child.text().trim().to_string(),
            _ => {}
        }
    }
    // libvirt caps the online count at what the topology holds.
    let total = cpu.nodes * cpu.sockets * cpu.cores * cpu.threads;
    if cpu.active == 0 || cpu.active > total {
        cpu.active = total;
    }
    Ok(cpu)
}

/// Returns the element itself, or the root of the file its `file=` names.
fn resolve(
    el: &Element,
    kind: &str,
    read_include: &mut dyn FnMut(&str) -> Result<String, XmlError>,
) -> Result<Element, XmlError> {
    match el.attr("file") {
        Some(file) => {
            let text = read_include(file)?;
            super::parse_root(&text, kind)
        }
        None => Ok(el.clone()),
    }
}

fn named(el: Element, kind: &str) -> Result<NodeObject, XmlError> {
    let name = el
        .child_text("name")
        .ok_or_else(|| XmlError::missing(kind, "name"))?;
    Ok(NodeObject {
        name,
        definition: el,
    })
}

/// The prefixes bound to the test namespace on `el`, plus those inherited.
fn test_prefixes(el: &Element, inherited: &[String]) -> Vec<String> {
    let mut out = inherited.to_vec();
    for (k, v) in &el.attrs {
        if let Some(prefix) = k.strip_prefix("xmlns:") {
            if v == TEST_NAMESPACE && !out.iter().any(|p| p == prefix) {
                out.push(prefix.to_string());
            }
        }
    }
    out
}

/// The local name of `name` when its prefix is one of `prefixes`.
fn test_local<'a>(name: &'a str, prefixes: &[String]) -> Option<&'a str> {
    let (prefix, local) = name.split_once(':')?;
    prefixes.iter().any(|p| p == prefix).then_some(local)
}

fn parse_domain(mut el: Element, inherited: &[String]) -> Result<NodeDomain, XmlError> {
    let prefixes = test_prefixes(&el, inherited);
    let mut domain = NodeDomain {
        name: String::new(),
        definition: Element::new("domain"),
        runstate: None,
        transient: false,
        has_managed_save: false,
        snapshots: Vec::new(),
    };
    let mut kept = Vec::with_capacity(el.children.len());
    for child in std::mem::take(&mut el.children) {
        let Node::Element(e) = &child else {
            kept.push(child);
            continue;
        };
        match test_local(&e.name, &prefixes) {
            Some("runstate") => {
                let n = parse_number(e, "<test:runstate>")?;
                if n > 7 {
                    return Err(XmlError::invalid(
                        "<test:runstate>",
                        n.to_string(),
                        "expected a domain state from 0 to 7",
                    ));
                }
                domain.runstate = u32::try_from(n).ok();
            }
            Some("transient") => domain.transient = true,
            Some("hasmanagedsave") => domain.has_managed_save = true,
            Some("domainsnapshot") => domain.snapshots.push(e.clone()),
            Some(_) => {}
            None => kept.push(child),
        }
    }
    el.children = kept;
    // The namespace declaration only served the elements just removed.
    el.attrs
        .retain(|(k, v)| !(k.starts_with("xmlns:") && v == TEST_NAMESPACE));
    domain.name = el
        .child_text("name")
        .ok_or_else(|| XmlError::missing("domain", "name"))?;
    if domain.transient && domain.has_managed_save {
        return Err(XmlError::Conflict(format!(
            "domain '{}': a transient domain cannot have a managed save image",
            domain.name
        )));
    }
    domain.definition = el;
    Ok(domain)
}

fn parse_pool(
    el: &Element,
    read_include: &mut dyn FnMut(&str) -> Result<String, XmlError>,
) -> Result<NodePool, XmlError> {
    let mut definition = resolve(el, "pool", read_include)?;
    // Volumes may sit in the included pool file or beside the include element.
    let mut volume_elements: Vec<Element> = Vec::new();
    definition.children.retain(|n| match n {
        Node::Element(e) if e.name == "volume" => {
            volume_elements.push(e.clone());
            false
        }
        _ => true,
    });
    if el.attr("file").is_some() {
        volume_elements.extend(el.children_named("volume").cloned());
    }
    let name = definition
        .child_text("name")
        .ok_or_else(|| XmlError::missing("pool", "name"))?;
    let mut volumes = Vec::with_capacity(volume_elements.len());
    for v in &volume_elements {
        let vol = resolve(v, "volume", read_include)?;
        if vol.child_text("name").is_none() {
            return Err(XmlError::missing("volume", "name"));
        }
        volumes.push(vol);
    }
    Ok(NodePool {
        name,
        definition,
        volumes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inline_objects_and_test_namespace() {
        let xml = r#"<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads><mhz>3000</mhz></cpu>
  <memory>4096</memory>
  <domain type='test' xmlns:t='http://libvirt.org/schemas/domain/test/1.0'>
    <t:runstate>5</t:runstate>
    <name>off</name>
    <t:hasmanagedsave/>
  </domain>
  <domain type='test'><name>on</name></domain>
  <network><name>n</name></network>
  <pool type='dir'><name>p</name><volume><name>v</name></volume></pool>
</node>"#;
        let node = NodeFile::parse(xml).expect("valid node file");
        assert_eq!(node.memory_kib, 4096);
        assert_eq!(node.cpu.active, 2);
        assert_eq!(node.domains.len(), 2);
        assert_eq!(node.domains[0].runstate, Some(5));
        assert!(node.domains[0].has_managed_save);
        assert!(node.domains[0].definition.child("t:runstate").is_none());
        assert!(node.domains[0].definition.attr("xmlns:t").is_none());
        assert_eq!(node.domains[1].runstate, None);
        assert_eq!(node.networks[0].name, "n");
        assert_eq!(node.pools[0].volumes.len(), 1);
        assert!(node.pools[0].definition.child("volume").is_none());
    }

    #[test]
    fn include_without_a_folder_is_an_error() {
        let xml = "<node><domain file='d.xml'/></node>";
        assert!(NodeFile::parse(xml).is_err());
    }
}
