#![no_std]
//! Drivers and pure decoders for the nursery's sensors, on embedded-hal 1.0.
//!
//! | module | what flows through it |
//! |--------|------------------------|
//! | [`sht3x`], [`sht4x`] | Sensirion temperature/humidity sensors over I²C: commands, datasheet timings, CRC-checked readings in integer milli-units |
//! | [`crc`] | the Sensirion CRC-8 (poly 0x31, init 0xFF) and word framing both sensors use |
//! | [`door`] | reed-switch door contacts: a clock-free debouncer and a GPIO adapter |
//! | [`wiegand`] | card readers: pulse framing by gap, parity, 26-bit H10301 and 34-bit decode, and an encoder |
//! | [`alarm`] | buzzer / warning light: a per-severity on/off pattern stepped by the caller's clock |
//!
//! ## Why `no_std`
//!
//! The agent runs these on a Raspberry-Pi-class board through
//! `linux-embedded-hal`, but nothing here needs an OS: no allocation, no
//! threads, no clock. Keeping the crate `no_std` (and building it for
//! `thumbv7em-none-eabihf` in CI) means the same drivers can move to a
//! microcontroller front-end unchanged, and it forces the design the agent
//! wants anyway: time is always passed in by the caller, so debouncing,
//! Wiegand framing and alarm patterns are deterministic and testable with a
//! scripted clock. Blocking waits go through a borrowed
//! [`embedded_hal::delay::DelayNs`], and each driver hands its bus or pin
//! back with `destroy()`.
//!
//! Floating point is only used in convenience accessors; readings are
//! computed and compared as integers.

pub mod alarm;
pub mod crc;
pub mod door;
mod sensirion;
pub mod sht3x;
pub mod sht4x;
pub mod wiegand;

pub use sensirion::{Error, Measurement};
