//! Wiegand framing, parity and formats; property tests over the whole range.

use nursery_firmware::wiegand::{
    decode, encode_34bit, encode_h10301, Credential, Decoder, Format, Frame, Line, WiegandError,
    DEFAULT_FRAME_GAP_US,
};
use proptest::prelude::*;

/// Bit interval of a typical reader: 2 ms.
const BIT_INTERVAL_US: u64 = 2_000;

/// Sends `frame` starting at `start_us`; returns results produced on the way
/// and the time of the last pulse.
fn send(
    decoder: &mut Decoder,
    frame: &Frame,
    start_us: u64,
) -> (Vec<Result<Credential, WiegandError>>, u64) {
    let mut results = Vec::new();
    let mut t = start_us;
    for (i, line) in frame.lines().enumerate() {
        t = start_us + i as u64 * BIT_INTERVAL_US;
        results.extend(decoder.pulse(line, t));
    }
    (results, t)
}

fn h10301(facility: u16, card: u16) -> Credential {
    Credential {
        format: Format::H10301,
        facility,
        card,
    }
}

#[test]
fn a_known_h10301_frame_decodes_to_facility_and_card() {
    // Facility 123 (0x7B), card 4567 (0x11D7): 24 data bits 0x7B11D7.
    // Leading 12 data bits 0x7B1 have 7 ones -> even parity bit 1;
    // trailing 12 data bits 0x1D7 have 7 ones -> odd parity bit 0.
    let frame = Frame::new((1 << 25) | (0x7B11D7 << 1), 26).unwrap();
    assert_eq!(encode_h10301(123, 4567), frame);
    assert_eq!(decode(frame), Ok(h10301(123, 4567)));
}

#[test]
fn a_known_34_bit_frame_decodes_to_facility_and_card() {
    // Facility 0xFFFF (16 ones -> even parity 0), card 0x0001 (1 one -> odd parity 0).
    let frame = Frame::new(0xFFFF_0001 << 1, 34).unwrap();
    assert_eq!(encode_34bit(0xFFFF, 1), frame);
    assert_eq!(
        decode(frame),
        Ok(Credential {
            format: Format::Wiegand34,
            facility: 0xFFFF,
            card: 1
        })
    );
}

#[test]
fn a_frame_is_delivered_by_poll_once_the_gap_has_passed() {
    let mut decoder = Decoder::default();
    let (results, last) = send(&mut decoder, &encode_h10301(7, 42), 0);
    assert!(results.is_empty());
    assert!(decoder.in_progress());
    assert_eq!(decoder.poll(last + DEFAULT_FRAME_GAP_US - 1), None);
    assert_eq!(
        decoder.poll(last + DEFAULT_FRAME_GAP_US),
        Some(Ok(h10301(7, 42)))
    );
    assert!(!decoder.in_progress());
    assert_eq!(decoder.poll(last + 10 * DEFAULT_FRAME_GAP_US), None);
}

#[test]
fn a_single_noise_pulse_is_rejected_as_too_short() {
    let mut decoder = Decoder::default();
    assert_eq!(decoder.pulse(Line::D1, 0), None);
    assert_eq!(
        decoder.poll(DEFAULT_FRAME_GAP_US),
        Some(Err(WiegandError::TooShort { bits: 1 }))
    );
}

#[test]
fn two_frames_without_a_gap_are_rejected_as_too_long() {
    let mut decoder = Decoder::default();
    let first = encode_h10301(1, 2);
    let (_, last) = send(&mut decoder, &first, 0);
    let (results, last) = send(&mut decoder, &first, last + BIT_INTERVAL_US);
    assert!(results.is_empty());
    assert_eq!(
        decoder.poll(last + DEFAULT_FRAME_GAP_US),
        Some(Err(WiegandError::TooLong { bits: 52 }))
    );
}

#[test]
fn a_burst_longer_than_64_bits_is_counted_and_rejected() {
    let mut decoder = Decoder::default();
    for i in 0..100 {
        assert_eq!(decoder.pulse(Line::D0, i * BIT_INTERVAL_US), None);
    }
    assert_eq!(
        decoder.poll(99 * BIT_INTERVAL_US + DEFAULT_FRAME_GAP_US),
        Some(Err(WiegandError::TooLong { bits: 100 }))
    );
}

#[test]
fn lengths_between_the_formats_are_unsupported() {
    assert_eq!(
        decode(Frame::new(0, 30).unwrap()),
        Err(WiegandError::UnsupportedLength { bits: 30 })
    );
}

#[test]
fn a_custom_gap_is_honoured() {
    let mut decoder = Decoder::new(5_000);
    let (_, last) = send(&mut decoder, &encode_34bit(500, 600), 0);
    assert_eq!(
        decoder.poll(last + 5_000),
        Some(Ok(Credential {
            format: Format::Wiegand34,
            facility: 500,
            card: 600
        }))
    );
}

#[test]
fn reset_discards_a_partial_frame() {
    let mut decoder = Decoder::default();
    decoder.pulse(Line::D0, 0);
    decoder.reset();
    assert!(!decoder.in_progress());
    assert_eq!(decoder.poll(DEFAULT_FRAME_GAP_US), None);
}

fn any_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (any::<u8>(), any::<u16>()).prop_map(|(f, c)| encode_h10301(f, c)),
        (any::<u16>(), any::<u16>()).prop_map(|(f, c)| encode_34bit(f, c)),
    ]
}

proptest! {
    #[test]
    fn h10301_encode_then_decode_round_trips(facility in any::<u8>(), card in any::<u16>()) {
        let frame = encode_h10301(facility, card);
        prop_assert_eq!(frame.len(), 26);
        prop_assert_eq!(decode(frame), Ok(h10301(facility.into(), card)));
    }

    #[test]
    fn wiegand34_encode_then_decode_round_trips(facility in any::<u16>(), card in any::<u16>()) {
        let frame = encode_34bit(facility, card);
        prop_assert_eq!(frame.len(), 34);
        prop_assert_eq!(
            decode(frame),
            Ok(Credential { format: Format::Wiegand34, facility, card })
        );
    }

    #[test]
    fn a_single_flipped_bit_is_rejected(frame in any_frame(), index in 0u8..34) {
        let index = index % frame.len();
        let half = frame.len() / 2;
        let expected = if index < half {
            WiegandError::LeadingParity
        } else {
            WiegandError::TrailingParity
        };
        prop_assert_eq!(decode(frame.with_bit_flipped(index)), Err(expected));
    }

    #[test]
    fn frames_of_the_wrong_length_are_rejected(bits in any::<u64>(), len in 0u8..=64) {
        prop_assume!(len != 26 && len != 34);
        let bits = if len == 64 { bits } else { bits & ((1u64 << len) - 1) };
        let frame = Frame::new(bits, len).unwrap();
        let expected = match len {
            0..=25 => WiegandError::TooShort { bits: len.into() },
            27..=33 => WiegandError::UnsupportedLength { bits: len.into() },
            _ => WiegandError::TooLong { bits: len.into() },
        };
        prop_assert_eq!(decode(frame), Err(expected));
    }

    #[test]
    fn pulses_through_the_decoder_round_trip(frame in any_frame(), start in 0u64..1_000_000_000) {
        let mut decoder = Decoder::default();
        let (results, last) = send(&mut decoder, &frame, start);
        prop_assert!(results.is_empty());
        prop_assert_eq!(decoder.poll(last + DEFAULT_FRAME_GAP_US), Some(decode(frame)));
    }

    #[test]
    fn the_gap_splits_two_frames(
        first in any_frame(),
        second in any_frame(),
        extra_gap in 0u64..1_000_000,
    ) {
        let mut decoder = Decoder::default();
        let (during_first, last) = send(&mut decoder, &first, 0);
        prop_assert!(during_first.is_empty());
        let start = last + DEFAULT_FRAME_GAP_US + extra_gap;
        let (during_second, last) = send(&mut decoder, &second, start);
        // The first pulse of the second frame closes the first one.
        prop_assert_eq!(during_second, vec![decode(first)]);
        prop_assert_eq!(decoder.poll(last + DEFAULT_FRAME_GAP_US), Some(decode(second)));
    }

    #[test]
    fn frames_carry_every_bit_on_the_matching_line(frame in any_frame()) {
        let rebuilt = frame
            .lines()
            .fold(0u64, |acc, line| (acc << 1) | u64::from(line == Line::D1));
        prop_assert_eq!(rebuilt, frame.bits());
    }
}
