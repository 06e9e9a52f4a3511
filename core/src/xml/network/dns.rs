//! `<dns>` (forwarders, TXT, SRV and host records) and `<domain>`.

use std::net::IpAddr;

use super::values::{self, tristate, yes_no};
use crate::xml::{Element, XmlError};

/// Longest SRV service name libvirt accepts (a DNS packet less its header).
const SRV_SERVICE_MAX: usize = 512 - 30;

/// `<domain name= localOnly= register=/>`: the DNS domain of the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsDomain {
    /// Domain name given to guests.
    pub name: String,
    /// `localOnly='yes'`: never forward queries for this domain upstream.
    pub local_only: Option<bool>,
    /// `register='yes'`: register the domain with the host's resolver.
    pub register: Option<bool>,
}

impl DnsDomain {
    /// Parses `<domain>`; `None` without a name (libvirt ignores it then).
    pub fn parse(el: &Element) -> Result<Option<DnsDomain>, XmlError> {
        let local_only = tristate(el, "localOnly")?;
        let register = tristate(el, "register")?;
        Ok(el.attr("name").map(|name| DnsDomain {
            name: name.to_string(),
            local_only,
            register,
        }))
    }

    /// Formats `<domain>`.
    pub fn to_element(&self) -> Element {
        Element::new("domain")
            .with_attr("name", self.name.as_str())
            .with_opt_attr("localOnly", self.local_only.map(yes_no))
            .with_opt_attr("register", self.register.map(yes_no))
    }
}

/// `<forwarder domain= addr=/>`: where (some) queries go upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsForwarder {
    /// Only queries for this domain (all queries when absent).
    pub domain: Option<String>,
    /// Upstream server; absent means "resolve this domain locally only".
    pub addr: Option<IpAddr>,
}

/// `<txt name= value=/>`: a TXT record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsTxt {
    /// Record name (no spaces or commas).
    pub name: String,
    /// Record text.
    pub value: String,
}

/// `<srv .../>`: an SRV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSrv {
    /// Service name, without the leading underscore.
    pub service: String,
    /// Protocol (`tcp`, `udp`), without the leading underscore.
    pub protocol: String,
    /// Domain; the network's domain when absent.
    pub domain: Option<String>,
    /// Target host; `.` means the service is not available.
    pub target: Option<String>,
    /// Port (1-65535).
    pub port: Option<u16>,
    /// Priority.
    pub priority: Option<u16>,
    /// Weight.
    pub weight: Option<u16>,
}

/// `<host ip=><hostname>...</hostname></host>`: a local name record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsHost {
    /// The address the names resolve to.
    pub ip: IpAddr,
    /// The names, in order.
    pub hostnames: Vec<String>,
}

/// `<dns>`: the DNS service of the network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dns {
    /// `enable='no'` turns the DNS server off.
    pub enable: Option<bool>,
    /// `forwardPlainNames`: forward names without a dot upstream.
    pub forward_plain_names: Option<bool>,
    /// Upstream forwarders.
    pub forwarders: Vec<DnsForwarder>,
    /// TXT records.
    pub txts: Vec<DnsTxt>,
    /// SRV records.
    pub srvs: Vec<DnsSrv>,
    /// Host records.
    pub hosts: Vec<DnsHost>,
}

fn service_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '*'))
}

impl Dns {
    /// True unless `enable='no'`.
    pub fn enabled(&self) -> bool {
        self.enable != Some(false)
    }

    /// Parses `<dns>`.
    pub fn parse(el: &Element, network: &str) -> Result<Dns, XmlError> {
        let mut dns = Dns {
            enable: tristate(el, "enable")?,
            forward_plain_names: tristate(el, "forwardPlainNames")?,
            ..Dns::default()
        };
        for f in el.children_named("forwarder") {
            let addr = f
                .attr("addr")
                .map(|a| values::ip_addr("<forwarder addr>", a))
                .transpose()?;
            let domain = f.attr("domain").map(str::to_string);
            if addr.is_none() && domain.is_none() {
                return Err(XmlError::Conflict(format!(
                    "a <forwarder> of network '{network}' must have at least one of addr or domain"
                )));
            }
            dns.forwarders.push(DnsForwarder { domain, addr });
        }
        for h in el.children_named("host") {
            dns.hosts.push(parse_host(h, network)?);
        }
        for s in el.children_named("srv") {
            dns.srvs.push(parse_srv(s, network)?);
        }
        for t in el.children_named("txt") {
            let name = t.req_attr("name")?;
            if name.contains([' ', ',']) {
                return Err(XmlError::invalid(
                    "<txt name>",
                    name,
                    format!("prohibited character (space or comma) in a TXT record of network '{network}'"),
                ));
            }
            let value = t.req_attr("value")?;
            dns.txts.push(DnsTxt {
                name: name.to_string(),
                value: value.to_string(),
            });
        }
        let has_records = !(dns.forwarders.is_empty()
            && dns.hosts.is_empty()
            && dns.srvs.is_empty()
            && dns.txts.is_empty());
        if !dns.enabled() && has_records {
            return Err(XmlError::Conflict(format!(
                "extra data in disabled DNS of network '{network}': <dns enable='no'> \
                 cannot have forwarder, host, srv or txt records"
            )));
        }
        Ok(dns)
    }

    /// Formats `<dns>`; `None` when there is nothing to write.
    pub fn to_element(&self) -> Option<Element> {
        let empty = self.forwarders.is_empty()
            && self.txts.is_empty()
            && self.srvs.is_empty()
            && self.hosts.is_empty();
        if empty && self.enable.is_none() && self.forward_plain_names.is_none() {
            return None;
        }
        let mut el = Element::new("dns")
            .with_opt_attr("enable", self.enable.map(yes_no))
            .with_opt_attr("forwardPlainNames", self.forward_plain_names.map(yes_no));
        for f in &self.forwarders {
            el.push(
                Element::new("forwarder")
                    .with_opt_attr("domain", f.domain.as_deref())
                    .with_opt_attr("addr", f.addr.map(|a| a.to_string())),
            );
        }
        for t in &self.txts {
            el.push(
                Element::new("txt")
                    .with_attr("name", t.name.as_str())
                    .with_attr("value", t.value.as_str()),
            );
        }
        for s in &self.srvs {
            let nonzero = |v: Option<u16>| v.filter(|v| *v != 0).map(|v| v.to_string());
            el.push(
                Element::new("srv")
                    .with_attr("service", s.service.as_str())
                    .with_attr("protocol", s.protocol.as_str())
                    .with_opt_attr("domain", s.domain.as_deref())
                    .with_opt_attr("target", s.target.as_deref())
                    .with_opt_attr("port", nonzero(s.port))
                    .with_opt_attr("priority", nonzero(s.priority))
                    .with_opt_attr("weight", nonzero(s.weight)),
            );
        }
        for h in &self.hosts {
            let mut host = Element::new("host").with_attr("ip", h.ip.to_string());
            for name in &h.hostnames {
                host.push(Element::new("hostname").with_text(name.as_str()));
            }
            el.push(host);
        }
        Some(el)
    }
}

fn parse_host(el: &Element, network: &str) -> Result<DnsHost, XmlError> {
    let ip = el
        .attr("ip")
        .ok_or_else(|| XmlError::MissingAttribute {
            element: "dns host".into(),
            attribute: "ip".into(),
        })
        .and_then(|raw| values::ip_addr("<dns><host ip>", raw))?;
    let mut hostnames = Vec::new();
    for h in el.children_named("hostname") {
        let name = h.text();
        if name.is_empty() {
            continue;
        }
        hostnames.push(name);
    }
    if hostnames.is_empty() {
        return Err(XmlError::Conflict(format!(
            "missing <hostname> in DNS host record {ip} of network '{network}'"
        )));
    }
    Ok(DnsHost { ip, hostnames })
}

fn parse_srv(el: &Element, network: &str) -> Result<DnsSrv, XmlError> {
    let service = el.req_attr("service")?;
    if service.len() > SRV_SERVICE_MAX {
        return Err(XmlError::invalid(
            "<srv service>",
            service,
            format!("too long, limit is {SRV_SERVICE_MAX} bytes"),
        ));
    }
    if !service_chars_ok(service) {
        return Err(XmlError::invalid(
            "<srv service>",
            service,
            format!("invalid character in a DNS SRV record of network '{network}'"),
        ));
    }
    let protocol = el.req_attr("protocol")?;
    if !service_chars_ok(protocol) {
        return Err(XmlError::invalid(
            "<srv protocol>",
            protocol,
            format!("invalid character in DNS SRV record '{service}' of network '{network}'"),
        ));
    }
    let target = el.attr("target").map(str::to_string);
    let field = |name: &str, min: u32| -> Result<Option<u16>, XmlError> {
        let Some(v) = values::number::<u32>(el, name)? else {
            return Ok(None);
        };
        if target.is_none() {
            return Err(XmlError::Conflict(format!(
                "DNS SRV {name} attribute not permitted without target for service '{service}' \
                 in network '{network}'"
            )));
        }
        if v < min || v > 65535 {
            return Err(XmlError::invalid(
                format!("<srv {name}>"),
                v.to_string(),
                format!("must be {min}-65535"),
            ));
        }
        // Checked against 65535 just above.
        Ok(Some(v as u16))
    };
    Ok(DnsSrv {
        service: service.to_string(),
        protocol: protocol.to_string(),
        domain: el.attr("domain").map(str::to_string),
        port: field("port", 1)?,
        // Zero is libvirt's "unset": it is not written back.
        priority: field("priority", 0)?.filter(|v| *v != 0),
        weight: field("weight", 0)?.filter(|v| *v != 0),
        target,
    })
}
