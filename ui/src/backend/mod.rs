//! The app's side of the backend: a tokio runtime of its own and the
//! error type shown in error dialogs.

mod runtime;

pub use runtime::on_backend;

/// Why a backend request failed, as shown to the user.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UiError {
    /// The backend runtime could not start or a task died.
    #[error("the backend runtime failed: {0}")]
    Runtime(String),
}
