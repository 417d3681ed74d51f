//! Wiegand card-reader decoding: pulse framing, parity, H10301 26-bit and
//! 34-bit formats, and an encoder for tests and the simulator.
//!
//! ## The wire
//!
//! A reader idles both data lines high and sends each bit as a short low
//! pulse on D0 (a `0`) or D1 (a `1`), most significant bit first. Typical
//! readers following the HID H10301 convention pulse for 50–100 µs with 1–2 ms
//! between bits; the SIA AC-01 Wiegand standard allows 20–100 µs pulses and
//! 200 µs–20 ms intervals. There is no end-of-frame marker: a frame ends when
//! the lines stay quiet, so the [`Decoder`] closes a frame after a gap longer
//! than any inter-bit interval ([`DEFAULT_FRAME_GAP_US`], 25 ms).
//!
//! The decoder is pure: the caller (GPIO interrupt handler, edge-event reader
//! thread, test) supplies each pulse's line and timestamp in microseconds.
//!
//! ## Formats
//!
//! | bits | leading parity (even) | facility | card    | trailing parity (odd) |
//! |------|-----------------------|----------|---------|-----------------------|
//! | 26   | bit 1 over bits 1–13  | bits 2–9 (8) | bits 10–25 (16) | bit 26 over bits 14–26 |
//! | 34   | bit 1 over bits 1–17  | bits 2–17 (16) | bits 18–33 (16) | bit 34 over bits 18–34 |
//!
//! (bits numbered from 1 in transmission order; each parity bit is counted in
//! its own half).
//!
//! ```
//! use nursery_firmware::wiegand::{encode_h10301, Decoder, DEFAULT_FRAME_GAP_US};
//!
//! let mut decoder = Decoder::default();
//! let mut t = 0;
//! for line in encode_h10301(12, 3456).lines() {
//!     assert!(decoder.pulse(line, t).is_none());
//!     t += 2_000; // 2 ms between bits
//! }
//! let card = decoder.poll(t + DEFAULT_FRAME_GAP_US).unwrap().unwrap();
//! assert_eq!((card.facility, card.card), (12, 3456));
//! ```

use core::fmt;

/// Quiet time after which the frame in progress is complete: 25 ms, above the
/// 20 ms maximum inter-bit interval of SIA AC-01 and far above the 1–2 ms of
/// typical readers.
pub const DEFAULT_FRAME_GAP_US: u64 = 25_000;

/// Longest frame the decoder can hold; longer bursts are reported as
/// [`WiegandError::TooLong`].
pub const MAX_FRAME_BITS: u8 = 64;

/// Which data line pulsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Line {
    /// A pulse on D0 carries a `0` bit.
    D0,
    /// A pulse on D1 carries a `1` bit.
    D1,
}

impl Line {
    /// The bit this line carries.
    pub const fn bit(self) -> bool {
        matches!(self, Line::D1)
    }

    /// The line that carries `bit`.
    pub const fn for_bit(bit: bool) -> Self {
        if bit {
            Line::D1
        } else {
            Line::D0
        }
    }
}

/// A supported card format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// HID H10301 26-bit: 8-bit facility code, 16-bit card number.
    H10301,
    /// 34-bit: 16-bit facility code, 16-bit card number.
    Wiegand34,
}

impl Format {
    /// Frame length in bits.
    pub const fn bits(self) -> u8 {
        match self {
            Format::H10301 => 26,
            Format::Wiegand34 => 34,
        }
    }
}

/// A decoded, parity-checked card read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Credential {
    /// The format the frame length selected.
    pub format: Format,
    /// Facility (site) code; at most 255 for [`Format::H10301`].
    pub facility: u16,
    /// Card number.
    pub card: u16,
}

/// Why a frame was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WiegandError {
    /// Fewer than 26 bits: usually noise or a partly read card.
    TooShort {
        /// Bits received.
        bits: u32,
    },
    /// More than 34 bits: two frames without a gap, or a format we don't know.
    TooLong {
        /// Bits received.
        bits: u32,
    },
    /// Between 27 and 33 bits: not a supported format.
    UnsupportedLength {
        /// Bits received.
        bits: u32,
    },
    /// The even parity over the leading half failed.
    LeadingParity,
    /// The odd parity over the trailing half failed.
    TrailingParity,
}

impl fmt::Display for WiegandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WiegandError::TooShort { bits } => write!(f, "Wiegand frame too short ({bits} bits)"),
            WiegandError::TooLong { bits } => write!(f, "Wiegand frame too long ({bits} bits)"),
            WiegandError::UnsupportedLength { bits } => {
                write!(f, "unsupported Wiegand frame length ({bits} bits)")
            }
            WiegandError::LeadingParity => f.write_str("Wiegand leading (even) parity error"),
            WiegandError::TrailingParity => f.write_str("Wiegand trailing (odd) parity error"),
        }
    }
}

impl core::error::Error for WiegandError {}

/// A raw frame of up to 64 bits; the first transmitted bit is the most
/// significant of the `len` low bits of [`Frame::bits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Frame {
    bits: u64,
    len: u8,
}

impl Frame {
    /// A frame of `len` bits; `None` if `len` exceeds 64 or `bits` has bits
    /// set above `len`.
    pub const fn new(bits: u64, len: u8) -> Option<Self> {
        if len > MAX_FRAME_BITS || (len < 64 && bits >> len != 0) {
            None
        } else {
            Some(Self { bits, len })
        }
    }

    /// The bits, first transmitted bit most significant.
    pub const fn bits(&self) -> u64 {
        self.bits
    }

    /// Number of bits.
    pub const fn len(&self) -> u8 {
        self.len
    }

    /// Whether the frame holds no bits.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `index` in transmission order (0 = first sent); `false` past the end.
    pub const fn bit(&self, index: u8) -> bool {
        index < self.len && (self.bits >> (self.len - 1 - index)) & 1 == 1
    }

    /// The lines to pulse, in order, to transmit this frame.
    pub fn lines(&self) -> impl Iterator<Item = Line> + '_ {
        (0..self.len).map(move |i| Line::for_bit(self.bit(i)))
    }

    /// Checks length and parity and extracts facility and card.
    pub fn decode(&self) -> Result<Credential, WiegandError> {
        decode(*self)
    }

    /// This frame with bit `index` (transmission order) inverted; used to
    /// test parity. `index` past the end leaves the frame unchanged.
    pub const fn with_bit_flipped(self, index: u8) -> Self {
        if index >= self.len {
            self
        } else {
            Self {
                bits: self.bits ^ (1 << (self.len - 1 - index)),
                len: self.len,
            }
        }
    }
}

const fn mask(bits: u8) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Checks length and parity of `frame` and extracts facility and card.
pub fn decode(frame: Frame) -> Result<Credential, WiegandError> {
    let len = frame.len;
    let format = match len {
        26 => Format::H10301,
        34 => Format::Wiegand34,
        0..=25 => return Err(WiegandError::TooShort { bits: len.into() }),
        27..=33 => return Err(WiegandError::UnsupportedLength { bits: len.into() }),
        _ => return Err(WiegandError::TooLong { bits: len.into() }),
    };
    let half = len / 2;
    let leading = frame.bits >> (len - half);
    let trailing = frame.bits & mask(half);
    if leading.count_ones() % 2 != 0 {
        return Err(WiegandError::LeadingParity);
    }
    if trailing.count_ones() % 2 != 1 {
        return Err(WiegandError::TrailingParity);
    }
    // Drop both parity bits: 24 or 32 data bits, card number in the low 16.
    let data = (frame.bits >> 1) & mask(len - 2);
    Ok(Credential {
        format,
        facility: (data >> 16) as u16,
        card: (data & 0xFFFF) as u16,
    })
}

/// Builds a frame from the data bits (without parity) by adding the leading
/// even and trailing odd parity bits.
const fn with_parity(data: u64, len: u8) -> Frame {
    let half = len / 2;
    let data_bits = len - 2;
    // Data bits in each half, excluding the parity bit itself.
    let leading_data = data >> (data_bits - (half - 1));
    let trailing_data = data & mask(half - 1);
    let even = (leading_data.count_ones() % 2) as u64; // makes the leading half even
    let odd = 1 - (trailing_data.count_ones() % 2) as u64; // makes the trailing half odd
    Frame {
        bits: (even << (len - 1)) | (data << 1) | odd,
        len,
    }
}

/// Encodes an H10301 26-bit frame.
pub const fn encode_h10301(facility: u8, card: u16) -> Frame {
    with_parity(((facility as u64) << 16) | card as u64, 26)
}

/// Encodes a 34-bit frame.
pub const fn encode_34bit(facility: u16, card: u16) -> Frame {
    with_parity(((facility as u64) << 16) | card as u64, 34)
}

/// Assembles pulses into frames by inter-bit gap and decodes them.
///
/// Feed every pulse to [`Decoder::pulse`]; call [`Decoder::poll`] from a
/// timer so the last frame of a burst is delivered once the line has been
/// quiet for the frame gap (otherwise it would wait for the next card).
#[derive(Debug, Clone)]
pub struct Decoder {
    frame_gap_us: u64,
    bits: u64,
    /// Pulses in the current frame; may exceed 64, only the first 64 are kept.
    count: u32,
    last_pulse_us: Option<u64>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_FRAME_GAP_US)
    }
}

impl Decoder {
    /// A decoder closing frames after `frame_gap_us` µs without a pulse.
    pub const fn new(frame_gap_us: u64) -> Self {
        Self {
            frame_gap_us,
            bits: 0,
            count: 0,
            last_pulse_us: None,
        }
    }

    /// Records one pulse. If it arrives after the frame gap, the previous
    /// frame is complete and its result is returned; this pulse then starts
    /// the next frame.
    pub fn pulse(&mut self, line: Line, now_us: u64) -> Option<Result<Credential, WiegandError>> {
        let finished = self.poll(now_us);
        if self.count < u32::from(MAX_FRAME_BITS) {
            self.bits = (self.bits << 1) | u64::from(line.bit());
        }
        self.count = self.count.saturating_add(1);
        self.last_pulse_us = Some(now_us);
        finished
    }

    /// Completes the frame in progress if the line has been quiet for the
    /// frame gap at `now_us`.
    pub fn poll(&mut self, now_us: u64) -> Option<Result<Credential, WiegandError>> {
        let last = self.last_pulse_us?;
        if self.count == 0 || now_us.saturating_sub(last) < self.frame_gap_us {
            return None;
        }
        Some(self.finish())
    }

    /// Whether a frame is being received.
    pub const fn in_progress(&self) -> bool {
        self.count > 0
    }

    /// Discards the frame in progress (e.g. after a reader power cycle).
    pub fn reset(&mut self) {
        self.bits = 0;
        self.count = 0;
        self.last_pulse_us = None;
    }

    fn finish(&mut self) -> Result<Credential, WiegandError> {
        let count = self.count;
        let bits = self.bits;
        self.reset();
        if count > u32::from(MAX_FRAME_BITS) {
            return Err(WiegandError::TooLong { bits: count });
        }
        // count <= 64, and only `count` bits were shifted in.
        match Frame::new(bits, count as u8) {
            Some(frame) => decode(frame),
            None => Err(WiegandError::TooLong { bits: count }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h10301_known_frame_decodes() {
        // Facility 1, card 1: data 0x010001 -> leading half has one 1 bit
        // (facility LSB) so parity 1; trailing half has one 1 bit so parity 0.
        let frame = encode_h10301(1, 1);
        assert_eq!(frame.bits(), (1 << 25) | (0x010001 << 1));
        assert_eq!(
            frame.decode(),
            Ok(Credential {
                format: Format::H10301,
                facility: 1,
                card: 1
            })
        );
    }

    #[test]
    fn all_zero_data_needs_only_the_odd_parity_bit() {
        assert_eq!(encode_h10301(0, 0).bits(), 1);
        assert_eq!(encode_34bit(0, 0).bits(), 1);
    }

    #[test]
    fn frame_rejects_bits_above_its_length() {
        assert_eq!(Frame::new(0b100, 2), None);
        assert!(Frame::new(u64::MAX, 64).is_some());
        assert_eq!(Frame::new(0, 65), None);
    }
}
