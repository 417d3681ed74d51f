//! SHT3x / SHT4x sensors on an I²C bus, read by one thread that owns the bus.
//!
//! [`BusPoller`] is generic over [`embedded_hal::i2c::I2c`], so the tests drive it with
//! `embedded-hal-mock`; [`spawn_linux`] binds it to `linux_embedded_hal::I2cdev`. The
//! measurements themselves are the firmware crate's drivers: the poller lends them the bus
//! for one measurement and takes it back with `destroy()`.
//!
//! ## Errors
//!
//! | what happened | how it is classified | what the agent does |
//! |---|---|---|
//! | no acknowledge (`ErrorKind::NoAcknowledge`, or `EREMOTEIO` from the Pi's `i2c-bcm2835`) | the sensor is absent | `sensor_fault` `"absent"` at once |
//! | CRC mismatch in the response | the bytes are corrupt | `sensor_fault` `"crc"` at once |
//! | any other bus error (arbitration loss, `EIO`, timeout) | the bus is busy or glitched | retried [`Backoff::attempts`] times with doubling delays, then `sensor_fault` `"bus"` |
//!
//! A fault is sent once and not repeated while it lasts; the next good reading clears it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::{ErrorKind, I2c};
use nursery_firmware::{sht3x, sht4x};
use tokio_util::sync::CancellationToken;

use super::poll::{self, Fault, Outcome, Reading};
use super::{thread, HwError, Sink};
use crate::config::{Config, SensorKind};

/// Which driver talks to a sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chip {
    Sht3x,
    Sht4x,
}

/// One configured I²C sensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I2cSensor {
    pub id: String,
    pub chip: Chip,
    pub address: u8,
    pub poll: Duration,
}

/// How a bus error is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// Wait before the second try; doubles before each further try.
    pub first: Duration,
    /// Cap on one wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 3 tries, 100 ms then 200 ms apart: enough to ride out another master or a glitch,
    /// short against the one-minute poll.
    fn default() -> Self {
        Backoff {
            attempts: 3,
            first: Duration::from_millis(100),
            max: Duration::from_secs(2),
        }
    }
}

impl Backoff {
    /// The wait after failed try `n` (1-based).
    pub fn wait(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// How an I²C error is to be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Nobody acknowledged: the sensor is absent (or unpowered).
    Absent,
    /// Worth retrying.
    Transient,
}

/// Classifies by the portable [`ErrorKind`].
pub fn classify_kind<E: embedded_hal::i2c::Error>(e: &E) -> ErrorClass {
    match e.kind() {
        ErrorKind::NoAcknowledge(_) => ErrorClass::Absent,
        _ => ErrorClass::Transient,
    }
}

/// `EREMOTEIO`: what the Raspberry Pi's `i2c-bcm2835` returns for a NACK, which
/// linux-embedded-hal maps to `ErrorKind::Other`.
const EREMOTEIO: i32 = 121;

/// Classifies a Linux I²C error, counting the Pi's `EREMOTEIO` as no acknowledge.
pub fn classify_linux(e: &linux_embedded_hal::I2CError) -> ErrorClass {
    use linux_embedded_hal::i2cdev::linux::LinuxI2CError;
    let errno = match e.inner() {
        LinuxI2CError::Errno(n) => Some(*n),
        LinuxI2CError::Io(io) => io.raw_os_error(),
    };
    if errno == Some(EREMOTEIO) {
        ErrorClass::Absent
    } else {
        classify_kind(e)
    }
}

/// The sensors of one bus and the bus itself.
pub struct BusPoller<I: I2c> {
    bus: Option<I>,
    sensors: Vec<I2cSensor>,
    backoff: Backoff,
    classify: fn(&I::Error) -> ErrorClass,
}

impl<I: I2c> BusPoller<I> {
    pub fn new(
        bus: I,
        sensors: Vec<I2cSensor>,
        backoff: Backoff,
        classify: fn(&I::Error) -> ErrorClass,
    ) -> Self {
        BusPoller {
            bus: Some(bus),
            sensors,
            backoff,
            classify,
        }
    }

    pub fn sensors(&self) -> &[I2cSensor] {
        &self.sensors
    }

    /// Measures sensor `i` once, retrying bus errors; `sleep` carries out the backoff waits
    /// (a real sleep in the thread, a recorder in tests).
    pub fn read(
        &mut self,
        i: usize,
        delay: &mut impl DelayNs,
        sleep: &mut impl FnMut(Duration),
    ) -> Outcome {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.measure_once(i, delay) {
                Ok(m) => {
                    return Ok(Reading {
                        celsius: Some(f64::from(m.temperature_milli_celsius) / 1000.0),
                        humidity: Some(f64::from(m.humidity_milli_percent) / 1000.0),
                    })
                }
                Err(sht3x::Error::Crc) => return Err(Fault::Crc),
                Err(sht3x::Error::I2c(e)) => {
                    let class = (self.classify)(&e);
                    tracing::debug!(sensor = %self.sensors[i].id, error = ?e, ?class, tries, "I2C error");
                    match class {
                        ErrorClass::Absent => return Err(Fault::Absent),
                        ErrorClass::Transient if tries >= self.backoff.attempts => {
                            return Err(Fault::Bus)
                        }
                        ErrorClass::Transient => sleep(self.backoff.wait(tries)),
                    }
                }
                // The driver error is non-exhaustive; anything new counts as a bus fault.
                Err(_) => return Err(Fault::Bus),
            }
        }
    }

    /// Hands the bus back (tests end with `destroy().done()`).
    pub fn destroy(mut self) -> I {
        self.bus
            .take()
            .expect("the bus is always returned after a measurement")
    }

    fn measure_once(
        &mut self,
        i: usize,
        delay: &mut impl DelayNs,
    ) -> Result<nursery_firmware::Measurement, sht3x::Error<I::Error>> {
        let s = &self.sensors[i];
        let bus = self
            .bus
            .take()
            .expect("the bus is always returned after a measurement");
        let (result, bus) = match s.chip {
            Chip::Sht3x => {
                let address = if s.address == sht3x::Address::Alternate.value() {
                    sht3x::Address::Alternate
                } else {
                    sht3x::Address::Default
                };
                let mut d = sht3x::Sht3x::new(bus, address);
                (d.measure(sht3x::Repeatability::High, delay), d.destroy())
            }
            Chip::Sht4x => {
                let mut d = sht4x::Sht4x::with_address(bus, s.address);
                (d.measure(sht4x::Precision::High, delay), d.destroy())
            }
        };
        self.bus = Some(bus);
        result
    }
}

/// The I²C sensors of `cfg`, grouped by bus.
pub fn buses(cfg: &Config) -> BTreeMap<PathBuf, Vec<I2cSensor>> {
    let mut buses: BTreeMap<PathBuf, Vec<I2cSensor>> = BTreeMap::new();
    for s in &cfg.sensors {
        let chip = match s.kind {
            SensorKind::Sht3x => Chip::Sht3x,
            SensorKind::Sht4x => Chip::Sht4x,
            SensorKind::Virtual | SensorKind::Ds18b20 => continue,
        };
        buses.entry(s.i2c_bus()).or_default().push(I2cSensor {
            id: s.id.clone(),
            chip,
            address: s.i2c_address(),
            poll: s.poll.0,
        });
    }
    buses
}

/// Opens `bus` and starts the thread that owns it.
pub(crate) fn spawn_linux(
    bus: PathBuf,
    sensors: Vec<I2cSensor>,
    sink: Sink,
    cancel: CancellationToken,
) -> Result<JoinHandle<()>, HwError> {
    let dev = linux_embedded_hal::I2cdev::new(&bus).map_err(|e| HwError::Open {
        path: bus.clone(),
        source: match e {
            linux_embedded_hal::i2cdev::linux::LinuxI2CError::Io(io) => io,
            linux_embedded_hal::i2cdev::linux::LinuxI2CError::Errno(n) => {
                std::io::Error::from_raw_os_error(n)
            }
        },
    })?;
    let name = format!("i2c {}", bus.display());
    thread(name, move || {
        let mut poller = BusPoller::new(dev, sensors, Backoff::default(), classify_linux);
        run(&mut poller, &mut linux_embedded_hal::Delay, &sink, &cancel);
        tracing::info!(bus = %bus.display(), "I2C thread stopped");
    })
}

/// Reads every sensor of `poller` at its interval until cancelled.
pub(crate) fn run<I: I2c>(
    poller: &mut BusPoller<I>,
    delay: &mut impl DelayNs,
    sink: &Sink,
    cancel: &CancellationToken,
) {
    let ids: Vec<String> = poller.sensors().iter().map(|s| s.id.clone()).collect();
    let polls: Vec<Duration> = poller.sensors().iter().map(|s| s.poll).collect();
    poll::run(
        &ids,
        &polls,
        |i| poller.read(i, delay, &mut std::thread::sleep),
        sink,
        cancel,
    );
}
