//! `attach-device` / `detach-device` (and `dommemstat`) on the test driver: the in-memory
//! definition changes; like `hangar-vmm`, a running domain's devices cannot
//! be hot-plugged yet.

use std::path::Path;

use super::TestDriver;
use crate::api::{ApiError, MemoryStat, ObjectEvent, Reply, Scope};
use crate::backend::definition::devices::{self, Device, LIVE_UNSUPPORTED};
use crate::backend::definition::domain;

impl TestDriver {
    /// `dommemstat`: a fake guest has no balloon driver reporting figures,
    /// so only `actual` (its current memory) is known.
    pub(super) fn memory_stats(&self, key: &str) -> Result<Reply, ApiError> {
        let index = self.find_domain(key)?;
        let d = &self.domains[index];
        if d.id.is_none() {
            return Err(ApiError::invalid_op("domain is not running"));
        }
        Ok(Reply::MemoryStats(vec![MemoryStat {
            tag: "actual".into(),
            value: domain::memory_kib(d.current()),
        }]))
    }

    /// True when `path` is one of the fake host's volumes or a real file.
    fn source_exists(&self, path: &str) -> bool {
        self.pools
            .iter()
            .any(|p| p.volumes.iter().any(|v| v.path == path))
            || Path::new(path).exists()
    }

    /// Attaches (`attach` true) or detaches `xml` in the definition of `key`.
    pub(super) fn change_devices(
        &mut self,
        key: &str,
        xml: &str,
        scope: Scope,
        attach: bool,
    ) -> Result<Reply, ApiError> {
        let index = self.find_domain(key)?;
        let targets = self.targets(index, scope)?;
        if targets.live {
            return Err(ApiError::unsupported(LIVE_UNSUPPORTED));
        }
        let device = Device::parse(xml)?;
        // Edit a copy so a refused change leaves the definition as it was.
        let mut config = self.domains[index].config.clone();
        if attach {
            devices::attach(&mut config, device, &|p| self.source_exists(p))?;
        } else {
            devices::detach(&mut config, &device)?;
        }
        domain::canonical(&config)?;
        let d = &mut self.domains[index];
        d.config = config;
        let name = d.name.clone();
        self.changed(&name, ObjectEvent::Changed);
        Ok(Reply::Done)
    }
}
