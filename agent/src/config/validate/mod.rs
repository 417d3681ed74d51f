//! Pass 3 of the loader: what the serde types cannot say.
//!
//! Every check is a small function `check_*(cfg, doc) -> Vec<Found>` that returns the
//! problems it finds (in the manner of vector's `config/validation.rs`); [`validate`] runs
//! them all, so none stops the others. The checks:
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
//! - **Plausible dates**: a child's birth date is not after today in the facility's time zone
//!   (the one check that reads the clock), a `[simulation] date` lies in 1970–2199, and a
//!   child's `guardians`, when written, is not an empty list.
//!
//! - **Certificates**: a member of staff lists each kind once; `required_certificates` names
//!   each kind once.
//!
//! Not checked here: unknown keys, presets and time zones, and TOML dates/times where text
//! belongs (`name = 2025-05-20`) — the shape pass rejects those.
//!
//! Problems name keys with the indices of the original file; references to an element that
//! the shape pass had to drop are not reported a second time.

mod certificates;
mod hardware;
mod ids;
mod pin;
mod references;
mod rules;

#[cfg(test)]
pub(super) use ids::valid_id;

use super::doc::{Doc, Found};
use super::{Config, Dur};

/// One check: the problems it finds in `cfg`, keys numbered as in the file (`doc`).
type Check = fn(&Config, &Doc) -> Vec<Found>;

/// The checks in the order their problems are listed (after sorting by line, problems on
/// one line keep this order).
const CHECKS: [Check; 14] = [
    ids::check_facility,
    ids::check_ids,
    ids::check_cards,
    references::check_references,
    references::check_rooms,
    rules::check_rules,
    rules::check_mqtt,
    rules::check_services,
    hardware::check_sensors,
    hardware::check_door_inputs,
    hardware::check_reader_inputs,
    hardware::check_gpio_lines,
    pin::check_pin_hashes,
    certificates::check_certificates,
];

/// Every problem found, in no particular order.
pub(super) fn validate(cfg: &Config, doc: &Doc) -> Vec<Found> {
    CHECKS.iter().flat_map(|check| check(cfg, doc)).collect()
}

/// What one check has found so far, and the document to name keys in.
struct Findings<'a> {
    doc: &'a Doc,
    found: Vec<Found>,
}

impl<'a> Findings<'a> {
    fn new(doc: &'a Doc) -> Self {
        Findings {
            doc,
            found: Vec::new(),
        }
    }

    fn report(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.found.push(Found::new(key, message));
    }

    /// `key` followed by ` (line N)` when the file has it.
    fn at(&self, key: &str) -> String {
        self.doc.at(key)
    }

    fn positive(&mut self, key: &str, d: Dur, why: &str) {
        if d.0.is_zero() {
            self.report(key, format!("must be longer than 0s ({why})"));
        }
    }

    fn done(self) -> Vec<Found> {
        self.found
    }
}
