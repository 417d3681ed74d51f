//! USB keyboard-wedge card readers (the cheap attendance kind) through evdev.
//!
//! Such a reader is a USB keyboard that types the card number and presses Enter. The agent
//! opens its `/dev/input/eventN` node through the [`evdev`](::evdev) crate, which keeps the
//! ioctls (and their `unsafe`) inside the dependency: the device is **grabbed**
//! (`EVIOCGRAB`), so the card numbers it types reach the agent only, not the Linux console
//! or a login prompt. The events are decoded into [`InputEvent`]s and assembled into cards
//! by the pure [`KeyboardDecoder`].
//!
//! Recorded fixtures are raw `struct input_event` dumps, decoded by [`parse_events`]:
//!
//! | field | 64-bit targets | 32-bit targets (armv7) |
//! |---|---|---|
//! | `time.tv_sec`, `time.tv_usec` | 2 × i64 | 2 × i32 |
//! | `type` | u16 | u16 |
//! | `code` | u16 | u16 |
//! | `value` | i32 | i32 |
//! | size | 24 bytes | 16 bytes |
//!
//! (`include/uapi/linux/input.h`; the kernel keeps `__kernel_ulong_t` seconds in this
//! struct even for 64-bit `time_t` user space, so the size follows the pointer width.)
//! Native byte order, which is little-endian on every target we build for.
//!
//! Only `EV_KEY` presses (`value` 1) count; releases (0) and autorepeat (2) are ignored.
//! Digits come from the top row (`KEY_1`..`KEY_0`, codes 2–11) or the keypad, hex readers'
//! `A`–`F` are kept upper-case, and `KEY_ENTER` (28) or `KEY_KPENTER` (96) ends a card. A
//! half-typed card older than [`STALE_AFTER`] is dropped (a misread that never sent Enter
//! must not prefix the next card).
//!
//! The typical reader types the card's 32-bit id in decimal, `0000789888` for an EM4100
//! card printed "0000789888 012,03456". [`format_typed`] writes it like a Wiegand reader
//! would (`card_format = "card"`: `3456`; `"facility_card"`: `12:3456`), so one card has one
//! roster entry whichever reader it is shown to; `"as_typed"` keeps the text.
//!
//! Should the grab fail (another program holds it), the reader is still read, and a warning
//! says that its keystrokes also reach the console.

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{thread, utc_from_us, HwError, Sink, CANCEL_CHECK};
use crate::config::{CardFormat, Config, ReaderInputKind};
use crate::event::EventKind;

/// `EV_KEY` (`include/uapi/linux/input-event-codes.h`).
pub const EV_KEY: u16 = 0x01;
/// `KEY_ENTER`.
pub const KEY_ENTER: u16 = 28;
/// `KEY_KPENTER`.
pub const KEY_KPENTER: u16 = 96;

/// A half-typed card is forgotten after this long without a key: readers type a whole card
/// within a few tens of milliseconds.
pub const STALE_AFTER: Duration = Duration::from_secs(1);

/// Longest card accepted; longer input is not a card reader typing.
pub const MAX_CARD_LEN: usize = 32;

/// Size of one `struct input_event` on this target.
pub const EVENT_SIZE: usize = if cfg!(target_pointer_width = "64") {
    24
} else {
    16
};

/// One decoded `struct input_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEvent {
    /// Microseconds since the Unix epoch (evdev stamps with CLOCK_REALTIME by default).
    pub time_us: u64,
    pub kind: u16,
    pub code: u16,
    pub value: i32,
}

/// Parses whole events of `size` bytes (24 or 16) from `bytes`; a trailing partial event is
/// left out (the caller keeps it for the next read).
pub fn parse_events(bytes: &[u8], size: usize) -> Vec<InputEvent> {
    let word = (size - 8) / 2; // 8 or 4 bytes per timeval field
    bytes
        .chunks_exact(size)
        .map(|e| {
            let int = |b: &[u8]| -> i64 {
                if word == 8 {
                    i64::from_le_bytes(b.try_into().expect("8 bytes"))
                } else {
                    i64::from(i32::from_le_bytes(b.try_into().expect("4 bytes")))
                }
            };
            let sec = int(&e[..word]);
            let usec = int(&e[word..2 * word]);
            let rest = &e[2 * word..];
            InputEvent {
                // Saturating: a timestamp past the year 586,912 (fuzzing fed one) is no
                // reason to stop reading cards.
                time_us: (sec.max(0) as u64)
                    .saturating_mul(1_000_000)
                    .saturating_add(usec.clamp(0, 999_999) as u64),
                kind: u16::from_le_bytes([rest[0], rest[1]]),
                code: u16::from_le_bytes([rest[2], rest[3]]),
                value: i32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]),
            }
        })
        .collect()
}

/// The character a key code types, for the keys a card reader uses.
pub fn key_char(code: u16) -> Option<char> {
    Some(match code {
        2..=10 => char::from(b'1' + (code - 2) as u8), // KEY_1..KEY_9
        11 => '0',                                     // KEY_0
        79 => '1',                                     // KEY_KP1
        80 => '2',
        81 => '3',
        75 => '4',
        76 => '5',
        77 => '6',
        71 => '7',
        72 => '8',
        73 => '9',
        82 => '0', // KEY_KP0
        30 => 'A', // KEY_A
        48 => 'B',
        46 => 'C',
        32 => 'D',
        18 => 'E',
        33 => 'F',
        _ => return None,
    })
}

/// Assembles key presses into cards.
#[derive(Debug, Default)]
pub struct KeyboardDecoder {
    card: String,
    last_us: Option<u64>,
    overflow: bool,
}

impl KeyboardDecoder {
    /// Feeds one event; returns a finished card and the time its Enter was pressed.
    pub fn on_event(&mut self, ev: InputEvent) -> Option<(String, u64)> {
        if ev.kind != EV_KEY || ev.value != 1 {
            return None;
        }
        if let Some(last) = self.last_us {
            if ev.time_us.saturating_sub(last) > STALE_AFTER.as_micros() as u64 {
                if !self.card.is_empty() {
                    tracing::debug!(partial = %self.card, "stale partial card dropped");
                }
                self.card.clear();
                self.overflow = false;
            }
        }
        self.last_us = Some(ev.time_us);
        if ev.code == KEY_ENTER || ev.code == KEY_KPENTER {
            let card = std::mem::take(&mut self.card);
            let overflow = std::mem::replace(&mut self.overflow, false);
            return (!card.is_empty() && !overflow).then_some((card, ev.time_us));
        }
        match key_char(ev.code) {
            Some(c) if self.card.len() < MAX_CARD_LEN => self.card.push(c),
            Some(_) => self.overflow = true,
            None => {}
        }
        None
    }
}

/// The `card` of a badge for text a keyboard reader typed; see the module docs. Text that
/// is not a decimal number is kept as typed.
pub fn format_typed(typed: &str, format: CardFormat) -> String {
    let number = match (format, typed.parse::<u64>()) {
        (CardFormat::AsTyped, _) | (_, Err(_)) => return typed.to_owned(),
        (_, Ok(n)) => n,
    };
    let (facility, card) = ((number >> 16) & 0xFF, number & 0xFFFF);
    match format {
        CardFormat::FacilityCard => format!("{facility}:{card}"),
        _ => card.to_string(),
    }
}

/// A configured keyboard reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyboardReader {
    pub reader: String,
    pub device: PathBuf,
    pub card_format: CardFormat,
}

/// The keyboard readers of `cfg`.
pub fn readers(cfg: &Config) -> Vec<KeyboardReader> {
    cfg.readers
        .iter()
        .filter_map(|r| {
            let input = r.input.as_ref()?;
            (input.kind == ReaderInputKind::Keyboard).then_some(())?;
            Some(KeyboardReader {
                reader: r.id.clone(),
                device: input.device.clone()?,
                card_format: input.card_format,
            })
        })
        .collect()
}

/// Opens the reader with `O_NONBLOCK`, so that the reading thread can look at the
/// cancellation token between keys instead of blocking until someone badges, and grabs it.
fn open(reader: &KeyboardReader) -> std::io::Result<::evdev::raw_stream::RawDevice> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&reader.device)?;
    let mut device = ::evdev::raw_stream::RawDevice::try_from(file)?;
    if let Err(e) = device.grab() {
        tracing::warn!(reader = %reader.reader, device = %reader.device.display(), error = %e,
            "card reader not grabbed: what it types also reaches the console");
    }
    Ok(device)
}

/// Opens (and grabs) the reader's device and starts its thread. A reader unplugged later is
/// reopened every few seconds.
pub(crate) fn spawn(
    reader: KeyboardReader,
    sink: Sink,
    cancel: CancellationToken,
) -> Result<JoinHandle<()>, HwError> {
    let device = open(&reader).map_err(|source| HwError::Open {
        path: reader.device.clone(),
        source,
    })?;
    let name = format!("evdev {}", reader.reader);
    thread(name, move || run(device, &reader, &sink, &cancel))
}

/// An event as the crate reads it, as the decoder takes it.
pub(crate) fn decoded(ev: &::evdev::InputEvent) -> InputEvent {
    let time_us = ev
        .timestamp()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    InputEvent {
        time_us,
        kind: ev.event_type().0,
        code: ev.code(),
        value: ev.value(),
    }
}

fn run(
    mut device: ::evdev::raw_stream::RawDevice,
    reader: &KeyboardReader,
    sink: &Sink,
    cancel: &CancellationToken,
) {
    let mut decoder = KeyboardDecoder::default();
    while !cancel.is_cancelled() {
        let fetched = device
            .fetch_events()
            .map(|events| events.map(|ev| decoded(&ev)).collect::<Vec<_>>());
        let events = match fetched {
            Ok(events) => events,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(reader = %reader.reader, device = %reader.device.display(), error = %e, "card reader lost; reopening");
                match reopen(reader, cancel) {
                    Some(d) => device = d,
                    None => return,
                }
                continue;
            }
        };
        for ev in events {
            if let Some((typed, at)) = decoder.on_event(ev) {
                let kind = EventKind::Badge {
                    reader: reader.reader.clone(),
                    card: format_typed(&typed, reader.card_format),
                };
                if !sink.send(kind, utc_from_us(at)) {
                    return;
                }
            }
        }
    }
}

/// Tries to open the reader again every five seconds until it is back; `None` if
/// cancelled first.
fn reopen(
    reader: &KeyboardReader,
    cancel: &CancellationToken,
) -> Option<::evdev::raw_stream::RawDevice> {
    loop {
        if !super::sleep_until(std::time::Instant::now() + CANCEL_CHECK * 25, cancel) {
            return None;
        }
        if let Ok(d) = open(reader) {
            tracing::info!(reader = %reader.reader, "card reader back");
            return Some(d);
        }
    }
}
