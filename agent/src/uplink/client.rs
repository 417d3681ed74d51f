//! One face for rumqttc's two clients: MQTT 3.1.1 (the default) and MQTT 5
//! (`[mqtt] protocol = 5`). The link sees only [`Client`], [`Loop`] and the [`Ev`]ents it
//! needs, with MQTT 5's reason codes carried along for the log.

use std::future::Future;
use std::pin::Pin;

use rumqttc::v5;
use rumqttc::v5::mqttbytes::v5 as p5;
use rumqttc::{Event, Outgoing, Packet, QoS};

use super::UplinkError;

/// A client of either protocol; every call is non-blocking (`try_*`).
#[derive(Clone)]
pub(super) enum Client {
    V4(rumqttc::AsyncClient),
    V5(v5::AsyncClient),
}

fn qos5(q: QoS) -> v5::mqttbytes::QoS {
    match q {
        QoS::AtMostOnce => v5::mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => v5::mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => v5::mqttbytes::QoS::ExactlyOnce,
    }
}

impl Client {
    pub(super) fn try_publish(
        &self,
        topic: String,
        qos: QoS,
        retain: bool,
        payload: Vec<u8>,
    ) -> Result<(), UplinkError> {
        match self {
            Client::V4(c) => Ok(c.try_publish(topic, qos, retain, payload)?),
            Client::V5(c) => c
                .try_publish(topic, qos5(qos), retain, payload)
                .map_err(|e| UplinkError::Client5(e.to_string())),
        }
    }

    pub(super) fn try_subscribe(&self, topic: String, qos: QoS) -> Result<(), UplinkError> {
        match self {
            Client::V4(c) => Ok(c.try_subscribe(topic, qos)?),
            Client::V5(c) => c
                .try_subscribe(topic, qos5(qos))
                .map_err(|e| UplinkError::Client5(e.to_string())),
        }
    }

    /// False when the request could not be queued.
    pub(super) fn try_disconnect(&self) -> bool {
        match self {
            Client::V4(c) => c.try_disconnect().is_ok(),
            Client::V5(c) => c.try_disconnect().is_ok(),
        }
    }
}

/// The event loop of either protocol.
pub(super) enum Loop {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<v5::EventLoop>),
}

/// What the link acts on, from either protocol.
#[derive(Debug)]
pub(super) enum Ev {
    /// CONNACK accepted; `session_present` (MQTT 5: the broker kept our session).
    ConnAck {
        session_present: bool,
    },
    /// A publish of ours handed to the network, with its packet id (0 for QoS 0).
    OutgoingPublish(u16),
    OutgoingDisconnect,
    /// PUBACK; `refused` is MQTT 5's reason when the broker did not take the message.
    PubAck {
        pkid: u16,
        refused: Option<String>,
    },
    Publish {
        topic: String,
        payload: Vec<u8>,
    },
    /// SUBACK refusing the subscription (with MQTT 5's reason code).
    SubAckRefused(String),
    /// MQTT 5: the broker closes the connection and says why.
    ServerDisconnect(String),
    Other,
}

/// Why a connection failed or ended, for the log; `oversize` when it was a packet over the
/// incoming limit.
#[derive(Debug)]
pub(super) struct LinkLost {
    pub(super) message: String,
    pub(super) oversize: Option<usize>,
}

impl std::fmt::Display for LinkLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub(super) type PollFuture = Pin<Box<dyn Future<Output = (Loop, Result<Ev, LinkLost>)> + Send>>;

/// Polls the event loop once, handing it back: the future lives across `select!` rounds,
/// so `EventLoop::poll` is never cancelled half-way.
pub(super) fn poll_once(el: Loop) -> PollFuture {
    Box::pin(async move {
        match el {
            Loop::V4(mut el) => {
                let r = el.poll().await;
                (Loop::V4(el), r.map(ev4).map_err(lost4))
            }
            Loop::V5(mut el) => {
                let r = el.poll().await;
                (Loop::V5(el), r.map(ev5).map_err(lost5))
            }
        }
    })
}

fn ev4(ev: Event) -> Ev {
    match ev {
        Event::Incoming(Packet::ConnAck(a)) => Ev::ConnAck {
            session_present: a.session_present,
        },
        Event::Outgoing(Outgoing::Publish(pkid)) => Ev::OutgoingPublish(pkid),
        Event::Outgoing(Outgoing::Disconnect) => Ev::OutgoingDisconnect,
        Event::Incoming(Packet::PubAck(a)) => Ev::PubAck {
            pkid: a.pkid,
            refused: None,
        },
        Event::Incoming(Packet::Publish(p)) => Ev::Publish {
            topic: p.topic.clone(),
            payload: p.payload.to_vec(),
        },
        Event::Incoming(Packet::SubAck(a))
            if a.return_codes
                .iter()
                .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)) =>
        {
            Ev::SubAckRefused("failure (0x80)".into())
        }
        _ => Ev::Other,
    }
}

fn ev5(ev: v5::Event) -> Ev {
    match ev {
        v5::Event::Incoming(p5::Packet::ConnAck(a)) => Ev::ConnAck {
            session_present: a.session_present,
        },
        v5::Event::Outgoing(Outgoing::Publish(pkid)) => Ev::OutgoingPublish(pkid),
        v5::Event::Outgoing(Outgoing::Disconnect) => Ev::OutgoingDisconnect,
        v5::Event::Incoming(p5::Packet::PubAck(a)) => {
            use p5::PubAckReason as R;
            // "No matching subscribers" is a success: the broker took the message.
            let refused = match a.reason {
                R::Success | R::NoMatchingSubscribers => None,
                other => Some(format!("{other:?}")),
            };
            Ev::PubAck {
                pkid: a.pkid,
                refused,
            }
        }
        v5::Event::Incoming(p5::Packet::Publish(p)) => Ev::Publish {
            topic: String::from_utf8_lossy(&p.topic).into_owned(),
            payload: p.payload.to_vec(),
        },
        v5::Event::Incoming(p5::Packet::SubAck(a)) => {
            use p5::SubscribeReasonCode as C;
            match a.return_codes.iter().find(|c| !matches!(c, C::Success(_))) {
                Some(c) => Ev::SubAckRefused(format!("{c:?}")),
                None => Ev::Other,
            }
        }
        v5::Event::Incoming(p5::Packet::Disconnect(d)) => {
            Ev::ServerDisconnect(format!("{:?}", d.reason_code))
        }
        _ => Ev::Other,
    }
}

fn lost4(e: rumqttc::ConnectionError) -> LinkLost {
    let oversize = match &e {
        rumqttc::ConnectionError::MqttState(rumqttc::StateError::Deserialization(
            rumqttc::Error::PayloadSizeLimitExceeded(size),
        )) => Some(*size),
        _ => None,
    };
    LinkLost {
        message: e.to_string(),
        oversize,
    }
}

fn lost5(e: v5::ConnectionError) -> LinkLost {
    let oversize = match &e {
        v5::ConnectionError::MqttState(v5::StateError::Deserialization(
            v5::mqttbytes::Error::PayloadSizeLimitExceeded { pkt_size, .. },
        )) => Some(*pkt_size),
        _ => None,
    };
    // The reason code of a refused CONNECT (MQTT 5 names it: not authorized, bad client id…).
    let message = match &e {
        v5::ConnectionError::ConnectionRefused(code) => {
            format!("connection refused by the broker, reason code {code:?}")
        }
        _ => e.to_string(),
    };
    LinkLost { message, oversize }
}
