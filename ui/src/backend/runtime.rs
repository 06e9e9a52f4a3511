//! A tokio runtime for backend work that must not depend on its caller:
//! command sequences that must complete and blocking calls. Separate from
//! GTK's main loop and from relm4's own runtime, and started only when
//! first needed (opening a connection and single calls do not need it).

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

use super::UiError;

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The runtime, started on first use with its own worker threads.
fn runtime() -> Result<&'static Runtime, UiError> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("hangar-backend")
                .enable_all()
                .build()
                .map_err(|err| err.to_string())
        })
        .as_ref()
        .map_err(|reason| UiError::Runtime(reason.clone()))
}

/// Runs `future` on the backend runtime and waits for it from any other
/// runtime (relm4's command runtime, in practice).
pub async fn on_backend<F>(future: F) -> Result<F::Output, UiError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    runtime()?
        .spawn(future)
        .await
        .map_err(|err| UiError::Runtime(err.to_string()))
}
