//! SHT3x driver against a mocked bus: every transaction checked.

use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as DelayTransaction};
use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as I2c};
use nursery_firmware::sht3x::{
    self, Address, Error, Measurement, Repeatability, SerialNumberCommand, Sht3x,
};

const ADDR: u8 = 0x44;

/// A typical room-condition response: T raw 0x6172 (21.614 °C), RH raw
/// 0x8F5C (56.001 %RH), with their CRC-8 bytes.
const ROOM_FRAME: [u8; 6] = [0x61, 0x72, 0xBA, 0x8F, 0x5C, 0x38];

#[test]
fn a_high_repeatability_measurement_writes_0x2400_waits_15_5_ms_and_reads_six_bytes() {
    let mut sensor = Sht3x::new(
        I2cMock::new(&[
            I2c::write(ADDR, vec![0x24, 0x00]),
            I2c::read(ADDR, ROOM_FRAME.to_vec()),
        ]),
        Address::Default,
    );
    let mut delay = CheckedDelay::new(&[DelayTransaction::delay_us(15_500)]);

    let m = sensor.measure(Repeatability::High, &mut delay).unwrap();

    assert_eq!(
        m,
        Measurement {
            temperature_milli_celsius: 21_614,
            humidity_milli_percent: 56_001,
        }
    );
    delay.done();
    sensor.destroy().done();
}

#[test]
fn medium_and_low_repeatability_use_their_own_commands_and_waits() {
    let mut sensor = Sht3x::new(
        I2cMock::new(&[
            I2c::write(0x45, vec![0x24, 0x0B]),
            I2c::read(0x45, ROOM_FRAME.to_vec()),
            I2c::write(0x45, vec![0x24, 0x16]),
            I2c::read(0x45, ROOM_FRAME.to_vec()),
        ]),
        Address::Alternate,
    );
    let mut delay = CheckedDelay::new(&[
        DelayTransaction::delay_us(6_500),
        DelayTransaction::delay_us(4_500),
    ]);

    sensor.measure(Repeatability::Medium, &mut delay).unwrap();
    sensor.measure(Repeatability::Low, &mut delay).unwrap();

    delay.done();
    sensor.destroy().done();
}

#[test]
fn the_alternate_address_is_0x45() {
    let sensor = Sht3x::new(I2cMock::new(&[]), Address::Alternate);
    assert_eq!(sensor.address(), 0x45);
    sensor.destroy().done();
}

#[test]
fn a_bus_error_on_write_is_reported_as_i2c_and_nothing_is_read() {
    let mut sensor = Sht3x::new(
        I2cMock::new(&[I2c::write(ADDR, vec![0x24, 0x00]).with_error(ErrorKind::Other)]),
        Address::Default,
    );

    let err = sensor
        .measure(Repeatability::High, &mut NoopDelay::new())
        .unwrap_err();

    assert_eq!(err, Error::I2c(ErrorKind::Other));
    sensor.destroy().done();
}

#[test]
fn a_bus_error_on_read_is_reported_as_i2c() {
    let mut sensor = Sht3x::new(
        I2cMock::new(&[
            I2c::write(ADDR, vec![0x24, 0x00]),
            I2c::read(ADDR, ROOM_FRAME.to_vec()).with_error(ErrorKind::Other),
        ]),
        Address::Default,
    );

    let err = sensor
        .measure(Repeatability::High, &mut NoopDelay::new())
        .unwrap_err();

    assert_eq!(err, Error::I2c(ErrorKind::Other));
    sensor.destroy().done();
}

#[test]
fn a_corrupted_humidity_crc_is_reported_as_crc() {
    let mut corrupted = ROOM_FRAME;
    corrupted[5] ^= 0x01;
    let mut sensor = Sht3x::new(
        I2cMock::new(&[
            I2c::write(ADDR, vec![0x24, 0x00]),
            I2c::read(ADDR, corrupted.to_vec()),
        ]),
        Address::Default,
    );

    let err = sensor
        .measure(Repeatability::High, &mut NoopDelay::new())
        .unwrap_err();

    assert_eq!(err, Error::Crc);
    sensor.destroy().done();
}

#[test]
fn a_corrupted_temperature_byte_is_reported_as_crc() {
    let mut corrupted = ROOM_FRAME;
    corrupted[0] ^= 0x80;
    let mut sensor = Sht3x::new(
        I2cMock::new(&[
            I2c::write(ADDR, vec![0x24, 0x00]),
            I2c::read(ADDR, corrupted.to_vec()),
        ]),
        Address::Default,
    );

    let err = sensor
        .measure(Repeatability::High, &mut NoopDelay::new())
        .unwrap_err();

    assert_eq!(err, Error::Crc);
    sensor.destroy().done();
}

#[test]
fn soft_reset_writes_0x30a2_and_waits_1_5_ms() {
    let mut sensor = Sht3x::new(
        I2cMock::new(&[I2c::write(ADDR, vec![0x30, 0xA2])]),
        Address::Default,
    );
    let mut delay = CheckedDelay::new(&[DelayTransaction::delay_us(1_500)]);

    sensor.soft_reset(&mut delay).unwrap();

    delay.done();
    sensor.destroy().done();
}

#[test]
fn serial_number_without_clock_stretching_uses_0x3682() {
    // Words 0x1234 (CRC 0x37) and 0x5678 (CRC 0x7D).
    let mut sensor = Sht3x::new(
        I2cMock::new(&[
            I2c::write(ADDR, vec![0x36, 0x82]),
            I2c::read(ADDR, vec![0x12, 0x34, 0x37, 0x56, 0x78, 0x7D]),
        ]),
        Address::Default,
    );

    let serial = sensor
        .serial_number(
            SerialNumberCommand::NoClockStretching,
            &mut NoopDelay::new(),
        )
        .unwrap();

    assert_eq!(serial, 0x1234_5678);
    sensor.destroy().done();
}

#[test]
fn serial_number_with_clock_stretching_uses_0x3780() {
    let mut sensor = Sht3x::new(
        I2cMock::new(&[
            I2c::write(ADDR, vec![0x37, 0x80]),
            I2c::read(ADDR, vec![0x12, 0x34, 0x37, 0x56, 0x78, 0x7D]),
        ]),
        Address::Default,
    );

    let serial = sensor
        .serial_number(SerialNumberCommand::ClockStretching, &mut NoopDelay::new())
        .unwrap();

    assert_eq!(serial, 0x1234_5678);
    sensor.destroy().done();
}

#[test]
fn a_serial_number_with_a_bad_crc_is_rejected() {
    let mut sensor = Sht3x::new(
        I2cMock::new(&[
            I2c::write(ADDR, vec![0x36, 0x82]),
            I2c::read(ADDR, vec![0x12, 0x34, 0x37, 0x56, 0x78, 0x00]),
        ]),
        Address::Default,
    );

    let err = sensor
        .serial_number(
            SerialNumberCommand::NoClockStretching,
            &mut NoopDelay::new(),
        )
        .unwrap_err();

    assert_eq!(err, Error::Crc);
    sensor.destroy().done();
}

#[test]
fn the_room_frame_decodes_without_a_bus() {
    let m = sht3x::decode_measurement::<()>(&ROOM_FRAME).unwrap();
    assert_eq!(m.temperature_milli_celsius, 21_614);
    assert_eq!(m.humidity_milli_percent, 56_001);
    assert!((m.temperature_celsius() - 21.614).abs() < 1e-4);
    assert!((m.humidity_percent() - 56.001).abs() < 1e-4);
}

#[test]
fn errors_display_their_cause_and_are_std_errors() {
    use std::string::ToString;
    assert_eq!(
        Error::<ErrorKind>::Crc.to_string(),
        "CRC mismatch in sensor response"
    );
    assert!(Error::I2c(ErrorKind::Other)
        .to_string()
        .starts_with("I2C bus error"));
    let boxed: Box<dyn std::error::Error> = Box::new(Error::<ErrorKind>::Crc);
    assert!(boxed.source().is_none());
}
