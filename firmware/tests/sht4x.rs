//! SHT4x driver against a mocked bus: every transaction checked.

use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as DelayTransaction};
use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as I2c};
use nursery_firmware::sht4x::{self, Error, Measurement, Precision, Sht4x};

const ADDR: u8 = 0x44;

/// A typical room-condition response: T raw 0x6172 (21.614 °C), RH raw
/// 0x8F5C (-6 + 125 · 0x8F5C / 65535 = 64.001 %RH), with their CRC-8 bytes.
const ROOM_FRAME: [u8; 6] = [0x61, 0x72, 0xBA, 0x8F, 0x5C, 0x38];

#[test]
fn a_high_precision_measurement_writes_0xfd_waits_8_3_ms_and_reads_six_bytes() {
    let mut sensor = Sht4x::new(I2cMock::new(&[
        I2c::write(ADDR, vec![0xFD]),
        I2c::read(ADDR, ROOM_FRAME.to_vec()),
    ]));
    let mut delay = CheckedDelay::new(&[DelayTransaction::delay_us(8_300)]);

    let m = sensor.measure(Precision::High, &mut delay).unwrap();

    assert_eq!(
        m,
        Measurement {
            temperature_milli_celsius: 21_614,
            humidity_milli_percent: 64_001,
        }
    );
    delay.done();
    sensor.destroy().done();
}

#[test]
fn medium_and_low_precision_use_their_own_commands_and_waits() {
    let mut sensor = Sht4x::new(I2cMock::new(&[
        I2c::write(ADDR, vec![0xF6]),
        I2c::read(ADDR, ROOM_FRAME.to_vec()),
        I2c::write(ADDR, vec![0xE0]),
        I2c::read(ADDR, ROOM_FRAME.to_vec()),
    ]));
    let mut delay = CheckedDelay::new(&[
        DelayTransaction::delay_us(4_500),
        DelayTransaction::delay_us(1_600),
    ]);

    sensor.measure(Precision::Medium, &mut delay).unwrap();
    sensor.measure(Precision::Low, &mut delay).unwrap();

    delay.done();
    sensor.destroy().done();
}

#[test]
fn a_part_with_another_address_is_addressed_there() {
    let mut sensor = Sht4x::with_address(
        I2cMock::new(&[
            I2c::write(0x46, vec![0xFD]),
            I2c::read(0x46, ROOM_FRAME.to_vec()),
        ]),
        0x46,
    );

    sensor
        .measure(Precision::High, &mut NoopDelay::new())
        .unwrap();

    sensor.destroy().done();
}

#[test]
fn a_bus_error_on_write_is_reported_as_i2c_and_nothing_is_read() {
    let mut sensor = Sht4x::new(I2cMock::new(&[
        I2c::write(ADDR, vec![0xFD]).with_error(ErrorKind::Other)
    ]));

    let err = sensor
        .measure(Precision::High, &mut NoopDelay::new())
        .unwrap_err();

    assert_eq!(err, Error::I2c(ErrorKind::Other));
    sensor.destroy().done();
}

#[test]
fn a_bus_error_on_read_is_reported_as_i2c() {
    let mut sensor = Sht4x::new(I2cMock::new(&[
        I2c::write(ADDR, vec![0xFD]),
        I2c::read(ADDR, ROOM_FRAME.to_vec()).with_error(ErrorKind::Other),
    ]));

    let err = sensor
        .measure(Precision::High, &mut NoopDelay::new())
        .unwrap_err();

    assert_eq!(err, Error::I2c(ErrorKind::Other));
    sensor.destroy().done();
}

#[test]
fn a_corrupted_temperature_crc_is_reported_as_crc() {
    let mut corrupted = ROOM_FRAME;
    corrupted[2] ^= 0xFF;
    let mut sensor = Sht4x::new(I2cMock::new(&[
        I2c::write(ADDR, vec![0xFD]),
        I2c::read(ADDR, corrupted.to_vec()),
    ]));

    let err = sensor
        .measure(Precision::High, &mut NoopDelay::new())
        .unwrap_err();

    assert_eq!(err, Error::Crc);
    sensor.destroy().done();
}

#[test]
fn soft_reset_writes_0x94_and_waits_1_ms() {
    let mut sensor = Sht4x::new(I2cMock::new(&[I2c::write(ADDR, vec![0x94])]));
    let mut delay = CheckedDelay::new(&[DelayTransaction::delay_us(1_000)]);

    sensor.soft_reset(&mut delay).unwrap();

    delay.done();
    sensor.destroy().done();
}

#[test]
fn a_failed_soft_reset_does_not_wait() {
    let mut sensor = Sht4x::new(I2cMock::new(&[
        I2c::write(ADDR, vec![0x94]).with_error(ErrorKind::Other)
    ]));
    let mut delay = CheckedDelay::new(&[]);

    assert_eq!(
        sensor.soft_reset(&mut delay),
        Err(Error::I2c(ErrorKind::Other))
    );

    delay.done();
    sensor.destroy().done();
}

#[test]
fn serial_number_writes_0x89_and_joins_both_words() {
    // Words 0x0BEE (CRC 0x45) and 0xF00D (CRC 0xD5).
    let mut sensor = Sht4x::new(I2cMock::new(&[
        I2c::write(ADDR, vec![0x89]),
        I2c::read(ADDR, vec![0x0B, 0xEE, 0x45, 0xF0, 0x0D, 0xD5]),
    ]));
    let mut delay = CheckedDelay::new(&[DelayTransaction::delay_us(1_000)]);

    assert_eq!(sensor.serial_number(&mut delay), Ok(0x0BEE_F00D));

    delay.done();
    sensor.destroy().done();
}

#[test]
fn the_room_frame_decodes_without_a_bus() {
    let m = sht4x::decode_measurement::<()>(&ROOM_FRAME).unwrap();
    assert_eq!(m.temperature_milli_celsius, 21_614);
    assert_eq!(m.humidity_milli_percent, 64_001);
}

#[test]
fn the_extreme_raw_frames_decode_to_the_datasheet_limits() {
    // 0x0000 (CRC 0x81) and 0xFFFF (CRC 0xAC).
    let min = sht4x::decode_measurement::<()>(&[0x00, 0x00, 0x81, 0x00, 0x00, 0x81]).unwrap();
    let max = sht4x::decode_measurement::<()>(&[0xFF, 0xFF, 0xAC, 0xFF, 0xFF, 0xAC]).unwrap();
    assert_eq!(
        (min.temperature_milli_celsius, min.humidity_milli_percent),
        (-45_000, 0)
    );
    assert_eq!(
        (max.temperature_milli_celsius, max.humidity_milli_percent),
        (130_000, 100_000)
    );
}
