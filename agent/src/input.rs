//! What flows into the core: the messages the feeds, the hardware layer, the staff page and
//! the uplink send to the one thread that owns the journal and the rules.
//!
//! A leaf module: it names the messages and imports none of the parts that send or
//! receive them, so `hw`, `dashboard`, `uplink` and `daemon` all depend on it and never on
//! each other.

use chrono::{DateTime, NaiveDate, Utc};

use crate::alert::Transition;
use crate::event::Event;

type Dt = DateTime<Utc>;

/// The answer to a local command: its transitions once committed, or why it was refused.
pub type Reply = tokio::sync::oneshot::Sender<Result<Vec<Transition>, String>>;

/// One thing for the core to take in.
#[derive(Debug)]
pub enum Input {
    /// A raw line from `--events`, parsed (and stamped, when it has no `ts`) by the core,
    /// so that a rejected line is journalled with its reason.
    Line {
        text: String,
        /// For a regular file: where the next line starts, recorded with the batch so
        /// a restart resumes exactly after the last line taken in.
        resume: Option<Resume>,
    },
    /// A line from `--events` that is rejected before it is read as JSON (not UTF-8, or
    /// longer than the limit): journalled as rejected with `reason`, `sample` standing for
    /// the line.
    BadLine {
        sample: String,
        reason: LineProblem,
        resume: Option<Resume>,
    },
    /// An event decoded by the hardware layer, stamped with when the hardware saw it. The
    /// journal keeps it as its JSON line ([`Event::to_json_line`]), the text a line from
    /// `--events` with the same event would have.
    Hardware(Event),
    /// The `index`-th event (1-based) of the simulated day `date`.
    Simulated {
        date: NaiveDate,
        index: u64,
        event: Event,
    },
    /// The simulated clock has reached this time and every simulated event before it has
    /// been sent: the rules may fire timers up to it. (Under simulation the rules' time
    /// comes from the feed, in order with its events, so a timer never fires ahead of an
    /// event that was due first.)
    Time(Dt),
    /// An event from the staff page (an acknowledgement), answered once committed.
    Local { event: Event, reply: Option<Reply> },
    /// A command from the platform, passed on by the uplink; answered on `command-results`.
    Command(Command),
    /// The configuration re-read on SIGHUP (contract section 11).
    Reload(Reload),
    /// The wall clock jumped (the core loop saw it against the monotonic clock): the
    /// core journals a `clock_jump` before anything else of the batch.
    ClockJump(crate::wallclock::Jump),
    /// What the storage budget read (the core loop polls it): the core raises or resolves
    /// its `storage_pressure` alert for the storage from it, in order with the rest.
    Storage(StorageNote),
}

/// A reading of the storage as the core loop took it, for the `storage_pressure` alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageNote {
    /// The storage directory (`storage.dir`).
    pub dir: String,
    pub used: u64,
    pub fs_free: u64,
    pub headroom: u64,
    pub max_bytes: u64,
    /// The budget's level after relief, as its name (`ok`, `shed_telemetry`, ...).
    pub level: &'static str,
    /// What is wrong: `None` when nothing is (the alert resolves), else whether alerts
    /// themselves are at risk (critical) or not (warning).
    pub pressure: Option<bool>,
    /// Journal writes fail; the core holds what it could not write.
    pub journal_failing: bool,
    /// Items held in memory for the journal.
    pub held: u64,
}

impl Input {
    /// A copy to hold while the journal cannot be written (see `daemon::core::hold`):
    /// everything but the answer channel of a local command, which only the original
    /// answers.
    pub fn duplicate(&self) -> Input {
        match self {
            Input::Line { text, resume } => Input::Line {
                text: text.clone(),
                resume: resume.clone(),
            },
            Input::BadLine {
                sample,
                reason,
                resume,
            } => Input::BadLine {
                sample: sample.clone(),
                reason: reason.clone(),
                resume: resume.clone(),
            },
            Input::Hardware(e) => Input::Hardware(e.clone()),
            Input::Simulated { date, index, event } => Input::Simulated {
                date: *date,
                index: *index,
                event: event.clone(),
            },
            Input::Time(t) => Input::Time(*t),
            Input::Local { event, .. } => Input::Local {
                event: event.clone(),
                reply: None,
            },
            Input::Command(c) => Input::Command(c.clone()),
            Input::Reload(r) => Input::Reload(r.clone()),
            Input::ClockJump(j) => Input::ClockJump(*j),
            Input::Storage(n) => Input::Storage(n.clone()),
        }
    }

    /// Takes the answer channel out of a local command (`None` for anything else).
    pub fn take_reply(&mut self) -> Option<Reply> {
        match self {
            Input::Local { reply, .. } => reply.take(),
            _ => None,
        }
    }
}

/// What re-reading the configuration gave.
#[derive(Debug, Clone)]
pub enum Reload {
    /// A valid configuration, to apply at once; `hash` names its content.
    Apply {
        cfg: Box<crate::config::Config>,
        hash: String,
        /// The file's text, journalled with its hash so that an export replays under it.
        text: String,
    },
    /// An invalid one, refused as a whole: every problem found.
    Refused { problems: Vec<String> },
}

/// Why a line is rejected before it is read as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    #[error("line is {bytes} bytes, longer than the {limit}-byte limit")]
    TooLong { bytes: usize, limit: usize },
    #[error("line is not valid UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
}

/// A position in an input file, recorded in the journal's `meta` table under `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub key: crate::journal::MetaKey,
    pub value: String,
}

/// A platform command the core must carry out (contract section 6). Already checked:
/// well-formed, known, with an id never seen before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Enqueue the daily summary of `date` again (a new message: new id, new seq).
    ResendSummary { id: String, date: NaiveDate },
    /// Publish a telemetry snapshot now.
    Snapshot { id: String },
}

impl Command {
    /// The command's id, for its `command_id` in the result.
    pub fn id(&self) -> &str {
        match self {
            Command::ResendSummary { id, .. } | Command::Snapshot { id } => id,
        }
    }
}
