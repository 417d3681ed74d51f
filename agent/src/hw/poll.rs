//! What the I²C and 1-Wire threads share: reading each sensor at its own interval, and
//! turning outcomes into events without repeating a fault that is still the same.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{sleep_until, Sink};
use crate::event::EventKind;

/// Why a sensor gave no reading; the `reason` of the `sensor_fault` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing answers at the sensor's address (I²C NACK), or its 1-Wire slave is gone.
    Absent,
    /// The bytes arrived but failed their CRC: wiring, noise, a long cable.
    Crc,
    /// The bus itself failed (arbitration lost, timeout, I/O error), still after retries.
    Bus,
    /// A DS18B20 answered with its power-on value, 85.000 °C: it lost power or was read
    /// before a conversion finished.
    PowerOnReset,
    /// The kernel's file did not have the expected shape.
    Garbage,
}

impl Fault {
    pub fn reason(self) -> &'static str {
        match self {
            Fault::Absent => "absent",
            Fault::Crc => "crc",
            Fault::Bus => "bus",
            Fault::PowerOnReset => "power_on_reset",
            Fault::Garbage => "garbage",
        }
    }
}

/// One successful reading, in the event's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub celsius: Option<f64>,
    pub humidity: Option<f64>,
}

/// The outcome of reading one sensor once.
pub type Outcome = Result<Reading, Fault>;

/// Turns outcomes into events: every reading, and a fault only when it differs from the last
/// outcome (the rules keep a `sensor_fault` raised until the next valid reading, so repeating
/// it every poll would only fill the journal).
#[derive(Debug, Default)]
pub struct FaultFilter {
    last_fault: Option<Fault>,
}

impl FaultFilter {
    pub fn event(&mut self, sensor: &str, outcome: Outcome) -> Option<EventKind> {
        match outcome {
            Ok(r) => {
                self.last_fault = None;
                Some(EventKind::Reading {
                    sensor: sensor.to_owned(),
                    celsius: r.celsius,
                    humidity: r.humidity,
                })
            }
            Err(f) if self.last_fault == Some(f) => None,
            Err(f) => {
                self.last_fault = Some(f);
                Some(EventKind::SensorFault {
                    sensor: sensor.to_owned(),
                    reason: f.reason().to_owned(),
                })
            }
        }
    }
}

/// Reads sensor `i` (of `polls.len()`) whenever it is due, each at its own interval, until
/// cancelled. The first reads are spread over the first second so sensors on one bus do
/// not all start together.
pub fn run(
    ids: &[String],
    polls: &[Duration],
    mut read: impl FnMut(usize) -> Outcome,
    sink: &Sink,
    cancel: &CancellationToken,
) {
    let start = Instant::now();
    let n = ids.len().max(1) as u32;
    let mut due: Vec<Instant> = (0..ids.len())
        .map(|i| start + Duration::from_secs(1) * i as u32 / n)
        .collect();
    let mut filters: Vec<FaultFilter> = ids.iter().map(|_| FaultFilter::default()).collect();
    loop {
        let Some((i, &when)) = due.iter().enumerate().min_by_key(|(_, t)| **t) else {
            return;
        };
        if !sleep_until(when, cancel) {
            return;
        }
        let outcome = read(i);
        if let Err(f) = outcome {
            tracing::warn!(sensor = %ids[i], reason = f.reason(), "sensor read failed");
        }
        if let Some(ev) = filters[i].event(&ids[i], outcome) {
            if !sink.send(ev, chrono::Utc::now()) {
                return;
            }
        }
        // A read that overran its slot (retries) does not cause a burst of catch-up reads.
        due[i] = (when + polls[i]).max(Instant::now());
    }
}
