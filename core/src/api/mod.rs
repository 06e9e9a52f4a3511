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
mod endpoint;
mod error;
mod event;
mod reply;
mod types;

pub use command::{Command, CommandFamily, NetworkUpdateOp, PoolAs, Scope, VolumeAs, VolumeRef};
pub use connection::{default_uri, Connection};
pub use driver::{Driver, EventSink};
pub use endpoint::{ConsoleEndpoint, DisplayEndpoint, VNC_BASE_PORT};
pub use error::{io_message, ApiError, LookupKey, ObjectKind};
pub use event::{DomainEvent, Event, ObjectEvent};
pub use reply::Reply;
pub use types::{
    DhcpLease, DomainInfo, DomainState, DomainStateInfo, DomainStats, HostInfo, HostStats,
    MemoryStat, NetworkInfo, PoolInfo, PoolState, StoreProblem, VolumeInfo, VolumeKind,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_json() {
        let commands = vec![
            Command::ListDomains,
            Command::SetDomainVcpus {
                domain: "vm".into(),
                count: 2,
                maximum: false,
                scope: Scope::CONFIG,
            },
            Command::DefinePoolAs(PoolAs {
                name: "p".into(),
                pool_type: "dir".into(),
                target: Some("/p".into()),
                ..PoolAs::default()
            }),
            Command::ResizeVolume {
                volume: VolumeRef::in_pool("p", "v"),
                capacity: 1 << 30,
                delta: true,
                shrink: false,
                allocate: false,
            },
        ];
        for c in commands {
            let text = serde_json::to_string(&c).expect("serializes");
            let back: Command = serde_json::from_str(&text).expect("deserializes");
            assert_eq!(back, c, "{text}");
        }
        let err = ApiError::not_found(ObjectKind::Pool, "p");
        let text = serde_json::to_string(&err).expect("serializes");
        let back: ApiError = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back.to_string(), err.to_string());
        let event = Event::DomainLifecycle {
            name: "vm".into(),
            uuid: "u".into(),
            event: DomainEvent::Started,
        };
        let text = serde_json::to_string(&event).expect("serializes");
        assert_eq!(
            serde_json::from_str::<Event>(&text).expect("deserializes"),
            event
        );
    }

    /// A driver with a bug: the panic fails one command, not the connection.
    struct Faulty;

    impl Driver for Faulty {
        fn call(&mut self, command: Command) -> Result<Reply, ApiError> {
            match command {
                Command::ListDomains => Ok(Reply::Domains(Vec::new())),
                _ => panic!("broken on purpose"),
            }
        }
    }

    #[test]
    fn a_panicking_driver_fails_one_command() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let conn = Connection::spawn("faulty:///", |_| Ok(Box::new(Faulty) as Box<dyn Driver>))
                .await
                .expect("opens");
            let err = conn.call(Command::HostInfo).await.expect_err("panics");
            assert!(err.to_string().contains("broken on purpose"), "{err}");
            assert!(conn.list_domains().await.expect("still open").is_empty());
        });
    }
}
