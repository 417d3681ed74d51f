use core::fmt;

use crate::crc::CrcMismatch;

/// Errors of the Sensirion drivers, generic over the I²C bus error `E`.
///
/// Bus failures (NACK, arbitration loss, …) and data corruption are kept
/// apart: a `Crc` error means the bus worked but the bytes are not to be
/// trusted, which usually points at wiring or noise rather than a missing
/// sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error<E> {
    /// The I²C transaction itself failed.
    I2c(E),
    /// A received word failed its CRC-8 check.
    Crc,
}

impl<E> From<CrcMismatch> for Error<E> {
    fn from(_: CrcMismatch) -> Self {
        Error::Crc
    }
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::I2c(e) => write!(f, "I2C bus error: {e:?}"),
            Error::Crc => f.write_str("CRC mismatch in sensor response"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Error<E> {}
