//! The configuration file's shape (contract section 2), as serde types.
//!
//! Every table denies unknown keys. Defaults live here and only here: a key that is
//! absent takes the value of the `default_*` function or `Default` impl beside it.

use std::path::PathBuf;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize};
use strum::VariantArray;

use super::units::{Dur, TimeOfDay};
use crate::names::serde_name;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub facility: Facility,
    #[serde(default)]
    pub rooms: Vec<Room>,
    #[serde(default)]
    pub doors: Vec<Door>,
    #[serde(default)]
    pub readers: Vec<Reader>,
    #[serde(default)]
    pub sensors: Vec<Sensor>,
    /// Contract section 8: dry-contact inputs, panic buttons (一键报警) and fire panels.
    #[serde(default)]
    pub inputs: Vec<InputDef>,
    #[serde(default)]
    pub staff: Vec<Staff>,
    #[serde(default)]
    pub children: Vec<Child>,
    #[serde(default)]
    pub guardians: Vec<Guardian>,
    #[serde(default)]
    pub rules: Rules,
    #[serde(default)]
    pub mqtt: Mqtt,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default)]
    pub dashboard: Dashboard,
    /// The project's own: run the daemon on a simulated nursery day instead of hardware.
    #[serde(default)]
    pub simulation: Option<Simulation>,
    /// The project's own: buzzer and warning light on GPIO outputs.
    #[serde(default)]
    pub outputs: Outputs,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facility {
    /// Issued by the regulator; used in MQTT topics.
    pub id: String,
    pub name: String,
    #[serde(deserialize_with = "de_tz")]
    pub timezone: Tz,
    pub ratio_preset: crate::presets::Preset,
    pub open: TimeOfDay,
    pub close: TimeOfDay,
    /// How the console and the staff page speak. The project's own key.
    #[serde(default)]
    pub locale: Locale,
    /// Contract section 8: the days the nursery opens; default Monday to Friday.
    #[serde(default = "super::days::default_days")]
    pub days: Vec<super::days::DayName>,
}

/// Language of human-readable output (console lines, the staff page).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Locale {
    #[serde(rename = "zh-CN")]
    Zh,
    #[serde(rename = "en")]
    En,
    /// Chinese first, English beside it.
    #[default]
    #[serde(rename = "zh-CN+en")]
    Bilingual,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Room {
    pub id: String,
    pub name: String,
    /// Without it the preset's group size applies (contract section 5).
    #[serde(default)]
    pub capacity: Option<u32>,
    /// Contract section 8: overrides `[rules] sleep_check_interval` for this room.
    #[serde(default)]
    pub sleep_check_interval: Option<Dur>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Door {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The project's own: a reed contact on a GPIO line; without it door events arrive as
    /// events (replay, `--events`, an access panel).
    #[serde(default)]
    pub contact: Option<DoorContact>,
    /// The project's own: a request-to-exit button on a GPIO line.
    #[serde(default)]
    pub exit_button: Option<GpioInput>,
}

/// `[[inputs]]`: a panic button or a fire panel's relay (contract section 8).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputDef {
    pub id: String,
    pub kind: InputKind,
    #[serde(default)]
    pub name: Option<String>,
    /// The project's own: the dry contact on a GPIO line, read like a door contact
    /// (`normally = "open"`: closing the contact makes the input active); without it the
    /// input's changes arrive as `input` events.
    #[serde(default)]
    pub contact: Option<DoorContact>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// 一键报警: raises `panic_button` until someone records a disposition.
    Panic,
    /// The fire panel's relay: raises `fire_alarm` while active.
    Fire,
}

impl InputKind {
    pub const ALL: &'static [InputKind] = <InputKind as VariantArray>::VARIANTS;

    /// `"panic"`, `"fire"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }

    /// The alert the input raises while active.
    pub fn alert_type(self) -> crate::alert::AlertType {
        match self {
            InputKind::Panic => crate::alert::AlertType::PanicButton,
            InputKind::Fire => crate::alert::AlertType::FireAlarm,
        }
    }
}

/// The GPIO character device of the Raspberry Pi's 40-pin header (`gpiochip0` on a Pi 1–4,
/// and on a Pi 5 from kernel 6.6.45 on).
pub const DEFAULT_GPIOCHIP: &str = "/dev/gpiochip0";

fn default_gpiochip() -> PathBuf {
    PathBuf::from(DEFAULT_GPIOCHIP)
}

/// Debounce time of contacts and buttons when none is configured: 50 ms, longer than the
/// few-millisecond bounce of reed switches and push buttons.
pub const DEFAULT_DEBOUNCE: Dur = Dur(std::time::Duration::from_millis(50));

fn default_debounce() -> Dur {
    DEFAULT_DEBOUNCE
}

/// Which kind of reed switch a door contact is; see `docs/hardware.md` for the wiring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normally {
    /// Normally-open reed to ground, pull-up: low = door closed, a cut wire reads open.
    #[default]
    Open,
    /// Normally-closed reed to ground, pull-up: high = door closed.
    Closed,
}

/// `contact = { line = 17, normally = "open" }` on a door.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoorContact {
    #[serde(default = "default_gpiochip")]
    pub gpiochip: PathBuf,
    /// Line offset on the chip (on a Raspberry Pi, the BCM GPIO number).
    pub line: u32,
    #[serde(default)]
    pub normally: Normally,
    #[serde(default = "default_debounce")]
    pub debounce: Dur,
}

/// An input that is pressed when pulled low (a button to ground, with the pull-up enabled):
/// `exit_button = { line = 27 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioInput {
    #[serde(default = "default_gpiochip")]
    pub gpiochip: PathBuf,
    pub line: u32,
    #[serde(default = "default_debounce")]
    pub debounce: Dur,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum ReaderPurpose {
    Access,
    Attendance,
    Room,
    /// Contract section 8: a staff badge here is a sleep check in the reader's `room`.
    SleepCheck,
    /// Contract section 8: at the assembly point; a staff badge here accounts for its
    /// holder in the roll call of the emergency under way.
    Assembly,
}

impl ReaderPurpose {
    pub const ALL: &'static [ReaderPurpose] = <ReaderPurpose as VariantArray>::VARIANTS;

    /// `"access"`, `"attendance"`, `"room"`, `"sleep_check"`, `"assembly"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reader {
    pub id: String,
    pub purpose: ReaderPurpose,
    /// Required for purpose = "access".
    #[serde(default)]
    pub door: Option<String>,
    /// Required for purpose = "room" and "sleep_check".
    #[serde(default)]
    pub room: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// The project's own: where the reader is wired; without it badges arrive as events.
    #[serde(default)]
    pub input: Option<ReaderInput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderInputKind {
    /// Wiegand D0/D1 on two GPIO lines (`gpiochip`, `d0`, `d1`).
    Wiegand,
    /// A USB "keyboard wedge" reader that types the card number and Enter (`device`).
    Keyboard,
}

/// How a card read becomes the `card` string of a badge event (and of the roster). A
/// keyboard reader's typed decimal number N is split like a 26-bit Wiegand frame (facility
/// = bits 16–23, card = bits 0–15), so one card reads alike at both kinds of reader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardFormat {
    /// The card number alone, in decimal without leading zeros: `"3456"`. The second
    /// number printed on H10301 and EM4100 cards ("012,03456"), unique within one facility
    /// code.
    #[default]
    Card,
    /// Facility code and card number: `"12:3456"`, for sites mixing facility codes.
    FacilityCard,
    /// Keyboard readers only: the text exactly as typed (`"0000789888"`), for readers that
    /// type something other than a decimal card id.
    AsTyped,
}

/// `input = { kind = "wiegand", d0 = 5, d1 = 6 }` or
/// `input = { kind = "keyboard", device = "/dev/input/by-id/…-event-kbd" }` on a reader.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderInput {
    pub kind: ReaderInputKind,
    /// Wiegand: the GPIO chip of `d0` and `d1`.
    #[serde(default = "default_gpiochip")]
    pub gpiochip: PathBuf,
    /// Wiegand: line offset of DATA0 (green wire).
    #[serde(default)]
    pub d0: Option<u32>,
    /// Wiegand: line offset of DATA1 (white wire).
    #[serde(default)]
    pub d1: Option<u32>,
    /// How the card number is written (both kinds).
    #[serde(default)]
    pub card_format: CardFormat,
    /// Keyboard: the evdev device; prefer the stable `/dev/input/by-id/…` link.
    #[serde(default)]
    pub device: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum SensorKind {
    /// Readings arrive as events (replay, tests, the simulator, an external feed).
    #[default]
    Virtual,
    /// Sensirion SHT30/31/35 on I²C (`bus`, `address` 0x44 or 0x45).
    Sht3x,
    /// Sensirion SHT40/41/43/45 on I²C (`bus`, `address` 0x44, 0x45 or 0x46).
    Sht4x,
    /// Maxim DS18B20 on the kernel's 1-Wire bus (`w1_id`), temperature only.
    Ds18b20,
}

impl SensorKind {
    pub const ALL: &'static [SensorKind] = <SensorKind as VariantArray>::VARIANTS;

    /// `"virtual"`, `"sht3x"`, `"sht4x"`, `"ds18b20"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }

    /// Whether the sensor sits on an I²C bus.
    pub fn is_i2c(self) -> bool {
        matches!(self, SensorKind::Sht3x | SensorKind::Sht4x)
    }
}

/// I²C bus of hardware sensors when none is configured: the header's SDA1/SCL1 (pins 3, 5).
pub const DEFAULT_I2C_BUS: &str = "/dev/i2c-1";

/// Default address of SHT3x and SHT4x parts.
pub const DEFAULT_I2C_ADDRESS: u8 = 0x44;

fn default_poll() -> Dur {
    Dur::secs(60)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensor {
    pub id: String,
    pub room: String,
    #[serde(default)]
    pub kind: SensorKind,
    /// `sht3x` / `sht4x`: the I²C bus device; default [`DEFAULT_I2C_BUS`].
    #[serde(default)]
    pub bus: Option<PathBuf>,
    /// `sht3x` / `sht4x`: the 7-bit address (write it `0x44`); default 0x44.
    #[serde(default)]
    pub address: Option<u8>,
    /// `ds18b20`: the 1-Wire slave id, e.g. `"28-0316a2791c2f"`.
    #[serde(default)]
    pub w1_id: Option<String>,
    /// Hardware kinds: how often to read the sensor (keep it well under
    /// `rules.sensor_stale_after`).
    #[serde(default = "default_poll")]
    pub poll: Dur,
}

impl Sensor {
    /// The I²C bus of an I²C sensor, with its default.
    pub fn i2c_bus(&self) -> PathBuf {
        self.bus
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_I2C_BUS))
    }

    /// The I²C address of an I²C sensor, with its default.
    pub fn i2c_address(&self) -> u8 {
        self.address.unwrap_or(DEFAULT_I2C_ADDRESS)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Caregiver,
    Teacher,
    Health,
    Security,
    Cook,
    Admin,
}

impl Role {
    pub const ALL: &'static [Role] = <Role as VariantArray>::VARIANTS;

    /// `"caregiver"`, `"teacher"`, …: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }

    /// Contract section 2: caregivers and teachers count toward ratios unless told otherwise.
    pub fn counts_in_ratio_by_default(self) -> bool {
        matches!(self, Role::Caregiver | Role::Teacher)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staff {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub card: Option<String>,
    pub role: Role,
    /// Home room.
    pub room: String,
    #[serde(default)]
    pub counts_in_ratio: Option<bool>,
    /// The staff page PIN as an argon2 PHC string (`nursery-agent hash-pin`); without it
    /// this member of staff cannot log in to the page.
    #[serde(default)]
    pub pin_hash: Option<String>,
    /// Contract section 8: the certificates this member of staff holds (持证上岗), each
    /// valid up to and including its `expires` date.
    #[serde(default)]
    pub certificates: Vec<Certificate>,
}

/// `{ kind = "health", expires = "2027-01-31" }` in a staff member's `certificates`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub kind: CertificateKind,
    /// The last local date on which the certificate is valid.
    #[serde(deserialize_with = "de_date")]
    pub expires: NaiveDate,
}

/// The kinds of certificate a roster may name. A closed list, so that a misspelt kind
/// (`"helth"`) is an error in `check-config` rather than a certificate nobody requires.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, VariantArray,
)]
#[serde(rename_all = "snake_case")]
pub enum CertificateKind {
    /// 托幼机构工作人员健康合格证, renewed yearly.
    Health,
    /// 保育员证.
    Caregiver,
    /// 育婴员证.
    InfantCare,
    /// 教师资格证.
    Teacher,
    /// 护士执业证书.
    Nurse,
    /// 医师执业证书.
    Doctor,
    /// 急救员证 (first aid).
    FirstAid,
}

impl CertificateKind {
    pub const ALL: &'static [CertificateKind] = <CertificateKind as VariantArray>::VARIANTS;

    /// `"health"`, `"caregiver"`, …: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }

    /// Chinese label for staff.
    pub fn label_zh(self) -> &'static str {
        match self {
            CertificateKind::Health => "健康合格证",
            CertificateKind::Caregiver => "保育员证",
            CertificateKind::InfantCare => "育婴员证",
            CertificateKind::Teacher => "教师资格证",
            CertificateKind::Nurse => "护士执业证书",
            CertificateKind::Doctor => "医师执业证书",
            CertificateKind::FirstAid => "急救员证",
        }
    }

    /// English label for staff.
    pub fn label_en(self) -> &'static str {
        match self {
            CertificateKind::Health => "health certificate",
            CertificateKind::Caregiver => "caregiver certificate",
            CertificateKind::InfantCare => "infant-care certificate",
            CertificateKind::Teacher => "teaching certificate",
            CertificateKind::Nurse => "nurse licence",
            CertificateKind::Doctor => "physician licence",
            CertificateKind::FirstAid => "first-aid certificate",
        }
    }
}

impl Staff {
    pub fn counts_in_ratio(&self) -> bool {
        self.counts_in_ratio
            .unwrap_or_else(|| self.role.counts_in_ratio_by_default())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Child {
    pub id: String,
    pub name: String,
    #[serde(deserialize_with = "de_date")]
    pub birth_date: NaiveDate,
    /// Home room.
    pub room: String,
    /// The adults allowed to pick this child up.
    #[serde(default)]
    pub guardians: Vec<String>,
    /// Contract section 8: the days this child is expected; default the facility's.
    #[serde(default)]
    pub days: Option<Vec<super::days::DayName>>,
}

impl Child {
    /// The days this child is expected: their own `days` that the facility opens, or the
    /// facility's days.
    pub fn expected_on(&self, facility: &Facility, day: super::days::DayName) -> bool {
        facility.days.contains(&day) && self.days.as_ref().is_none_or(|d| d.contains(&day))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardian {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub card: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    pub ratio_grace: Dur,
    pub unsupervised_grace: Dur,
    pub door_held_open: Dur,
    pub door_grant_window: Dur,
    pub sensor_stale_after: Dur,
    pub pickup_grace: Dur,
    pub temperature: TemperatureRule,
    pub humidity: HumidityRule,
    /// Contract section 8: a nap with no sleep check for this long -> `sleep_check_missed`.
    pub sleep_check_interval: Dur,
    /// Contract section 8: a panic input with no test press for this long is
    /// `panic_untested` at `open`.
    pub panic_test_every: Dur,
    /// Contract section 8: an emergency whose roll call is not complete this long after its
    /// start -> `roll_call_incomplete`.
    pub roll_call_within: Dur,
    /// Contract section 8, off unless set: no drill ended for this long -> `drill_overdue`
    /// at `open`.
    pub drill_every: Option<Dur>,
    /// Contract section 8 (off unless set): a child checked in with no health check this
    /// long after check-in -> `health_check_missing`.
    pub health_check_within: Option<Dur>,
    /// Contract section 8: a health check at or above this -> `health_check_failed`.
    pub fever_c: f64,
    /// Contract section 8 (off unless set): local `"HH:MM"`; an expected child neither in
    /// nor reported absent then -> `child_absent_unreported`.
    pub arrival_deadline: Option<TimeOfDay>,
    /// Contract section 8: staff lacking a valid certificate of one of these kinds do not
    /// count toward ratios (and are `staff_not_qualified` at check-in).
    pub required_certificates: Vec<CertificateKind>,
    /// Contract section 8: a required certificate expiring within this long is
    /// `certificate_expiring` at `open`.
    pub certificate_warning: Dur,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            ratio_grace: Dur::secs(60),
            unsupervised_grace: Dur::secs(0),
            door_held_open: Dur::secs(60),
            door_grant_window: Dur::secs(10),
            sensor_stale_after: Dur::secs(5 * 60),
            pickup_grace: Dur::secs(15 * 60),
            temperature: TemperatureRule::default(),
            humidity: HumidityRule::default(),
            sleep_check_interval: Dur::secs(15 * 60),
            panic_test_every: Dur::secs(30 * 24 * 3600),
            roll_call_within: Dur::secs(10 * 60),
            drill_every: None,
            health_check_within: None,
            fever_c: 37.3,
            arrival_deadline: None,
            required_certificates: Vec::new(),
            certificate_warning: Dur::secs(30 * 24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemperatureRule {
    pub min_c: f64,
    pub max_c: f64,
    pub sustain: Dur,
    pub hysteresis_c: f64,
}

impl Default for TemperatureRule {
    fn default() -> Self {
        TemperatureRule {
            min_c: 18.0,
            max_c: 28.0,
            sustain: Dur::secs(10 * 60),
            hysteresis_c: 0.5,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HumidityRule {
    pub min_pct: f64,
    pub max_pct: f64,
    pub sustain: Dur,
    pub hysteresis_pct: f64,
}

impl Default for HumidityRule {
    fn default() -> Self {
        HumidityRule {
            min_pct: 30.0,
            max_pct: 70.0,
            sustain: Dur::secs(30 * 60),
            hysteresis_pct: 2.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mqtt {
    /// When false the agent keeps everything in its outbox and never connects.
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub topic_prefix: String,
    /// Defaults to the facility id.
    pub client_id: Option<String>,
    /// `[mqtt.tls]`: mqtts with the broker's CA, and a client certificate for mutual TLS.
    pub tls: Option<MqttTls>,
    /// MQTT user name; the password is read from `password_file` (never written in this file).
    pub username: Option<String>,
    /// A file holding the MQTT password (trailing newline ignored). Requires `username`.
    pub password_file: Option<PathBuf>,
    /// MQTT keep-alive: "0s" (off) or at least "1s".
    pub keep_alive: Dur,
    /// Messages published but not yet acknowledged, at most (1..=65000).
    pub max_inflight: u16,
    /// Cap on the payload bytes waiting in the outbox; over it, telemetry is dropped oldest
    /// first (alerts, summaries and command results never are).
    pub outbox_max_bytes: u64,
    /// QoS of `telemetry` messages: 0 or 1.
    pub telemetry_qos: u8,
    /// Largest `commands` payload accepted, in bytes; larger ones get an error result.
    pub command_max_bytes: usize,
    /// First delay before reconnecting; doubles (with jitter) up to `reconnect_max`.
    pub reconnect_min: Dur,
    pub reconnect_max: Dur,
    /// How long an enveloped message is kept after its PUBACK, for `resend` (contract 1.1
    /// section 12); at most `outbox_max_bytes` of them, oldest let go first.
    pub keep_sent: Dur,
    /// Messages republished per second by `resend`, at most (1..=10000): a large range is
    /// paced, and live messages always go first.
    pub resend_per_second: u32,
    /// MQTT protocol: 4 (3.1.1, the default) or 5 (MQTT 5, with a session the broker keeps
    /// a day after a lost connection, and reason codes in the log).
    pub protocol: u8,
}

impl Default for Mqtt {
    fn default() -> Self {
        Mqtt {
            enabled: true,
            host: "127.0.0.1".into(),
            port: 1883,
            topic_prefix: "childcare/v1".into(),
            client_id: None,
            tls: None,
            username: None,
            password_file: None,
            keep_alive: Dur::secs(30),
            max_inflight: 64,
            outbox_max_bytes: 64 * 1024 * 1024,
            telemetry_qos: 0,
            command_max_bytes: 4096,
            reconnect_min: Dur::secs(1),
            reconnect_max: Dur::secs(60),
            keep_sent: Dur::secs(30 * 24 * 3600),
            resend_per_second: 500,
            protocol: 4,
        }
    }
}

/// `[mqtt.tls]`. PEM files. Without `cert_file`/`key_file` the agent authenticates the broker
/// only; with both, the broker can authenticate the agent too (mutual TLS).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttTls {
    /// CA certificate(s) that signed the broker's certificate.
    pub ca_file: PathBuf,
    /// Client certificate (chain) for mutual TLS; requires `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Private key of `cert_file` (PKCS#8, PKCS#1 or SEC1 PEM).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// Journal and outbox live here. A relative path is taken relative to the
    /// directory of the configuration file, so a checkout runs from anywhere.
    pub dir: PathBuf,
    /// Local days of events kept in SQLite; older days are archived, then pruned.
    pub keep_days: u32,
    /// Where the daily archives go (`events-YYYY-MM-DD.jsonl.gz`); relative to `dir`.
    pub archive_dir: PathBuf,
    /// Budget for the whole storage directory, journal, outbox and archives together
    /// (`"2GiB"`, `"500MB"` or a number of bytes): telemetry goes first, archives next,
    /// alerts never.
    #[serde(deserialize_with = "de_bytes")]
    pub max_bytes: u64,
    /// Where a stop while the journal cannot be written leaves what the agent held in
    /// memory (`held.jsonl`), for the next start to take in: a directory on another file
    /// system than `dir` (the unit's `RuntimeDirectory`, in RAM). Unset: systemd's
    /// `$RUNTIME_DIRECTORY` when the agent runs under it, else nowhere (a stop then says
    /// how much it could not keep). Relative to the configuration file.
    #[serde(default)]
    pub spill_dir: Option<PathBuf>,
}

/// The file name of what a stop while the journal fails leaves behind (see
/// [`Storage::spill_path`]).
pub const SPILL_FILE: &str = "held.jsonl";

impl Default for Storage {
    fn default() -> Self {
        Storage {
            dir: PathBuf::from("/var/lib/nursery-agent"),
            keep_days: 400,
            archive_dir: PathBuf::from("archive"),
            max_bytes: 2 << 30,
            spill_dir: None,
        }
    }
}

impl Storage {
    /// The archive directory, `archive_dir` taken relative to `dir`.
    pub fn archive_path(&self) -> PathBuf {
        self.dir.join(&self.archive_dir)
    }

    /// The file a stop while the journal fails leaves what was held in: under
    /// `spill_dir`, else under systemd's `$RUNTIME_DIRECTORY`; `None` when neither is set.
    pub fn spill_path(&self) -> Option<PathBuf> {
        let dir = self.spill_dir.clone().or_else(|| {
            std::env::var_os("RUNTIME_DIRECTORY")
                // systemd may list several, separated by colons: the first is ours.
                .and_then(|v| {
                    v.to_str()
                        .and_then(|s| s.split(':').next())
                        .map(PathBuf::from)
                })
                .filter(|p| !p.as_os_str().is_empty())
        })?;
        Some(dir.join(SPILL_FILE))
    }
}

/// A size: a whole number of bytes, or a string with a unit (`B`, `KB`, `MB`, `GB`, `KiB`,
/// `MiB`, `GiB`; decimal units are powers of 1000, binary ones of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (expected e.g. \"2GiB\", \"500MB\")"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}` (expected B, KB, MB, GB, KiB, MiB or GiB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size `{s}` is too large"))
}

fn de_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        N(u64),
        S(String),
    }
    match Size::deserialize(d)? {
        Size::N(n) => Ok(n),
        Size::S(s) => parse_bytes(&s).map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dashboard {
    pub listen: String,
}

impl Default for Dashboard {
    fn default() -> Self {
        Dashboard {
            listen: "127.0.0.1:8080".into(),
        }
    }
}

/// `[simulation]`: the daemon feeds itself a generated nursery day (no hardware needed).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Simulation {
    pub enabled: bool,
    /// Same seed, same day.
    pub seed: u64,
    /// How many simulated seconds pass per real second (60 = one simulated hour per minute).
    pub speed: f64,
    /// The simulated date ("YYYY-MM-DD"); absent = today in the facility's time zone.
    #[serde(deserialize_with = "de_opt_date")]
    pub date: Option<NaiveDate>,
    /// Simulated time of day to start from; absent = half an hour before `open`.
    pub start: Option<TimeOfDay>,
}

impl Default for Simulation {
    fn default() -> Self {
        Simulation {
            enabled: true,
            seed: 2019,
            speed: 60.0,
            date: None,
            start: None,
        }
    }
}

/// `[outputs]`: alarm outputs, driven active-high (a transistor or relay board switching the
/// buzzer / lamp). Both optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outputs {
    pub buzzer: Option<GpioOutput>,
    pub light: Option<GpioOutput>,
}

/// `buzzer = { line = 18 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioOutput {
    #[serde(default = "default_gpiochip")]
    pub gpiochip: PathBuf,
    pub line: u32,
}

fn de_tz<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<Tz>().map_err(|_| {
        serde::de::Error::custom(format!(
            "unknown time zone `{s}` (expected an IANA name such as \"Asia/Shanghai\")"
        ))
    })
}

/// A date `"YYYY-MM-DD"` as chrono reads it, but with a message of our own: chrono's says
/// what went wrong ("input is out of range") and not what to write.
fn de_date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    d.deserialize_str(DateVisitor)
}

fn de_opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    d.deserialize_option(OptDateVisitor)
}

struct DateVisitor;

impl serde::de::Visitor<'_> for DateVisitor {
    type Value = NaiveDate;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // chrono's own words, so that a wrong type reads as it always has.
        f.write_str("a formatted date string")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<NaiveDate, E> {
        s.parse().map_err(|_| E::custom(super::de::INVALID_DATE))
    }
}

struct OptDateVisitor;

impl<'de> serde::de::Visitor<'de> for OptDateVisitor {
    type Value = Option<NaiveDate>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("option")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        de_date(d).map(Some)
    }
}
