//! Hardware-layer tests without hardware: recorded fixtures (`agent/tests/fixtures/hw/`) for
//! the sysfs, evdev and Wiegand decoders, `embedded-hal-mock` for the I²C poller.

use std::path::{Path, PathBuf};
use std::time::Duration;

use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};
use embedded_hal_mock::eh1::delay::NoopDelay;
use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as I2c};

use super::evdev::{parse_events, InputEvent, KeyboardDecoder};
use super::gpio::{ChipInputs, GpioDecoder, InputRole};
use super::i2c::{classify_kind, Backoff, BusPoller, Chip, ErrorClass, I2cSensor};
use super::poll::{Fault, FaultFilter, Reading};
use super::w1::parse_w1_slave;
use crate::config::{CardFormat, Normally};
use crate::event::{DoorState, EventKind, InputState};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hw")
        .join(name)
}

fn text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

// ---- 1-Wire -------------------------------------------------------------------------

#[test]
fn a_good_w1_slave_file_reads_as_milli_degrees() {
    assert_eq!(parse_w1_slave(&text("w1-good.w1_slave")), Ok(23_125));
}

#[test]
fn a_negative_temperature_in_w1_slave_parses() {
    assert_eq!(parse_w1_slave(&text("w1-negative.w1_slave")), Ok(-10_125));
}

#[test]
fn a_w1_slave_file_whose_crc_line_says_no_is_a_crc_fault() {
    assert_eq!(parse_w1_slave(&text("w1-crc-no.w1_slave")), Err(Fault::Crc));
}

#[test]
fn eighty_five_degrees_after_power_up_is_a_fault_not_a_temperature() {
    assert_eq!(
        parse_w1_slave(&text("w1-power-on-85.w1_slave")),
        Err(Fault::PowerOnReset)
    );
}

#[test]
fn an_all_zero_scratchpad_means_the_sensor_is_absent_even_though_its_crc_matches() {
    assert_eq!(
        parse_w1_slave(&text("w1-all-zero.w1_slave")),
        Err(Fault::Absent)
    );
}

#[test]
fn garbage_in_w1_slave_is_a_garbage_fault() {
    assert_eq!(
        parse_w1_slave(&text("w1-garbage.w1_slave")),
        Err(Fault::Garbage)
    );
    assert_eq!(parse_w1_slave(""), Err(Fault::Garbage));
    assert_eq!(
        parse_w1_slave("72 01 : crc=57 YES\n72 01 t=23125\n"),
        Err(Fault::Garbage)
    );
}

#[test]
fn the_w1_poller_reads_the_slave_file_and_calls_a_vanished_slave_absent() {
    let dir = tempfile::tempdir().unwrap();
    let slave = dir.path().join("28-0316a2791c2f");
    std::fs::create_dir(&slave).unwrap();
    std::fs::copy(fixture("w1-good.w1_slave"), slave.join("w1_slave")).unwrap();
    assert_eq!(
        super::w1::read(dir.path(), "28-0316a2791c2f"),
        Ok(Reading {
            celsius: Some(23.125),
            humidity: None
        })
    );
    assert_eq!(
        super::w1::read(dir.path(), "28-000000000000"),
        Err(Fault::Absent)
    );
}

// ---- evdev --------------------------------------------------------------------------

fn cards(events: &[InputEvent]) -> Vec<(String, u64)> {
    let mut d = KeyboardDecoder::default();
    events.iter().filter_map(|e| d.on_event(*e)).collect()
}

/// 2026-03-01T23:31:05Z, the start of the recorded fixtures.
const FIXTURE_START_US: u64 = 1_772_407_865_000_000;

#[test]
fn a_card_typed_then_enter_on_a_64_bit_board_is_one_card_as_typed() {
    let events = parse_events(&bytes("evdev-card-then-enter.64.bin"), 24);
    assert_eq!(events.len(), 54);
    // Ten digits, 8 ms each, then Enter.
    assert_eq!(
        cards(&events),
        vec![("0000010001".to_string(), FIXTURE_START_US + 80_000)]
    );
}

#[test]
fn the_same_card_recorded_on_a_32_bit_arm_board_parses_alike() {
    let events = parse_events(&bytes("evdev-card-then-enter.32.bin"), 16);
    assert_eq!(
        cards(&events),
        vec![("0000010001".to_string(), FIXTURE_START_US + 80_000)]
    );
}

#[test]
fn key_up_and_autorepeat_are_ignored() {
    // Press 1, release 1, press 2, autorepeat 2 twice, release 2, Enter.
    let events = parse_events(&bytes("evdev-keys-held-and-released.64.bin"), 24);
    assert_eq!(
        cards(&events),
        vec![("12".to_string(), FIXTURE_START_US + 6_000)]
    );
}

#[test]
fn a_trailing_partial_event_is_left_for_the_next_read() {
    let all = bytes("evdev-card-then-enter.64.bin");
    assert_eq!(parse_events(&all[..24 * 3 + 10], 24).len(), 3);
}

#[test]
fn a_half_typed_card_older_than_a_second_does_not_prefix_the_next_card() {
    let key = |t: u64, code: u16| InputEvent {
        time_us: t,
        kind: super::evdev::EV_KEY,
        code,
        value: 1,
    };
    let events = [
        key(0, 2),          // "1", then nothing: a misread
        key(5_000_000, 3),  // "2"
        key(5_010_000, 4),  // "3"
        key(5_020_000, 28), // Enter
    ];
    assert_eq!(cards(&events), vec![("23".to_string(), 5_020_000)]);
}

#[test]
fn enter_alone_is_no_card() {
    let enter = InputEvent {
        time_us: 1,
        kind: super::evdev::EV_KEY,
        code: super::evdev::KEY_ENTER,
        value: 1,
    };
    assert!(cards(&[enter]).is_empty());
}

// ---- I²C ----------------------------------------------------------------------------

/// SHT3x response: T 0x6172 (21.614 °C), RH 0x8F5C (56.001 %), each with its CRC.
const SHT_FRAME: [u8; 6] = [0x61, 0x72, 0xBA, 0x8F, 0x5C, 0x38];

fn sensor(chip: Chip, address: u8) -> I2cSensor {
    I2cSensor {
        id: "t-infant".into(),
        chip,
        address,
        poll: Duration::from_secs(60),
    }
}

fn poller(expectations: &[I2c], sensors: Vec<I2cSensor>) -> BusPoller<I2cMock> {
    BusPoller::new(
        I2cMock::new(expectations),
        sensors,
        Backoff::default(),
        classify_kind,
    )
}

/// Reads sensor 0 once, recording the backoff waits.
fn read_once(p: &mut BusPoller<I2cMock>) -> (Result<Reading, Fault>, Vec<Duration>) {
    let mut waits = Vec::new();
    let out = p.read(0, &mut NoopDelay::new(), &mut |d| waits.push(d));
    (out, waits)
}

#[test]
fn an_sht3x_measurement_becomes_a_reading_event() {
    let mut p = poller(
        &[
            I2c::write(0x44, vec![0x24, 0x00]),
            I2c::read(0x44, SHT_FRAME.to_vec()),
        ],
        vec![sensor(Chip::Sht3x, 0x44)],
    );
    let (out, waits) = read_once(&mut p);
    assert_eq!(
        out,
        Ok(Reading {
            celsius: Some(21.614),
            humidity: Some(56.001)
        })
    );
    assert!(waits.is_empty());
    assert_eq!(
        FaultFilter::default().event("t-infant", out),
        Some(EventKind::Reading {
            sensor: "t-infant".into(),
            celsius: Some(21.614),
            humidity: Some(56.001)
        })
    );
    p.destroy().done();
}

#[test]
fn an_sht4x_at_0x46_is_measured_at_its_own_address() {
    let mut p = poller(
        &[
            I2c::write(0x46, vec![0xFD]),
            I2c::read(0x46, SHT_FRAME.to_vec()),
        ],
        vec![sensor(Chip::Sht4x, 0x46)],
    );
    let (out, _) = read_once(&mut p);
    assert_eq!(out.map(|r| r.celsius), Ok(Some(21.614)));
    p.destroy().done();
}

#[test]
fn a_nack_means_the_sensor_is_absent_without_retrying() {
    let mut p = poller(
        &[I2c::write(0x45, vec![0x24, 0x00])
            .with_error(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address))],
        vec![sensor(Chip::Sht3x, 0x45)],
    );
    let (out, waits) = read_once(&mut p);
    assert_eq!(out, Err(Fault::Absent));
    assert!(waits.is_empty());
    assert_eq!(
        FaultFilter::default().event("t-infant", out),
        Some(EventKind::SensorFault {
            sensor: "t-infant".into(),
            reason: "absent".into()
        })
    );
    p.destroy().done();
}

#[test]
fn a_crc_failure_is_a_crc_fault() {
    let mut corrupt = SHT_FRAME;
    corrupt[5] ^= 0xFF;
    let mut p = poller(
        &[
            I2c::write(0x44, vec![0x24, 0x00]),
            I2c::read(0x44, corrupt.to_vec()),
        ],
        vec![sensor(Chip::Sht3x, 0x44)],
    );
    let (out, _) = read_once(&mut p);
    assert_eq!(out, Err(Fault::Crc));
    assert_eq!(
        FaultFilter::default().event("t-infant", out),
        Some(EventKind::SensorFault {
            sensor: "t-infant".into(),
            reason: "crc".into()
        })
    );
    p.destroy().done();
}

#[test]
fn a_bus_error_is_retried_with_doubling_backoff_then_reported_as_a_bus_fault() {
    let failing = || I2c::write(0x44, vec![0x24, 0x00]).with_error(ErrorKind::Bus);
    let mut p = poller(
        &[failing(), failing(), failing()],
        vec![sensor(Chip::Sht3x, 0x44)],
    );
    let (out, waits) = read_once(&mut p);
    assert_eq!(out, Err(Fault::Bus));
    assert_eq!(
        waits,
        vec![Duration::from_millis(100), Duration::from_millis(200)]
    );
    p.destroy().done();
}

#[test]
fn a_bus_error_that_clears_on_the_retry_gives_the_reading() {
    let mut p = poller(
        &[
            I2c::write(0x44, vec![0x24, 0x00]).with_error(ErrorKind::ArbitrationLoss),
            I2c::write(0x44, vec![0x24, 0x00]),
            I2c::read(0x44, SHT_FRAME.to_vec()),
        ],
        vec![sensor(Chip::Sht3x, 0x44)],
    );
    let (out, waits) = read_once(&mut p);
    assert!(out.is_ok(), "{out:?}");
    assert_eq!(waits, vec![Duration::from_millis(100)]);
    p.destroy().done();
}

#[test]
fn a_lasting_fault_is_sent_once_and_the_next_reading_clears_it() {
    let mut f = FaultFilter::default();
    let ok = Ok(Reading {
        celsius: Some(22.0),
        humidity: None,
    });
    assert!(f.event("t", Err(Fault::Absent)).is_some());
    assert!(f.event("t", Err(Fault::Absent)).is_none());
    assert!(
        f.event("t", Err(Fault::Bus)).is_some(),
        "a new reason is news"
    );
    assert!(f.event("t", ok).is_some());
    assert!(
        f.event("t", Err(Fault::Bus)).is_some(),
        "a fault after a reading is news"
    );
}

#[test]
fn the_pis_eremoteio_counts_as_no_acknowledge() {
    use linux_embedded_hal::i2cdev::linux::LinuxI2CError;
    let nack = linux_embedded_hal::I2CError::from(LinuxI2CError::Errno(121));
    assert_eq!(super::i2c::classify_linux(&nack), ErrorClass::Absent);
    let nxio = linux_embedded_hal::I2CError::from(LinuxI2CError::Errno(6)); // ENXIO
    assert_eq!(super::i2c::classify_linux(&nxio), ErrorClass::Absent);
    let eio = linux_embedded_hal::I2CError::from(LinuxI2CError::Errno(5));
    assert_eq!(super::i2c::classify_linux(&eio), ErrorClass::Transient);
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    let b = Backoff {
        attempts: 10,
        first: Duration::from_millis(100),
        max: Duration::from_millis(500),
    };
    let waits: Vec<u128> = (1..=5).map(|n| b.wait(n).as_millis()).collect();
    assert_eq!(waits, vec![100, 200, 400, 500, 500]);
}

// ---- GPIO ---------------------------------------------------------------------------

/// Parses a recorded edge file: `realtime_us line rising|falling` per line, `#` comments.
fn edges(name: &str) -> Vec<(u64, u32, bool)> {
    text(name)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2] == "rising",
            )
        })
        .collect()
}

fn wiegand_inputs(card_format: CardFormat) -> ChipInputs {
    let role = |line| InputRole::Wiegand {
        reader: "entrance-reader".into(),
        line,
        card_format,
    };
    ChipInputs::from([
        (5, role(nursery_firmware::wiegand::Line::D0)),
        (6, role(nursery_firmware::wiegand::Line::D1)),
    ])
}

fn replay_edges(d: &mut GpioDecoder, recorded: &[(u64, u32, bool)]) -> Vec<(EventKind, u64)> {
    let mut out = Vec::new();
    for &(t, line, high) in recorded {
        out.extend(d.on_level(line, high, t));
    }
    let last = recorded.last().unwrap().0;
    out.extend(d.on_idle(last + 30_000));
    out
}

#[test]
fn a_recorded_h10301_edge_sequence_becomes_one_badge_with_the_decimal_card_number() {
    let recorded = edges("wiegand-h10301-12-3456.edges");
    assert_eq!(recorded.len(), 52);
    let mut d = GpioDecoder::new(&wiegand_inputs(CardFormat::Card));
    let out = replay_edges(&mut d, &recorded);
    let last_pulse = recorded[recorded.len() - 2].0;
    assert_eq!(
        out,
        vec![(
            EventKind::Badge {
                reader: "entrance-reader".into(),
                card: "3456".into()
            },
            last_pulse
        )]
    );
}

#[test]
fn the_facility_card_format_writes_facility_colon_card() {
    let mut d = GpioDecoder::new(&wiegand_inputs(CardFormat::FacilityCard));
    let out = replay_edges(&mut d, &edges("wiegand-h10301-12-3456.edges"));
    assert!(matches!(&out[..], [(EventKind::Badge { card, .. }, _)] if card == "12:3456"));
}

#[test]
fn a_wiegand_frame_cut_short_is_dropped_not_badged() {
    let recorded = edges("wiegand-h10301-12-3456.edges");
    let mut d = GpioDecoder::new(&wiegand_inputs(CardFormat::Card));
    assert!(replay_edges(&mut d, &recorded[..40]).is_empty());
}

fn door_inputs() -> ChipInputs {
    ChipInputs::from([
        (
            17,
            InputRole::Contact {
                door: "entrance".into(),
                normally: Normally::Open,
                debounce: Duration::from_millis(50),
            },
        ),
        (
            27,
            InputRole::ExitButton {
                door: "entrance".into(),
                debounce: Duration::from_millis(50),
            },
        ),
    ])
}

#[test]
fn a_bouncing_door_contact_reports_one_open_stamped_with_the_edge_it_settled_on() {
    let mut d = GpioDecoder::new(&door_inputs());
    let t0 = FIXTURE_START_US;
    // At start the reed is closed (low) and the button released (high).
    let mut out = d.on_level(17, false, t0);
    out.extend(d.on_level(27, true, t0));
    out.extend(d.on_idle(t0 + 60_000));
    assert_eq!(
        out,
        vec![(
            EventKind::Door {
                door: "entrance".into(),
                state: DoorState::Closed
            },
            t0
        )]
    );
    // The door opens with 5 ms of bounce.
    let t1 = t0 + 10_000_000;
    let mut out = Vec::new();
    for (dt, high) in [
        (0, true),
        (1_000, false),
        (2_000, true),
        (3_500, false),
        (5_000, true),
    ] {
        out.extend(d.on_level(17, high, t1 + dt));
    }
    assert!(d.busy(t1 + 5_000));
    out.extend(d.on_idle(t1 + 40_000));
    assert!(out.is_empty(), "not stable yet: {out:?}");
    out.extend(d.on_idle(t1 + 60_000));
    assert_eq!(
        out,
        vec![(
            EventKind::Door {
                door: "entrance".into(),
                state: DoorState::Open
            },
            t1 + 5_000
        )]
    );
}

#[test]
fn an_exit_button_press_is_reported_but_a_button_held_at_start_is_not() {
    let t0 = FIXTURE_START_US;
    let mut held = GpioDecoder::new(&door_inputs());
    let mut out = held.on_level(27, false, t0);
    out.extend(held.on_idle(t0 + 60_000));
    assert!(out
        .iter()
        .all(|(k, _)| !matches!(k, EventKind::ExitButton { .. })));

    let mut d = GpioDecoder::new(&door_inputs());
    d.on_level(27, true, t0);
    d.on_idle(t0 + 60_000);
    let press = t0 + 1_000_000;
    let mut out = d.on_level(27, false, press);
    out.extend(d.on_level(27, true, press + 80_000)); // released after 80 ms
    out.extend(d.on_idle(press + 200_000));
    assert_eq!(
        out,
        vec![(
            EventKind::ExitButton {
                door: "entrance".into()
            },
            press
        )]
    );
}

fn panic_and_fire_inputs() -> ChipInputs {
    ChipInputs::from([
        (
            5,
            InputRole::Input {
                input: "panic-office".into(),
                normally: Normally::Open,
                debounce: Duration::from_millis(50),
            },
        ),
        (
            6,
            InputRole::Input {
                input: "fire-panel".into(),
                normally: Normally::Closed,
                debounce: Duration::from_millis(50),
            },
        ),
    ])
}

fn input(id: &str, state: InputState) -> EventKind {
    EventKind::Input {
        input: id.into(),
        state,
        test: false,
    }
}

#[test]
fn a_bouncing_panic_press_is_one_active_and_one_clear_stamped_with_their_edges() {
    let t0 = FIXTURE_START_US;
    let mut d = GpioDecoder::new(&panic_and_fire_inputs());
    // At start the button is released (high, pull-up) and the fire relay closed (low).
    let mut out = d.on_level(5, true, t0);
    out.extend(d.on_level(6, false, t0));
    out.extend(d.on_idle(t0 + 60_000));
    assert!(
        out.is_empty(),
        "a clear input at start says nothing: {out:?}"
    );

    let press = t0 + 1_000_000;
    let mut out = Vec::new();
    for (dt, high) in [(0, false), (800, true), (1_600, false)] {
        out.extend(d.on_level(5, high, press + dt));
    }
    out.extend(d.on_idle(press + 100_000));
    let release = press + 2_000_000;
    out.extend(d.on_level(5, true, release));
    out.extend(d.on_idle(release + 100_000));
    assert_eq!(
        out,
        vec![
            (input("panic-office", InputState::Active), press + 1_600),
            (input("panic-office", InputState::Clear), release),
        ]
    );
}

#[test]
fn a_glitch_shorter_than_the_debounce_on_a_panic_line_is_no_press() {
    let t0 = FIXTURE_START_US;
    let mut d = GpioDecoder::new(&panic_and_fire_inputs());
    d.on_level(5, true, t0);
    d.on_idle(t0 + 60_000);
    let glitch = t0 + 1_000_000;
    let mut out = d.on_level(5, false, glitch);
    out.extend(d.on_level(5, true, glitch + 10_000));
    out.extend(d.on_idle(glitch + 200_000));
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_fire_relay_already_in_alarm_at_start_is_reported_active() {
    let t0 = FIXTURE_START_US;
    let mut d = GpioDecoder::new(&panic_and_fire_inputs());
    // Normally closed: the panel opens the contact in alarm, the pull-up takes it high.
    let mut out = d.on_level(6, true, t0);
    out.extend(d.on_idle(t0 + 60_000));
    assert_eq!(out, vec![(input("fire-panel", InputState::Active), t0)]);
    let clear = t0 + 5_000_000;
    let mut out = d.on_level(6, false, clear);
    out.extend(d.on_idle(clear + 60_000));
    assert_eq!(out, vec![(input("fire-panel", InputState::Clear), clear)]);
}

// ---- configuration and wiring -------------------------------------------------------

fn board() -> crate::config::Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/board.toml");
    crate::config::load(&path).unwrap_or_else(|e| panic!("config/board.toml:\n{e}"))
}

#[test]
fn the_example_board_configuration_is_valid_without_its_devices() {
    let cfg = board();
    assert_eq!(super::i2c::buses(&cfg).len(), 1);
    assert_eq!(super::w1::sensors(&cfg).len(), 1);
    assert_eq!(super::evdev::readers(&cfg).len(), 1);
    let chips = super::gpio::chips(&cfg);
    let lines: usize = chips.values().map(|c| c.len()).sum();
    assert_eq!(lines, 6, "contact, exit button, panic, fire, D0, D1");
    let chip = &chips[Path::new("/dev/gpiochip0")];
    assert!(
        matches!(&chip[&22], InputRole::Input { input, normally: Normally::Open, .. } if input == "panic-office")
    );
    assert!(
        matches!(&chip[&24], InputRole::Input { input, normally: Normally::Closed, .. } if input == "fire-panel")
    );
}

#[test]
fn device_problems_names_each_missing_device_with_its_key() {
    let cfg = board();
    let root = tempfile::tempdir().unwrap();
    let file = Path::new("/etc/nursery-agent/config.toml");
    let missing = super::device_problems_under(&cfg, file, root.path());
    let keys: Vec<&str> = missing.iter().map(|p| p.key.as_str()).collect();
    // One problem per device file: the shared bus and gpiochip are named once.
    assert_eq!(
        keys,
        vec![
            "sensors[0].bus",
            "sensors[2].w1_id",
            "doors[0].contact.gpiochip",
            "readers[1].input.device",
        ],
        "{missing:?}"
    );
    assert!(missing[0].message.contains("/dev/i2c-1"));

    // With the devices present there is nothing to report.
    for p in ["dev/i2c-1", "dev/gpiochip0"] {
        let f = root.path().join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, "").unwrap();
    }
    let w1 = root
        .path()
        .join("sys/bus/w1/devices")
        .join(cfg.sensors[2].w1_id.as_deref().unwrap());
    std::fs::create_dir_all(&w1).unwrap();
    std::fs::write(w1.join("w1_slave"), "").unwrap();
    let kbd = cfg.readers[1]
        .input
        .as_ref()
        .unwrap()
        .device
        .clone()
        .unwrap();
    let kbd = root.path().join(kbd.strip_prefix("/").unwrap());
    std::fs::create_dir_all(kbd.parent().unwrap()).unwrap();
    std::fs::write(kbd, "").unwrap();
    assert!(super::device_problems_under(&cfg, file, root.path()).is_empty());
}

#[test]
fn a_configuration_without_hardware_starts_no_thread_and_needs_no_device() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/example.toml");
    let cfg = crate::config::load(&path).unwrap();
    let (tx, _rx) = std::sync::mpsc::sync_channel(1);
    let threads = super::spawn(
        &cfg,
        tx,
        Default::default(),
        tokio_util::sync::CancellationToken::new(),
    )
    .unwrap();
    assert!(threads.is_empty());
    assert!(super::device_problems(&cfg, &path).is_empty());
}

#[test]
fn a_hardware_event_reaches_the_daemon_typed_and_stamped_in_the_facility_time_zone() {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let sink = super::Sink {
        tx,
        tz: chrono_tz::Asia::Shanghai,
        tests: Default::default(),
    };
    let at = super::utc_from_us(FIXTURE_START_US);
    assert!(sink.send(
        EventKind::ExitButton {
            door: "entrance".into()
        },
        at
    ));
    match rx.recv().unwrap() {
        // The journal keeps it as this line, the same text as when hardware sent lines.
        crate::input::Input::Hardware(event) => assert_eq!(
            event.to_json_line(),
            r#"{"ts":"2026-03-02T07:31:05+08:00","type":"exit_button","door":"entrance"}"#
        ),
        other => panic!("expected a hardware event, got {other:?}"),
    }
    drop(rx);
}

#[test]
fn a_typed_em4100_id_reads_like_the_same_card_on_a_wiegand_reader() {
    use super::evdev::format_typed;
    // 0000789888 = facility 12, card 3456 (printed "012,03456" on the card).
    assert_eq!(format_typed("0000789888", CardFormat::Card), "3456");
    assert_eq!(
        format_typed("0000789888", CardFormat::FacilityCard),
        "12:3456"
    );
    assert_eq!(
        format_typed("0000789888", CardFormat::AsTyped),
        "0000789888"
    );
    assert_eq!(
        format_typed("0A1B2C3D", CardFormat::Card),
        "0A1B2C3D",
        "not decimal: kept"
    );
}

#[test]
fn events_read_through_the_evdev_crate_assemble_into_the_same_card() {
    use super::evdev::{decoded, KEY_ENTER};
    let mut decoder = KeyboardDecoder::default();
    let mut card = None;
    // KEY_7, KEY_8, KEY_9: pressed, released; then Enter.
    for (code, value) in [
        (8, 1),
        (8, 0),
        (9, 1),
        (9, 0),
        (10, 1),
        (10, 0),
        (KEY_ENTER, 1),
    ] {
        let ev = ::evdev::InputEvent::new_now(super::evdev::EV_KEY, code, value);
        let got = decoded(&ev);
        assert_eq!((got.kind, got.code, got.value), (1, code, value));
        assert!(
            got.time_us > FIXTURE_START_US,
            "stamped with the realtime clock"
        );
        card = card.or(decoder.on_event(got));
    }
    assert_eq!(card.map(|(c, _)| c).as_deref(), Some("789"));
}

#[test]
fn a_file_that_is_not_an_input_device_is_refused_as_a_reader_naming_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let device = dir.path().join("event0");
    std::fs::write(&device, [0u8; 48]).unwrap();
    let reader = super::evdev::KeyboardReader {
        reader: "entrance-reader".into(),
        device: device.clone(),
        card_format: CardFormat::AsTyped,
    };
    let (tx, _rx) = std::sync::mpsc::sync_channel(1);
    let sink = super::Sink {
        tx,
        tz: chrono_tz::Asia::Shanghai,
        tests: Default::default(),
    };
    match super::evdev::spawn(reader, sink, tokio_util::sync::CancellationToken::new()) {
        Err(e @ super::HwError::Open { .. }) => {
            assert!(e.to_string().contains(&device.display().to_string()), "{e}")
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a regular file is not a card reader"),
    }
}

/// Found by fuzzing (`fuzz/corpus/wiegand`): `tv_sec` near `i64::MAX` overflowed the
/// conversion to microseconds, and the reader's thread panicked.
#[test]
fn an_evdev_timestamp_beyond_microsecond_range_saturates_instead_of_panicking() {
    let mut record = Vec::new();
    record.extend_from_slice(&i64::MAX.to_le_bytes());
    record.extend_from_slice(&999_999i64.to_le_bytes());
    record.extend_from_slice(&1u16.to_le_bytes()); // EV_KEY
    record.extend_from_slice(&2u16.to_le_bytes()); // KEY_1
    record.extend_from_slice(&1i32.to_le_bytes()); // pressed
    let events = parse_events(&record, 24);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].time_us, u64::MAX);
    assert_eq!(events[0].code, 2);
}
