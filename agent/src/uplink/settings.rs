//! [`UplinkSettings`]: `[mqtt]` and the files it names, read once; and the rumqttc options.

use std::time::Duration;

use rumqttc::{LastWill, MqttOptions, QoS, TlsConfiguration, Transport};

use rumqttc::v5;

use super::client::{Client, Loop};
use super::{UplinkError, MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET};

/// MQTT 5: how long the broker keeps the agent's session after the connection is lost.
pub const SESSION_EXPIRY: Duration = Duration::from_secs(24 * 3600);
use crate::config::Config;
use crate::outbox::Cap;
use crate::wire::{self, Status};

/// Everything the link needs, read from the configuration once (files included).
#[derive(Clone)]
pub struct UplinkSettings {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub facility: String,
    pub topic_prefix: String,
    pub tls: Option<TlsMaterial>,
    pub credentials: Option<Credentials>,
    pub keep_alive: Duration,
    pub max_inflight: u16,
    pub telemetry_qos: QoS,
    pub command_max_bytes: usize,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// How long acknowledged messages are kept for `resend`.
    pub keep_sent: Duration,
    /// Copies republished per second by `resend`, at most.
    pub resend_per_second: u32,
    /// MQTT 5 (`[mqtt] protocol = 5`) rather than 3.1.1.
    pub mqtt5: bool,
    /// The outbox cap, for the command results the uplink enqueues itself.
    pub cap: Cap,
}

/// PEM bytes for mqtts.
#[derive(Clone)]
pub struct TlsMaterial {
    pub ca: Vec<u8>,
    /// Client certificate chain and private key, for mutual TLS.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca", &format_args!("{} bytes", self.ca.len()))
            .field(
                "client",
                &self.client.as_ref().map(|_| "certificate + <redacted key>"),
            )
            .finish()
    }
}

/// MQTT user name and password. The password is never printed.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    password: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl std::fmt::Debug for UplinkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UplinkSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("client_id", &self.client_id)
            .field("facility", &self.facility)
            .field("topic_prefix", &self.topic_prefix)
            .field("tls", &self.tls)
            .field("credentials", &self.credentials)
            .field("keep_alive", &self.keep_alive)
            .field("max_inflight", &self.max_inflight)
            .field("telemetry_qos", &self.telemetry_qos)
            .field("command_max_bytes", &self.command_max_bytes)
            .field("reconnect_min", &self.reconnect_min)
            .field("reconnect_max", &self.reconnect_max)
            .field("keep_sent", &self.keep_sent)
            .field("resend_per_second", &self.resend_per_second)
            .field("mqtt5", &self.mqtt5)
            .field("cap", &self.cap)
            .finish()
    }
}

fn read_file(what: &'static str, path: &std::path::Path) -> Result<Vec<u8>, UplinkError> {
    std::fs::read(path).map_err(|source| UplinkError::ReadFile {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn pem_with(bytes: &[u8], what: &'static str, path: &std::path::Path) -> Result<(), UplinkError> {
    let text = String::from_utf8_lossy(bytes);
    if text.contains("-----BEGIN ") {
        Ok(())
    } else {
        Err(UplinkError::NotPem {
            what,
            path: path.to_path_buf(),
        })
    }
}

impl UplinkSettings {
    /// Reads `[mqtt]` (and the files it names) and `facility`. Out-of-range numbers are
    /// clamped to what rumqttc accepts, so a bad value can never make it panic; the config
    /// validation reports them to the installer.
    pub fn from_config(cfg: &Config) -> Result<UplinkSettings, UplinkError> {
        let m = &cfg.mqtt;
        let tls = match &m.tls {
            None => None,
            Some(t) => {
                let ca = read_file("mqtt.tls.ca_file", &t.ca_file)?;
                pem_with(&ca, "mqtt.tls.ca_file", &t.ca_file)?;
                let client = match (&t.cert_file, &t.key_file) {
                    (Some(c), Some(k)) => {
                        let cert = read_file("mqtt.tls.cert_file", c)?;
                        pem_with(&cert, "mqtt.tls.cert_file", c)?;
                        let key = read_file("mqtt.tls.key_file", k)?;
                        pem_with(&key, "mqtt.tls.key_file", k)?;
                        Some((cert, key))
                    }
                    (None, None) => None,
                    _ => return Err(UplinkError::CertWithoutKey),
                };
                Some(TlsMaterial { ca, client })
            }
        };
        let credentials = match (&m.username, &m.password_file) {
            (Some(u), Some(p)) => {
                let raw = read_file("mqtt.password_file", p)?;
                // The error keeps only the position: its bytes are the password.
                let pw = String::from_utf8(raw).map_err(|e| UplinkError::PasswordNotUtf8 {
                    path: p.clone(),
                    source: e.utf8_error(),
                })?;
                Some(Credentials::new(
                    u.clone(),
                    pw.trim_end_matches(['\r', '\n']).to_owned(),
                ))
            }
            (Some(u), None) => Some(Credentials::new(u.clone(), String::new())),
            (None, Some(_)) => return Err(UplinkError::PasswordWithoutUsername),
            (None, None) => None,
        };
        let prefix = m.topic_prefix.trim_end_matches('/').to_owned();
        if prefix.contains(['+', '#']) || cfg.facility.id.contains(['+', '#', '/']) {
            return Err(UplinkError::TopicWildcards);
        }
        let client_id = m
            .client_id
            .clone()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| cfg.facility.id.clone());
        Ok(UplinkSettings {
            host: m.host.clone(),
            port: m.port,
            client_id,
            facility: cfg.facility.id.clone(),
            topic_prefix: prefix,
            tls,
            credentials,
            keep_alive: m.keep_alive.0,
            max_inflight: m.max_inflight,
            telemetry_qos: if m.telemetry_qos == 0 {
                QoS::AtMostOnce
            } else {
                QoS::AtLeastOnce
            },
            command_max_bytes: m.command_max_bytes,
            reconnect_min: m.reconnect_min.0,
            reconnect_max: m.reconnect_max.0,
            keep_sent: m.keep_sent.0,
            resend_per_second: m.resend_per_second.clamp(1, 10_000),
            mqtt5: m.protocol == 5,
            cap: Cap::from_config(cfg),
        })
    }

    /// `{topic_prefix}/{facility}/{suffix}`.
    pub fn topic(&self, suffix: &str) -> String {
        if self.topic_prefix.is_empty() {
            format!("{}/{suffix}", self.facility)
        } else {
            format!("{}/{}/{suffix}", self.topic_prefix, self.facility)
        }
    }

    pub(super) fn window(&self) -> usize {
        usize::from(self.max_inflight.clamp(1, 65_000))
    }

    /// A fresh client and event loop of the configured protocol.
    pub(super) fn client(&self, will: &Status) -> (Client, Loop) {
        let cap = self.window() + 8;
        if self.mqtt5 {
            let (c, el) = v5::AsyncClient::new(self.mqtt5_options(will), cap);
            (Client::V5(c), Loop::V5(Box::new(el)))
        } else {
            let (c, el) = rumqttc::AsyncClient::new(self.mqtt_options(will), cap);
            (Client::V4(c), Loop::V4(Box::new(el)))
        }
    }

    fn client_id_or_default(&self) -> String {
        if self.client_id.trim().is_empty() || self.client_id.starts_with(' ') {
            format!("nursery-agent-{}", self.facility)
        } else {
            self.client_id.clone()
        }
    }

    fn keep_alive_clamped(&self) -> Duration {
        if self.keep_alive.is_zero() {
            Duration::ZERO
        } else {
            // MQTT carries it as 16-bit seconds.
            self.keep_alive
                .clamp(Duration::from_secs(1), Duration::from_secs(65_535))
        }
    }

    /// MQTT 5: a session the broker keeps [`SESSION_EXPIRY`] after a connection is lost
    /// (clean start off), so the commands subscription and what the platform sent on it
    /// meanwhile survive a reconnect; what the agent publishes is re-sent from the outbox
    /// as with 3.1.1.
    pub(super) fn mqtt5_options(&self, will: &Status) -> v5::MqttOptions {
        let mut o = v5::MqttOptions::new(self.client_id_or_default(), self.host.clone(), self.port);
        o.set_keep_alive(self.keep_alive_clamped());
        o.set_clean_start(false);
        let mut props = v5::mqttbytes::v5::ConnectProperties::new();
        props.session_expiry_interval = Some(SESSION_EXPIRY.as_secs() as u32);
        props.max_packet_size = Some(MAX_INCOMING_PACKET as u32);
        o.set_connect_properties(props);
        o.set_outgoing_inflight_upper_limit((self.window() + 1).min(65_535) as u16);
        o.set_request_channel_capacity(self.window() + 8);
        o.set_max_packet_size(Some(MAX_INCOMING_PACKET as u32));
        o.set_last_will(v5::mqttbytes::v5::LastWill::new(
            self.topic(wire::STATUS_TOPIC),
            will.to_json(),
            v5::mqttbytes::QoS::AtLeastOnce,
            true,
            None,
        ));
        if let Some(c) = &self.credentials {
            o.set_credentials(c.username.clone(), c.password.clone());
        }
        if let Some(t) = &self.tls {
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
                ca: t.ca.clone(),
                alpn: None,
                client_auth: t.client.clone(),
            }));
        }
        o
    }

    pub(super) fn mqtt_options(&self, will: &Status) -> MqttOptions {
        let mut o = MqttOptions::new(self.client_id_or_default(), self.host.clone(), self.port);
        o.set_keep_alive(self.keep_alive_clamped());
        o.set_clean_session(true);
        // One slot more than our window, for the status message.
        o.set_inflight((self.window() + 1).min(65_535) as u16);
        o.set_request_channel_capacity(self.window() + 8);
        o.set_max_packet_size(MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET);
        o.set_last_will(LastWill::new(
            self.topic(wire::STATUS_TOPIC),
            will.to_json(),
            QoS::AtLeastOnce,
            true,
        ));
        if let Some(c) = &self.credentials {
            o.set_credentials(c.username.clone(), c.password.clone());
        }
        if let Some(t) = &self.tls {
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
                ca: t.ca.clone(),
                alpn: None,
                client_auth: t.client.clone(),
            }));
        }
        o
    }

    /// The delay before reconnect attempt `attempt` (0 after the first failure): "full
    /// jitter", drawn uniformly from 10 ms to the exponential bound `reconnect_min · 2^attempt`
    /// capped at `reconnect_max`. A city's nurseries coming back after one outage are spread
    /// over the whole bound, not bunched at its half.
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let floor = Duration::from_millis(10);
        let min = self.reconnect_min.max(floor);
        let max = self.reconnect_max.max(min);
        let d = min
            .checked_mul(1u32 << attempt.min(20))
            .unwrap_or(max)
            .min(max);
        floor + (d - floor).mul_f64(rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> UplinkSettings {
        UplinkSettings {
            host: "127.0.0.1".into(),
            port: 1883,
            client_id: "c".into(),
            facility: "f".into(),
            topic_prefix: "childcare/v1".into(),
            tls: None,
            credentials: Some(Credentials::new("agent", "hunter2")),
            keep_alive: Duration::from_secs(30),
            max_inflight: 64,
            telemetry_qos: QoS::AtMostOnce,
            command_max_bytes: 4096,
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            keep_sent: Duration::from_secs(3600),
            resend_per_second: 500,
            mqtt5: false,
            cap: Cap {
                max_bytes: 1 << 20,
                tz: chrono_tz::Asia::Shanghai,
            },
        }
    }

    #[test]
    fn reconnect_delays_double_from_one_second_to_a_minute_with_full_jitter() {
        let s = settings();
        for (attempt, full) in [(0, 1), (1, 2), (2, 4), (5, 32), (6, 60), (30, 60)] {
            let full = Duration::from_secs(full);
            let draws: Vec<Duration> = (0..400).map(|_| s.backoff(attempt)).collect();
            for d in &draws {
                assert!(
                    *d >= Duration::from_millis(10) && *d <= full,
                    "attempt {attempt}: {d:?}"
                );
            }
            // Full jitter: the whole bound is used, its lower half included.
            let low = draws.iter().filter(|d| **d < full / 4).count();
            let high = draws.iter().filter(|d| **d > full * 3 / 4).count();
            assert!(
                low > 40 && high > 40,
                "attempt {attempt}: {low} low, {high} high"
            );
        }
    }

    #[test]
    fn mqtt_5_keeps_its_session_a_day_with_the_same_will_and_3_1_1_stays_clean() {
        let s = settings();
        let will = Status::new(wire::LinkState::Offline, chrono::Utc::now());
        let o = s.mqtt5_options(&will);
        assert!(!o.clean_start());
        let props = o.connect_properties().expect("connect properties");
        assert_eq!(props.session_expiry_interval, Some(86_400));
        assert_eq!(o.keep_alive(), Duration::from_secs(30));
        let w = o.last_will().expect("a last will");
        assert_eq!(&w.topic[..], b"childcare/v1/f/status");
        assert!(w.retain);
        let o4 = s.mqtt_options(&will);
        assert!(o4.clean_session());
    }

    #[test]
    fn settings_never_show_the_password() {
        let shown = format!("{:?}", settings());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn topics_sit_under_prefix_and_facility() {
        let mut s = settings();
        assert_eq!(s.topic("summaries/daily"), "childcare/v1/f/summaries/daily");
        s.topic_prefix = String::new();
        assert_eq!(s.topic("status"), "f/status");
    }
}
