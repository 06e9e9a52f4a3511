//! The app's side of the backend: opening connections, sending them
//! commands, and the error shown in error dialogs.
//!
//! Components never block on the backend: they hand one of these futures
//! to relm4's `oneshot_command`, and the answer comes back as a message.
//! A [`Connection`] is channels to its driver's own thread, which any
//! executor can await, so single calls are awaited right where they are
//! made; only work that must outlive its caller or that blocks goes to
//! the backend runtime ([`on_backend`]), started the first time it is
//! needed.

mod runtime;

use hangar_core::api::{ApiError, Command, Connection, Event, Reply};
use tokio::sync::broadcast;

pub use runtime::on_backend;

/// Why a backend request failed, as shown to the user.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UiError {
    /// The backend runtime could not start or a task died.
    #[error("the backend runtime failed: {0}")]
    Runtime(String),
    /// The driver refused or failed the command.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The driver answered with a reply of the wrong kind.
    #[error("the backend answered '{got}' where '{wanted}' was expected")]
    UnexpectedReply {
        /// The reply kind that was expected.
        wanted: &'static str,
        /// The reply kind that came.
        got: &'static str,
    },
    /// The user's input is not valid.
    #[error("{0}")]
    Input(String),
}

impl UiError {
    /// The full text for the dialog's details: the message and its
    /// structured form.
    pub fn details(&self) -> String {
        match self {
            UiError::Api(api) => format!("{self}\n\n{api:#?}"),
            other => other.to_string(),
        }
    }
}

/// Opens `uri` (the driver starts on a thread of its own).
pub async fn open(uri: String) -> Result<Connection, UiError> {
    Ok(Connection::open(&uri).await?)
}

/// Sends `command` on `conn`. Once sent, the driver carries it out even if
/// the caller stops waiting for the reply.
pub async fn call(conn: Connection, command: Command) -> Result<Reply, UiError> {
    Ok(conn.call(command).await?)
}

/// Sends several commands in order, stopping at the first failure; they run
/// on the backend runtime so that the sequence completes even when the
/// component that asked for it closes meanwhile.
pub async fn call_all(conn: Connection, commands: Vec<Command>) -> Result<Vec<Reply>, UiError> {
    on_backend(async move {
        let mut replies = Vec::with_capacity(commands.len());
        for command in commands {
            replies.push(conn.call(command).await?);
        }
        Ok::<_, ApiError>(replies)
    })
    .await?
    .map_err(UiError::from)
}

/// Receives the next event, skipping over the ones a slow reader missed.
///
/// `None` once the connection is closed.
pub async fn next_event(events: &mut broadcast::Receiver<Event>) -> Option<Event> {
    loop {
        match events.recv().await {
            Ok(event) => return Some(event),
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

/// Unwraps a reply of the expected kind, e.g. `expect!(reply, Domains)`.
macro_rules! expect_reply {
    ($reply:expr, $variant:ident) => {
        match $reply {
            hangar_core::api::Reply::$variant(value) => Ok(value),
            other => Err($crate::backend::UiError::UnexpectedReply {
                wanted: stringify!($variant),
                got: other.kind(),
            }),
        }
    };
}
pub(crate) use expect_reply;
