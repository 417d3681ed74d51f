//! The one place a batch's alert transitions are written: each goes into the journal as it
//! happens and is kept, in order, for the outbox and for the caller once committed.

use chrono::{DateTime, Utc};

use crate::alert::Transition;
use crate::journal::Batch;
use crate::rules::Engine;

/// A batch's transitions so far, each already written to the batch.
pub(super) struct Recorder<'b, 'j> {
    batch: &'b Batch<'j>,
    out: Vec<Transition>,
}

impl<'b, 'j> Recorder<'b, 'j> {
    pub fn new(batch: &'b Batch<'j>) -> Self {
        Recorder {
            batch,
            out: Vec::new(),
        }
    }

    pub fn batch(&self) -> &'b Batch<'j> {
        self.batch
    }

    /// Journals the transitions and keeps them.
    pub fn record(
        &mut self,
        ts: impl IntoIterator<Item = Transition>,
    ) -> Result<(), crate::journal::JournalError> {
        for t in ts {
            self.batch.transition(&t)?;
            self.out.push(t);
        }
        Ok(())
    }

    /// Fires the rules' timers up to `now`, one due time at a time so that the rules' clock
    /// never runs ahead of the last thing that happened; then, with `settle_to`, moves the
    /// clock on to it even with nothing due.
    pub fn fire_timers(
        &mut self,
        engine: &mut Engine,
        now: DateTime<Utc>,
        settle_to: Option<DateTime<Utc>>,
    ) -> Result<(), crate::journal::JournalError> {
        while let Some(due) = engine.next_due().filter(|d| *d <= now) {
            self.record(engine.on_tick(due))?;
        }
        if let Some(settled) = settle_to {
            if engine.clock().is_none_or(|c| c < settled) {
                self.record(engine.on_tick(settled))?;
            }
        }
        Ok(())
    }

    pub fn transitions(&self) -> &[Transition] {
        &self.out
    }

    pub fn into_transitions(self) -> Vec<Transition> {
        self.out
    }
}
