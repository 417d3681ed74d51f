//! What the core says of the agent itself, for the live view (the staff page): the
//! clock's synchronisation, the configuration in force and a refused reload, and the
//! journal's health.

use super::Core;
use crate::operations::{ConfigShown, Operations, Refused};

impl Core {
    /// The agent's own state now. Reads the clock's synchronisation flag (one `stat`).
    pub fn operations(&self) -> Operations {
        let present: Vec<String> = self
            .engine
            .occupancy()
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        Operations {
            clock_synced: crate::wallclock::clock_synced(&crate::wallclock::sync_flag()),
            config: self.in_force.as_ref().map(|f| ConfigShown {
                hash: f.hash.clone(),
                since: f.since,
                kept: f
                    .kept
                    .iter()
                    .filter(|p| present.contains(p))
                    .cloned()
                    .collect(),
            }),
            refused: self.refused.as_ref().map(|(at, problems)| Refused {
                at: *at,
                count: problems.len(),
                problems: problems.clone(),
            }),
            journal: Some(self.journal_health()),
        }
    }
}
