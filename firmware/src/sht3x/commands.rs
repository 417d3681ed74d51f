//! SHT3x-DIS command codes and the time each takes.
//!
//! Section numbers refer to the Sensirion SHT3x-DIS datasheet (version 6 and
//! later). Commands are 16 bits, sent MSB first (§4.1).

/// A command sent to the sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// Single-shot measurement, clock stretching disabled (§4.3 "Measurement Commands for Single Shot Data Acquisition Mode").
    SingleShot(super::Repeatability),
    /// Soft reset (§4.9 "Reset").
    SoftReset,
    /// Read the 32-bit electronic identification code.
    SerialNumber(super::SerialNumberCommand),
}

impl Command {
    /// The 16-bit command code.
    pub(crate) const fn code(self) -> u16 {
        use super::{Repeatability, SerialNumberCommand};
        match self {
            // §4.3, "Clock stretching disabled" column.
            Command::SingleShot(Repeatability::High) => 0x2400,
            Command::SingleShot(Repeatability::Medium) => 0x240B,
            Command::SingleShot(Repeatability::Low) => 0x2416,
            // §4.9, soft reset / re-initialization.
            Command::SoftReset => 0x30A2,
            // Not in the SHT3x-DIS datasheet itself: Sensirion application
            // note "Electronic Identification Code SHT3x" gives 0x3780 with
            // clock stretching enabled and 0x3682 with it disabled.
            Command::SerialNumber(SerialNumberCommand::ClockStretching) => 0x3780,
            Command::SerialNumber(SerialNumberCommand::NoClockStretching) => 0x3682,
        }
    }

    /// The two bytes put on the bus.
    pub(crate) const fn bytes(self) -> [u8; 2] {
        self.code().to_be_bytes()
    }

    /// Worst-case time, in microseconds, before the result can be read or the
    /// next command accepted.
    pub(crate) const fn max_duration_us(self) -> u32 {
        use super::Repeatability;
        match self {
            // §2.2 "Timing Specification for the Sensor System", measurement
            // duration t_MEAS, maximum values: 15.5 / 6.5 / 4.5 ms.
            Command::SingleShot(Repeatability::High) => 15_500,
            Command::SingleShot(Repeatability::Medium) => 6_500,
            Command::SingleShot(Repeatability::Low) => 4_500,
            // §2.2, soft reset time t_SR: max 1.5 ms.
            Command::SoftReset => 1_500,
            // The application note gives no duration; with clock stretching
            // disabled the sensor NACKs a read issued too early, so wait a
            // conservative 1 ms as for the other short commands.
            Command::SerialNumber(_) => 1_000,
        }
    }
}
