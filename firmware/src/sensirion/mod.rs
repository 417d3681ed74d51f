//! What the SHT3x and SHT4x drivers share: the error type and the measurement.
//!
//! Both families speak the same framing (16-bit words, each followed by a
//! CRC-8, see [`crate::crc`]) and report the same quantities, so the agent
//! handles one error type and one reading type whichever sensor is fitted.

mod error;
pub(crate) mod measurement;

pub use error::Error;
pub use measurement::Measurement;
