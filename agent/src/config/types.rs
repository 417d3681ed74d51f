//! The configuration file's shape (contract section 2), as serde types.
//!
//! Every table denies unknown keys. Defaults live here and only here: a key that is
//! absent takes the value of the `default_*` function or `Default` impl beside it.

use std::path::PathBuf;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};

use super::units::{Dur, TimeOfDay};

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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Door {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderPurpose {
    Access,
    Attendance,
    Room,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reader {
    pub id: String,
    pub purpose: ReaderPurpose,
    /// Required for purpose = "access".
    #[serde(default)]
    pub door: Option<String>,
    /// Required for purpose = "room".
    #[serde(default)]
    pub room: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorKind {
    /// Readings arrive as events (replay, tests, the simulator, an external feed).
    #[default]
    Virtual,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensor {
    pub id: String,
    pub room: String,
    #[serde(default)]
    pub kind: SensorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
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
    pub birth_date: NaiveDate,
    /// Home room.
    pub room: String,
    /// The adults allowed to pick this child up.
    #[serde(default)]
    pub guardians: Vec<String>,
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
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            dir: PathBuf::from("/var/lib/nursery-agent"),
        }
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

fn de_tz<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<Tz>().map_err(|_| {
        serde::de::Error::custom(format!(
            "unknown time zone `{s}` (expected an IANA name such as \"Asia/Shanghai\")"
        ))
    })
}
