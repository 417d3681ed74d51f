//! Pass 3 of the loader: what the serde types cannot say.
//!
//! Every check adds to one list and none stops the others. The checks:
//!
//! - **Ids** (`facility.id` and every entity id) match `[A-Za-z0-9_-]{1,64}`: they appear in
//!   MQTT topics and in the event log.
//! - **Unique ids**: rooms, doors, readers and sensors each have their own id space; staff,
//!   children and guardians share one, because events name a person by id alone
//!   (`attendance.person`, `by`), so a staff member and a child cannot both be `p-01`.
//! - **Unique cards** across staff and guardians: a badge must name one person.
//! - **References**: the home room of a staff member or child and the room of a sensor
//!   exist; a reader of purpose `access` names an existing `door`, one of purpose `room` an
//!   existing `room`. A reader may also name a door or room its purpose does not need (an
//!   attendance reader mounted at the entrance, say): that is accepted and ignored, but the
//!   name must still exist, since a dangling name is a mistake whatever its use. A child's
//!   guardians are defined in `[[guardians]]` and listed once.
//! - **Hours**: `open` is before `close` (a nursery does not run over midnight).
//! - **Rules**: temperature and humidity bands are finite with `min < max`, humidity within
//!   0–100 %, hysteresis at least 0 and narrower than the band (or the alert could never
//!   clear); `door_held_open` and `sensor_stale_after` are above zero (zero would alert on
//!   every door opening and every sensor at once). The other durations may be zero.
//! - **Services**: `mqtt.port` is not 0, `mqtt.host` and `mqtt.topic_prefix` are usable,
//!   `dashboard.listen` is a socket address, `storage.dir` is not empty,
//!   `simulation.speed` is finite and above zero.
//! - **Something to watch**: at least one room; a room's `capacity`, when given, is at least 1.
//!
//! - **Hardware** (the project's own keys): each sensor kind carries only its own keys
//!   (`bus`/`address` for `sht3x`/`sht4x`, `w1_id` for `ds18b20`), addresses are 7-bit
//!   addresses the part can answer at (0x03–0x77, and 0x44/0x45 for an SHT3x), a 1-Wire id
//!   looks like `28-0316a2791c2f`, `poll` is above zero and shorter than
//!   `rules.sensor_stale_after`; no two sensors share a bus address or a 1-Wire id; no GPIO
//!   line (chip, offset) is used twice — door contacts, exit buttons, Wiegand D0/D1 and
//!   outputs all count, and on the Pi's `/dev/gpiochip0` the I²C pins BCM 2/3 are taken by
//!   `/dev/i2c-1` and BCM 4 by the 1-Wire bus when such sensors are configured; a Wiegand
//!   reader names `d0` and `d1`, a keyboard reader its `device`, and no two readers share a
//!   device. Whether the device files exist is *not* checked here — a board's configuration
//!   must validate on a laptop — but by `hw::device_problems`, on the board.
//!
//! Not checked here: a birth date in the future (there is no clock at load time; the rules
//! treat a child's age as of the day), unknown keys, presets and time zones (the shape pass
//! rejects those).
//!
//! Problems name keys with the indices of the original file; references to an element that
//! the shape pass had to drop are not reported a second time.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::load::Doc;
use super::{Config, Dur};

/// `(key, message)` for every problem found, in no particular order.
pub(super) fn validate(cfg: &Config, doc: &Doc) -> Vec<(String, String)> {
    let mut v = Checks {
        doc,
        found: Vec::new(),
    };
    v.facility(cfg);
    v.ids(cfg);
    v.cards(cfg);
    v.references(cfg);
    v.rooms(cfg);
    v.rules(cfg);
    v.services(cfg);
    v.hardware(cfg);
    v.found
}

/// Which string of a dropped element an [`Checks::entries`] list is about.
#[derive(Clone, Copy)]
enum Field {
    Id,
    Card,
}

struct Checks<'a> {
    doc: &'a Doc,
    found: Vec<(String, String)>,
}

fn some(v: Vec<&str>) -> Vec<Option<&str>> {
    v.into_iter().map(Some).collect()
}

/// Whether `id` is a valid identifier (contract section 2).
pub(super) fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Checks<'_> {
    fn report(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.found.push((key.into(), message.into()));
    }

    /// `key` followed by ` (line N)` when the file has it, for messages that point at a
    /// second place.
    fn at(&self, key: &str) -> String {
        match self.doc.line(key) {
            Some(line) => format!("{key} (line {line})"),
            None => key.to_owned(),
        }
    }

    fn check_id(&mut self, key: &str, id: &str) {
        if !valid_id(id) {
            self.report(
                key,
                format!("invalid id `{id}` (expected 1 to 64 of A-Z a-z 0-9 _ -)"),
            );
        }
    }

    fn facility(&mut self, cfg: &Config) {
        // Keys that were missing or malformed hold stand-ins: already reported.
        let real = |key: &str| !self.doc.stand_in(key);
        let f = &cfg.facility;
        if real("facility.id") {
            self.check_id("facility.id", &f.id);
        }
        if real("facility.open") && real("facility.close") && f.open >= f.close {
            self.report(
                "facility.close",
                format!(
                    "close ({}) must be after open ({}); the day cannot run over midnight",
                    f.close, f.open
                ),
            );
        }
    }

    /// Id syntax and uniqueness, per id space.
    fn ids(&mut self, cfg: &Config) {
        let rooms: Vec<&str> = cfg.rooms.iter().map(|r| r.id.as_str()).collect();
        let doors: Vec<&str> = cfg.doors.iter().map(|d| d.id.as_str()).collect();
        let readers: Vec<&str> = cfg.readers.iter().map(|r| r.id.as_str()).collect();
        let sensors: Vec<&str> = cfg.sensors.iter().map(|s| s.id.as_str()).collect();
        for (kind, list) in [
            ("rooms", rooms),
            ("doors", doors),
            ("readers", readers),
            ("sensors", sensors),
        ] {
            let all = self.entries(kind, some(list), Field::Id);
            self.unique(all);
        }

        let staff: Vec<&str> = cfg.staff.iter().map(|s| s.id.as_str()).collect();
        let children: Vec<&str> = cfg.children.iter().map(|c| c.id.as_str()).collect();
        let guardians: Vec<&str> = cfg.guardians.iter().map(|g| g.id.as_str()).collect();
        let mut people = self.entries("staff", some(staff), Field::Id);
        people.extend(self.entries("children", some(children), Field::Id));
        people.extend(self.entries("guardians", some(guardians), Field::Id));
        self.unique(people);
    }

    /// `(element path, value)` for the parsed elements of the top-level array `kind` (their
    /// values in `parsed`) and for those the shape pass dropped, whose ids and cards are
    /// still in the file.
    fn entries(
        &self,
        kind: &str,
        parsed: Vec<Option<&str>>,
        field: Field,
    ) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = parsed
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| Some((self.doc.elem(kind, i), v?.to_owned())))
            .collect();
        for (path, id, card) in self.doc.dropped_elements(kind) {
            let value = match field {
                Field::Id => id,
                Field::Card => card,
            };
            if let Some(value) = value {
                all.push((path.to_owned(), value.to_owned()));
            }
        }
        // File order, so that "already used by" names the earlier one.
        all.sort_by_cached_key(|(path, _)| {
            (self.doc.line(path).unwrap_or(usize::MAX), path.clone())
        });
        all
    }

    /// Checks the syntax of every id in one id space and that none is used twice.
    fn unique(&mut self, entries: Vec<(String, String)>) {
        let mut first: HashMap<&str, &str> = HashMap::new();
        for (elem, id) in &entries {
            let key = format!("{elem}.id");
            self.check_id(&key, id);
            match first.get(id.as_str()) {
                None => {
                    first.insert(id, elem);
                }
                Some(other) => {
                    let kind = |p: &str| p.split('[').next().unwrap_or("").to_owned();
                    let shared = if kind(other) == kind(elem) {
                        ""
                    } else {
                        "; staff, children and guardians share one id space"
                    };
                    let message = format!(
                        "duplicate id `{id}`, already used by {}{shared}",
                        self.at(other)
                    );
                    self.report(key, message);
                }
            }
        }
    }

    /// A card names one person, staff or guardian.
    fn cards(&mut self, cfg: &Config) {
        let staff: Vec<Option<&str>> = cfg.staff.iter().map(|s| s.card.as_deref()).collect();
        let guardians: Vec<Option<&str>> =
            cfg.guardians.iter().map(|g| g.card.as_deref()).collect();
        let mut all = self.entries("staff", staff, Field::Card);
        all.extend(self.entries("guardians", guardians, Field::Card));
        all.sort_by_cached_key(|(path, _)| {
            (self.doc.line(path).unwrap_or(usize::MAX), path.clone())
        });
        let mut first: HashMap<&str, &str> = HashMap::new();
        for (elem, card) in &all {
            let key = format!("{elem}.card");
            if card.trim().is_empty() {
                self.report(key, "card must not be empty");
                continue;
            }
            match first.get(card.as_str()) {
                None => {
                    first.insert(card, elem);
                }
                Some(other) => {
                    let message = format!(
                        "duplicate card `{card}`, already used by {}",
                        self.at(other)
                    );
                    self.report(key, message);
                }
            }
        }
    }

    /// Reports `key` when `id` names no element of `kind`.
    fn exists(&mut self, key: String, kind: &str, what: &str, id: &str, ids: &[&str]) {
        if !ids.contains(&id) && !self.doc.lost(kind, id) {
            let known = if ids.is_empty() {
                format!("none is defined in [[{kind}]]")
            } else {
                format!("defined: {}", ids.join(", "))
            };
            self.report(key, format!("unknown {what} `{id}` ({known})"));
        }
    }

    fn references(&mut self, cfg: &Config) {
        use super::ReaderPurpose;

        let rooms: Vec<&str> = cfg.rooms.iter().map(|r| r.id.as_str()).collect();
        let doors: Vec<&str> = cfg.doors.iter().map(|d| d.id.as_str()).collect();
        let guardians: Vec<&str> = cfg.guardians.iter().map(|g| g.id.as_str()).collect();

        for (i, s) in cfg.staff.iter().enumerate() {
            let key = format!("{}.room", self.doc.elem("staff", i));
            self.exists(key, "rooms", "room", &s.room, &rooms);
        }
        for (i, s) in cfg.sensors.iter().enumerate() {
            let key = format!("{}.room", self.doc.elem("sensors", i));
            self.exists(key, "rooms", "room", &s.room, &rooms);
        }
        for (i, r) in cfg.readers.iter().enumerate() {
            let elem = self.doc.elem("readers", i);
            let needs = match r.purpose {
                ReaderPurpose::Access if r.door.is_none() => Some(("door", "access")),
                ReaderPurpose::Room if r.room.is_none() => Some(("room", "room")),
                _ => None,
            };
            if let Some((key, purpose)) = needs {
                self.report(
                    format!("{elem}.{key}"),
                    format!("a reader of purpose \"{purpose}\" needs a {key}"),
                );
            }
            if let Some(door) = &r.door {
                self.exists(format!("{elem}.door"), "doors", "door", door, &doors);
            }
            if let Some(room) = &r.room {
                self.exists(format!("{elem}.room"), "rooms", "room", room, &rooms);
            }
        }
        let staff: Vec<&str> = cfg.staff.iter().map(|s| s.id.as_str()).collect();
        for (i, c) in cfg.children.iter().enumerate() {
            let elem = self.doc.elem("children", i);
            self.exists(format!("{elem}.room"), "rooms", "room", &c.room, &rooms);
            let list = format!("{elem}.guardians");
            for (j, g) in c.guardians.iter().enumerate() {
                let key = self.doc.elem(&list, j);
                if c.guardians[..j].contains(g) {
                    self.report(key, format!("guardian `{g}` is listed twice"));
                } else if staff.contains(&g.as_str()) && !guardians.contains(&g.as_str()) {
                    self.report(
                        key,
                        format!("`{g}` is a member of staff, not a guardian; define the adult in [[guardians]]"),
                    );
                } else {
                    self.exists(key, "guardians", "guardian", g, &guardians);
                }
            }
        }
    }

    fn rooms(&mut self, cfg: &Config) {
        if cfg.rooms.is_empty() && !self.doc.damaged("rooms") {
            self.report(
                "rooms",
                "no rooms: at least one [[rooms]] is needed, or there is nothing to watch",
            );
        }
        for (i, r) in cfg.rooms.iter().enumerate() {
            if r.capacity == Some(0) {
                let key = format!("{}.capacity", self.doc.elem("rooms", i));
                self.report(
                    key,
                    "capacity must be at least 1 (leave it out to use the preset's group size)",
                );
            }
        }
    }

    /// A band `min < max` with a hysteresis narrower than it, all finite; `limits` bounds
    /// both ends when given.
    fn band(
        &mut self,
        table: &str,
        (min_key, min): (&str, f64),
        (max_key, max): (&str, f64),
        (hyst_key, hyst): (&str, f64),
        limits: Option<(f64, f64)>,
    ) {
        let mut ends_ok = true;
        for (key, value) in [(min_key, min), (max_key, max)] {
            let bad = match limits {
                _ if !value.is_finite() => Some("must be a finite number".to_owned()),
                Some((lo, hi)) if !(lo..=hi).contains(&value) => {
                    Some(format!("must be between {lo} and {hi}, not {value}"))
                }
                _ => None,
            };
            if let Some(message) = bad {
                self.report(format!("{table}.{key}"), message);
                ends_ok = false;
            }
        }
        if ends_ok && min >= max {
            self.report(
                format!("{table}.{max_key}"),
                format!("{max_key} ({max}) must be greater than {min_key} ({min})"),
            );
            ends_ok = false;
        }
        let key = format!("{table}.{hyst_key}");
        if !hyst.is_finite() || hyst < 0.0 {
            self.report(key, format!("must be a number of at least 0, not {hyst}"));
        } else if ends_ok && hyst >= max - min {
            self.report(
                key,
                format!(
                    "{hyst} must be smaller than the band {min_key}..{max_key} ({}), or an alert could never clear",
                    max - min
                ),
            );
        }
    }

    fn positive(&mut self, key: &str, d: Dur, why: &str) {
        if d.0.is_zero() {
            self.report(key, format!("must be longer than 0s ({why})"));
        }
    }

    fn rules(&mut self, cfg: &Config) {
        let r = &cfg.rules;
        self.positive(
            "rules.door_held_open",
            r.door_held_open,
            "0s would alert on every door opening",
        );
        self.positive(
            "rules.sensor_stale_after",
            r.sensor_stale_after,
            "0s would call every sensor stale at once",
        );
        let t = &r.temperature;
        self.band(
            "rules.temperature",
            ("min_c", t.min_c),
            ("max_c", t.max_c),
            ("hysteresis_c", t.hysteresis_c),
            None,
        );
        let h = &r.humidity;
        self.band(
            "rules.humidity",
            ("min_pct", h.min_pct),
            ("max_pct", h.max_pct),
            ("hysteresis_pct", h.hysteresis_pct),
            Some((0.0, 100.0)),
        );
    }

    fn services(&mut self, cfg: &Config) {
        let m = &cfg.mqtt;
        if m.port == 0 {
            self.report("mqtt.port", "port must be between 1 and 65535");
        }
        if m.host.trim().is_empty() {
            self.report("mqtt.host", "host must not be empty");
        }
        let prefix = &m.topic_prefix;
        if prefix.is_empty()
            || prefix.starts_with('/')
            || prefix.ends_with('/')
            || prefix.contains(['+', '#', '\0'])
        {
            self.report(
                "mqtt.topic_prefix",
                format!("invalid topic prefix `{prefix}` (expected e.g. \"childcare/v1\": no wildcards, no leading or trailing /)"),
            );
        }
        if m.client_id.as_deref().is_some_and(|c| c.trim().is_empty()) {
            self.report(
                "mqtt.client_id",
                "client_id must not be empty (leave it out to use the facility id)",
            );
        }
        if let Some(tls) = &m.tls {
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                self.report(
                    "mqtt.tls",
                    "a client certificate needs its key: give both `cert_file` and `key_file`, or neither",
                );
            }
        }
        if m.password_file.is_some() && m.username.is_none() {
            self.report("mqtt.password_file", "a password needs a `username`");
        }
        if m.keep_alive.0.as_secs() > u64::from(u16::MAX)
            || (m.keep_alive.0 > std::time::Duration::ZERO && m.keep_alive.0.as_secs() == 0)
        {
            self.report(
                "mqtt.keep_alive",
                "keep_alive must be 0 (off) or between 1s and 65535s",
            );
        }
        if m.max_inflight == 0 || m.max_inflight > 65000 {
            self.report(
                "mqtt.max_inflight",
                "max_inflight must be between 1 and 65000",
            );
        }
        if m.telemetry_qos > 1 {
            self.report("mqtt.telemetry_qos", "telemetry_qos must be 0 or 1");
        }
        if m.outbox_max_bytes < 16 * 1024 {
            self.report(
                "mqtt.outbox_max_bytes",
                "outbox_max_bytes must be at least 16384 (16 KiB; the default is 64 MiB)",
            );
        }
        if m.command_max_bytes == 0 || m.command_max_bytes > 256 * 1024 {
            self.report(
                "mqtt.command_max_bytes",
                "command_max_bytes must be between 1 and 262144",
            );
        }
        if m.reconnect_min.0.is_zero() {
            self.report("mqtt.reconnect_min", "reconnect_min must be longer than 0s");
        }
        if m.reconnect_max.0 < m.reconnect_min.0 {
            self.report(
                "mqtt.reconnect_max",
                "reconnect_max must not be shorter than reconnect_min",
            );
        }
        if cfg.dashboard.listen.parse::<SocketAddr>().is_err() {
            self.report(
                "dashboard.listen",
                format!(
                    "invalid address `{}` (expected IP:port, e.g. \"127.0.0.1:8080\")",
                    cfg.dashboard.listen
                ),
            );
        }
        if cfg.storage.dir.as_os_str().is_empty() {
            self.report("storage.dir", "dir must not be empty");
        }
        if let Some(sim) = &cfg.simulation {
            if !(sim.speed.is_finite() && sim.speed > 0.0) {
                self.report(
                    "simulation.speed",
                    format!(
                        "speed must be a number above 0 (simulated seconds per second), not {}",
                        sim.speed
                    ),
                );
            }
        }
    }
}

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

impl Checks<'_> {
    fn hardware(&mut self, cfg: &Config) {
        use super::{ReaderInputKind, SensorKind};
        use std::path::PathBuf;

        // (bus, address) and w1 ids already taken, with the key that took them.
        let mut addresses: HashMap<(PathBuf, u8), String> = HashMap::new();
        let mut w1_ids: HashMap<String, String> = HashMap::new();
        let mut uses_i2c1 = false;
        let mut uses_w1 = false;
        for (i, s) in cfg.sensors.iter().enumerate() {
            let elem = self.doc.elem("sensors", i);
            let kind = s.kind;
            let name = match kind {
                SensorKind::Virtual => "virtual",
                SensorKind::Sht3x => "sht3x",
                SensorKind::Sht4x => "sht4x",
                SensorKind::Ds18b20 => "ds18b20",
            };
            let stray =
                |key: &str| format!("{key} is not used by a sensor of kind \"{name}\"; remove it");
            if !kind.is_i2c() {
                if s.bus.is_some() {
                    self.report(format!("{elem}.bus"), stray("bus"));
                }
                if s.address.is_some() {
                    self.report(format!("{elem}.address"), stray("address"));
                }
            }
            if kind != SensorKind::Ds18b20 && s.w1_id.is_some() {
                self.report(format!("{elem}.w1_id"), stray("w1_id"));
            }
            if kind == SensorKind::Virtual {
                continue;
            }
            self.positive(
                &format!("{elem}.poll"),
                s.poll,
                "a sensor cannot be read continuously",
            );
            if s.poll >= cfg.rules.sensor_stale_after && !s.poll.0.is_zero() {
                self.report(
                    format!("{elem}.poll"),
                    format!(
                        "poll ({}) must be shorter than rules.sensor_stale_after ({}), or the sensor is stale between two readings",
                        s.poll, cfg.rules.sensor_stale_after
                    ),
                );
            }
            if kind.is_i2c() {
                let bus = s.i2c_bus();
                let address = s.i2c_address();
                let key = format!("{elem}.address");
                let allowed: &[u8] = if kind == SensorKind::Sht3x {
                    &[0x44, 0x45]
                } else {
                    &[0x44, 0x45, 0x46]
                };
                if !I2C_ADDRESSES.contains(&address) {
                    self.report(
                        &key,
                        format!("address {address:#04x} is reserved by I2C (use 0x03 to 0x77)"),
                    );
                } else if !allowed.contains(&address) {
                    let list: Vec<String> = allowed.iter().map(|a| format!("{a:#04x}")).collect();
                    self.report(
                        &key,
                        format!(
                            "a {} answers only at {}, not {address:#04x}",
                            name,
                            list.join(" or ")
                        ),
                    );
                }
                uses_i2c1 |= bus == std::path::Path::new(super::DEFAULT_I2C_BUS);
                match addresses.get(&(bus.clone(), address)) {
                    Some(other) => {
                        let message = format!(
                            "address {address:#04x} on {} is already used by {}",
                            bus.display(),
                            self.at(other)
                        );
                        self.report(key, message);
                    }
                    None => {
                        addresses.insert((bus, address), key);
                    }
                }
            } else {
                uses_w1 = true;
                let key = format!("{elem}.w1_id");
                match &s.w1_id {
                    None => self.report(
                        key,
                        "a ds18b20 needs its 1-Wire id, e.g. w1_id = \"28-0316a2791c2f\" (ls /sys/bus/w1/devices)",
                    ),
                    Some(id) if !valid_w1_id(id) => self.report(
                        key,
                        format!("invalid 1-Wire id `{id}` (expected family-serial in lower-case hex, e.g. \"28-0316a2791c2f\")"),
                    ),
                    Some(id) => match w1_ids.get(id) {
                        Some(other) => {
                            let message =
                                format!("1-Wire id `{id}` is already used by {}", self.at(other));
                            self.report(key, message);
                        }
                        None => {
                            w1_ids.insert(id.clone(), key);
                        }
                    },
                }
            }
        }

        // Every GPIO line in use: (chip, offset, key).
        let mut lines: Vec<(PathBuf, u32, String)> = Vec::new();
        for (i, d) in cfg.doors.iter().enumerate() {
            let elem = self.doc.elem("doors", i);
            if let Some(c) = &d.contact {
                lines.push((c.gpiochip.clone(), c.line, format!("{elem}.contact.line")));
                self.debounce(&format!("{elem}.contact.debounce"), c.debounce);
            }
            if let Some(b) = &d.exit_button {
                lines.push((
                    b.gpiochip.clone(),
                    b.line,
                    format!("{elem}.exit_button.line"),
                ));
                self.debounce(&format!("{elem}.exit_button.debounce"), b.debounce);
            }
        }
        let mut devices: HashMap<PathBuf, String> = HashMap::new();
        for (i, r) in cfg.readers.iter().enumerate() {
            let Some(input) = &r.input else { continue };
            let elem = format!("{}.input", self.doc.elem("readers", i));
            match input.kind {
                ReaderInputKind::Wiegand => {
                    for (name, line) in [("d0", input.d0), ("d1", input.d1)] {
                        match line {
                            Some(line) => {
                                lines.push((input.gpiochip.clone(), line, format!("{elem}.{name}")))
                            }
                            None => self.report(
                                format!("{elem}.{name}"),
                                format!(
                                    "a wiegand reader needs {name} (the GPIO line of DATA{})",
                                    &name[1..]
                                ),
                            ),
                        }
                    }
                    if input.device.is_some() {
                        self.report(
                            format!("{elem}.device"),
                            "device is for kind = \"keyboard\"; a wiegand reader uses gpiochip, d0 and d1",
                        );
                    }
                    if input.card_format == super::CardFormat::AsTyped {
                        self.report(
                            format!("{elem}.card_format"),
                            "\"as_typed\" is for keyboard readers; a wiegand reader writes \"card\" or \"facility_card\"",
                        );
                    }
                }
                ReaderInputKind::Keyboard => {
                    for (name, set) in [("d0", input.d0.is_some()), ("d1", input.d1.is_some())] {
                        if set {
                            self.report(
                                format!("{elem}.{name}"),
                                format!("{name} is for kind = \"wiegand\"; a keyboard reader uses device"),
                            );
                        }
                    }
                    let key = format!("{elem}.device");
                    match &input.device {
                        None => self.report(
                            key,
                            "a keyboard reader needs its device, e.g. \"/dev/input/by-id/usb-…-event-kbd\"",
                        ),
                        Some(dev) if dev.as_os_str().is_empty() => {
                            self.report(key, "device must not be empty")
                        }
                        Some(dev) => match devices.get(dev) {
                            Some(other) => {
                                let message = format!(
                                    "device {} is already used by {}",
                                    dev.display(),
                                    self.at(other)
                                );
                                self.report(key, message);
                            }
                            None => {
                                devices.insert(dev.clone(), key);
                            }
                        },
                    }
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

        let pi_chip = std::path::Path::new(super::DEFAULT_GPIOCHIP);
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
                self.report(key, format!("line {line} of {} is {what}", chip.display()));
                continue;
            }
            match first.get(&(chip, *line)) {
                Some(other) => {
                    let message = format!(
                        "line {line} of {} is already used by {}",
                        chip.display(),
                        self.at(other)
                    );
                    self.report(key, message);
                }
                None => {
                    first.insert((chip, *line), key);
                }
            }
        }
    }

    fn debounce(&mut self, key: &str, d: Dur) {
        if d.0 > std::time::Duration::from_secs(1) {
            self.report(
                key,
                format!(
                    "debounce {d} is too long (at most 1s; 50ms suits reed switches and buttons)"
                ),
            );
        }
    }
}
