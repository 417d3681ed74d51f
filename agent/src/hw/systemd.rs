//! The daemon's side of `Type=notify` and `WatchdogSec=` (see `packaging/nursery-agent.service`).
//!
//! Both calls do nothing when the agent was not started by systemd (`NOTIFY_SOCKET` unset),
//! so `run` can call them unconditionally. Notification failures are logged, never fatal:
//! a missed `WATCHDOG=1` is what the watchdog is there to notice.

use std::time::Duration;

use sd_notify::NotifyState;

/// `READY=1`: call once the journal is open, the configuration loaded and the hardware
/// threads started; systemd holds back units ordered after this one until then.
pub fn notify_ready() {
    notify(&[NotifyState::Ready]);
}

/// `WATCHDOG=1`: call from the loop that proves the agent is alive (the core's), at least
/// every [`watchdog_interval`].
pub fn notify_watchdog() {
    notify(&[NotifyState::Watchdog]);
}

/// `STOPPING=1`: call when a clean shutdown begins.
pub fn notify_stopping() {
    notify(&[NotifyState::Stopping]);
}

/// How often to send `WATCHDOG=1`: half of `WatchdogSec=` as systemd recommends, or `None`
/// when the watchdog is off.
pub fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0u64;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2))
}

fn notify(state: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(false, state) {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}
