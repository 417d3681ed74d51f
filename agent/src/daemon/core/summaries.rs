//! Daily summaries: each day with activity is summarised once its summary is due, in its
//! own transaction after the batch that made it due.

use chrono::{NaiveDate, Utc};

use super::{Core, CoreError};
use crate::outbox::{self, Kind};

impl Core {
    /// Puts in the outbox the summary of every day with activity whose summary is due
    /// (`close + pickup_grace`) and not yet sent — today's on time, and those of days the
    /// agent was down for at the next start. Each day once: the `summary:DATE` meta key
    /// is set in the transaction that enqueues it.
    pub(super) fn summarise_due_days(&mut self) -> Result<(), CoreError> {
        let Some(clock) = self.engine.clock() else {
            return Ok(());
        };
        if self.summary_check.is_some_and(|c| clock < c) {
            return Ok(());
        }
        let tz = self.cfg.facility.timezone;
        let days = crate::summary::days_with_activity(self.journal.connection(), tz)?;
        for date in days {
            let key = crate::journal::MetaKey::Summary(date);
            if crate::summary::summary_due(&self.cfg, date) > clock
                || self.journal.meta(&key)?.is_some()
            {
                continue;
            }
            self.summarise(date, &key, clock)?;
        }
        let today = clock.with_timezone(&tz).date_naive();
        // Retention (contract section 11) once the day's summary is queued.
        let st = &self.cfg.storage;
        self.journal
            .retain(tz, today, st.keep_days, &st.archive_path())?;
        let next = [today, today.succ_opt().unwrap_or(today)]
            .into_iter()
            .map(|d| crate::summary::summary_due(&self.cfg, d))
            .find(|due| *due > clock);
        self.summary_check = next;
        Ok(())
    }

    fn summarise(
        &mut self,
        date: NaiveDate,
        key: &crate::journal::MetaKey,
        clock: chrono::DateTime<Utc>,
    ) -> Result<(), CoreError> {
        let offline = self.uplink.as_ref().map_or(0, |u| {
            let total = u.snapshot(Utc::now()).offline_total_secs;
            total.saturating_sub(std::mem::replace(&mut self.offline_mark, total))
        });
        let conn = self.journal.connection();
        let extra = summary_extra(conn, date, offline)?;
        let body = crate::summary::daily_summary(&self.cfg, conn, date, &extra)?;
        let batch = self.journal.batch()?;
        let e = outbox::enqueue(
            batch.transaction(),
            &self.cfg.facility.id,
            Kind::Summary,
            &key.to_string(),
            clock,
            &body,
            &self.cap,
        )?;
        batch.set_meta(key, &e.seq.map(|s| s.to_string()).unwrap_or_default())?;
        batch.commit()?;
        self.enqueued = true;
        tracing::info!(%date, seq = ?e.seq, "daily summary queued for the platform");
        Ok(())
    }
}

/// The summary's figures that are not in the journal: the outbox's for the day, and the
/// link's offline time since the last summary.
pub(super) fn summary_extra(
    conn: &rusqlite::Connection,
    date: NaiveDate,
    offline_seconds: u64,
) -> rusqlite::Result<crate::summary::Extra> {
    let day = outbox::day_stats(conn, date)?;
    Ok(crate::summary::Extra {
        offline_seconds,
        largest_backlog: day.backlog_max,
        telemetry_dropped: day.telemetry_dropped,
    })
}
