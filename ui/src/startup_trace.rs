//! Optional timing of the app's start, for `make bench-ui`.
//!
//! When `HANGAR_TRACE_STARTUP` holds the CLOCK_MONOTONIC time (seconds) at
//! which the launcher started the process, each phase of the start prints
//! one line on stderr: `hangar-startup <seconds since launch> <phase>`.
//! Without the variable nothing is measured or printed.

use std::sync::OnceLock;

use gtk4::glib;

/// The launch time in microseconds of CLOCK_MONOTONIC, when tracing.
static LAUNCHED_AT: OnceLock<Option<i64>> = OnceLock::new();

fn launched_at() -> Option<i64> {
    *LAUNCHED_AT.get_or_init(|| {
        let seconds: f64 = std::env::var("HANGAR_TRACE_STARTUP").ok()?.parse().ok()?;
        Some((seconds * 1e6) as i64)
    })
}

/// Records that `phase` has just been reached.
pub fn mark(phase: &str) {
    if let Some(launched) = launched_at() {
        // g_get_monotonic_time reads CLOCK_MONOTONIC, as Python's
        // time.monotonic() in the launcher does.
        let elapsed = (glib::monotonic_time() - launched) as f64 / 1e6;
        eprintln!("hangar-startup {elapsed:.3} {phase}");
    }
}

/// Whether phases are being traced (to skip work done only for the trace).
pub fn enabled() -> bool {
    launched_at().is_some()
}
