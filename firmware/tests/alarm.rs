//! Alarm output patterns over a stepped clock, checked pin write by pin write.

use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as Pin};
use embedded_hal_mock::eh1::MockError;
use nursery_firmware::alarm::{Alarm, Severity};

fn high() -> Pin {
    Pin::set(State::High)
}
fn low() -> Pin {
    Pin::set(State::Low)
}

#[test]
fn with_no_alarm_the_output_is_driven_low_once_and_left_alone() {
    let mut alarm = Alarm::new(PinMock::new(&[low()]));
    for t in (0..1_000).step_by(10) {
        alarm.step(t).unwrap();
    }
    alarm.destroy().done();
}

#[test]
fn critical_beeps_100_ms_on_100_ms_off() {
    // Raised at 1000 ms: on 1000–1099, off 1100–1199, on 1200–1299, off 1300…
    let mut alarm = Alarm::new(PinMock::new(&[high(), low(), high(), low()]));
    alarm.raise(Severity::Critical, 1_000);
    for t in (1_000..1_400).step_by(10) {
        alarm.step(t).unwrap();
    }
    alarm.destroy().done();
}

#[test]
fn critical_pin_level_follows_the_clock() {
    let mut alarm = Alarm::new(PinMock::new(&[high(), low(), high()]));
    alarm.raise(Severity::Critical, 0);
    alarm.step(0).unwrap(); // high
    alarm.step(99).unwrap(); // still high: no write
    alarm.step(100).unwrap(); // low
    alarm.step(199).unwrap(); // still low
    alarm.step(200).unwrap(); // high
    alarm.destroy().done();
}

#[test]
fn warning_beeps_200_ms_every_2_s() {
    let mut alarm = Alarm::new(PinMock::new(&[high(), low(), high(), low()]));
    alarm.raise(Severity::Warning, 0);
    for t in (0..4_000).step_by(50) {
        alarm.step(t).unwrap();
    }
    alarm.destroy().done();
}

#[test]
fn warning_is_off_between_beeps() {
    let mut alarm = Alarm::new(PinMock::new(&[high(), low(), high()]));
    alarm.raise(Severity::Warning, 0);
    alarm.step(0).unwrap();
    alarm.step(199).unwrap();
    alarm.step(200).unwrap(); // low
    alarm.step(1_999).unwrap(); // still low
    alarm.step(2_000).unwrap(); // high again
    alarm.destroy().done();
}

#[test]
fn the_output_goes_silent_after_acknowledge_and_stays_silent() {
    let mut alarm = Alarm::new(PinMock::new(&[high(), low()]));
    alarm.raise(Severity::Critical, 0);
    alarm.step(0).unwrap();
    alarm.acknowledge();
    assert_eq!(alarm.severity(), Severity::Off);
    for t in (10..2_000).step_by(10) {
        alarm.step(t).unwrap();
    }
    alarm.destroy().done();
}

#[test]
fn silence_turns_the_output_off_immediately() {
    let mut alarm = Alarm::new(PinMock::new(&[high(), low()]));
    alarm.raise(Severity::Warning, 0);
    alarm.step(50).unwrap();
    alarm.silence().unwrap();
    alarm.step(2_000).unwrap(); // would be a beep, but silenced: no write
    alarm.destroy().done();
}

#[test]
fn a_warning_does_not_downgrade_a_critical_alarm() {
    let mut alarm = Alarm::new(PinMock::new(&[high(), low()]));
    alarm.raise(Severity::Critical, 0);
    alarm.raise(Severity::Warning, 50);
    assert_eq!(alarm.severity(), Severity::Critical);
    alarm.step(50).unwrap();
    alarm.step(150).unwrap(); // critical rhythm: off at 100–199
    alarm.destroy().done();
}

#[test]
fn escalating_to_critical_restarts_the_rhythm() {
    let mut alarm = Alarm::new(PinMock::new(&[low(), high(), low()]));
    alarm.raise(Severity::Warning, 0);
    alarm.step(500).unwrap(); // warning gap: low
    alarm.raise(Severity::Critical, 510);
    alarm.step(510).unwrap(); // critical starts on
    alarm.step(610).unwrap(); // and goes off 100 ms later
    alarm.destroy().done();
}

#[test]
fn an_alarm_raised_again_after_acknowledge_sounds_again() {
    let mut alarm = Alarm::new(PinMock::new(&[high(), low(), high()]));
    alarm.raise(Severity::Critical, 0);
    alarm.step(0).unwrap();
    alarm.acknowledge();
    alarm.step(10).unwrap();
    alarm.raise(Severity::Critical, 5_000);
    alarm.step(5_000).unwrap();
    alarm.destroy().done();
}

#[test]
fn a_failed_write_is_retried_on_the_next_step() {
    let mut alarm = Alarm::new(PinMock::new(&[
        high().with_error(MockError::Io(std::io::ErrorKind::Other)),
        high(),
    ]));
    alarm.raise(Severity::Critical, 0);
    assert!(alarm.step(0).is_err());
    alarm.step(10).unwrap();
    alarm.step(20).unwrap(); // already high: no write
    alarm.destroy().done();
}
