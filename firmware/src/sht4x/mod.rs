//! Driver for the Sensirion SHT4x (SHT40/SHT41/SHT43/SHT45) humidity and
//! temperature sensor.
//!
//! Every SHT4x command is one byte; a measurement is "write command, wait the
//! worst-case duration on the caller's delay, read 6 bytes" (T word + CRC,
//! RH word + CRC). The heater commands are not exposed: the nursery sensors
//! run in ordinary room conditions where heating would only skew readings.
//!
//! ```
//! # use embedded_hal::{delay::DelayNs, i2c::I2c};
//! use nursery_firmware::sht4x::{Precision, Sht4x};
//!
//! fn read<I: I2c>(i2c: I, delay: &mut impl DelayNs) -> Result<i32, nursery_firmware::sht4x::Error<I::Error>> {
//!     let mut sensor = Sht4x::new(i2c);
//!     let m = sensor.measure(Precision::High, delay)?;
//!     Ok(m.humidity_milli_percent)
//! }
//! ```

mod commands;
mod types;

use embedded_hal::{delay::DelayNs, i2c::I2c};

use crate::crc;
pub use crate::sensirion::{Error, Measurement};
use commands::Command;
pub use types::{
    humidity_milli_percent_from_raw, measurement_from_raw, temperature_milli_celsius_from_raw,
    Precision, DEFAULT_ADDRESS,
};

/// An SHT4x on an I²C bus. Owns the bus handle; [`Sht4x::destroy`] gives it back.
#[derive(Debug)]
pub struct Sht4x<I2C> {
    i2c: I2C,
    address: u8,
}

impl<I2C: I2c> Sht4x<I2C> {
    /// Wraps the bus at the default address 0x44; no I/O happens yet.
    pub fn new(i2c: I2C) -> Self {
        Self::with_address(i2c, DEFAULT_ADDRESS)
    }

    /// Wraps the bus for a part with another fixed address (0x45, 0x46).
    pub fn with_address(i2c: I2C, address: u8) -> Self {
        Self { i2c, address }
    }

    /// The 7-bit address the driver talks to.
    pub fn address(&self) -> u8 {
        self.address
    }

    /// Runs one measurement and returns the converted reading.
    ///
    /// Blocks on `delay` for the worst-case measurement time (8.3 ms at high
    /// precision).
    pub fn measure(
        &mut self,
        precision: Precision,
        delay: &mut impl DelayNs,
    ) -> Result<Measurement, Error<I2C::Error>> {
        let [t, rh] = self.command_and_read(Command::Measure(precision), delay)?;
        Ok(measurement_from_raw(t, rh))
    }

    /// Sends a soft reset and waits the maximum soft-reset time (1 ms).
    pub fn soft_reset(&mut self, delay: &mut impl DelayNs) -> Result<(), Error<I2C::Error>> {
        self.write(Command::SoftReset)?;
        delay.delay_us(Command::SoftReset.max_duration_us());
        Ok(())
    }

    /// Reads the 32-bit serial number (two CRC-checked words, most
    /// significant first).
    pub fn serial_number(&mut self, delay: &mut impl DelayNs) -> Result<u32, Error<I2C::Error>> {
        let [high, low] = self.command_and_read(Command::SerialNumber, delay)?;
        Ok((u32::from(high) << 16) | u32::from(low))
    }

    /// Releases the bus.
    pub fn destroy(self) -> I2C {
        self.i2c
    }

    fn write(&mut self, command: Command) -> Result<(), Error<I2C::Error>> {
        self.i2c
            .write(self.address, &[command.code()])
            .map_err(Error::I2c)
    }

    fn command_and_read(
        &mut self,
        command: Command,
        delay: &mut impl DelayNs,
    ) -> Result<[u16; 2], Error<I2C::Error>> {
        self.write(command)?;
        delay.delay_us(command.max_duration_us());
        let mut frame = [0u8; crc::TWO_WORD_RESPONSE_LEN];
        self.i2c
            .read(self.address, &mut frame)
            .map_err(Error::I2c)?;
        Ok(crc::decode_two_words(&frame)?)
    }
}

/// Decodes a 6-byte measurement response (T, CRC, RH, CRC) without a bus;
/// `Error<E>` is generic only so it matches the driver's error type.
pub fn decode_measurement<E>(
    frame: &[u8; crc::TWO_WORD_RESPONSE_LEN],
) -> Result<Measurement, Error<E>> {
    let [t, rh] = crc::decode_two_words(frame)?;
    Ok(measurement_from_raw(t, rh))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_zero_is_minus_45_degrees_and_humidity_cropped_to_zero() {
        assert_eq!(temperature_milli_celsius_from_raw(0), -45_000);
        assert_eq!(humidity_milli_percent_from_raw(0), 0);
    }

    #[test]
    fn raw_full_scale_is_130_degrees_and_humidity_cropped_to_100_percent() {
        assert_eq!(temperature_milli_celsius_from_raw(0xFFFF), 130_000);
        assert_eq!(humidity_milli_percent_from_raw(0xFFFF), 100_000);
    }

    #[test]
    fn raw_midscale_rounds_to_the_nearest_milli_unit() {
        // -45 + 175 * 32768 / 65535 = 42.501335 °C; -6 + 125 * 32768 / 65535 = 56.500954 %RH
        assert_eq!(temperature_milli_celsius_from_raw(0x8000), 42_501);
        assert_eq!(humidity_milli_percent_from_raw(0x8000), 56_501);
    }

    #[test]
    fn humidity_is_cropped_only_outside_the_physical_range() {
        // S = 3146 gives -6 + 125 * 3146 / 65535 = 0.00061 %RH, just above zero;
        // S = 3145 gives -0.0013 %RH, cropped.
        assert_eq!(humidity_milli_percent_from_raw(3146), 1);
        assert_eq!(humidity_milli_percent_from_raw(3145), 0);
    }

    #[test]
    fn commands_are_the_datasheet_codes() {
        assert_eq!(Command::Measure(Precision::High).code(), 0xFD);
        assert_eq!(Command::Measure(Precision::Medium).code(), 0xF6);
        assert_eq!(Command::Measure(Precision::Low).code(), 0xE0);
        assert_eq!(Command::SoftReset.code(), 0x94);
        assert_eq!(Command::SerialNumber.code(), 0x89);
    }

    #[test]
    fn high_precision_waits_8_3_ms() {
        assert_eq!(Command::Measure(Precision::High).max_duration_us(), 8_300);
    }
}
