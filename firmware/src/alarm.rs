//! Buzzer / warning-light output driven by a severity pattern.
//!
//! Non-blocking: the driver never sleeps. The caller raises a [`Severity`]
//! and then calls [`Alarm::step`] with the current time in milliseconds as
//! often as it likes (every 10–50 ms is plenty); each call drives the pin to
//! whatever the pattern says for that instant. The pin is only written when
//! the level changes, so stepping often costs nothing on the bus.
//!
//! The pattern repeats until [`Alarm::acknowledge`] (the next `step` turns the
//! output off) or [`Alarm::silence`] (off immediately).
//!
//! The output is active-high: `set_high` sounds the buzzer / lights the lamp.

use embedded_hal::digital::OutputPin;

/// How urgent the alarm is; each has its own [`Pattern`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Severity {
    /// No alarm: output off.
    #[default]
    Off,
    /// Slow beeps: something needs attention soon (e.g. temperature drifting).
    Warning,
    /// Fast beeps: act now (e.g. door open at night, temperature out of range).
    Critical,
}

/// An on/off cycle: the output is on for the first `on_ms` of every
/// `period_ms`, starting when the alarm is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pattern {
    /// Time on at the start of each period, in ms.
    pub on_ms: u64,
    /// Length of one cycle, in ms; 0 means "always off".
    pub period_ms: u64,
}

impl Pattern {
    /// Critical: 100 ms on, 100 ms off (2.5 beeps per second).
    pub const CRITICAL: Pattern = Pattern {
        on_ms: 100,
        period_ms: 200,
    };
    /// Warning: 200 ms on every 2 s.
    pub const WARNING: Pattern = Pattern {
        on_ms: 200,
        period_ms: 2_000,
    };
    /// Off.
    pub const OFF: Pattern = Pattern {
        on_ms: 0,
        period_ms: 0,
    };

    /// The pattern for a severity.
    pub const fn for_severity(severity: Severity) -> Pattern {
        match severity {
            Severity::Off => Pattern::OFF,
            Severity::Warning => Pattern::WARNING,
            Severity::Critical => Pattern::CRITICAL,
        }
    }

    /// Whether the output is on `elapsed_ms` after the pattern started.
    pub const fn is_on(&self, elapsed_ms: u64) -> bool {
        self.period_ms != 0 && elapsed_ms % self.period_ms < self.on_ms
    }
}

/// The alarm output on one GPIO pin.
#[derive(Debug)]
pub struct Alarm<P> {
    pin: P,
    severity: Severity,
    /// When the current pattern started, in ms.
    started_ms: u64,
    /// Level last written successfully; `None` before the first write or
    /// after a failed one, so the next step writes again.
    written: Option<bool>,
}

impl<P: OutputPin> Alarm<P> {
    /// Wraps the pin; it is first driven by the next [`Alarm::step`] (low,
    /// unless an alarm was raised in between).
    pub fn new(pin: P) -> Self {
        Self {
            pin,
            severity: Severity::Off,
            started_ms: 0,
            written: None,
        }
    }

    /// The severity currently sounding.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// Starts (or escalates to) `severity` at `now_ms`.
    ///
    /// Raising a severity lower than or equal to the one already sounding
    /// changes nothing — a warning must not quieten a critical alarm, and
    /// re-raising must not restart the rhythm. Raising [`Severity::Off`] is
    /// a no-op; use [`Alarm::acknowledge`] to stop.
    pub fn raise(&mut self, severity: Severity, now_ms: u64) {
        if severity > self.severity {
            self.severity = severity;
            self.started_ms = now_ms;
        }
    }

    /// Stops the pattern; the next [`Alarm::step`] turns the output off.
    pub fn acknowledge(&mut self) {
        self.severity = Severity::Off;
    }

    /// Stops the pattern and turns the output off now.
    pub fn silence(&mut self) -> Result<(), P::Error> {
        self.acknowledge();
        self.drive(false)
    }

    /// Drives the pin to the level the pattern gives at `now_ms`.
    pub fn step(&mut self, now_ms: u64) -> Result<(), P::Error> {
        let elapsed = now_ms.saturating_sub(self.started_ms);
        let on = Pattern::for_severity(self.severity).is_on(elapsed);
        self.drive(on)
    }

    /// Releases the pin (in whatever state it was last driven to).
    pub fn destroy(self) -> P {
        self.pin
    }

    fn drive(&mut self, on: bool) -> Result<(), P::Error> {
        if self.written == Some(on) {
            return Ok(());
        }
        self.written = None;
        if on {
            self.pin.set_high()?;
        } else {
            self.pin.set_low()?;
        }
        self.written = Some(on);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_is_on_for_the_first_half_of_each_200_ms() {
        let p = Pattern::CRITICAL;
        assert!(p.is_on(0));
        assert!(p.is_on(99));
        assert!(!p.is_on(100));
        assert!(!p.is_on(199));
        assert!(p.is_on(200));
    }

    #[test]
    fn off_is_never_on() {
        assert!(!Pattern::OFF.is_on(0));
        assert!(!Pattern::OFF.is_on(12_345));
    }
}
