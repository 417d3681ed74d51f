//! The Linux hardware layer: real sensors, contacts, buttons and card readers in, decoded
//! events (contract section 3) out; buzzer and warning light out.
//!
//! | module | device | thread |
//! |--------|--------|--------|
//! | [`i2c`] | SHT3x / SHT4x on `/dev/i2c-N` (linux-embedded-hal `I2cdev`) | one per bus, which owns it |
//! | [`w1`] | DS18B20 through the kernel's `w1_therm` sysfs files | one for all 1-Wire sensors |
//! | [`gpio`] | door contacts, exit buttons, panic buttons and fire relays, Wiegand D0/D1 on `/dev/gpiochipN` (gpiocdev), with kernel edge timestamps | one per chip |
//! | [`evdev`] | USB keyboard-wedge card readers on `/dev/input/eventN` | one per reader |
//! | [`outputs`](alarm_lines) | buzzer / light on GPIO outputs, driven by [`crate::alarm`] with the log pin | — (the alarm task) |
//! | [`systemd`] | `READY=1` / `WATCHDOG=1` | — |
//!
//! Every module keeps the decoding pure (a parser or a state machine fed with timestamps) and
//! the I/O in a thin loop around it, so the tests run on recorded fixtures and mock buses.
//! Hardware threads are plain `std` threads: every read here blocks, and none of it may run
//! on the async runtime. Each loop checks the cancellation token at least every
//! [`CANCEL_CHECK`] and returns when it is cancelled or when the receiving side is gone.
//!
//! Which devices a configuration needs (and whether they exist on this machine) is answered
//! by [`device_problems`]; the configuration's own consistency (two sensors on one address,
//! one GPIO line used twice) is checked when it is loaded.

pub mod evdev;
pub mod gpio;
pub mod i2c;
mod poll;
pub mod systemd;
pub mod test_press;
pub mod w1;

use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Problem, ReaderInputKind, SensorKind};
use crate::event::{Event, EventKind};
use crate::input::Input;

/// Longest a hardware thread goes without looking at the cancellation token.
pub const CANCEL_CHECK: Duration = Duration::from_millis(200);

/// Why the hardware layer could not start.
#[derive(Debug, thiserror::Error)]
pub enum HwError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot request GPIO lines {lines:?} on {chip}: {source}")]
    Gpio {
        chip: PathBuf,
        lines: Vec<u32>,
        #[source]
        source: gpiocdev::Error,
    },
    #[error("cannot start a hardware thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Starts one thread per I²C bus, one for the 1-Wire sensors, one per GPIO chip with inputs
/// and one per keyboard reader, each sending its decoded events to `tx` as
/// [`Input::Hardware`] (with `ts` set to when the hardware saw it). Returns no thread when the
/// configuration names no hardware.
///
/// Fails when a device cannot be opened, before any thread has started reading (threads
/// already started see `cancel` when the caller cancels it).
pub fn spawn(
    cfg: &Config,
    tx: SyncSender<Input>,
    tests: test_press::TestPresses,
    cancel: CancellationToken,
) -> Result<Vec<JoinHandle<()>>, HwError> {
    let tz = cfg.facility.timezone;
    let sink = Sink { tx, tz, tests };
    let mut threads = Vec::new();
    for (bus, sensors) in i2c::buses(cfg) {
        threads.push(i2c::spawn_linux(
            bus,
            sensors,
            sink.clone(),
            cancel.clone(),
        )?);
    }
    let w1 = w1::sensors(cfg);
    if !w1.is_empty() {
        threads.push(w1::spawn(
            PathBuf::from(w1::W1_DEVICES),
            w1,
            sink.clone(),
            cancel.clone(),
        )?);
    }
    for (chip, inputs) in gpio::chips(cfg) {
        threads.push(gpio::spawn(chip, inputs, sink.clone(), cancel.clone())?);
    }
    for reader in evdev::readers(cfg) {
        threads.push(evdev::spawn(reader, sink.clone(), cancel.clone())?);
    }
    Ok(threads)
}

pub use gpio::alarm_lines;

/// Where hardware threads deliver events: the daemon's input channel, with the facility's
/// time zone for the `ts` offset.
#[derive(Clone)]
pub(crate) struct Sink {
    tx: SyncSender<Input>,
    tz: Tz,
    tests: test_press::TestPresses,
}

impl Sink {
    /// Sends the event that happened at `at`; false when the daemon has gone away, which
    /// ends the calling thread.
    pub(crate) fn send(&self, mut kind: EventKind, at: DateTime<Utc>) -> bool {
        self.tests.mark(&mut kind, Instant::now());
        let event = Event::at(at.with_timezone(&self.tz).fixed_offset(), kind);
        tracing::debug!(?event, "hardware event");
        self.tx.send(Input::Hardware(event)).is_ok()
    }
}

/// Microseconds since the Unix epoch (CLOCK_REALTIME, the clock the GPIO requests stamp
/// their edges with and evdev its events).
pub(crate) fn realtime_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The wall-clock moment of a realtime timestamp in microseconds.
pub(crate) fn utc_from_us(us: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us as i64).unwrap_or_else(Utc::now)
}

/// Sleeps until `deadline` in slices of at most [`CANCEL_CHECK`]; false when cancelled.
pub(crate) fn sleep_until(deadline: Instant, cancel: &CancellationToken) -> bool {
    loop {
        if cancel.is_cancelled() {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::sleep((deadline - now).min(CANCEL_CHECK));
    }
}

/// Starts a named thread.
pub(crate) fn thread(
    name: String,
    body: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, HwError> {
    std::thread::Builder::new()
        .name(name)
        .spawn(body)
        .map_err(HwError::Thread)
}

/// The device files this configuration's hardware needs that are missing on this machine,
/// each as a [`Problem`] on `file` naming the key that asked for it (no line: the file was
/// parsed already). Empty for a configuration with virtual devices only.
///
/// `check-config` does not run this (a board's configuration must validate on a laptop);
/// `run` should, before [`spawn`], so that a missing `/dev/i2c-1` (I²C not enabled in
/// `config.txt`) is reported as such rather than as an open error.
pub fn device_problems(cfg: &Config, file: &Path) -> Vec<Problem> {
    device_problems_under(cfg, file, Path::new("/"))
}

/// [`device_problems`] with every device path taken relative to `root` (for tests).
pub(crate) fn device_problems_under(cfg: &Config, file: &Path, root: &Path) -> Vec<Problem> {
    let found = [
        sensor_devices(cfg),
        door_devices(cfg),
        reader_devices(cfg),
        output_devices(cfg),
    ]
    .into_iter()
    .flatten();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for Needed { key, path, hint } in found {
        let on_disk = root.join(path.strip_prefix("/").unwrap_or(&path));
        if on_disk.exists() || !seen.insert(path.clone()) {
            continue;
        }
        problems.push(Problem {
            file: file.to_path_buf(),
            line: None,
            key,
            message: format!("device {} does not exist ({hint})", path.display()),
        });
    }
    problems
}

/// A device file the configuration needs: the key that asks for it, and how to make it
/// appear.
struct Needed {
    key: String,
    path: PathBuf,
    hint: &'static str,
}

const SEE_GPIODETECT: &str = "see gpiodetect";

fn sensor_devices(cfg: &Config) -> Vec<Needed> {
    let mut found = Vec::new();
    for (i, s) in cfg.sensors.iter().enumerate() {
        match s.kind {
            SensorKind::Virtual => {}
            SensorKind::Sht3x | SensorKind::Sht4x => found.push(Needed {
                key: format!("sensors[{i}].bus"),
                path: s.i2c_bus(),
                hint: "enable I2C (dtparam=i2c_arm=on in /boot/firmware/config.txt) and reboot",
            }),
            SensorKind::Ds18b20 => {
                if let Some(id) = &s.w1_id {
                    found.push(Needed {
                        key: format!("sensors[{i}].w1_id"),
                        path: Path::new(w1::W1_DEVICES).join(id).join("w1_slave"),
                        hint: "enable 1-Wire (dtoverlay=w1-gpio), check the wiring and the 4.7 kΩ pull-up, and compare with ls /sys/bus/w1/devices",
                    })
                }
            }
        }
    }
    found
}

fn door_devices(cfg: &Config) -> Vec<Needed> {
    let mut found = Vec::new();
    for (i, d) in cfg.doors.iter().enumerate() {
        if let Some(c) = &d.contact {
            found.push(Needed {
                key: format!("doors[{i}].contact.gpiochip"),
                path: c.gpiochip.clone(),
                hint: SEE_GPIODETECT,
            });
        }
        if let Some(b) = &d.exit_button {
            found.push(Needed {
                key: format!("doors[{i}].exit_button.gpiochip"),
                path: b.gpiochip.clone(),
                hint: SEE_GPIODETECT,
            });
        }
    }
    for (i, input) in cfg.inputs.iter().enumerate() {
        if let Some(c) = &input.contact {
            found.push(Needed {
                key: format!("inputs[{i}].contact.gpiochip"),
                path: c.gpiochip.clone(),
                hint: SEE_GPIODETECT,
            });
        }
    }
    found
}

fn reader_devices(cfg: &Config) -> Vec<Needed> {
    let mut found = Vec::new();
    for (i, r) in cfg.readers.iter().enumerate() {
        let Some(input) = &r.input else { continue };
        match input.kind {
            ReaderInputKind::Wiegand => found.push(Needed {
                key: format!("readers[{i}].input.gpiochip"),
                path: input.gpiochip.clone(),
                hint: SEE_GPIODETECT,
            }),
            ReaderInputKind::Keyboard => {
                if let Some(dev) = &input.device {
                    found.push(Needed {
                        key: format!("readers[{i}].input.device"),
                        path: dev.clone(),
                        hint: "plug the reader in and see ls -l /dev/input/by-id",
                    });
                }
            }
        }
    }
    found
}

fn output_devices(cfg: &Config) -> Vec<Needed> {
    [
        ("buzzer", &cfg.outputs.buzzer),
        ("light", &cfg.outputs.light),
    ]
    .into_iter()
    .filter_map(|(name, out)| {
        out.as_ref().map(|o| Needed {
            key: format!("outputs.{name}.gpiochip"),
            path: o.gpiochip.clone(),
            hint: SEE_GPIODETECT,
        })
    })
    .collect()
}

#[cfg(test)]
mod tests;
