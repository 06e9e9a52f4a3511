//! `attach-device` / `detach-device` in the hangar driver: the stored
//! definition is changed under the store lock and written atomically.
//! `hangar-vmm` has no device hot-plug yet, so a running domain's live
//! devices are refused with a message pointing at `--config`.

use std::path::Path;

use super::HangarDriver;
use crate::api::{ApiError, ObjectEvent, ObjectKind, Reply, Scope};
use crate::backend::definition::devices::{self, Device, LIVE_UNSUPPORTED};
use crate::backend::definition::domain;

impl HangarDriver {
    /// Attaches (`attach` true) or detaches `xml` in the definition of `key`.
    pub(super) fn change_devices(
        &mut self,
        key: &str,
        xml: &str,
        scope: Scope,
        attach: bool,
    ) -> Result<Reply, ApiError> {
        let device = Device::parse(xml)?;
        self.locked(|d| {
            let name = d.domain_name(key)?;
            let running = d.known_domain(&name)?.run.is_active();
            let live = scope.live || (!scope.config && running);
            if live && running {
                return Err(ApiError::unsupported(LIVE_UNSUPPORTED));
            }
            if live {
                return Err(ApiError::invalid_op("domain is not running"));
            }
            let mut el = d
                .store
                .domains
                .get(&name)
                .map(|e| e.xml.clone())
                .ok_or_else(|| {
                    ApiError::invalid_op("cannot change persistent config of a transient domain")
                })?;
            if attach {
                devices::attach(&mut el, device, &|p| Path::new(p).exists())?;
            } else {
                devices::detach(&mut el, &device)?;
            }
            let canonical = domain::canonical(&el)?;
            d.store.domains.put(&name, &canonical)?;
            d.emit(ObjectKind::Domain, &name, None, ObjectEvent::Changed);
            Ok(Reply::Done)
        })
    }
}
