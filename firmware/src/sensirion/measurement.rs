/// One temperature / relative-humidity reading.
///
/// Stored as integer milli-units so the conversion needs no floating point
/// (the Cortex-M targets may lack an FPU, and integers compare exactly in
/// tests); the `f32` accessors are for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Measurement {
    /// Temperature in m°C (21 614 means 21.614 °C).
    pub temperature_milli_celsius: i32,
    /// Relative humidity in m%RH (38 065 means 38.065 %RH).
    pub humidity_milli_percent: i32,
}

impl Measurement {
    /// Temperature in °C.
    pub fn temperature_celsius(&self) -> f32 {
        self.temperature_milli_celsius as f32 / 1000.0
    }

    /// Relative humidity in %RH.
    pub fn humidity_percent(&self) -> f32 {
        self.humidity_milli_percent as f32 / 1000.0
    }
}

/// `offset + span * raw / (2^16 - 1)` in milli-units, rounded to nearest.
///
/// Both datasheets give their conversions in this form; `span` and `offset`
/// are in milli-units. Computed in `i64` because `span * raw` overflows `i32`.
pub(crate) const fn scale_milli(raw: u16, offset_milli: i32, span_milli: i32) -> i32 {
    const FULL_SCALE: i64 = u16::MAX as i64; // 2^16 - 1
    let scaled = (span_milli as i64 * raw as i64 + FULL_SCALE / 2) / FULL_SCALE;
    offset_milli + scaled as i32
}
