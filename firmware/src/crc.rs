//! Sensirion CRC-8 and the "2-byte word + CRC" framing shared by SHT3x and SHT4x.
//!
//! Both sensors protect every 16-bit word they send with one CRC byte
//! (SHT3x-DIS datasheet §4.12 "Checksum Calculation"; SHT4x datasheet section
//! "Checksum Calculation"). Pure functions, no bus: the drivers and the
//! tests share them.

/// CRC-8 generator polynomial x^8 + x^5 + x^4 + 1 (SHT3x §4.12, SHT4x "Checksum Calculation").
pub const POLYNOMIAL: u8 = 0x31;
/// CRC-8 initial value (SHT3x §4.12, SHT4x "Checksum Calculation").
pub const INIT: u8 = 0xFF;
// Reflect input/output: false; final XOR: 0x00 (same tables).

/// Number of bytes one word takes on the wire: MSB, LSB, CRC.
pub const WORD_WITH_CRC_LEN: usize = 3;

/// The CRC byte received for a word did not match the one computed over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrcMismatch {
    /// Index of the failing word in the response (0-based).
    pub word: usize,
    /// CRC byte sent by the sensor.
    pub received: u8,
    /// CRC computed over the two data bytes.
    pub computed: u8,
}

/// CRC-8 over `data` with the Sensirion parameters
/// (poly 0x31, init 0xFF, no reflection, xorout 0x00).
///
/// Known answer from both datasheets: `crc8(&[0xBE, 0xEF]) == 0x92`.
pub const fn crc8(data: &[u8]) -> u8 {
    let mut crc = INIT;
    let mut i = 0;
    while i < data.len() {
        crc ^= data[i];
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ POLYNOMIAL
            } else {
                crc << 1
            };
            bit += 1;
        }
        i += 1;
    }
    crc
}

/// Appends the CRC to a 16-bit word, giving the 3 bytes the sensor would send.
pub const fn word_with_crc(word: u16) -> [u8; WORD_WITH_CRC_LEN] {
    let bytes = word.to_be_bytes();
    [bytes[0], bytes[1], crc8(&bytes)]
}

/// Length of a two-word response (measurement or serial number).
pub const TWO_WORD_RESPONSE_LEN: usize = 2 * WORD_WITH_CRC_LEN;

/// Checks one word (MSB, LSB, CRC) and returns it; `index` only labels the error.
pub fn check_word(index: usize, bytes: &[u8; WORD_WITH_CRC_LEN]) -> Result<u16, CrcMismatch> {
    let computed = crc8(&[bytes[0], bytes[1]]);
    if computed == bytes[2] {
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    } else {
        Err(CrcMismatch {
            word: index,
            received: bytes[2],
            computed,
        })
    }
}

/// Splits a two-word response into its words, checking the CRC of each.
pub fn decode_two_words(frame: &[u8; TWO_WORD_RESPONSE_LEN]) -> Result<[u16; 2], CrcMismatch> {
    let first = check_word(0, &[frame[0], frame[1], frame[2]])?;
    let second = check_word(1, &[frame[3], frame[4], frame[5]])?;
    Ok([first, second])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_beef_is_0x92() {
        assert_eq!(crc8(&[0xBE, 0xEF]), 0x92);
    }

    #[test]
    fn crc_of_an_empty_slice_is_the_init_value() {
        assert_eq!(crc8(&[]), INIT);
    }

    #[test]
    fn words_with_valid_crcs_are_decoded_big_endian() {
        let frame = [0xBE, 0xEF, 0x92, 0x00, 0x00, 0x81];
        assert_eq!(decode_two_words(&frame), Ok([0xBEEF, 0x0000]));
    }

    #[test]
    fn a_bad_crc_names_the_failing_word() {
        let frame = [0xBE, 0xEF, 0x92, 0x00, 0x00, 0x80];
        assert_eq!(
            decode_two_words(&frame),
            Err(CrcMismatch {
                word: 1,
                received: 0x80,
                computed: 0x81
            })
        );
    }

    #[test]
    fn word_with_crc_appends_the_checksum() {
        assert_eq!(word_with_crc(0xBEEF), [0xBE, 0xEF, 0x92]);
        assert_eq!(check_word(0, &word_with_crc(0x1234)), Ok(0x1234));
    }
}
