//! SHT3x-specific types and the datasheet conversions.

use crate::sensirion::measurement::scale_milli;
use crate::sensirion::Measurement;

/// I²C address, selected by the ADDR pin (datasheet §3 "Pin Assignment" /
/// "I2C address" table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Address {
    /// 0x44, ADDR pin tied to VSS (default).
    #[default]
    Default,
    /// 0x45, ADDR pin tied to VDD.
    Alternate,
}

impl Address {
    /// The 7-bit address.
    pub const fn value(self) -> u8 {
        match self {
            Address::Default => 0x44,
            Address::Alternate => 0x45,
        }
    }
}

/// Measurement repeatability (§4.3): higher repeatability means less noise
/// but a longer measurement and more self-heating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Repeatability {
    /// Highest repeatability, max 15.5 ms.
    #[default]
    High,
    /// Medium repeatability, max 6.5 ms.
    Medium,
    /// Low repeatability, max 4.5 ms.
    Low,
}

/// Which of the two serial-number commands to send.
///
/// The SHT3x-DIS datasheet does not list the command; Sensirion's application
/// note "Electronic Identification Code SHT3x" gives both. Parts answer both
/// in practice; older drivers use 0x3780. Prefer
/// [`SerialNumberCommand::NoClockStretching`] on masters that do not handle
/// clock stretching reliably (the Raspberry Pi's BCM2835 I²C block is known
/// to mishandle it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerialNumberCommand {
    /// 0x3780, clock stretching enabled.
    ClockStretching,
    /// 0x3682, clock stretching disabled; the driver waits before reading.
    #[default]
    NoClockStretching,
}

/// Temperature in m°C from the raw signal: T = -45 + 175 · S / (2^16 − 1)
/// (§4.13 "Conversion of Signal Output", Equation 2), rounded to nearest.
pub const fn temperature_milli_celsius_from_raw(raw: u16) -> i32 {
    scale_milli(raw, -45_000, 175_000)
}

/// Relative humidity in m%RH from the raw signal: RH = 100 · S / (2^16 − 1)
/// (§4.13, Equation 1), rounded to nearest. Always within 0..=100 000.
pub const fn humidity_milli_percent_from_raw(raw: u16) -> i32 {
    scale_milli(raw, 0, 100_000)
}

/// Both conversions at once.
pub const fn measurement_from_raw(raw_temperature: u16, raw_humidity: u16) -> Measurement {
    Measurement {
        temperature_milli_celsius: temperature_milli_celsius_from_raw(raw_temperature),
        humidity_milli_percent: humidity_milli_percent_from_raw(raw_humidity),
    }
}
