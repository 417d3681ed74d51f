//! SHT4x-specific types and the datasheet conversions.

use crate::sensirion::measurement::scale_milli;
use crate::sensirion::Measurement;

/// Default I²C address of the SHT4x (SHT4x-AD1B and most breakout boards).
///
/// The address is fixed per ordered part (the "Ordering Information" table
/// lists -BD1B at 0x45 and -CD1B at 0x46); use [`super::Sht4x::with_address`]
/// for those.
pub const DEFAULT_ADDRESS: u8 = 0x44;

/// Measurement precision ("repeatability" in the datasheet): higher precision
/// means less noise and a longer measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// High precision, 0xFD, max 8.3 ms.
    #[default]
    High,
    /// Medium precision, 0xF6, max 4.5 ms.
    Medium,
    /// Lowest precision, 0xE0, max 1.6 ms.
    Low,
}

/// Temperature in m°C from the raw signal: T = -45 + 175 · S / 65535
/// (datasheet section "Conversion of Signal Output"), rounded to nearest.
pub const fn temperature_milli_celsius_from_raw(raw: u16) -> i32 {
    scale_milli(raw, -45_000, 175_000)
}

/// Relative humidity in m%RH from the raw signal: RH = -6 + 125 · S / 65535,
/// cropped to 0..=100 %RH as the datasheet ("Conversion of Signal Output")
/// recommends, since the formula can reach -6 % and 119 % at the raw extremes.
pub const fn humidity_milli_percent_from_raw(raw: u16) -> i32 {
    let rh = scale_milli(raw, -6_000, 125_000);
    if rh < 0 {
        0
    } else if rh > 100_000 {
        100_000
    } else {
        rh
    }
}

/// Both conversions at once.
pub const fn measurement_from_raw(raw_temperature: u16, raw_humidity: u16) -> Measurement {
    Measurement {
        temperature_milli_celsius: temperature_milli_celsius_from_raw(raw_temperature),
        humidity_milli_percent: humidity_milli_percent_from_raw(raw_humidity),
    }
}
