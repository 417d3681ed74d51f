//! How the agent itself is doing, for the staff page: whether the board's clock is
//! synchronised, the configuration in force (and a reload refused), and whether the
//! journal is being written. The core fills it in; the page only reads it, through the
//! live view (see [`crate::live`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::journal::health::JournalHealth;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Operations {
    /// Whether the system clock is synchronised (contract section 11).
    pub clock_synced: bool,
    /// The configuration in force; `None` when the agent was started without its file.
    pub config: Option<ConfigShown>,
    /// The last reload, when it was refused (the running configuration stayed).
    pub refused: Option<Refused>,
    /// The journal's health: `state` `ok` or `failing` (what is shown is held in memory,
    /// not yet recorded).
    pub journal: Option<JournalHealth>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigShown {
    /// The content hash of the configuration file in force.
    pub hash: String,
    /// When it took force (a start or a reload).
    pub since: DateTime<Utc>,
    /// Ids of people the file no longer has but who are still checked in: kept until
    /// they are checked out.
    pub kept: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refused {
    pub at: DateTime<Utc>,
    /// Every problem found. They may quote the file (cards, names): staff only.
    #[serde(skip)]
    pub problems: Vec<String>,
    pub count: usize,
}
