//! The `Driver` trait every backend implements, and the sink it emits events to.

use std::time::Duration;

use tokio::sync::broadcast;

use super::command::Command;
use super::error::ApiError;
use super::event::Event;
use super::reply::Reply;

/// A backend behind a [`super::Connection`], chosen by URI.
///
/// A driver owns its state and runs on the connection's own thread: `call`
/// may block (file I/O, image copies) without stalling the caller's event
/// loop, and commands of one connection are carried out one at a time.
pub trait Driver: Send + 'static {
    /// Carries out one command.
    fn call(&mut self, command: Command) -> Result<Reply, ApiError>;

    /// How often [`Driver::poll`] should run; `None` for never.
    fn poll_interval(&self) -> Option<Duration> {
        None
    }

    /// Periodic work between commands: noticing changes made by other
    /// processes, watching VMs, emitting usage figures.
    fn poll(&mut self) {}
}

/// Where a driver sends its [`Event`]s; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventSink {
    sender: broadcast::Sender<Event>,
}

impl EventSink {
    pub(crate) fn new(sender: broadcast::Sender<Event>) -> Self {
        EventSink { sender }
    }

    /// A sink whose events go nowhere until someone subscribes (for tests of a driver alone).
    pub fn detached() -> (Self, broadcast::Receiver<Event>) {
        let (sender, receiver) = broadcast::channel(super::connection::EVENT_BUFFER);
        (EventSink { sender }, receiver)
    }

    /// Broadcasts an event; having no subscriber is not an error.
    pub fn emit(&self, event: Event) {
        let _ = self.sender.send(event);
    }
}
