//! The `uplink-store` thread: the only user of the uplink's SQLite connection. Page reads,
//! deletes on PUBACK (coalesced into one transaction), command bookkeeping and the error
//! results the uplink writes itself. It talks to the link task over channels, so no SQLite
//! call runs on the async runtime.

use std::time::Duration;

use chrono::Utc;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::mpsc;

use super::commands::{parse_command, Command, ParsedCommand, Resend};
use super::PAGE;
use crate::outbox::{self, Cap, Kind, OutboxError, PendingMessage, PendingTelemetry};
use crate::wire::ResendReport;

/// `resend` commands carried out at once, at most; one more is refused with a result that
/// says so (a flood of resends costs a result each, never the alerts' turn).
pub(super) const MAX_RESENDS: usize = 4;
/// How often acknowledged copies past `keep_sent` are let go.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub(super) enum StoreReq {
    Durable {
        epoch: u64,
        after: u64,
    },
    Telemetry {
        epoch: u64,
        before: i64,
    },
    /// Urgent alerts after `after`, to publish ahead of the backlog.
    Urgent {
        epoch: u64,
        after: u64,
    },
    Acked {
        seqs: Vec<u64>,
        telemetry: Vec<i64>,
    },
    Command(Vec<u8>),
    CommandFailed {
        id: String,
        error: String,
    },
    /// The next acknowledged copies to publish again for the `resend` commands under way,
    /// at most `max`.
    ResendPage {
        max: usize,
    },
    /// Another client seems to hold our client id (`Some(id)`), or no longer (`None`):
    /// noted in the database, for `nursery-agent status`.
    ClientIdConflict(Option<String>),
}

pub(super) enum StoreReply {
    Durable {
        epoch: u64,
        rows: Vec<PendingMessage>,
    },
    Telemetry {
        epoch: u64,
        rows: Vec<PendingTelemetry>,
    },
    Urgent {
        epoch: u64,
        rows: Vec<PendingMessage>,
    },
    Forward(Command),
    /// Copies to publish again (original seq, id, envelope); `more` while a `resend` is
    /// still under way.
    Resend {
        rows: Vec<PendingMessage>,
        more: bool,
    },
    /// A `resend` was accepted: ask for its pages.
    ResendQueued,
    /// A command result was enqueued: there is something new to send.
    Enqueued,
    /// The store cannot go on; the thread has ended.
    Failed(OutboxError),
}

pub(super) struct Store {
    pub(super) conn: Connection,
    pub(super) facility: String,
    pub(super) cap: Cap,
    pub(super) command_max_bytes: usize,
    pub(super) replies: mpsc::UnboundedSender<StoreReply>,
    /// Ids of valid commands passed to the core in this run. The core records an id as
    /// seen in the transaction that enqueues its result, so a crash in between does not
    /// swallow the command: the platform's retry with the same id is acted on.
    pub(super) forwarded: ForwardedIds,
    /// How long acknowledged copies are kept, and their bound in payload bytes.
    pub(super) keep_sent: Duration,
    pub(super) sent_max_bytes: u64,
    pub(super) last_prune: Option<std::time::Instant>,
    /// The `resend` commands under way, oldest first.
    pub(super) resends: std::collections::VecDeque<ResendJob>,
    /// Copies the link holds and has not published yet (set by the link): while there are
    /// some, the `resend` they belong to is still under way.
    pub(super) resend_buffered: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// A `resend` under way: the next seq to read, the last one.
#[derive(Debug, Clone)]
pub(super) struct ResendJob {
    pub(super) command_id: String,
    pub(super) next: u64,
    pub(super) to: u64,
}

/// A bounded set of recent command ids.
#[derive(Default)]
pub(super) struct ForwardedIds {
    order: std::collections::VecDeque<String>,
    set: std::collections::HashSet<String>,
}

impl ForwardedIds {
    /// False if `id` was already there.
    fn insert(&mut self, id: &str) -> bool {
        if !self.set.insert(id.to_owned()) {
            return false;
        }
        self.order.push_back(id.to_owned());
        if self.order.len() > outbox::COMMAND_IDS_REMEMBERED as usize {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    /// Forgets `id`: a command refused before the core saw it may come again.
    fn remove(&mut self, id: &str) {
        if self.set.remove(id) {
            self.order.retain(|o| o != id);
        }
    }
}

/// A failure of the storage (no space, an I/O error), which waiting may cure.
pub(super) fn storage_error(e: &OutboxError) -> bool {
    use rusqlite::ErrorCode as C;
    match e {
        OutboxError::Sql(e) => matches!(
            e.sqlite_error_code(),
            Some(C::DiskFull | C::SystemIoFailure | C::CannotOpen)
        ),
        _ => false,
    }
}

impl Store {
    /// As [`Store::open`], once the core has created the journal's tables at `path`: until then (a
    /// first start on a full disk, the core on a journal in memory) a storage error, so the
    /// link waits. Creating the file itself would give the journal SQLite's defaults for
    /// good (4 KiB pages, no incremental vacuum) instead of the core's settings.
    pub(super) fn open_created(path: &std::path::Path) -> Result<Connection, OutboxError> {
        let not_yet = || {
            OutboxError::Sql(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!(
                    "{}: the journal is not created yet",
                    path.display()
                )),
            ))
        };
        if !path.is_file() {
            return Err(not_yet());
        }
        let probe = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let tables: i64 =
            probe.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if tables == 0 {
            return Err(not_yet());
        }
        drop(probe);
        Store::open(path)
    }

    pub(super) fn open(path: &std::path::Path) -> Result<Connection, OutboxError> {
        let conn = Connection::open(path)?;
        // The core writes concurrently; wait for its transactions rather than fail.
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A command result's seq must not be reused after a power cut.
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Checkpoint as seldom as the core's connection does (the SD budget, see
        // `journal::WAL_AUTOCHECKPOINT_PAGES`): with SQLite's default, the acknowledgements
        // would checkpoint every 1000 frames.
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            crate::journal::WAL_AUTOCHECKPOINT_PAGES,
        )?;
        outbox::migrate(&conn)?;
        // One row: what the link has to say to `status` (read by another process).
        let link = conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS uplink_link (
                 id INTEGER PRIMARY KEY CHECK (id = 1),
                 client_id_conflict TEXT,
                 since TEXT
             );
             DELETE FROM uplink_link;",
        );
        match link.map_err(OutboxError::from) {
            // On a full disk the link still sends; what it notes for `status` waits.
            Err(e) if storage_error(&e) => {
                tracing::warn!(error = %e, "uplink: link notes not reset (storage)")
            }
            other => other?,
        }
        Ok(conn)
    }

    pub(super) fn run(mut self, requests: std::sync::mpsc::Receiver<StoreReq>) {
        let mut next: Option<StoreReq> = None;
        loop {
            let mut retry: Option<StoreReq> = None;
            let req = match next.take() {
                Some(r) => r,
                None => match requests.recv() {
                    Ok(r) => r,
                    Err(_) => return,
                },
            };
            let result = match req {
                StoreReq::Acked { seqs, telemetry } => {
                    let (mut seqs, mut telemetry) = (seqs, telemetry);
                    // Coalesce the acknowledgements queued behind this one: one commit.
                    while seqs.len() + telemetry.len() < 8192 {
                        match requests.try_recv() {
                            Ok(StoreReq::Acked {
                                seqs: s,
                                telemetry: t,
                            }) => {
                                seqs.extend(s);
                                telemetry.extend(t);
                            }
                            Ok(other) => {
                                next = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    let r = self.delete(&seqs, &telemetry);
                    if r.is_err() {
                        retry = Some(StoreReq::Acked { seqs, telemetry });
                    }
                    r
                }
                StoreReq::Durable { epoch, after } => {
                    outbox::durable_after(&self.conn, after, PAGE)
                        .map(|rows| {
                            let _ = self.replies.send(StoreReply::Durable { epoch, rows });
                        })
                        .map_err(OutboxError::from)
                }
                StoreReq::Urgent { epoch, after } => outbox::urgent_after(&self.conn, after, PAGE)
                    .map(|rows| {
                        let _ = self.replies.send(StoreReply::Urgent { epoch, rows });
                    })
                    .map_err(OutboxError::from),
                StoreReq::Telemetry { epoch, before } => {
                    outbox::telemetry_before(&self.conn, before, PAGE)
                        .map(|rows| {
                            let _ = self.replies.send(StoreReply::Telemetry { epoch, rows });
                        })
                        .map_err(OutboxError::from)
                }
                StoreReq::Command(payload) => self.command(&payload),
                StoreReq::CommandFailed { id, error } => {
                    // Refused unseen ("agent busy; try again"): a retry with the same id
                    // is a new attempt, not a repeat.
                    self.forwarded.remove(&id);
                    self.result(&id, &error)
                }
                StoreReq::ClientIdConflict(id) => self.note_conflict(id.as_deref()),
                StoreReq::ResendPage { max } => self.resend_page(max),
            };
            if let Err(e) = result {
                if storage_error(&e) {
                    // A full disk: acknowledged rows stay until they can be deleted (sent
                    // again after a restart at worst, never lost); the link goes on.
                    tracing::warn!(error = %e, "outbox: write failed (storage); retrying in 2 s");
                    if let Some(acked) = retry.take() {
                        next = Some(acked);
                    }
                    std::thread::sleep(Duration::from_secs(2));
                    continue;
                }
                let _ = self.replies.send(StoreReply::Failed(e));
                return;
            }
        }
    }

    fn delete(&mut self, seqs: &[u64], telemetry: &[i64]) -> Result<(), OutboxError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        outbox::delete_acked(&tx, seqs, telemetry)?;
        // A short keep_sent (a test's) is pruned more often.
        let every = PRUNE_EVERY
            .min(self.keep_sent / 2)
            .max(Duration::from_secs(1));
        let due = self.last_prune.is_none_or(|t| t.elapsed() >= every);
        let pruned = if due {
            Some(outbox::prune_sent(
                &tx,
                Utc::now(),
                self.keep_sent,
                self.sent_max_bytes,
            )?)
        } else {
            None
        };
        tx.commit()?;
        if let Some(p) = pruned {
            self.last_prune = Some(std::time::Instant::now());
            if p.dropped > 0 {
                tracing::warn!(
                    dropped = p.dropped,
                    max_bytes = self.sent_max_bytes,
                    "outbox: acknowledged copies over their bound let go before keep_sent \
                     (oldest first; counted as sent_dropped)"
                );
            }
            if p.expired > 0 {
                tracing::debug!(
                    expired = p.expired,
                    "outbox: acknowledged copies past keep_sent let go"
                );
            }
        }
        Ok(())
    }

    /// Accepts a `resend`: its result (the range sent, the oldest seq held) is enqueued
    /// with its id, in one transaction, then the link asks for the pages.
    fn resend(&mut self, r: Resend) -> Result<(), OutboxError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        if !outbox::remember_command(&tx, &r.id, Utc::now())? {
            tracing::info!(command_id = %r.id.escape_debug(), "repeated command id, ignored");
            return Ok(());
        }
        let buffered = self
            .resend_buffered
            .load(std::sync::atomic::Ordering::Relaxed);
        let under_way = self.resends.len() + usize::from(buffered > 0);
        let (result, report) = if under_way >= MAX_RESENDS {
            (
                Err(format!(
                    "{under_way} resends are under way already (at most {MAX_RESENDS}, {} \
                     copies still to publish); ask again when their copies have arrived",
                    buffered as u64 + self.resends.iter().map(|j| j.to - j.next + 1).sum::<u64>()
                )),
                None,
            )
        } else {
            let held = outbox::held_range(&tx, r.from_seq, r.to_seq)?;
            let report = ResendReport {
                count: held.count,
                from_seq: held.first,
                to_seq: held.last,
                oldest_held: held.oldest_held.filter(|&o| o > r.from_seq),
                newest_seq: (r.to_seq > held.newest).then_some(held.newest),
                pending: held.pending,
            };
            if let (Some(first), Some(last)) = (held.first, held.last) {
                self.resends.push_back(ResendJob {
                    command_id: r.id.clone(),
                    next: first,
                    to: last,
                });
            }
            (Ok(()), Some(report))
        };
        let mut body =
            outbox::command_result_body(&r.id, result.as_ref().map(|_| ()).map_err(String::as_str));
        body.resend = report;
        let e = outbox::enqueue(
            &tx,
            &self.facility,
            Kind::CommandResult,
            &format!("command:{}", r.id),
            Utc::now(),
            &body,
            &self.cap,
        )?;
        tx.commit()?;
        match (&result, report) {
            (Err(error), _) => {
                tracing::warn!(command_id = %r.id.escape_debug(), "resend refused: {error}")
            }
            (Ok(()), Some(rep)) => tracing::info!(
                command_id = %r.id.escape_debug(),
                from_seq = r.from_seq,
                to_seq = r.to_seq,
                count = rep.count,
                oldest_held = ?rep.oldest_held,
                "resend accepted"
            ),
            _ => {}
        }
        if e.pressure {
            tracing::warn!("outbox over its cap with no telemetry left to drop");
        }
        let _ = self.replies.send(StoreReply::Enqueued);
        if report.is_some_and(|rep| rep.count > 0) {
            let _ = self.replies.send(StoreReply::ResendQueued);
        }
        Ok(())
    }

    /// The next copies of the `resend` commands under way, oldest command first.
    fn resend_page(&mut self, max: usize) -> Result<(), OutboxError> {
        let mut rows = Vec::new();
        while rows.len() < max {
            let Some(job) = self.resends.front_mut() else {
                break;
            };
            let want = max - rows.len();
            let page = outbox::sent_range(&self.conn, job.next, job.to, want)?;
            let done = page.len() < want || page.last().is_some_and(|m| m.seq >= job.to);
            if let Some(last) = page.last() {
                job.next = last.seq + 1;
            }
            rows.extend(page);
            if done {
                if let Some(job) = self.resends.pop_front() {
                    tracing::info!(command_id = %job.command_id.escape_debug(), "resend: every copy read");
                }
            }
        }
        let _ = self.replies.send(StoreReply::Resend {
            rows,
            more: !self.resends.is_empty(),
        });
        Ok(())
    }

    fn command(&mut self, payload: &[u8]) -> Result<(), OutboxError> {
        let parsed = parse_command(payload, self.command_max_bytes);
        let id = match &parsed {
            ParsedCommand::Unanswerable(why) => {
                tracing::warn!(bytes = payload.len(), "command ignored: {why}");
                return Ok(());
            }
            ParsedCommand::Valid(c) => c.id().to_owned(),
            ParsedCommand::Invalid { id, .. } => id.clone(),
            ParsedCommand::Resend(r) => return self.resend(r.clone()),
        };
        let new = match &parsed {
            // Valid: the core remembers it with its result; here, only not twice at once.
            ParsedCommand::Valid(_) => {
                !outbox::command_seen(&self.conn, &id)? && self.forwarded.insert(&id)
            }
            _ => {
                let tx = rusqlite::Transaction::new_unchecked(
                    &self.conn,
                    TransactionBehavior::Immediate,
                )?;
                let new = outbox::remember_command(&tx, &id, Utc::now())?;
                tx.commit()?;
                new
            }
        };
        if !new {
            tracing::info!(command_id = %id.escape_debug(), "repeated command id, ignored");
            return Ok(());
        }
        match parsed {
            ParsedCommand::Valid(c) => {
                tracing::info!(command_id = %id.escape_debug(), "command accepted: {c:?}");
                let _ = self.replies.send(StoreReply::Forward(c));
                Ok(())
            }
            ParsedCommand::Invalid { id, error } => {
                tracing::warn!(command_id = %id.escape_debug(), "command rejected: {error}");
                self.result(&id, &error)
            }
            ParsedCommand::Unanswerable(_) | ParsedCommand::Resend(_) => Ok(()),
        }
    }

    fn note_conflict(&self, client_id: Option<&str>) -> Result<(), OutboxError> {
        self.conn.execute(
            "INSERT INTO uplink_link (id, client_id_conflict, since) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET client_id_conflict = ?1, since = ?2",
            rusqlite::params![client_id, Utc::now().to_rfc3339()],
        )?;
        Ok(())
    }

    /// Enqueues an error result for a command the core never saw.
    fn result(&self, command_id: &str, error: &str) -> Result<(), OutboxError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let id = format!(
            "cr-{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        );
        let e = outbox::enqueue(
            &tx,
            &self.facility,
            Kind::CommandResult,
            &id,
            Utc::now(),
            &outbox::command_result_body(command_id, Err(error)),
            &self.cap,
        )?;
        tx.commit()?;
        if e.pressure {
            tracing::warn!("outbox over its cap with no telemetry left to drop");
        }
        let _ = self.replies.send(StoreReply::Enqueued);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_refused_as_busy_is_accepted_when_it_comes_again_with_the_same_id() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Store::open(&dir.path().join("outbox.db")).unwrap();
        let (replies, mut rx) = mpsc::unbounded_channel();
        let (requests, from_link) = std::sync::mpsc::channel();
        let store = Store {
            conn,
            facility: "f".into(),
            cap: Cap {
                max_bytes: 1 << 20,
                tz: chrono_tz::UTC,
            },
            command_max_bytes: 4096,
            replies,
            forwarded: ForwardedIds::default(),
            keep_sent: Duration::from_secs(3600),
            sent_max_bytes: 1 << 20,
            last_prune: None,
            resends: Default::default(),
            resend_buffered: Default::default(),
        };
        let thread = std::thread::spawn(move || store.run(from_link));
        let command = br#"{"id":"c-1","command":"snapshot"}"#.to_vec();
        requests.send(StoreReq::Command(command.clone())).unwrap();
        assert!(matches!(rx.blocking_recv(), Some(StoreReply::Forward(c)) if c.id() == "c-1"));
        // The link found the core's channel full.
        requests
            .send(StoreReq::CommandFailed {
                id: "c-1".into(),
                error: "agent busy; try again".into(),
            })
            .unwrap();
        assert!(matches!(rx.blocking_recv(), Some(StoreReply::Enqueued)));
        // The retry, then a third copy (forwarded and not refused: a repeat).
        requests.send(StoreReq::Command(command.clone())).unwrap();
        requests.send(StoreReq::Command(command)).unwrap();
        drop(requests);
        thread.join().unwrap();
        assert!(
            matches!(rx.try_recv(), Ok(StoreReply::Forward(c)) if c.id() == "c-1"),
            "the retry reaches the core"
        );
        assert!(rx.try_recv().is_err(), "a repeat is ignored");
    }
}
