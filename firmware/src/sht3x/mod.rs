//! Driver for the Sensirion SHT3x-DIS (SHT30/SHT31/SHT35) humidity and
//! temperature sensor.
//!
//! Only single-shot measurements without clock stretching are used: the
//! driver writes the command, waits the datasheet's worst-case duration on the
//! caller's delay, then reads 6 bytes (T word + CRC, RH word + CRC). This
//! keeps the bus free during the measurement and avoids clock stretching,
//! which some masters handle badly.
//!
//! ```
//! # use embedded_hal::{delay::DelayNs, i2c::I2c};
//! use nursery_firmware::sht3x::{Address, Repeatability, Sht3x};
//!
//! fn read<I: I2c>(i2c: I, delay: &mut impl DelayNs) -> Result<i32, nursery_firmware::sht3x::Error<I::Error>> {
//!     let mut sensor = Sht3x::new(i2c, Address::Default);
//!     let m = sensor.measure(Repeatability::High, delay)?;
//!     Ok(m.temperature_milli_celsius)
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
    Address, Repeatability, SerialNumberCommand,
};

/// An SHT3x on an I²C bus. Owns the bus handle; [`Sht3x::destroy`] gives it back.
#[derive(Debug)]
pub struct Sht3x<I2C> {
    i2c: I2C,
    address: u8,
}

impl<I2C: I2c> Sht3x<I2C> {
    /// Wraps the bus; no I/O happens until the first command.
    pub fn new(i2c: I2C, address: Address) -> Self {
        Self {
            i2c,
            address: address.value(),
        }
    }

    /// The 7-bit address the driver talks to.
    pub fn address(&self) -> u8 {
        self.address
    }

    /// Runs one single-shot measurement and returns the converted reading.
    ///
    /// Blocks on `delay` for the worst-case measurement time (15.5 ms at
    /// high repeatability).
    pub fn measure(
        &mut self,
        repeatability: Repeatability,
        delay: &mut impl DelayNs,
    ) -> Result<Measurement, Error<I2C::Error>> {
        let [t, rh] = self.command_and_read(Command::SingleShot(repeatability), delay)?;
        Ok(measurement_from_raw(t, rh))
    }

    /// Sends a soft reset and waits the maximum soft-reset time (1.5 ms).
    pub fn soft_reset(&mut self, delay: &mut impl DelayNs) -> Result<(), Error<I2C::Error>> {
        self.write(Command::SoftReset)?;
        delay.delay_us(Command::SoftReset.max_duration_us());
        Ok(())
    }

    /// Reads the 32-bit electronic identification code (two CRC-checked words,
    /// most significant first).
    pub fn serial_number(
        &mut self,
        command: SerialNumberCommand,
        delay: &mut impl DelayNs,
    ) -> Result<u32, Error<I2C::Error>> {
        let [high, low] = self.command_and_read(Command::SerialNumber(command), delay)?;
        Ok((u32::from(high) << 16) | u32::from(low))
    }

    /// Releases the bus.
    pub fn destroy(self) -> I2C {
        self.i2c
    }

    fn write(&mut self, command: Command) -> Result<(), Error<I2C::Error>> {
        self.i2c
            .write(self.address, &command.bytes())
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
    fn raw_zero_is_minus_45_degrees_and_zero_humidity() {
        assert_eq!(temperature_milli_celsius_from_raw(0), -45_000);
        assert_eq!(humidity_milli_percent_from_raw(0), 0);
    }

    #[test]
    fn raw_full_scale_is_130_degrees_and_100_percent() {
        assert_eq!(temperature_milli_celsius_from_raw(0xFFFF), 130_000);
        assert_eq!(humidity_milli_percent_from_raw(0xFFFF), 100_000);
    }

    #[test]
    fn raw_midscale_rounds_to_the_nearest_milli_unit() {
        // -45 + 175 * 32768 / 65535 = 42.501335 °C; 100 * 32768 / 65535 = 50.000763 %RH
        assert_eq!(temperature_milli_celsius_from_raw(0x8000), 42_501);
        assert_eq!(humidity_milli_percent_from_raw(0x8000), 50_001);
    }

    #[test]
    fn commands_are_the_datasheet_codes() {
        assert_eq!(
            Command::SingleShot(Repeatability::High).bytes(),
            [0x24, 0x00]
        );
        assert_eq!(
            Command::SingleShot(Repeatability::Medium).bytes(),
            [0x24, 0x0B]
        );
        assert_eq!(
            Command::SingleShot(Repeatability::Low).bytes(),
            [0x24, 0x16]
        );
        assert_eq!(Command::SoftReset.bytes(), [0x30, 0xA2]);
        assert_eq!(
            Command::SerialNumber(SerialNumberCommand::ClockStretching).bytes(),
            [0x37, 0x80]
        );
        assert_eq!(
            Command::SerialNumber(SerialNumberCommand::NoClockStretching).bytes(),
            [0x36, 0x82]
        );
    }

    #[test]
    fn high_repeatability_waits_15_5_ms() {
        assert_eq!(
            Command::SingleShot(Repeatability::High).max_duration_us(),
            15_500
        );
    }
}
