//! The completeness report: per facility, what was stored, what is missing and what was
//! done about it.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;

use crate::ranges::{subtract, Range};
use crate::store::{self, Resend, Unrecoverable};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: DateTime<Utc>,
    pub facilities: Vec<FacilityReport>,
    /// Payloads whose topic names no facility under the prefix, kept in `rejected`.
    pub rejected_without_facility: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FacilityReport {
    pub facility: String,
    /// From the retained status: `online`, `offline`, or null before any status came.
    pub state: Option<String>,
    pub last_seen: DateTime<Utc>,
    pub last_seq: Option<i64>,
    /// Envelopes stored (once per seq).
    pub stored: i64,
    /// Holes below `last_seq` not known to be lost: still to be asked for, or asked.
    pub gaps_open: Vec<Range>,
    pub missing: i64,
    /// Ranges the agent no longer holds, or that it did not resend when asked.
    pub unrecoverable: Vec<Unrecoverable>,
    /// The same `(seq, id)` delivered again (normal at QoS 1): counted, not stored twice.
    pub duplicates: i64,
    /// The same seq with another id: the first one is kept, each other in `conflicts`.
    pub conflicts: i64,
    /// Payloads on the facility's topics that were not what their topic says.
    pub rejected: i64,
    /// Telemetry messages (outside seq, may be dropped by the agent).
    pub telemetry: i64,
    pub resends_sent: i64,
    pub last_resend: Option<Resend>,
}

pub async fn build(db: &Client) -> anyhow::Result<Report> {
    let mut facilities = Vec::new();
    for f in store::facilities(db).await? {
        let row = db
            .query_one(
                "SELECT f.state, f.last_seen, f.duplicates, f.telemetry,
                        (SELECT max(seq) FROM envelopes e WHERE e.facility = f.facility),
                        (SELECT count(*) FROM envelopes e WHERE e.facility = f.facility),
                        (SELECT count(*) FROM conflicts c WHERE c.facility = f.facility),
                        (SELECT count(*) FROM rejected r WHERE r.facility = f.facility),
                        (SELECT count(*) FROM resends r WHERE r.facility = f.facility)
                 FROM facilities f WHERE f.facility = $1",
                &[&f],
            )
            .await?;
        let unrecoverable = store::unrecoverable(db, &f).await?;
        let lost: Vec<Range> = unrecoverable
            .iter()
            .map(|u| Range::new(u.from, u.to))
            .collect();
        let holes: Vec<Range> = store::holes(db, &f, 0.0)
            .await?
            .into_iter()
            .map(|h| h.range)
            .collect();
        let gaps_open = subtract(&holes, &lost);
        facilities.push(FacilityReport {
            state: row.get(0),
            last_seen: row.get(1),
            duplicates: row.get(2),
            telemetry: row.get(3),
            last_seq: row.get(4),
            stored: row.get(5),
            conflicts: row.get(6),
            rejected: row.get(7),
            resends_sent: row.get(8),
            missing: gaps_open.iter().map(Range::count).sum(),
            gaps_open,
            unrecoverable,
            last_resend: store::last_resend(db, &f).await?,
            facility: f,
        });
    }
    let rejected_without_facility = db
        .query_one("SELECT count(*) FROM rejected WHERE facility IS NULL", &[])
        .await?
        .get(0);
    Ok(Report {
        generated_at: Utc::now(),
        facilities,
        rejected_without_facility,
    })
}

fn ranges(r: &[Range]) -> String {
    if r.is_empty() {
        "none".into()
    } else {
        r.iter()
            .map(Range::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The report for a person: one block per facility.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "completeness report, {} ({} facilities)",
        report.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        report.facilities.len()
    );
    for f in &report.facilities {
        let _ = writeln!(out, "\n{}", f.facility);
        let _ = writeln!(
            out,
            "  state          {}",
            f.state.as_deref().unwrap_or("unknown (no status yet)")
        );
        let _ = writeln!(
            out,
            "  last seen      {}",
            f.last_seen.format("%Y-%m-%d %H:%M:%S UTC")
        );
        let _ = writeln!(
            out,
            "  last seq       {}",
            f.last_seq.map_or("none".into(), |s| s.to_string())
        );
        let _ = writeln!(out, "  stored         {}", f.stored);
        let _ = writeln!(
            out,
            "  gaps open      {} ({} missing)",
            ranges(&f.gaps_open),
            f.missing
        );
        if f.unrecoverable.is_empty() {
            let _ = writeln!(out, "  unrecoverable  none");
        }
        for u in &f.unrecoverable {
            let _ = writeln!(
                out,
                "  unrecoverable  {}: {}",
                Range::new(u.from, u.to),
                u.reason
            );
        }
        let _ = writeln!(
            out,
            "  duplicates {}, conflicts {}, rejected {}, telemetry {}",
            f.duplicates, f.conflicts, f.rejected, f.telemetry
        );
        match &f.last_resend {
            None => {
                let _ = writeln!(out, "  resends        none");
            }
            Some(r) => {
                let answer = match (&r.answer, r.ok) {
                    (Some(a), _) => a.to_string(),
                    (None, _) => "no answer yet".into(),
                };
                let _ = writeln!(
                    out,
                    "  resends        {} sent; last {} for {}: {} ({})",
                    f.resends_sent,
                    r.command_id,
                    Range::new(r.from, r.to),
                    r.outcome.as_deref().unwrap_or("outstanding"),
                    answer
                );
            }
        }
    }
    if report.rejected_without_facility > 0 {
        let _ = writeln!(
            out,
            "\n{} payloads on topics naming no facility (table `rejected`)",
            report.rejected_without_facility
        );
    }
    out
}
