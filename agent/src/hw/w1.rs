//! DS18B20 temperature sensors through the kernel's 1-Wire `w1_therm` driver.
//!
//! Reading `/sys/bus/w1/devices/<id>/w1_slave` makes the kernel start a conversion, wait
//! for it (up to 750 ms at 12 bits) and print the scratchpad twice:
//!
//! ```text
//! 72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//! 72 01 4b 46 7f ff 0e 10 57 t=23125
//! ```
//!
//! The first line ends with the kernel's verdict on the Dallas CRC-8 (`YES` / `NO`), the
//! second with the temperature in m°C. [`parse_w1_slave`] is the pure parser; the thread
//! reads the files of all configured sensors one after another (the 1-Wire master does one
//! conversion at a time anyway).
//!
//! Faults: a `NO` CRC is `"crc"`; `t=85000` is the DS18B20's power-on reset value (datasheet
//! "Memory" section: the temperature register powers up at +85 °C), seen when the sensor
//! browned out or was read before converting — `"power_on_reset"`, never a temperature; an
//! all-zero scratchpad (a shorted or disconnected data line reads as zeros, whose CRC is
//! also zero) is `"absent"`, as is a slave directory that has disappeared; anything
//! unparseable is `"garbage"`; other read errors are `"bus"`.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::poll::{self, Fault, Outcome, Reading};
use super::{thread, HwError, Sink};
use crate::config::{Config, SensorKind};

/// Where the kernel lists 1-Wire slaves.
pub const W1_DEVICES: &str = "/sys/bus/w1/devices";

/// The DS18B20's power-on-reset temperature, in m°C.
pub const POWER_ON_RESET_MILLI_C: i32 = 85_000;

/// Parses the text of a `w1_slave` file into a temperature in m°C.
pub fn parse_w1_slave(text: &str) -> Result<i32, Fault> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let (Some(crc_line), Some(t_line)) = (lines.next(), lines.next()) else {
        return Err(Fault::Garbage);
    };
    let (bytes, verdict) = crc_line.split_once(": crc=").ok_or(Fault::Garbage)?;
    let scratchpad: Vec<u8> = bytes
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| Fault::Garbage)?;
    if scratchpad.len() != 9 {
        return Err(Fault::Garbage);
    }
    match verdict.split_whitespace().nth(1) {
        Some("YES") => {}
        Some("NO") => return Err(Fault::Crc),
        _ => return Err(Fault::Garbage),
    }
    if scratchpad.iter().all(|&b| b == 0) {
        return Err(Fault::Absent);
    }
    let t = t_line
        .rsplit_once("t=")
        .and_then(|(_, t)| t.parse::<i32>().ok())
        .ok_or(Fault::Garbage)?;
    if t == POWER_ON_RESET_MILLI_C {
        return Err(Fault::PowerOnReset);
    }
    Ok(t)
}

/// Reads one sensor's file under `devices` (normally [`W1_DEVICES`]).
pub fn read(devices: &Path, id: &str) -> Outcome {
    let path = devices.join(id).join("w1_slave");
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_w1_slave(&text).map(|milli| Reading {
            celsius: Some(f64::from(milli) / 1000.0),
            humidity: None,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Fault::Absent),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "w1 read failed");
            Err(Fault::Bus)
        }
    }
}

/// A configured DS18B20.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct W1Sensor {
    pub id: String,
    pub w1_id: String,
    pub poll: Duration,
}

/// The DS18B20 sensors of `cfg`.
pub fn sensors(cfg: &Config) -> Vec<W1Sensor> {
    cfg.sensors
        .iter()
        .filter(|s| s.kind == SensorKind::Ds18b20)
        .filter_map(|s| {
            Some(W1Sensor {
                id: s.id.clone(),
                w1_id: s.w1_id.clone()?,
                poll: s.poll.0,
            })
        })
        .collect()
}

/// Starts the thread reading every 1-Wire sensor at its interval.
pub(crate) fn spawn(
    devices: PathBuf,
    sensors: Vec<W1Sensor>,
    sink: Sink,
    cancel: CancellationToken,
) -> Result<JoinHandle<()>, HwError> {
    thread("w1".into(), move || {
        let ids: Vec<String> = sensors.iter().map(|s| s.id.clone()).collect();
        let polls: Vec<Duration> = sensors.iter().map(|s| s.poll).collect();
        poll::run(
            &ids,
            &polls,
            |i| read(&devices, &sensors[i].w1_id),
            &sink,
            &cancel,
        );
        tracing::info!("1-Wire thread stopped");
    })
}
