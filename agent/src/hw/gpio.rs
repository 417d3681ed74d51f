//! Door contacts, exit buttons and Wiegand readers on GPIO inputs; buzzer and light on
//! GPIO outputs. Through the Linux GPIO character device (gpiocdev, uAPI v2).
//!
//! Inputs are requested with the pull-up on and edge detection on both edges, stamped by
//! the kernel with CLOCK_REALTIME when the interrupt fires: the time in an event is when
//! the edge happened, not when this thread got round to reading it, and Wiegand bit timing
//! survives a busy scheduler. [`GpioDecoder`] is the pure part, fed with levels and their
//! timestamps:
//!
//! - a **door contact** goes through the firmware's [`Debouncer`]; each debounced change
//!   is a `door` event stamped with the edge that began the new level. The first stable
//!   level after start is reported too, so the rules learn each door's state.
//! - an **exit button** (to ground, pressed = low) is debounced the same way; each press
//!   after a known release is an `exit_button` event. A button held at start is not a press.
//! - a **panic button or fire relay** (`[[inputs]]` with a `contact`) is debounced the
//!   same way; each change is an `input` event (`active` / `clear`). The level found at start
//!   is reported only when active, so a fire panel already in alarm raises `fire_alarm`.
//! - **Wiegand** D0/D1 falling edges are pulses for the firmware's [`Decoder`]; a frame
//!   that decodes (26-bit H10301 or 34-bit, parity checked) is a `badge` event whose card
//!   is formatted per the reader's `card_format` (see [`format_card`]). Frames that fail
//!   are logged and dropped: a half-read card must not become a wrong badge.
//!
//! The clock is CLOCK_REALTIME so that event times are wall-clock times directly; a step of
//! the clock (NTP) can shorten or lengthen one debounce period, which the debouncer
//! tolerates (a clock going backwards counts as no time passing).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use gpiocdev::line::{Bias, EdgeDetection, EdgeKind, EventClock, Value, Values};
use nursery_firmware::door::{DebounceConfig, Debouncer, DoorState as Level, Polarity};
use nursery_firmware::wiegand::{Credential, Decoder, Line, DEFAULT_FRAME_GAP_US};
use tokio_util::sync::CancellationToken;

use super::{realtime_us, thread, utc_from_us, HwError, Sink, CANCEL_CHECK};
use crate::config::{CardFormat, Config, Normally, ReaderInputKind};
use crate::event::{DoorState, EventKind, InputState};

/// Consumer label shown by `gpioinfo` for the lines the agent holds.
pub const CONSUMER: &str = "nursery-agent";

/// How often pending debounces and Wiegand frames are looked at while something is in
/// progress: well under the 50 ms debounce and the 25 ms frame gap.
const BUSY_POLL: Duration = Duration::from_millis(5);

/// What one input line is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputRole {
    Contact {
        door: String,
        normally: Normally,
        debounce: Duration,
    },
    ExitButton {
        door: String,
        debounce: Duration,
    },
    Wiegand {
        reader: String,
        line: Line,
        card_format: CardFormat,
    },
    /// A panic button or a fire panel's relay (`[[inputs]]`): `normally = "open"` is
    /// active while the contact is closed (line low), `"closed"` while it is open.
    Input {
        input: String,
        normally: Normally,
        debounce: Duration,
    },
}

/// The input lines of one chip: offset → role.
pub type ChipInputs = BTreeMap<u32, InputRole>;

/// The GPIO inputs of `cfg`, grouped by chip.
pub fn chips(cfg: &Config) -> BTreeMap<PathBuf, ChipInputs> {
    let mut chips: BTreeMap<PathBuf, ChipInputs> = BTreeMap::new();
    for d in &cfg.doors {
        if let Some(c) = &d.contact {
            chips.entry(c.gpiochip.clone()).or_default().insert(
                c.line,
                InputRole::Contact {
                    door: d.id.clone(),
                    normally: c.normally,
                    debounce: c.debounce.0,
                },
            );
        }
        if let Some(b) = &d.exit_button {
            chips.entry(b.gpiochip.clone()).or_default().insert(
                b.line,
                InputRole::ExitButton {
                    door: d.id.clone(),
                    debounce: b.debounce.0,
                },
            );
        }
    }
    for i in &cfg.inputs {
        if let Some(c) = &i.contact {
            chips.entry(c.gpiochip.clone()).or_default().insert(
                c.line,
                InputRole::Input {
                    input: i.id.clone(),
                    normally: c.normally,
                    debounce: c.debounce.0,
                },
            );
        }
    }
    for r in &cfg.readers {
        let Some(input) = &r.input else { continue };
        if input.kind != ReaderInputKind::Wiegand {
            continue;
        }
        let chip = chips.entry(input.gpiochip.clone()).or_default();
        for (line, offset) in [(Line::D0, input.d0), (Line::D1, input.d1)] {
            if let Some(offset) = offset {
                chip.insert(
                    offset,
                    InputRole::Wiegand {
                        reader: r.id.clone(),
                        line,
                        card_format: input.card_format,
                    },
                );
            }
        }
    }
    chips
}

/// The `card` of a badge event for a decoded Wiegand credential: the card number in decimal
/// (`"3456"`), or facility and card (`"12:3456"`).
pub fn format_card(c: &Credential, format: CardFormat) -> String {
    match format {
        CardFormat::FacilityCard => format!("{}:{}", c.facility, c.card),
        // `as_typed` has no meaning for Wiegand (validation rejects it): the card number.
        CardFormat::Card | CardFormat::AsTyped => c.card.to_string(),
    }
}

/// A debounced input and the time of its last edge.
#[derive(Debug)]
struct Debounced {
    /// The door, or the `[[inputs]]` id.
    id: String,
    debouncer: Debouncer,
    last_edge_us: u64,
    /// The last debounced level: an exit button's press and an input's change are told
    /// from the level found at start by it.
    was: Option<Level>,
    role: Debounce,
}

/// What a debounced line reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Debounce {
    /// Every change, the first stable level too: `door` events.
    Contact,
    /// Presses after a known release: `exit_button` events.
    ExitButton,
    /// Changes, and the first stable level only when active: `input` events. A fire panel
    /// already in alarm when the agent starts is an alarm; a clear one is nothing to say.
    Input { active_when: Level },
}

#[derive(Debug)]
struct WiegandReader {
    reader: String,
    decoder: Decoder,
    last_pulse_us: u64,
    card_format: CardFormat,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Debounced(usize),
    Wiegand(usize, Line),
}

/// The pure decoder of one chip's inputs.
#[derive(Debug)]
pub struct GpioDecoder {
    slots: HashMap<u32, Slot>,
    debounced: Vec<Debounced>,
    wiegand: Vec<WiegandReader>,
    /// Until when something may still complete without a new edge.
    busy_until_us: u64,
}

/// A decoded event and its realtime timestamp in µs.
pub type Timed = (EventKind, u64);

impl GpioDecoder {
    pub fn new(inputs: &ChipInputs) -> Self {
        let mut d = GpioDecoder {
            slots: HashMap::new(),
            debounced: Vec::new(),
            wiegand: Vec::new(),
            busy_until_us: 0,
        };
        for (&offset, role) in inputs {
            let slot = match role {
                InputRole::Contact {
                    door,
                    normally,
                    debounce,
                } => {
                    let polarity = match normally {
                        Normally::Open => Polarity::NormallyOpen,
                        Normally::Closed => Polarity::NormallyClosed,
                    };
                    d.debounced
                        .push(debounced(door, *debounce, polarity, Debounce::Contact));
                    Slot::Debounced(d.debounced.len() - 1)
                }
                InputRole::ExitButton { door, debounce } => {
                    // Pressed pulls the line low: "closed" in the debouncer's terms.
                    let role = Debounce::ExitButton;
                    d.debounced
                        .push(debounced(door, *debounce, Polarity::NormallyOpen, role));
                    Slot::Debounced(d.debounced.len() - 1)
                }
                InputRole::Input {
                    input,
                    normally,
                    debounce,
                } => {
                    // With the pull-up, a closed contact pulls the line low: "closed" in the
                    // debouncer's terms with `NormallyOpen`.
                    let active_when = match normally {
                        Normally::Open => Level::Closed,
                        Normally::Closed => Level::Open,
                    };
                    let role = Debounce::Input { active_when };
                    d.debounced
                        .push(debounced(input, *debounce, Polarity::NormallyOpen, role));
                    Slot::Debounced(d.debounced.len() - 1)
                }
                InputRole::Wiegand {
                    reader,
                    line,
                    card_format,
                } => {
                    let i = match d.wiegand.iter().position(|w| &w.reader == reader) {
                        Some(i) => i,
                        None => {
                            d.wiegand.push(WiegandReader {
                                reader: reader.clone(),
                                decoder: Decoder::new(DEFAULT_FRAME_GAP_US),
                                last_pulse_us: 0,
                                card_format: *card_format,
                            });
                            d.wiegand.len() - 1
                        }
                    };
                    Slot::Wiegand(i, *line)
                }
            };
            d.slots.insert(offset, slot);
        }
        d
    }

    /// The offsets to request, ascending.
    pub fn offsets(&self) -> Vec<u32> {
        let mut o: Vec<u32> = self.slots.keys().copied().collect();
        o.sort_unstable();
        o
    }

    /// Line `offset` is at level `high` since `t_us` (an edge, or the level read at start).
    pub fn on_level(&mut self, offset: u32, high: bool, t_us: u64) -> Vec<Timed> {
        let mut out = self.on_idle(t_us);
        match self.slots.get(&offset) {
            Some(&Slot::Debounced(i)) => {
                let d = &mut self.debounced[i];
                d.last_edge_us = t_us;
                let window = d.debouncer.config().debounce_us;
                self.busy_until_us = self.busy_until_us.max(t_us + window);
                if let Some(level) = d.debouncer.update(high, t_us) {
                    out.extend(changed(d, level));
                }
            }
            // Idle high; a bit is a low pulse, so only the falling edge counts.
            Some(&Slot::Wiegand(i, line)) if !high => {
                let w = &mut self.wiegand[i];
                let previous = w.last_pulse_us;
                w.last_pulse_us = t_us;
                self.busy_until_us = self.busy_until_us.max(t_us + DEFAULT_FRAME_GAP_US);
                // The previous frame was completed by `on_idle` above; this is a safety net.
                if let Some(result) = w.decoder.pulse(line, t_us) {
                    out.extend(frame(w, result, previous));
                }
            }
            Some(&Slot::Wiegand(..)) | None => {}
        }
        out
    }

    /// Time has passed without an edge: completes debounces and Wiegand frames due by now.
    pub fn on_idle(&mut self, now_us: u64) -> Vec<Timed> {
        let mut out = Vec::new();
        for d in &mut self.debounced {
            if let Some(level) = d.debouncer.poll(now_us) {
                out.extend(changed(d, level));
            }
        }
        for w in &mut self.wiegand {
            if let Some(result) = w.decoder.poll(now_us) {
                let at = w.last_pulse_us;
                out.extend(frame(w, result, at));
            }
        }
        out
    }

    /// Whether a debounce or a frame may complete without another edge (so poll soon).
    pub fn busy(&self, now_us: u64) -> bool {
        now_us <= self.busy_until_us
    }
}

fn debounced(id: &str, debounce: Duration, polarity: Polarity, role: Debounce) -> Debounced {
    Debounced {
        id: id.to_owned(),
        debouncer: Debouncer::new(DebounceConfig {
            debounce_us: debounce.as_micros() as u64,
            polarity,
        }),
        last_edge_us: 0,
        was: None,
        role,
    }
}

fn changed(d: &mut Debounced, level: Level) -> Option<Timed> {
    let at = d.last_edge_us;
    let was = d.was.replace(level);
    match d.role {
        Debounce::ExitButton => {
            let pressed = level == Level::Closed && was == Some(Level::Open);
            return pressed.then(|| (EventKind::ExitButton { door: d.id.clone() }, at));
        }
        Debounce::Input { active_when } => {
            let active = level == active_when;
            if was.is_none() && !active {
                return None;
            }
            let state = if active {
                InputState::Active
            } else {
                InputState::Clear
            };
            let input = d.id.clone();
            let test = false;
            return Some((EventKind::Input { input, state, test }, at));
        }
        Debounce::Contact => {}
    }
    let state = match level {
        Level::Open => DoorState::Open,
        Level::Closed => DoorState::Closed,
    };
    Some((
        EventKind::Door {
            door: d.id.clone(),
            state,
        },
        at,
    ))
}

fn frame(
    w: &WiegandReader,
    result: Result<Credential, nursery_firmware::wiegand::WiegandError>,
    at: u64,
) -> Option<Timed> {
    match result {
        Ok(c) => Some((
            EventKind::Badge {
                reader: w.reader.clone(),
                card: format_card(&c, w.card_format),
            },
            at,
        )),
        Err(e) => {
            tracing::warn!(reader = %w.reader, error = %e, "Wiegand frame dropped");
            None
        }
    }
}

/// Requests the input lines of `chip` and starts the thread reading their edges.
pub(crate) fn spawn(
    chip: PathBuf,
    inputs: ChipInputs,
    sink: Sink,
    cancel: CancellationToken,
) -> Result<JoinHandle<()>, HwError> {
    let mut decoder = GpioDecoder::new(&inputs);
    let offsets = decoder.offsets();
    let req = gpiocdev::Request::builder()
        .on_chip(&chip)
        .with_consumer(CONSUMER)
        .with_lines(&offsets)
        .as_input()
        .with_bias(Bias::PullUp)
        .with_edge_detection(EdgeDetection::BothEdges)
        .with_event_clock(EventClock::Realtime)
        // A 34-bit frame is 68 edges; room for two frames and door chatter.
        .with_kernel_event_buffer_size(256)
        .request()
        .map_err(|source| HwError::Gpio {
            chip: chip.clone(),
            lines: offsets.clone(),
            source,
        })?;
    let name = format!("gpio {}", chip.display());
    thread(name, move || {
        let send_all = |out: Vec<Timed>| {
            out.into_iter()
                .all(|(kind, at)| sink.send(kind, utc_from_us(at)))
        };
        let mut values = Values::default();
        if let Err(e) = req.values(&mut values) {
            tracing::error!(chip = %chip.display(), error = %e, "cannot read GPIO levels");
            cancel.cancel();
            return;
        }
        let start = realtime_us();
        for &offset in &offsets {
            let high = values.get(offset) == Some(Value::Active);
            if !send_all(decoder.on_level(offset, high, start)) {
                return;
            }
        }
        while !cancel.is_cancelled() {
            let now = realtime_us();
            let wait = if decoder.busy(now) {
                BUSY_POLL
            } else {
                CANCEL_CHECK
            };
            let out = match req.wait_edge_event(wait) {
                Ok(true) => match req.read_edge_event() {
                    Ok(ev) => decoder.on_level(
                        ev.offset,
                        ev.kind == EdgeKind::Rising,
                        ev.timestamp_ns / 1_000,
                    ),
                    Err(e) => {
                        tracing::error!(chip = %chip.display(), error = %e, "GPIO edge read failed");
                        cancel.cancel();
                        return;
                    }
                },
                Ok(false) => decoder.on_idle(realtime_us()),
                Err(e) => {
                    tracing::error!(chip = %chip.display(), error = %e, "GPIO wait failed");
                    cancel.cancel();
                    return;
                }
            };
            if !send_all(out) {
                return;
            }
        }
        tracing::info!(chip = %chip.display(), "GPIO thread stopped");
    })
}

/// A GPIO output line as an embedded-hal [`OutputPin`](embedded_hal::digital::OutputPin),
/// for the alarm ([`crate::alarm`], through the firmware's pattern driver).
pub struct CdevOutput {
    req: gpiocdev::Request,
    offset: u32,
}

/// A failed write to an output line.
#[derive(Debug)]
pub struct OutputError(pub gpiocdev::Error);

impl embedded_hal::digital::Error for OutputError {
    fn kind(&self) -> embedded_hal::digital::ErrorKind {
        embedded_hal::digital::ErrorKind::Other
    }
}

impl embedded_hal::digital::ErrorType for CdevOutput {
    type Error = OutputError;
}

impl embedded_hal::digital::OutputPin for CdevOutput {
    fn set_low(&mut self) -> Result<(), OutputError> {
        self.req
            .set_value(self.offset, Value::Inactive)
            .map_err(OutputError)
    }

    fn set_high(&mut self) -> Result<(), OutputError> {
        self.req
            .set_value(self.offset, Value::Active)
            .map_err(OutputError)
    }
}

/// The `[outputs]` lines (buzzer first, then light), requested as outputs and driven low
/// at once, as embedded-hal pins for [`crate::alarm`].
pub fn output_pins(cfg: &Config) -> Result<Vec<CdevOutput>, HwError> {
    let mut pins = Vec::new();
    for out in [&cfg.outputs.buzzer, &cfg.outputs.light]
        .into_iter()
        .flatten()
    {
        let req = gpiocdev::Request::builder()
            .on_chip(&out.gpiochip)
            .with_consumer(CONSUMER)
            .with_line(out.line)
            .as_output(Value::Inactive)
            .request()
            .map_err(|source| HwError::Gpio {
                chip: out.gpiochip.clone(),
                lines: vec![out.line],
                source,
            })?;
        pins.push(CdevOutput {
            req,
            offset: out.line,
        });
    }
    Ok(pins)
}

/// The `[outputs]` lines as outputs of [`crate::alarm`], each logging its failed writes.
pub fn alarm_lines(
    cfg: &Config,
) -> Result<
    Vec<Box<dyn embedded_hal::digital::OutputPin<Error = std::convert::Infallible> + Send>>,
    HwError,
> {
    let names = [
        ("buzzer", &cfg.outputs.buzzer),
        ("light", &cfg.outputs.light),
    ]
    .into_iter()
    .filter(|(_, o)| o.is_some())
    .map(|(name, _)| name);
    Ok(output_pins(cfg)?
        .into_iter()
        .zip(names)
        .map(|(pin, name)| {
            Box::new(crate::alarm::Logged {
                name: name.to_string(),
                pin,
            }) as Box<dyn embedded_hal::digital::OutputPin<Error = _> + Send>
        })
        .collect())
}
