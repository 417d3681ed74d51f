//! SHT4x command codes and the time each takes.
//!
//! From the Sensirion SHT4x datasheet (SHT40/SHT41/SHT43/SHT45): section
//! "Command Overview" for the 8-bit codes and Table 4 "System timing
//! specifications" for the durations.

/// A command sent to the sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// Measure T & RH with the given precision (repeatability).
    Measure(super::Precision),
    /// Soft reset.
    SoftReset,
    /// Read the 32-bit serial number.
    SerialNumber,
}

impl Command {
    /// The command byte ("Command Overview").
    pub(crate) const fn code(self) -> u8 {
        use super::Precision;
        match self {
            Command::Measure(Precision::High) => 0xFD,
            Command::Measure(Precision::Medium) => 0xF6,
            Command::Measure(Precision::Low) => 0xE0,
            Command::SoftReset => 0x94,
            Command::SerialNumber => 0x89,
        }
    }

    /// Worst-case time, in microseconds, before the response can be read or
    /// the next command accepted.
    pub(crate) const fn max_duration_us(self) -> u32 {
        use super::Precision;
        match self {
            // Table 4, measurement duration t_MEAS, maximum values:
            // high 8.3 ms, medium 4.5 ms, low 1.6 ms.
            Command::Measure(Precision::High) => 8_300,
            Command::Measure(Precision::Medium) => 4_500,
            Command::Measure(Precision::Low) => 1_600,
            // Table 4, soft reset time t_SR: max 1 ms.
            Command::SoftReset => 1_000,
            // No duration is specified for 0x89; reading immediately gets a
            // NACK on real parts, so wait 1 ms like the soft reset.
            Command::SerialNumber => 1_000,
        }
    }
}
