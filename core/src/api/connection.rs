//! `Connection`: the cheap-to-clone handle the GUI and `hangarctl` hold.
//!
//! Commands travel over a tokio mpsc channel to the driver's own thread and
//! each comes back on a oneshot channel; events fan out on a broadcast
//! channel. tokio's channels need no particular executor, so a GTK main
//! loop can await them as well as a tokio runtime can.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::command::Command;
use super::driver::{Driver, EventSink};
use super::error::ApiError;
use super::event::Event;
use super::reply::Reply;

/// How many events a slow subscriber may fall behind before it misses some.
pub(crate) const EVENT_BUFFER: usize = 1024;
/// How many commands may wait for the driver.
const COMMAND_QUEUE: usize = 64;

/// The URI used when none is given: `$HANGAR_DEFAULT_URI`, else `hangar:///session`.
pub fn default_uri() -> String {
    match std::env::var("HANGAR_DEFAULT_URI") {
        Ok(uri) if !uri.trim().is_empty() => uri.trim().to_string(),
        _ => "hangar:///session".to_string(),
    }
}

struct Request {
    command: Command,
    reply: oneshot::Sender<Result<Reply, ApiError>>,
}

/// A handle on an open connection; clones share the same backend.
///
/// The backend stops when the last clone is dropped.
#[derive(Clone)]
pub struct Connection {
    uri: Arc<str>,
    requests: mpsc::Sender<Request>,
    events: broadcast::Sender<Event>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("uri", &self.uri)
            .finish()
    }
}

impl Connection {
    /// Opens the driver for `uri` (`hangar:///session`, `hangar:///system`,
    /// `test:///default`, `test:///ABS/PATH.xml`).
    pub async fn open(uri: &str) -> Result<Connection, ApiError> {
        let owned = uri.to_string();
        Connection::spawn(uri, move |events| {
            crate::backend::open_driver(&owned, events)
        })
        .await
    }

    /// Opens [`default_uri`].
    pub async fn open_default() -> Result<Connection, ApiError> {
        Connection::open(&default_uri()).await
    }

    /// Opens a connection from outside any async runtime (a plain `main`).
    pub fn open_blocking(uri: &str) -> Result<Connection, ApiError> {
        let owned = uri.to_string();
        let (connection, opened) = Connection::start(uri, move |events| {
            crate::backend::open_driver(&owned, events)
        })?;
        opened.blocking_recv().map_err(|_| ApiError::Closed)??;
        Ok(connection)
    }

    /// Runs a driver built by `make` on a new backend thread.
    pub async fn spawn<F>(uri: &str, make: F) -> Result<Connection, ApiError>
    where
        F: FnOnce(EventSink) -> Result<Box<dyn Driver>, ApiError> + Send + 'static,
    {
        let (connection, opened) = Connection::start(uri, make)?;
        opened.await.map_err(|_| ApiError::Closed)??;
        Ok(connection)
    }

    fn start<F>(
        uri: &str,
        make: F,
    ) -> Result<(Connection, oneshot::Receiver<Result<(), ApiError>>), ApiError>
    where
        F: FnOnce(EventSink) -> Result<Box<dyn Driver>, ApiError> + Send + 'static,
    {
        let (requests, receiver) = mpsc::channel(COMMAND_QUEUE);
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let (opened_tx, opened_rx) = oneshot::channel();
        let sink = EventSink::new(events.clone());
        std::thread::Builder::new()
            .name("hangar-backend".into())
            .spawn(move || run_backend(make, sink, receiver, opened_tx))
            .map_err(|e| ApiError::Internal(format!("cannot start the backend thread: {e}")))?;
        let connection = Connection {
            uri: Arc::from(uri),
            requests,
            events,
        };
        Ok((connection, opened_rx))
    }

    /// The URI this connection was opened with.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Sends a command and waits for its reply.
    pub async fn call(&self, command: Command) -> Result<Reply, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request { command, reply })
            .await
            .map_err(|_| ApiError::Closed)?;
        answer.await.map_err(|_| ApiError::Closed)?
    }

    /// Sends a command and waits for its reply, from outside any async runtime.
    ///
    /// Must not be called from inside an async task (it would block the executor).
    pub fn call_blocking(&self, command: Command) -> Result<Reply, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .blocking_send(Request { command, reply })
            .map_err(|_| ApiError::Closed)?;
        answer.blocking_recv().map_err(|_| ApiError::Closed)?
    }

    /// Subscribes to the connection's events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

/// The backend thread: opens the driver, then serves commands and polls.
fn run_backend<F>(
    make: F,
    sink: EventSink,
    mut receiver: mpsc::Receiver<Request>,
    opened: oneshot::Sender<Result<(), ApiError>>,
) where
    F: FnOnce(EventSink) -> Result<Box<dyn Driver>, ApiError>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = opened.send(Err(ApiError::Internal(format!(
                "cannot start the backend's runtime: {e}"
            ))));
            return;
        }
    };
    let mut driver = match make(sink) {
        Ok(d) => d,
        Err(e) => {
            let _ = opened.send(Err(e));
            return;
        }
    };
    let _ = opened.send(Ok(()));
    runtime.block_on(async move {
        let mut ticker = driver.poll_interval().map(|period| {
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        loop {
            tokio::select! {
                request = receiver.recv() => match request {
                    Some(Request { command, reply }) => {
                        let _ = reply.send(call_guarded(driver.as_mut(), command));
                    }
                    None => break,
                },
                () = next_tick(&mut ticker) => driver.poll(),
            }
        }
    });
}

/// Runs one command; a bug that panics in the driver fails that command
/// instead of closing the connection under every other caller.
fn call_guarded(driver: &mut dyn Driver, command: Command) -> Result<Reply, ApiError> {
    let name = format!("{command:?}");
    let name = name
        .split([' ', '{', '('])
        .next()
        .unwrap_or("command")
        .to_string();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| driver.call(command))).unwrap_or_else(
        |panic| {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(ApiError::Internal(format!(
                "the driver failed on {name}: {why}"
            )))
        },
    )
}

async fn next_tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending::<()>().await,
    }
}
