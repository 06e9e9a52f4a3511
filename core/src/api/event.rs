//! `Event`: what a connection broadcasts when something changes, whether the
//! change came from this process or another one sharing the store.

use serde::{Deserialize, Serialize};

use super::error::ObjectKind;
use super::types::{DomainStats, HostStats, StoreProblem};

/// A change in a domain's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainEvent {
    /// The VM started.
    Started,
    /// The VM stopped (destroyed, or an unknown reason).
    Stopped,
    /// The guest shut itself down.
    Shutdown,
    /// The VM was paused.
    Suspended,
    /// The VM continues after a pause.
    Resumed,
    /// The VM crashed.
    Crashed,
    /// The guest suspended itself to memory.
    PmSuspended,
    /// The VM was saved to a file and stopped.
    Saved,
    /// The VM was restored from a saved file.
    Restored,
}

/// A change in the set of definitions or in an object's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectEvent {
    /// A new definition appeared.
    Defined,
    /// An existing definition changed (edit, autostart, memory, ...).
    Changed,
    /// The definition was removed.
    Undefined,
    /// A network or pool was started.
    Started,
    /// A network or pool was stopped.
    Stopped,
    /// A pool's volumes or sizes were re-read.
    Refreshed,
}

/// Everything a connection broadcasts to its subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// A domain's run state changed.
    DomainLifecycle {
        /// Name.
        name: String,
        /// UUID.
        uuid: String,
        /// What happened.
        event: DomainEvent,
    },
    /// A definition was added, changed or removed, or a network or pool changed state.
    Object {
        /// Kind of object.
        kind: ObjectKind,
        /// Its name (for volumes: the volume's name).
        name: String,
        /// The pool, for volumes.
        pool: Option<String>,
        /// What happened.
        event: ObjectEvent,
    },
    /// Periodic usage figures.
    Stats {
        /// The host.
        host: HostStats,
        /// Each running domain.
        domains: Vec<DomainStats>,
    },
    /// A stored definition could not be read; it is left as it is.
    StoreProblem(StoreProblem),
}
