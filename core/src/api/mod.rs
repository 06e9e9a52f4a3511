//! The async message API: the only way the GUI and `hangarctl` reach a driver.
//!
//! A [`Connection`] is opened on a URI, sends [`Command`]s and receives
//! [`Reply`]s or an [`ApiError`]; [`Event`]s report every change, including
//! those made by other processes sharing the same store.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hangar_core::api::ApiError> {
//! use hangar_core::api::{Command, Connection};
//! let conn = Connection::open("test:///default").await?;
//! for dom in conn.list_domains().await? {
//!     println!("{} {}", dom.name, dom.state);
//! }
//! conn.run(Command::DestroyDomain { domain: "test".into() }).await?;
//! # Ok(()) }
//! ```

mod client;
mod command;
mod connection;
mod driver;
mod error;
mod event;
mod reply;
mod types;

pub use command::{Command, NetworkUpdateOp, PoolAs, Scope, VolumeAs, VolumeRef};
pub use connection::{default_uri, Connection};
pub use driver::{Driver, EventSink};
pub use error::{io_message, ApiError, LookupKey, ObjectKind};
pub use event::{DomainEvent, Event, ObjectEvent};
pub use reply::Reply;
pub use types::{
    DhcpLease, DomainInfo, DomainState, DomainStateInfo, DomainStats, HostInfo, HostStats,
    NetworkInfo, PoolInfo, PoolState, StoreProblem, VolumeInfo, VolumeKind,
};
