//! How states, sizes and percentages read in the UI, translated.

use gettextrs::gettext;
use hangar_core::api::{DomainState, PoolState};

/// A domain state as virt-manager words it.
pub fn domain_state(state: DomainState) -> String {
    match state {
        DomainState::NoState => gettext("Unknown"),
        DomainState::Running => gettext("Running"),
        DomainState::Blocked => gettext("Idle"),
        DomainState::Paused => gettext("Paused"),
        DomainState::Shutdown => gettext("Shutting Down"),
        DomainState::Shutoff => gettext("Shutoff"),
        DomainState::Crashed => gettext("Crashed"),
        DomainState::PmSuspended => gettext("Suspended"),
    }
}

/// The symbolic icon of a domain state.
pub fn domain_state_icon(state: DomainState) -> &'static str {
    match state {
        DomainState::Running | DomainState::Blocked => "media-playback-start-symbolic",
        DomainState::Paused | DomainState::PmSuspended => "media-playback-pause-symbolic",
        DomainState::Shutdown | DomainState::Shutoff => "system-shutdown-symbolic",
        DomainState::Crashed => "dialog-error-symbolic",
        DomainState::NoState => "dialog-question-symbolic",
    }
}

/// Active or inactive, for networks.
pub fn active(active: bool) -> String {
    if active {
        gettext("Active")
    } else {
        gettext("Inactive")
    }
}

/// A pool state.
pub fn pool_state(state: PoolState) -> String {
    match state {
        PoolState::Inactive => gettext("Inactive"),
        PoolState::Building => gettext("Building"),
        PoolState::Running => gettext("Active"),
        PoolState::Degraded => gettext("Degraded"),
        PoolState::Inaccessible => gettext("Inaccessible"),
    }
}

/// Yes or no, for autostart and the like.
pub fn on_boot(enabled: bool) -> String {
    if enabled {
        gettext("On Boot")
    } else {
        gettext("Never")
    }
}

/// A byte count in binary units, one decimal: "10.0 GiB".
pub fn bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A KiB count as bytes.
pub fn kib(kib: u64) -> String {
    bytes(kib.saturating_mul(1024))
}

/// A 0..=1 fraction as a whole percentage.
pub fn percent(fraction: f64) -> String {
    // A no-break space keeps the number and its sign together.
    format!("{:.0}\u{a0}%", (fraction * 100.0).clamp(0.0, 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(10 * 1024 * 1024 * 1024), "10.0 GiB");
        assert_eq!(kib(1536), "1.5 MiB");
    }
}
