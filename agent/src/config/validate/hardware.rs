//! The project's own hardware keys: sensors on I²C and 1-Wire, GPIO lines of doors, readers
//! and outputs. Whether the device files exist is checked on the board, by
//! `hw::device_problems`, not here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Doc, Findings, Found};
use crate::config::{
    CardFormat, Config, Dur, ReaderInput, ReaderInputKind, Sensor, SensorKind, DEFAULT_GPIOCHIP,
    DEFAULT_I2C_BUS,
};

/// Lowest and highest 7-bit addresses a device may use: 0x00–0x02 and 0x78–0x7F are
/// reserved by the I²C specification (UM10204 §3.1.12, table 4).
const I2C_ADDRESSES: std::ops::RangeInclusive<u8> = 0x03..=0x77;

/// The Raspberry Pi header lines that `/dev/i2c-1` and the default 1-Wire overlay
/// (`dtoverlay=w1-gpio`, `gpiopin=4`) take for themselves.
const PI_I2C1_LINES: [u32; 2] = [2, 3];
const PI_W1_LINE: u32 = 4;

/// Whether `id` is a w1_therm slave id: family code and 48-bit serial in lower-case hex,
/// `28-0316a2791c2f`. Families: 10 DS18S20, 22 DS1822, 28 DS18B20, 3b DS1825, 42 DS28EA00.
pub(crate) fn valid_w1_id(id: &str) -> bool {
    let Some((family, serial)) = id.split_once('-') else {
        return false;
    };
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    ["10", "22", "28", "3b", "42"].contains(&family) && serial.len() == 12 && hex(serial)
}

/// Bus addresses and 1-Wire ids already taken, with the key that took them.
#[derive(Default)]
struct Taken {
    addresses: HashMap<(PathBuf, u8), String>,
    w1_ids: HashMap<String, String>,
}

/// Each sensor: only its kind's keys, a usable poll, an address or 1-Wire id that is valid
/// and not taken by another sensor.
pub(super) fn check_sensors(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    let mut taken = Taken::default();
    for (i, s) in cfg.sensors.iter().enumerate() {
        let elem = doc.elem("sensors", i);
        check_sensor_keys(&mut f, &elem, s);
        if s.kind == SensorKind::Virtual {
            continue;
        }
        check_sensor_poll(&mut f, &elem, s, cfg.rules.sensor_stale_after);
        if s.kind.is_i2c() {
            check_sensor_i2c(&mut f, &elem, s, &mut taken.addresses);
        } else {
            check_sensor_w1(&mut f, &elem, s, &mut taken.w1_ids);
        }
    }
    f.done()
}

/// `bus`/`address` only on I²C sensors, `w1_id` only on a ds18b20.
fn check_sensor_keys(f: &mut Findings, elem: &str, s: &Sensor) {
    let name = s.kind.as_str();
    let stray = |key: &str| format!("{key} is not used by a sensor of kind \"{name}\"; remove it");
    if !s.kind.is_i2c() {
        if s.bus.is_some() {
            f.report(format!("{elem}.bus"), stray("bus"));
        }
        if s.address.is_some() {
            f.report(format!("{elem}.address"), stray("address"));
        }
    }
    if s.kind != SensorKind::Ds18b20 && s.w1_id.is_some() {
        f.report(format!("{elem}.w1_id"), stray("w1_id"));
    }
}

/// A hardware sensor is read at intervals shorter than the stale limit.
fn check_sensor_poll(f: &mut Findings, elem: &str, s: &Sensor, stale_after: Dur) {
    f.positive(
        &format!("{elem}.poll"),
        s.poll,
        "a sensor cannot be read continuously",
    );
    if s.poll >= stale_after && !s.poll.0.is_zero() {
        f.report(
            format!("{elem}.poll"),
            format!(
                "poll ({}) must be shorter than rules.sensor_stale_after ({}), or the sensor is stale between two readings",
                s.poll, stale_after
            ),
        );
    }
}

/// An I²C sensor's address is one the part answers at, and no other sensor's on that bus.
fn check_sensor_i2c(
    f: &mut Findings,
    elem: &str,
    s: &Sensor,
    addresses: &mut HashMap<(PathBuf, u8), String>,
) {
    let bus = s.i2c_bus();
    let address = s.i2c_address();
    let key = format!("{elem}.address");
    let allowed: &[u8] = if s.kind == SensorKind::Sht3x {
        &[0x44, 0x45]
    } else {
        &[0x44, 0x45, 0x46]
    };
    if !I2C_ADDRESSES.contains(&address) {
        f.report(
            &key,
            format!("address {address:#04x} is reserved by I2C (use 0x03 to 0x77)"),
        );
    } else if !allowed.contains(&address) {
        let list: Vec<String> = allowed.iter().map(|a| format!("{a:#04x}")).collect();
        let name = s.kind.as_str();
        f.report(
            &key,
            format!(
                "a {name} answers only at {}, not {address:#04x}",
                list.join(" or ")
            ),
        );
    }
    match addresses.get(&(bus.clone(), address)) {
        Some(other) => {
            let message = format!(
                "address {address:#04x} on {} is already used by {}",
                bus.display(),
                f.at(other)
            );
            f.report(key, message);
        }
        None => {
            addresses.insert((bus, address), key);
        }
    }
}

/// A ds18b20 has a well-formed 1-Wire id that no other sensor has.
fn check_sensor_w1(f: &mut Findings, elem: &str, s: &Sensor, w1_ids: &mut HashMap<String, String>) {
    let key = format!("{elem}.w1_id");
    match &s.w1_id {
        None => f.report(
            key,
            "a ds18b20 needs its 1-Wire id, e.g. w1_id = \"28-0316a2791c2f\" (ls /sys/bus/w1/devices)",
        ),
        Some(id) if !valid_w1_id(id) => f.report(
            key,
            format!("invalid 1-Wire id `{id}` (expected family-serial in lower-case hex, e.g. \"28-0316a2791c2f\")"),
        ),
        Some(id) => match w1_ids.get(id) {
            Some(other) => {
                let message = format!("1-Wire id `{id}` is already used by {}", f.at(other));
                f.report(key, message);
            }
            None => {
                w1_ids.insert(id.clone(), key);
            }
        },
    }
}

/// The debounce of door contacts and exit buttons is short enough for a person.
pub(super) fn check_door_inputs(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    for (i, d) in cfg.doors.iter().enumerate() {
        let elem = doc.elem("doors", i);
        if let Some(c) = &d.contact {
            debounce(&mut f, &format!("{elem}.contact.debounce"), c.debounce);
        }
        if let Some(b) = &d.exit_button {
            debounce(&mut f, &format!("{elem}.exit_button.debounce"), b.debounce);
        }
    }
    for (i, x) in cfg.inputs.iter().enumerate() {
        if let Some(c) = &x.contact {
            let key = format!("{}.contact.debounce", doc.elem("inputs", i));
            debounce(&mut f, &key, c.debounce);
        }
    }
    f.done()
}

fn debounce(f: &mut Findings, key: &str, d: Dur) {
    if d.0 > std::time::Duration::from_secs(1) {
        f.report(
            key,
            format!("debounce {d} is too long (at most 1s; 50ms suits reed switches and buttons)"),
        );
    }
}

/// A wiegand reader has its two data lines and only wiegand keys; a keyboard reader its own
/// device, which no other reader uses.
pub(super) fn check_reader_inputs(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    let mut devices: HashMap<PathBuf, String> = HashMap::new();
    for (i, r) in cfg.readers.iter().enumerate() {
        let Some(input) = &r.input else { continue };
        let elem = format!("{}.input", doc.elem("readers", i));
        match input.kind {
            ReaderInputKind::Wiegand => check_wiegand(&mut f, &elem, input),
            ReaderInputKind::Keyboard => check_keyboard(&mut f, &elem, input, &mut devices),
        }
    }
    f.done()
}

fn check_wiegand(f: &mut Findings, elem: &str, input: &ReaderInput) {
    for (name, line) in [("d0", input.d0), ("d1", input.d1)] {
        if line.is_none() {
            f.report(
                format!("{elem}.{name}"),
                format!(
                    "a wiegand reader needs {name} (the GPIO line of DATA{})",
                    &name[1..]
                ),
            );
        }
    }
    if input.device.is_some() {
        f.report(
            format!("{elem}.device"),
            "device is for kind = \"keyboard\"; a wiegand reader uses gpiochip, d0 and d1",
        );
    }
    if input.card_format == CardFormat::AsTyped {
        f.report(
            format!("{elem}.card_format"),
            "\"as_typed\" is for keyboard readers; a wiegand reader writes \"card\" or \"facility_card\"",
        );
    }
}

fn check_keyboard(
    f: &mut Findings,
    elem: &str,
    input: &ReaderInput,
    devices: &mut HashMap<PathBuf, String>,
) {
    for (name, set) in [("d0", input.d0.is_some()), ("d1", input.d1.is_some())] {
        if set {
            f.report(
                format!("{elem}.{name}"),
                format!("{name} is for kind = \"wiegand\"; a keyboard reader uses device"),
            );
        }
    }
    let key = format!("{elem}.device");
    match &input.device {
        None => f.report(
            key,
            "a keyboard reader needs its device, e.g. \"/dev/input/by-id/usb-…-event-kbd\"",
        ),
        Some(dev) if dev.as_os_str().is_empty() => f.report(key, "device must not be empty"),
        Some(dev) => match devices.get(dev) {
            Some(other) => {
                let message = format!(
                    "device {} is already used by {}",
                    dev.display(),
                    f.at(other)
                );
                f.report(key, message);
            }
            None => {
                devices.insert(dev.clone(), key);
            }
        },
    }
}

/// Every GPIO line in use, in file order of the kinds: `(chip, offset, key)`.
fn gpio_lines(cfg: &Config, doc: &Doc) -> Vec<(PathBuf, u32, String)> {
    let mut lines = Vec::new();
    for (i, d) in cfg.doors.iter().enumerate() {
        let elem = doc.elem("doors", i);
        if let Some(c) = &d.contact {
            lines.push((c.gpiochip.clone(), c.line, format!("{elem}.contact.line")));
        }
        if let Some(b) = &d.exit_button {
            let key = format!("{elem}.exit_button.line");
            lines.push((b.gpiochip.clone(), b.line, key));
        }
    }
    for (i, x) in cfg.inputs.iter().enumerate() {
        if let Some(c) = &x.contact {
            let key = format!("{}.contact.line", doc.elem("inputs", i));
            lines.push((c.gpiochip.clone(), c.line, key));
        }
    }
    for (i, r) in cfg.readers.iter().enumerate() {
        let Some(input) = r
            .input
            .as_ref()
            .filter(|i| i.kind == ReaderInputKind::Wiegand)
        else {
            continue;
        };
        let elem = format!("{}.input", doc.elem("readers", i));
        for (name, line) in [("d0", input.d0), ("d1", input.d1)] {
            if let Some(line) = line {
                lines.push((input.gpiochip.clone(), line, format!("{elem}.{name}")));
            }
        }
    }
    for (name, out) in [
        ("buzzer", &cfg.outputs.buzzer),
        ("light", &cfg.outputs.light),
    ] {
        if let Some(o) = out {
            lines.push((o.gpiochip.clone(), o.line, format!("outputs.{name}.line")));
        }
    }
    lines
}

/// No GPIO line is used twice — door contacts, exit buttons, Wiegand D0/D1 and outputs all
/// count — and on the Pi's `/dev/gpiochip0` the lines of the I²C and 1-Wire buses stay free
/// while a sensor uses them.
pub(super) fn check_gpio_lines(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    let uses_i2c1 = cfg
        .sensors
        .iter()
        .any(|s| s.kind.is_i2c() && s.i2c_bus() == Path::new(DEFAULT_I2C_BUS));
    let uses_w1 = cfg.sensors.iter().any(|s| s.kind == SensorKind::Ds18b20);
    let lines = gpio_lines(cfg, doc);
    let pi_chip = Path::new(DEFAULT_GPIOCHIP);
    let mut first: HashMap<(&PathBuf, u32), &str> = HashMap::new();
    for (chip, line, key) in &lines {
        let taken_by = if chip == pi_chip && uses_i2c1 && PI_I2C1_LINES.contains(line) {
            Some("the I2C bus /dev/i2c-1 (BCM 2 = SDA1, BCM 3 = SCL1) that a sensor uses")
        } else if chip == pi_chip && uses_w1 && *line == PI_W1_LINE {
            Some("the 1-Wire bus (dtoverlay=w1-gpio, default BCM 4) that a ds18b20 uses")
        } else {
            None
        };
        if let Some(what) = taken_by {
            f.report(key, format!("line {line} of {} is {what}", chip.display()));
            continue;
        }
        match first.get(&(chip, *line)) {
            Some(other) => {
                let message = format!(
                    "line {line} of {} is already used by {}",
                    chip.display(),
                    f.at(other)
                );
                f.report(key, message);
            }
            None => {
                first.insert((chip, *line), key);
            }
        }
    }
    f.done()
}
