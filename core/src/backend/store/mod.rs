//! The hangar driver's on-disk store: libvirt XML definitions, one file per
//! object, written atomically under an advisory lock, re-read when another
//! process changes them.
//!
//! ```text
//! DATA/.lock                      flock taken by every writer
//! DATA/domains/NAME.xml           definitions
//! DATA/networks/NAME.xml
//! DATA/pools/NAME.xml
//! DATA/autostart/{domains,networks,pools}/NAME   autostart markers
//! DATA/images/                    the `default` pool's folder
//! RUNTIME/pools/NAME              marker: the pool is started (this boot)
//! ```

pub mod atomic;
pub mod catalog;
pub mod lock;

use std::path::{Path, PathBuf};

use crate::api::ApiError;
use crate::xml::{Domain, Network, StoragePool, XmlError};
pub use catalog::{Catalog, Change, Entry};
pub use lock::StoreLock;

/// Where a store keeps its definitions and its run-time state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePaths {
    /// Definitions (kept across reboots).
    pub data: PathBuf,
    /// Run-time state (gone after a reboot).
    pub runtime: PathBuf,
}

impl StorePaths {
    /// `hangar:///session`: `$XDG_DATA_HOME/hangar` (or `~/.local/share/hangar`)
    /// and `$XDG_RUNTIME_DIR/hangar` (or `~/.cache/hangar/run`).
    pub fn session() -> Result<StorePaths, ApiError> {
        let var = |name: &str| std::env::var_os(name).map(PathBuf::from);
        StorePaths::session_from(var("XDG_DATA_HOME"), var("XDG_RUNTIME_DIR"), var("HOME"))
    }

    /// The session folders for these environment values (relative ones are
    /// ignored, as the XDG specification says).
    pub fn session_from(
        xdg_data_home: Option<PathBuf>,
        xdg_runtime_dir: Option<PathBuf>,
        home: Option<PathBuf>,
    ) -> Result<StorePaths, ApiError> {
        let absolute = |p: Option<PathBuf>| p.filter(|p| p.is_absolute());
        let home = absolute(home);
        let data = absolute(xdg_data_home)
            .or_else(|| home.as_ref().map(|h| h.join(".local/share")))
            .ok_or_else(|| {
                ApiError::AccessDenied(
                    "neither XDG_DATA_HOME nor HOME is set, so hangar:///session has no folder"
                        .into(),
                )
            })?
            .join("hangar");
        let runtime = absolute(xdg_runtime_dir)
            .map(|r| r.join("hangar"))
            .or_else(|| home.map(|h| h.join(".cache/hangar/run")))
            .unwrap_or_else(|| data.join("run"));
        Ok(StorePaths { data, runtime })
    }

    /// `hangar:///system`: `/var/lib/hangar` and `/run/hangar`.
    pub fn system() -> StorePaths {
        StorePaths {
            data: PathBuf::from("/var/lib/hangar"),
            runtime: PathBuf::from("/run/hangar"),
        }
    }

    /// Both folders under one root (for tests and custom setups).
    pub fn under(root: &Path) -> StorePaths {
        StorePaths {
            data: root.join("data"),
            runtime: root.join("run"),
        }
    }

    /// The `default` pool's folder.
    pub fn images(&self) -> PathBuf {
        self.data.join("images")
    }
}

fn validate_domain(xml: &str) -> Result<(), XmlError> {
    Domain::parse(xml).map(|_| ())
}

fn validate_network(xml: &str) -> Result<(), XmlError> {
    Network::parse(xml).map(|_| ())
}

fn validate_pool(xml: &str) -> Result<(), XmlError> {
    StoragePool::parse(xml).map(|_| ())
}

/// The three catalogs and the lock of one store.
#[derive(Debug)]
pub struct Store {
    /// Where it lives.
    pub paths: StorePaths,
    /// Domain definitions.
    pub domains: Catalog,
    /// Network definitions.
    pub networks: Catalog,
    /// Pool definitions.
    pub pools: Catalog,
}

impl Store {
    /// Opens (creating its folders if needed) the store at `paths`.
    pub fn open(paths: StorePaths) -> Result<Store, ApiError> {
        let catalog = |root: &'static str, dir: &str, validate: catalog::Validator| {
            Catalog::new(
                root,
                paths.data.join(dir),
                paths.data.join("autostart").join(dir),
                validate,
            )
        };
        let store = Store {
            domains: catalog("domain", "domains", validate_domain),
            networks: catalog("network", "networks", validate_network),
            pools: catalog("pool", "pools", validate_pool),
            paths,
        };
        for dir in [&store.paths.data, &store.paths.runtime] {
            std::fs::create_dir_all(dir)
                .map_err(|e| ApiError::io("cannot create directory", dir, &e))?;
        }
        for c in [&store.domains, &store.networks, &store.pools] {
            c.create_dirs()?;
        }
        Ok(store)
    }

    /// Takes the store's write lock.
    pub fn lock(&self) -> Result<StoreLock, ApiError> {
        let path = self.paths.data.join(".lock");
        StoreLock::acquire(&path).map_err(|e| ApiError::io("cannot lock", &path, &e))
    }

    /// Removes temp files of writers that were killed (hold the lock).
    pub fn remove_stale_temps(&self) -> Result<(), ApiError> {
        for c in [&self.domains, &self.networks, &self.pools] {
            atomic::remove_stale_temps(c.dir())
                .map_err(|e| ApiError::io("cannot clean directory", c.dir(), &e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_folders_follow_xdg() {
        let p = StorePaths::session_from(
            Some("/x/data".into()),
            Some("/run/user/1000".into()),
            Some("/home/u".into()),
        )
        .expect("paths");
        assert_eq!(p.data, PathBuf::from("/x/data/hangar"));
        assert_eq!(p.runtime, PathBuf::from("/run/user/1000/hangar"));
        let p = StorePaths::session_from(None, None, Some("/home/u".into())).expect("paths");
        assert_eq!(p.data, PathBuf::from("/home/u/.local/share/hangar"));
        assert_eq!(p.runtime, PathBuf::from("/home/u/.cache/hangar/run"));
        let p =
            StorePaths::session_from(Some("rel".into()), None, Some("/h".into())).expect("paths");
        assert_eq!(p.data, PathBuf::from("/h/.local/share/hangar"));
        assert!(StorePaths::session_from(None, None, None).is_err());
    }
}
