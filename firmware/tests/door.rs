//! Door-contact debouncing over a scripted clock, and the GPIO adapter.

use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as Pin};
use embedded_hal_mock::eh1::MockError;
use nursery_firmware::door::{DebounceConfig, Debouncer, DoorContact, DoorState, Polarity};

const MS: u64 = 1_000;

fn no_reed(debounce_ms: u64) -> Debouncer {
    Debouncer::new(DebounceConfig {
        debounce_us: debounce_ms * MS,
        polarity: Polarity::NormallyOpen,
    })
}

#[test]
fn the_initial_level_is_reported_once_it_has_been_stable_for_the_debounce_time() {
    let mut d = no_reed(50);
    assert_eq!(d.update(false, 0), None);
    assert_eq!(d.poll(49 * MS), None);
    assert_eq!(d.state(), None);
    assert_eq!(d.poll(50 * MS), Some(DoorState::Closed));
    assert_eq!(d.poll(500 * MS), None, "a state is reported only once");
    assert_eq!(d.state(), Some(DoorState::Closed));
}

#[test]
fn bounces_shorter_than_the_debounce_time_produce_no_change() {
    let mut d = no_reed(50);
    d.update(false, 0);
    assert_eq!(d.poll(100 * MS), Some(DoorState::Closed));

    // The door rattles: high and low again within 10 ms, several times.
    let mut t = 200 * MS;
    for _ in 0..5 {
        assert_eq!(d.update(true, t), None);
        assert_eq!(d.update(false, t + 3 * MS), None);
        t += 10 * MS;
    }
    assert_eq!(d.poll(t + 200 * MS), None);
    assert_eq!(d.state(), Some(DoorState::Closed));
}

#[test]
fn an_opening_with_bounces_is_reported_once_the_last_bounce_has_settled() {
    let mut d = no_reed(50);
    d.update(false, 0);
    d.poll(100 * MS);

    // Open: high at 1000 ms, bounces back low at 1002, high for good at 1004 ms.
    assert_eq!(d.update(true, 1_000 * MS), None);
    assert_eq!(d.update(false, 1_002 * MS), None);
    assert_eq!(d.update(true, 1_004 * MS), None);
    assert_eq!(d.poll(1_053 * MS), None, "only 49 ms since the last edge");
    assert_eq!(d.poll(1_054 * MS), Some(DoorState::Open));
}

#[test]
fn repeated_samples_of_the_same_level_do_not_restart_the_timer() {
    let mut d = no_reed(50);
    for t in (0..50).step_by(10) {
        assert_eq!(d.update(true, t * MS), None);
    }
    assert_eq!(d.update(true, 50 * MS), Some(DoorState::Open));
}

#[test]
fn a_normally_closed_contact_is_inverted() {
    let mut nc = Debouncer::new(DebounceConfig {
        debounce_us: 50 * MS,
        polarity: Polarity::NormallyClosed,
    });
    let mut no = no_reed(50);

    nc.update(true, 0);
    no.update(true, 0);
    assert_eq!(nc.poll(50 * MS), Some(DoorState::Closed));
    assert_eq!(no.poll(50 * MS), Some(DoorState::Open));

    nc.update(false, 100 * MS);
    no.update(false, 100 * MS);
    assert_eq!(nc.poll(150 * MS), Some(DoorState::Open));
    assert_eq!(no.poll(150 * MS), Some(DoorState::Closed));
}

#[test]
fn a_zero_debounce_time_reports_every_change_at_once() {
    let mut d = no_reed(0);
    assert_eq!(d.update(true, 0), Some(DoorState::Open));
    assert_eq!(d.update(false, 1), Some(DoorState::Closed));
}

#[test]
fn the_pin_adapter_samples_the_input_and_debounces_it() {
    let pin = PinMock::new(&[
        Pin::get(State::Low),
        Pin::get(State::Low),
        Pin::get(State::High),
        Pin::get(State::High),
    ]);
    let mut door = DoorContact::new(pin, DebounceConfig::default());

    assert_eq!(door.sample(0), Ok(None));
    assert_eq!(door.sample(50 * MS), Ok(Some(DoorState::Closed)));
    assert_eq!(door.sample(60 * MS), Ok(None));
    assert_eq!(door.sample(110 * MS), Ok(Some(DoorState::Open)));
    assert_eq!(door.state(), Some(DoorState::Open));

    door.destroy().done();
}

#[test]
fn a_pin_read_error_is_passed_through_and_changes_nothing() {
    let pin = PinMock::new(&[
        Pin::get(State::High),
        Pin::get(State::Low).with_error(MockError::Io(std::io::ErrorKind::Other)),
        Pin::get(State::High),
    ]);
    let mut door = DoorContact::new(pin, DebounceConfig::default());

    assert_eq!(door.sample(0), Ok(None));
    assert!(door.sample(10 * MS).is_err());
    assert_eq!(door.sample(50 * MS), Ok(Some(DoorState::Open)));

    door.destroy().done();
}
