//! What must hold for any input, one function per fuzz target.
//!
//! The fuzz targets (`fuzz/fuzz_targets/*.rs`) call these with libFuzzer's bytes; the
//! workspace test `tests/tests/fuzz_corpus.rs` includes this very file (`#[path]`) and calls
//! them with every file of `fuzz/corpus/<target>/`, so CI runs the same checks over the
//! corpus without cargo-fuzz or a nightly compiler. Each function panics on a finding: a
//! panic in the agent's own code, or an assertion below that failed.
//!
//! Only the agent's public API and what the workspace already depends on (chrono, serde_json,
//! tokio, tokio-util, embedded-hal, the firmware crate) are used here.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use nursery_agent::config::{self, Config};
use nursery_agent::daemon::core::parse_line;
use nursery_agent::event::{Event, EventKind};
use nursery_agent::rules::Engine;
use nursery_agent::uplink::{parse_command, ParsedCommand};
use nursery_firmware::wiegand::{self, Decoder, Frame, Line, WiegandError};
use nursery_firmware::{crc, sht3x, sht4x};

/// The shipped configurations, parsed once: the demo's roster (names, PINs, rooms) for the
/// event and page targets, the board's hardware (GPIO lines, I²C sensors) for the decoders.
const DEMO_TOML: &str = include_str!("../../config/demo.toml");
const BOARD_TOML: &str = include_str!("../../config/board.toml");

fn shipped(text: &'static str, name: &str, cell: &'static OnceLock<Config>) -> &'static Config {
    cell.get_or_init(|| {
        config::parse(text, Path::new(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    })
}

pub fn demo() -> &'static Config {
    static CELL: OnceLock<Config> = OnceLock::new();
    shipped(DEMO_TOML, "config/demo.toml", &CELL)
}

pub fn board() -> &'static Config {
    static CELL: OnceLock<Config> = OnceLock::new();
    shipped(BOARD_TOML, "config/board.toml", &CELL)
}

/// Target `event_line`: the bytes as lines of live input (`--events`) through the daemon's
/// parser and the rules, then as a whole recorded log through `replay`.
///
/// Holds: nothing panics; an event the agent parsed is written back (`to_json_line`) as a
/// line it parses to the same event; `replay` reports every rejected line with its number;
/// every transition it prints is one JSON object.
pub fn event_line(data: &[u8]) {
    let cfg = demo();
    let mut engine = Engine::new(cfg).expect("the demo configuration starts the engine");
    // The daemon's wall clock: a fixed moment (`parse_line` refuses lines far ahead of it).
    let now: DateTime<Utc> = "2026-03-02T08:00:00Z".parse().expect("a valid instant");
    for line in data.split(|&b| b == b'\n') {
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        let Ok((ev, stamped)) = parse_line(&engine, text, now) else {
            continue;
        };
        assert!(ev.ts.is_some(), "a parsed live event carries a ts");
        let written = ev.to_json_line();
        let again = Event::parse(&written)
            .unwrap_or_else(|e| panic!("the agent cannot read back {written:?}: {e}"));
        assert_eq!(again, ev, "{text:?} did not round-trip through {written:?}");
        if stamped {
            assert_eq!(ev.utc(), Some(now), "a line without ts is stamped with now");
        }
        let _ = engine.on_event(&ev);
    }
    let _ = engine.on_tick(now);
    let _ = engine.snapshot();

    let (mut out, mut errors) = (Vec::new(), Vec::new());
    let outcome = nursery_agent::replay::replay(cfg, data, None, &mut out, &mut errors)
        .expect("replay into memory has no I/O to fail");
    let errors = String::from_utf8(errors).expect("replay's errors are UTF-8");
    let reported = errors.lines().filter(|l| l.starts_with("line ")).count() as u64;
    assert_eq!(
        reported, outcome.rejected,
        "every rejected line is reported: {errors}"
    );
    let out = String::from_utf8(out).expect("replay's transitions are UTF-8");
    let mut printed = 0;
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("replay printed a line that is not JSON ({e}): {line}"));
        assert!(v.is_object(), "a transition is one object: {line}");
        printed += 1;
    }
    assert_eq!(printed, outcome.transitions, "every transition is printed");
}

/// Target `config`: the bytes as a configuration file, through `check-config`'s parse and
/// validation.
///
/// Holds: nothing panics; a refused file names at least one problem, each with a message
/// and, when it has a line, a line inside the file; an accepted one starts the rules engine
/// (what `run` does next) and its hardware checks run.
pub fn config_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = Path::new("/etc/nursery-agent/fuzz.toml");
    match config::parse(text, origin) {
        Ok(cfg) => {
            Engine::new(&cfg).unwrap_or_else(|e| {
                panic!("a configuration that validates does not start the rules engine: {e}")
            });
            let _ = nursery_agent::hw::gpio::chips(&cfg);
            let _ = nursery_agent::hw::i2c::buses(&cfg);
        }
        Err(errors) => {
            assert!(!errors.problems.is_empty(), "a refusal names a problem");
            let lines = text.split('\n').count();
            for p in &errors.problems {
                assert!(!p.message.is_empty(), "a problem has a message: {p:?}");
                if let Some(line) = p.line {
                    assert!(
                        (1..=lines).contains(&line),
                        "problem at line {line} of a {lines}-line file: {p}"
                    );
                }
            }
            let _ = errors.to_string();
        }
    }
}

/// The uplink's longest echoed command id (`uplink::MAX_COMMAND_ID`).
const MAX_COMMAND_ID: usize = 128;

/// Target `command`: the bytes as a payload on `commands`, under the default limit and a
/// small one (so that the oversize path, which only looks for the id, is fuzzed too).
///
/// Holds: nothing panics; an id answered is non-empty, at most 128 bytes, and has no
/// control or bidirectional character; a command over the limit is never valid; no error
/// text carries a control character (it goes upstream and into the log).
pub fn command(data: &[u8]) {
    for max in [4096, 24] {
        match parse_command(data, max) {
            ParsedCommand::Valid(cmd) => {
                assert!(data.len() <= max, "a payload over the limit was accepted");
                echoable(cmd.id());
            }
            ParsedCommand::Resend(r) => {
                assert!(data.len() <= max, "a payload over the limit was accepted");
                assert!(1 <= r.from_seq && r.from_seq <= r.to_seq, "{r:?}");
                echoable(&r.id);
            }
            ParsedCommand::Invalid { id, error } => {
                echoable(&id);
                assert!(!error.is_empty());
                printable(&error);
            }
            ParsedCommand::Unanswerable(why) => {
                assert!(!why.is_empty());
                printable(&why);
            }
        }
    }
}

fn echoable(id: &str) {
    assert!(!id.is_empty() && id.len() <= MAX_COMMAND_ID, "id {id:?}");
    printable(id);
    assert!(
        !id.chars().any(|c| matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')),
        "a bidirectional or invisible character would be echoed: {id:?}"
    );
}

fn printable(s: &str) {
    assert!(
        !s.chars().any(char::is_control),
        "a control character in {s:?}"
    );
}

/// Target `wiegand`: card readers, from raw frames and pulse trains to badge events.
///
/// * the first 9 bytes as a raw frame (64 bits and a length): a frame that decodes is the
///   frame the encoder makes of its facility and card (a round trip);
/// * the rest as pulses (line, time step) through the firmware's [`Decoder`], checked
///   against a model of the framing rule (a new frame after 25 ms of quiet, at most 64 bits
///   kept); time may step back (a wall-clock step on the board);
/// * the same pulses as GPIO edges through the agent's decoder for `config/board.toml`'s
///   lines (door contacts, exit button, Wiegand reader): no event stamped after the edge
///   that completed it, every badge a decimal card (`facility:card` at most);
/// * the bytes as evdev records through the keyboard-wedge decoder: cards of 1–32 keys.
pub fn wiegand(data: &[u8]) {
    if let Some(raw) = data.get(..9) {
        let bits = u64::from_le_bytes(raw[..8].try_into().expect("8 bytes"));
        if let Some(frame) = Frame::new(bits, raw[8] % 70) {
            frame_round_trip(frame);
        }
    }
    let pulses = pulses(data.get(9..).unwrap_or_default());
    decoder_matches_model(&pulses);
    gpio_edges(&pulses);
    keyboard(data);
}

fn frame_round_trip(frame: Frame) {
    if let Ok(c) = frame.decode() {
        let again = match c.format {
            wiegand::Format::H10301 => {
                let facility = u8::try_from(c.facility).expect("a 26-bit facility fits 8 bits");
                wiegand::encode_h10301(facility, c.card)
            }
            wiegand::Format::Wiegand34 => wiegand::encode_34bit(c.facility, c.card),
        };
        assert_eq!(again, frame, "decoded {c:?}");
        assert_eq!(again.len(), c.format.bits());
    }
}

/// One pulse: the line, and a time step in µs (negative: the clock stepped back).
#[derive(Debug, Clone, Copy)]
struct Pulse {
    line: Line,
    step_us: i64,
}

fn pulses(bytes: &[u8]) -> Vec<Pulse> {
    bytes
        .chunks_exact(3)
        .map(|c| {
            let magnitude = i64::from(u16::from_le_bytes([c[1], c[2]]));
            // Bits 1–2 of the first byte scale the step: µs, ×16 (frame gaps), ×1000 (ms).
            let step = match (c[0] >> 1) & 3 {
                0 | 1 => magnitude % 4000,
                2 => magnitude * 16,
                _ => magnitude * 1000,
            };
            Pulse {
                line: Line::for_bit(c[0] & 1 == 1),
                step_us: if c[0] & 0x80 != 0 { -step } else { step },
            }
        })
        .collect()
}

/// The decoder's results against the framing rule written out plainly.
fn decoder_matches_model(pulses: &[Pulse]) {
    let gap = wiegand::DEFAULT_FRAME_GAP_US;
    let mut decoder = Decoder::new(gap);
    let mut t: u64 = 1_000_000;
    let mut got = Vec::new();
    let (mut want, mut bits, mut count, mut last): (Vec<_>, u64, u32, Option<u64>) =
        (Vec::new(), 0, 0, None);
    let finish = |bits: u64, count: u32| -> Result<wiegand::Credential, WiegandError> {
        if count > 64 {
            return Err(WiegandError::TooLong { bits: count });
        }
        let frame = Frame::new(bits, count as u8).expect("the model keeps `count` bits");
        wiegand::decode(frame)
    };
    for p in pulses {
        t = t.saturating_add_signed(p.step_us);
        if let Some(l) = last {
            if count > 0 && t.saturating_sub(l) >= gap {
                want.push(finish(bits, count));
                (bits, count) = (0, 0);
            }
        }
        if count < 64 {
            bits = (bits << 1) | u64::from(p.line.bit());
        }
        count += 1;
        last = Some(t);
        got.extend(decoder.pulse(p.line, t));
    }
    let end = t.saturating_add(gap);
    if count > 0 {
        want.push(finish(bits, count));
    }
    got.extend(decoder.poll(end));
    assert_eq!(got, want, "the decoder departs from the framing rule");
    assert!(!decoder.in_progress(), "a frame is left after the gap");
}

/// The board's GPIO lines: the pulses as edges on them, in turn.
fn gpio_edges(pulses: &[Pulse]) {
    use nursery_agent::hw::gpio::{chips, GpioDecoder};
    for inputs in chips(board()).values() {
        let mut decoder = GpioDecoder::new(inputs);
        let offsets = decoder.offsets();
        if offsets.is_empty() {
            continue;
        }
        // A realtime clock in µs (2026), as the kernel stamps edges.
        let mut t: u64 = 1_772_400_000_000_000;
        let mut events = Vec::new();
        for (i, p) in pulses.iter().enumerate() {
            t = t.saturating_add_signed(p.step_us);
            let offset = offsets[(i + p.step_us.unsigned_abs() as usize) % offsets.len()];
            for (kind, at) in decoder.on_level(offset, p.line.bit(), t) {
                assert!(at <= t, "an event stamped {at} after the edge at {t}");
                events.push(kind);
            }
            if decoder.busy(t) && i % 4 == 0 {
                events.extend(decoder.on_idle(t).into_iter().map(|(k, _)| k));
            }
        }
        events.extend(
            decoder
                .on_idle(t.saturating_add(10_000_000))
                .into_iter()
                .map(|(k, _)| k),
        );
        for ev in events {
            if let EventKind::Badge { card, .. } = ev {
                let mut parts = card.split(':');
                assert!(
                    parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                        && card.matches(':').count() <= 1,
                    "badge card {card:?}"
                );
            }
        }
    }
}

fn keyboard(data: &[u8]) {
    use nursery_agent::config::CardFormat;
    use nursery_agent::hw::evdev::{format_typed, parse_events, KeyboardDecoder, MAX_CARD_LEN};
    for size in [24, 16] {
        let mut decoder = KeyboardDecoder::default();
        for ev in parse_events(data, size) {
            if let Some((card, _)) = decoder.on_event(ev) {
                assert!(
                    !card.is_empty() && card.len() <= MAX_CARD_LEN,
                    "card {card:?}"
                );
                for format in [
                    CardFormat::Card,
                    CardFormat::FacilityCard,
                    CardFormat::AsTyped,
                ] {
                    assert!(!format_typed(&card, format).is_empty());
                }
            }
        }
    }
}

/// Target `sensirion`: SHT3x / SHT4x responses, the agent's I²C poller on a bus that
/// answers with the fuzzer's bytes and errors, and DS18B20 `w1_slave` text.
///
/// Holds: a response decodes exactly when both CRCs match, into the datasheet's ranges
/// (−45…130 °C, 0…100 %RH); a reading the poller returns is in those ranges; a DS18B20
/// reading is never its power-on value.
pub fn sensirion(data: &[u8]) {
    for frame in data.chunks_exact(crc::TWO_WORD_RESPONSE_LEN) {
        let frame: &[u8; 6] = frame.try_into().expect("6 bytes");
        let crc_ok = crc::crc8(&frame[..2]) == frame[2] && crc::crc8(&frame[3..5]) == frame[5];
        let m3 = sht3x::decode_measurement::<()>(frame);
        let m4 = sht4x::decode_measurement::<()>(frame);
        assert_eq!(m3.is_ok(), crc_ok, "SHT3x: CRCs {crc_ok}, {m3:?}");
        assert_eq!(m4.is_ok(), crc_ok, "SHT4x: CRCs {crc_ok}, {m4:?}");
        for m in [m3, m4].into_iter().flatten() {
            in_range(
                f64::from(m.temperature_milli_celsius) / 1000.0,
                f64::from(m.humidity_milli_percent) / 1000.0,
            );
        }
        let words = crc::decode_two_words(frame);
        if let Ok([t, rh]) = words {
            let mut again = [0u8; 6];
            again[..3].copy_from_slice(&crc::word_with_crc(t));
            again[3..].copy_from_slice(&crc::word_with_crc(rh));
            assert_eq!(
                &again, frame,
                "a checked response is what the sensor would send"
            );
        }
    }
    poller(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(t) = nursery_agent::hw::w1::parse_w1_slave(text) {
            assert_ne!(t, nursery_agent::hw::w1::POWER_ON_RESET_MILLI_C);
        }
    }
}

fn in_range(celsius: f64, humidity: f64) {
    assert!((-45.0..=130.0).contains(&celsius), "{celsius} °C");
    assert!((0.0..=100.0).contains(&humidity), "{humidity} %RH");
}

fn poller(data: &[u8]) {
    use nursery_agent::hw::i2c::{buses, classify_kind, Backoff, BusPoller};
    for sensors in buses(board()).values() {
        let bus = ScriptedBus { bytes: data, at: 0 };
        let n = sensors.len();
        let mut poller = BusPoller::new(bus, sensors.clone(), Backoff::default(), classify_kind);
        let mut waits = 0;
        for round in 0..8 {
            match poller.read(round % n, &mut NoDelay, &mut |_| waits += 1) {
                Ok(r) => in_range(
                    r.celsius.expect("a reading has a temperature"),
                    r.humidity.expect("a reading has a humidity"),
                ),
                Err(fault) => assert!(!fault.reason().is_empty()),
            }
        }
        assert!(
            waits <= 8 * Backoff::default().attempts,
            "{waits} backoff waits"
        );
        let _ = poller.destroy();
    }
}

/// An I²C bus answering every read with the next bytes of the input; a byte `0xEE` in the
/// input makes that transaction fail (the byte after it picks the error).
struct ScriptedBus<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl ScriptedBus<'_> {
    fn next(&mut self) -> u8 {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
}

impl embedded_hal::i2c::ErrorType for ScriptedBus<'_> {
    type Error = embedded_hal::i2c::ErrorKind;
}

impl embedded_hal::i2c::I2c for ScriptedBus<'_> {
    fn transaction(
        &mut self,
        _address: u8,
        operations: &mut [embedded_hal::i2c::Operation<'_>],
    ) -> Result<(), Self::Error> {
        use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource, Operation};
        if self.bytes.get(self.at) == Some(&0xEE) {
            self.at += 1;
            return Err(match self.next() % 3 {
                0 => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address),
                1 => ErrorKind::ArbitrationLoss,
                _ => ErrorKind::Bus,
            });
        }
        for op in operations {
            if let Operation::Read(buf) = op {
                for b in buf.iter_mut() {
                    *b = self.next();
                }
            }
        }
        Ok(())
    }
}

struct NoDelay;

impl embedded_hal::delay::DelayNs for NoDelay {
    fn delay_ns(&mut self, _ns: u32) {}
}

/// Target `http`: the bytes as one connection to the staff page (hyper's HTTP/1 parser,
/// the router, cookies, JSON bodies, every handler), for the demo roster, in paused time.
///
/// Holds: nothing panics; no answer is a 500; no child's, staff member's or guardian's
/// name is in any answer unless a login in this very connection succeeded (or the request
/// carried the name itself).
pub fn http(data: &[u8]) {
    use nursery_agent::dashboard::{DashboardState, Page};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_util::sync::CancellationToken;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let answer = rt.block_on(async {
        let mut cfg = demo().clone();
        // No journal: `/api/history` answers 503, and never reads a checkout's var/demo.
        cfg.storage.dir = "/nonexistent/nursery-agent-fuzz".into();
        let cfg = Arc::new(cfg);
        let mut engine = Engine::new(&cfg).expect("the demo starts the engine");
        let (_publisher, live) = nursery_agent::live::channel(&mut engine);
        // No core behind the page: an acknowledgement waits, then times out.
        let (inputs, _core) = std::sync::mpsc::sync_channel(16);
        let shutdown = CancellationToken::new();
        let page = Page::new(DashboardState { cfg, live, inputs }, shutdown.clone());
        let (client, server) = tokio::io::duplex(16 * 1024);
        let (mut from_page, mut to_page) = tokio::io::split(client);
        let peer = "192.168.1.50:40000".parse().expect("an address");
        let serve = page.connection(server, peer);
        let write = async {
            let _ = to_page.write_all(data).await;
            // Hold the write half open: closing it would end the connection before the
            // last answer. The header timeout (10 s, paused time) ends it instead.
            std::future::pending::<()>().await
        };
        let mut answer = Vec::new();
        let read = async {
            let _ = from_page.read_to_end(&mut answer).await;
        };
        let talk = async {
            tokio::select! {
                _ = serve => {}
                _ = write => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            }
        };
        // A live stream never ends by itself: the minute of paused time bounds it.
        tokio::join!(
            async {
                talk.await;
                shutdown.cancel();
            },
            async {
                tokio::select! {
                    _ = read => {}
                    _ = tokio::time::sleep(std::time::Duration::from_secs(70)) => {}
                }
            }
        );
        answer
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    let text = String::from_utf8_lossy(&answer);
    assert!(
        !text.contains("HTTP/1.1 500"),
        "the page answered 500:\n{text}"
    );
    let logged_in = text.contains("\"csrf\"");
    if !logged_in {
        let request = String::from_utf8_lossy(data);
        let cfg = demo();
        let names = cfg
            .children
            .iter()
            .map(|c| c.name.as_str())
            .chain(cfg.staff.iter().map(|s| s.name.as_str()))
            .chain(cfg.guardians.iter().map(|g| g.name.as_str()));
        for name in names {
            assert!(
                request.contains(name) || !text.contains(name),
                "{name} in an answer to a client that never logged in:\n{text}"
            );
        }
    }
}
