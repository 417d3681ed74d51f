//! Door contacts: a pure debouncer plus a thin [`InputPin`] adapter.
//!
//! Reed switches bounce for a few milliseconds when the magnet passes, and a
//! slammed door can rattle for longer. The [`Debouncer`] reports a new
//! [`DoorState`] only once the input level has stayed the same for the
//! configured debounce time. It holds no clock: every call carries the
//! caller's timestamp in microseconds, so the same code runs from a GPIO
//! interrupt (edges), a polling loop (samples) or a test (a scripted clock).
//!
//! ## Wiring and polarity
//!
//! The usual alarm wiring is assumed: the input has a pull-up and the reed
//! switch connects it to ground, with the magnet on the door leaf.
//!
//! * [`Polarity::NormallyOpen`] reed: the magnet closes the contact while the
//!   door is shut, so **low = closed, high = open**. A cut wire reads open.
//! * [`Polarity::NormallyClosed`] reed: the magnet opens the contact while the
//!   door is shut, so **high = closed, low = open**. Note that here a cut
//!   wire reads closed, so this wiring is not tamper-evident.
//!
//! With a pull-down instead, pick the other polarity.

use embedded_hal::digital::InputPin;

/// Debounce time used when nothing else is configured: 50 ms, longer than
/// the few-millisecond bounce of reed switches, short enough not to miss a
/// person walking through.
pub const DEFAULT_DEBOUNCE_US: u64 = 50_000;

/// Whether the door is open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DoorState {
    /// The door is open (or the loop is cut, for a normally-open contact).
    Open,
    /// The door is closed.
    Closed,
}

/// Which electrical level means "closed"; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Polarity {
    /// Normally-open reed switch to ground with pull-up: low = closed.
    #[default]
    NormallyOpen,
    /// Normally-closed reed switch to ground with pull-up: high = closed.
    NormallyClosed,
}

impl Polarity {
    /// The door state an input level (`true` = high) stands for.
    pub const fn state_for_level(self, high: bool) -> DoorState {
        match (self, high) {
            (Polarity::NormallyOpen, false) | (Polarity::NormallyClosed, true) => DoorState::Closed,
            (Polarity::NormallyOpen, true) | (Polarity::NormallyClosed, false) => DoorState::Open,
        }
    }
}

/// Debouncer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebounceConfig {
    /// How long, in microseconds, a level must hold before it counts.
    pub debounce_us: u64,
    /// How the level maps to open/closed.
    pub polarity: Polarity,
}

impl Default for DebounceConfig {
    fn default() -> Self {
        Self {
            debounce_us: DEFAULT_DEBOUNCE_US,
            polarity: Polarity::default(),
        }
    }
}

/// A pure debouncer over timestamped levels.
///
/// Feed it every edge or sample with [`Debouncer::update`]; when edges are
/// interrupt-driven, also call [`Debouncer::poll`] periodically, because the
/// last edge of a bounce burst is followed by silence, not by another edge.
///
/// The first stable level after construction is reported as a change too
/// (from "unknown"), so the agent learns the initial state of every door.
#[derive(Debug, Clone)]
pub struct Debouncer {
    config: DebounceConfig,
    /// Last raw level seen and when it started, once anything was seen.
    raw: Option<(bool, u64)>,
    /// Last reported (debounced) state.
    stable: Option<DoorState>,
}

impl Debouncer {
    /// A debouncer that has seen nothing yet.
    pub const fn new(config: DebounceConfig) -> Self {
        Self {
            config,
            raw: None,
            stable: None,
        }
    }

    /// The last debounced state, `None` until the first level has been
    /// stable for the debounce time.
    pub const fn state(&self) -> Option<DoorState> {
        self.stable
    }

    /// The configuration in use.
    pub const fn config(&self) -> DebounceConfig {
        self.config
    }

    /// Records the input level (`true` = high) at `now_us` — an edge or a
    /// plain sample — and returns the new state if it has just become stable
    /// and differs from the last reported one.
    pub fn update(&mut self, high: bool, now_us: u64) -> Option<DoorState> {
        match self.raw {
            Some((level, _)) if level == high => {}
            _ => self.raw = Some((high, now_us)),
        }
        self.poll(now_us)
    }

    /// Lets time pass without a new level; returns the new state if the
    /// current level has now been stable for the debounce time.
    pub fn poll(&mut self, now_us: u64) -> Option<DoorState> {
        let (level, since_us) = self.raw?;
        // A clock that went backwards counts as "no time passed".
        if now_us.saturating_sub(since_us) < self.config.debounce_us {
            return None;
        }
        let state = self.config.polarity.state_for_level(level);
        if self.stable == Some(state) {
            None
        } else {
            self.stable = Some(state);
            Some(state)
        }
    }
}

/// A door contact on a GPIO input: samples the pin and debounces it.
#[derive(Debug)]
pub struct DoorContact<P> {
    pin: P,
    debouncer: Debouncer,
}

impl<P: InputPin> DoorContact<P> {
    /// Wraps the pin; nothing is read until [`DoorContact::sample`].
    pub fn new(pin: P, config: DebounceConfig) -> Self {
        Self {
            pin,
            debouncer: Debouncer::new(config),
        }
    }

    /// Reads the pin once at `now_us` and feeds the level to the debouncer;
    /// returns the new state if it changed. Call this at least a few times
    /// per debounce period.
    pub fn sample(&mut self, now_us: u64) -> Result<Option<DoorState>, P::Error> {
        let high = self.pin.is_high()?;
        Ok(self.debouncer.update(high, now_us))
    }

    /// The last debounced state.
    pub fn state(&self) -> Option<DoorState> {
        self.debouncer.state()
    }

    /// Releases the pin.
    pub fn destroy(self) -> P {
        self.pin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normally_open_reads_low_as_closed() {
        assert_eq!(
            Polarity::NormallyOpen.state_for_level(false),
            DoorState::Closed
        );
        assert_eq!(
            Polarity::NormallyOpen.state_for_level(true),
            DoorState::Open
        );
    }

    #[test]
    fn a_clock_running_backwards_reports_nothing() {
        let mut d = Debouncer::new(DebounceConfig::default());
        assert_eq!(d.update(true, 1_000_000), None);
        assert_eq!(d.poll(0), None);
    }
}
