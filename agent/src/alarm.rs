//! The local alarm: a buzzer or light that sounds while any open critical alert has not
//! been acknowledged by staff, whether or not the network is up.
//!
//! The rhythm comes from the firmware's pattern driver ([`nursery_firmware::alarm`]), and
//! one pattern drives every output at once ([`Outputs`]): the log pin always, and the
//! buzzer and light lines where `[outputs]` names them. "alarm on" / "alarm off" are logged
//! once per change; the pin's every edge is logged at `trace`. A GPIO line is written with
//! one non-blocking ioctl, so the async task may drive it; a failed write is logged and the
//! other outputs go on.

use std::convert::Infallible;
use std::time::Duration;

use embedded_hal::digital::{ErrorType, OutputPin};
use nursery_firmware::alarm::{Alarm, Severity as Pattern};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::alert::Severity;
use crate::live::{Live, LiveView};

/// How often the pattern is stepped while sounding (the critical pattern's edges are
/// 100 ms apart).
const STEP: Duration = Duration::from_millis(25);

/// An output pin that logs instead of driving hardware.
#[derive(Debug, Default)]
pub struct LogPin {
    high: bool,
    /// Level changes so far.
    edges: u64,
}

impl LogPin {
    pub fn is_high(&self) -> bool {
        self.high
    }

    pub fn edges(&self) -> u64 {
        self.edges
    }

    fn set(&mut self, high: bool) {
        if high != self.high {
            self.edges += 1;
        }
        self.high = high;
        tracing::trace!(high, "alarm output");
    }
}

impl ErrorType for LogPin {
    type Error = Infallible;
}

impl OutputPin for LogPin {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.set(false);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        self.set(true);
        Ok(())
    }
}

/// Every output of the alarm, driven with the same level: the log pin, and each extra
/// line (a GPIO buzzer or light).
pub struct Outputs {
    pub log: LogPin,
    pub lines: Vec<Box<dyn OutputPin<Error = Infallible> + Send>>,
}

impl Outputs {
    /// The log pin and `lines`.
    pub fn new(lines: Vec<Box<dyn OutputPin<Error = Infallible> + Send>>) -> Self {
        Outputs {
            log: LogPin::default(),
            lines,
        }
    }

    fn set(&mut self, high: bool) {
        self.log.set(high);
        for line in &mut self.lines {
            let Ok(()) = if high {
                line.set_high()
            } else {
                line.set_low()
            };
        }
    }
}

impl ErrorType for Outputs {
    type Error = Infallible;
}

impl OutputPin for Outputs {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.set(false);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        self.set(true);
        Ok(())
    }
}

/// An output whose failed writes are logged (as warnings) rather than returned: one bad
/// line must not stop the alarm on the others.
pub struct Logged<P> {
    pub name: String,
    pub pin: P,
}

impl<P: OutputPin> ErrorType for Logged<P> {
    type Error = Infallible;
}

impl<P: OutputPin> OutputPin for Logged<P> {
    fn set_low(&mut self) -> Result<(), Infallible> {
        if let Err(e) = self.pin.set_low() {
            tracing::warn!(output = %self.name, error = ?e, "alarm output write failed");
        }
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        if let Err(e) = self.pin.set_high() {
            tracing::warn!(output = %self.name, error = ?e, "alarm output write failed");
        }
        Ok(())
    }
}

/// The open critical alerts nobody has acknowledged yet: the alarm sounds while there
/// is one.
pub fn unacknowledged_critical(view: &LiveView) -> Vec<&str> {
    view.alerts
        .iter()
        .filter(|a| a.severity == Severity::Critical && a.acknowledged.is_none())
        .map(|a| a.alert_id.as_str())
        .collect()
}

/// Drives the alarm on the log pin and `lines` from the live view until `shutdown`, then
/// silences it.
pub async fn run(
    lines: Vec<Box<dyn OutputPin<Error = Infallible> + Send>>,
    live: Live,
    shutdown: CancellationToken,
) {
    run_on(Outputs::new(lines), live, shutdown).await;
}

/// As [`run`], on any output pin; hands the pin back once silenced.
pub async fn run_on<P: OutputPin<Error = Infallible>>(
    pin: P,
    live: Live,
    shutdown: CancellationToken,
) -> P {
    let mut alarm = Alarm::new(pin);
    let start = Instant::now();
    let ms = || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut watch = live.watch();
    let mut sounding = false;
    loop {
        let view = watch.borrow_and_update().clone();
        let pending = unacknowledged_critical(&view);
        let want = !pending.is_empty();
        if want && !sounding {
            tracing::warn!(alerts = ?pending, "alarm on");
            alarm.raise(Pattern::Critical, ms());
        } else if !want && sounding {
            tracing::info!("alarm off");
            alarm.acknowledge();
        }
        sounding = want;
        let Ok(()) = alarm.step(ms());
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    let Ok(()) = alarm.silence();
                    if sounding {
                        tracing::info!("alarm off (shutting down)");
                    }
                    return alarm.destroy();
                }
                changed = watch.changed() => {
                    if changed.is_err() {
                        let Ok(()) = alarm.silence();
                        return alarm.destroy();
                    }
                    break;
                }
                _ = tokio::time::sleep(STEP), if sounding => {
                    let Ok(()) = alarm.step(ms());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertType;
    use crate::event::{DoorState, Event, EventKind};
    use crate::live;
    use crate::rules::Engine;
    use crate::rules::OpenAlert;
    use chrono::{Duration as Span, Utc};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    fn alert(id: &str, t: AlertType, ack: bool) -> OpenAlert {
        OpenAlert {
            alert_id: id.into(),
            alert_type: t,
            severity: t.severity(),
            subject: "infant".into(),
            raised: Utc::now(),
            acknowledged: ack.then(|| ("s-01".to_string(), Utc::now())),
            disposed: None,
        }
    }

    #[test]
    fn only_unacknowledged_critical_alerts_sound_the_alarm() {
        let mut view = LiveView::default();
        assert!(unacknowledged_critical(&view).is_empty());
        view.alerts = vec![alert("a1", AlertType::TemperatureHigh, false)];
        assert!(unacknowledged_critical(&view).is_empty());
        view.alerts.push(alert("a2", AlertType::RatioBreach, true));
        assert!(unacknowledged_critical(&view).is_empty());
        view.alerts.push(alert("a3", AlertType::DoorForced, false));
        assert_eq!(unacknowledged_critical(&view), vec!["a3"]);
    }

    #[test]
    fn the_log_pin_follows_the_critical_pattern() {
        let mut alarm = Alarm::new(LogPin::default());
        alarm.raise(Pattern::Critical, 1_000);
        alarm.step(1_050).unwrap();
        assert!(alarm.destroy().is_high());
        let mut alarm = Alarm::new(LogPin::default());
        alarm.raise(Pattern::Critical, 1_000);
        alarm.step(1_150).unwrap();
        alarm.acknowledge();
        alarm.step(1_200).unwrap();
        assert!(!alarm.destroy().is_high());
    }

    /// A pin whose level and edge count the test can watch while the alarm owns it.
    #[derive(Clone, Default)]
    struct Probe(std::sync::Arc<(AtomicBool, AtomicU64)>);

    impl ErrorType for Probe {
        type Error = Infallible;
    }

    impl OutputPin for Probe {
        fn set_low(&mut self) -> Result<(), Infallible> {
            if self.0 .0.swap(false, Ordering::SeqCst) {
                self.0 .1.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        }

        fn set_high(&mut self) -> Result<(), Infallible> {
            if !self.0 .0.swap(true, Ordering::SeqCst) {
                self.0 .1.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        }
    }

    impl Probe {
        fn edges(&self) -> u64 {
            self.0 .1.load(Ordering::SeqCst)
        }
        fn high(&self) -> bool {
            self.0 .0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn every_output_follows_the_one_pattern_and_a_failing_line_does_not_stop_the_others() {
        #[derive(Debug)]
        struct Broken;
        impl ErrorType for Broken {
            type Error = embedded_hal::digital::ErrorKind;
        }
        impl OutputPin for Broken {
            fn set_low(&mut self) -> Result<(), Self::Error> {
                Err(embedded_hal::digital::ErrorKind::Other)
            }
            fn set_high(&mut self) -> Result<(), Self::Error> {
                Err(embedded_hal::digital::ErrorKind::Other)
            }
        }
        let (buzzer, light) = (Probe::default(), Probe::default());
        let broken = Logged {
            name: "broken".into(),
            pin: Broken,
        };
        let outputs = Outputs::new(vec![
            Box::new(broken),
            Box::new(buzzer.clone()),
            Box::new(light.clone()),
        ]);
        let mut alarm = Alarm::new(outputs);
        alarm.raise(Pattern::Critical, 1_000);
        alarm.step(1_050).unwrap();
        assert!(buzzer.high() && light.high());
        alarm.step(1_150).unwrap();
        assert!(!buzzer.high() && !light.high());
        alarm.step(1_250).unwrap();
        let outputs = alarm.destroy();
        assert_eq!(outputs.log.edges(), 3);
        assert_eq!((buzzer.edges(), light.edges()), (3, 3));
    }

    #[tokio::test]
    async fn a_forced_door_sounds_the_alarm_until_staff_acknowledge_it() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/demo.toml");
        let cfg = crate::config::load(&path).unwrap();
        let mut engine = Engine::new(&cfg).unwrap();
        let (mut publisher, live) = live::channel(&mut engine);
        let shutdown = CancellationToken::new();
        let probe = Probe::default();
        let task = tokio::spawn(run_on(probe.clone(), live.clone(), shutdown.clone()));

        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(probe.edges(), 0, "silent with no alert");
        let t0 = engine.local(Utc::now());
        let forced = Event::at(
            t0,
            EventKind::Door {
                door: "entrance".into(),
                state: DoorState::Open,
            },
        );
        let raised = engine.on_event(&forced).unwrap();
        let id = raised[0].alert_id.clone();
        publisher.publish(&mut engine, &raised);
        // The critical pattern: 100 ms on, 100 ms off.
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert!(
            probe.edges() >= 3,
            "edges while sounding: {}",
            probe.edges()
        );

        let ack = Event::at(
            t0 + Span::seconds(1),
            EventKind::Acknowledge {
                alert_id: id,
                by: "s-01".into(),
            },
        );
        let acked = engine.on_event(&ack).unwrap();
        publisher.publish(&mut engine, &acked);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after_ack = probe.edges();
        assert!(!probe.high(), "off once acknowledged");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(probe.edges(), after_ack, "stays off");
        shutdown.cancel();
        task.await.unwrap();
    }
}
