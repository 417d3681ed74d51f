//! Platform commands (contract section 6), carried out in the batch's transaction: each id
//! is recorded with its result, so a command is acted on once and its answer never lost.

use chrono::{DateTime, Utc};

use super::outbound::Outbound;
use super::summaries::summary_extra;
use super::upstream;
use super::CoreError;
use crate::input::Command;
use crate::outbox::{self, Kind};
use crate::rules::Engine;

type Dt = DateTime<Utc>;

/// Carries out each command and enqueues its result.
pub(super) fn carry_out(
    up: &mut Outbound<'_>,
    engine: &mut Engine,
    clock: Dt,
    commands: Vec<Command>,
) -> Result<(), CoreError> {
    for cmd in commands {
        if !outbox::remember_command(up.tx, cmd.id(), clock)? {
            tracing::info!(command_id = %cmd.id().escape_debug(), "repeated command id, ignored");
            continue;
        }
        let (result, extra) = match &cmd {
            Command::Snapshot { .. } => {
                let body = upstream::telemetry_body(up.cfg, engine, clock);
                up.telemetry(clock, &body)?;
                (Ok(()), Some(body))
            }
            Command::ResendSummary { id, date } => (resend_summary(up, clock, id, *date)?, None),
        };
        let mut body = outbox::command_result_body(
            cmd.id(),
            result.as_ref().map(|_| ()).map_err(String::as_str),
        );
        if let Some(snapshot) = extra {
            body.snapshot = Some(snapshot);
        }
        up.enqueue(
            Kind::CommandResult,
            &format!("command:{}", cmd.id()),
            clock,
            &body,
        )?;
    }
    Ok(())
}

/// Enqueues the daily summary of `date` again, as a new message; refused before it is due.
fn resend_summary(
    up: &mut Outbound<'_>,
    clock: Dt,
    id: &str,
    date: chrono::NaiveDate,
) -> Result<Result<(), String>, CoreError> {
    if clock < crate::summary::summary_due(up.cfg, date) {
        return Ok(Err(format!("the summary of {date} is not due yet")));
    }
    let extra = summary_extra(up.tx, date, 0)?;
    let body = crate::summary::daily_summary(up.cfg, up.tx, date, &extra)?;
    up.enqueue(
        Kind::Summary,
        &format!("summary:{date}:resend:{id}"),
        clock,
        &body,
    )?;
    Ok(Ok(()))
}
