//! `status`: what the journal holds now, read without disturbing a running daemon.

use serde_json::{json, Value};

use crate::config::Config;
use crate::daemon::core::in_force::InForce;
use crate::journal::{retention, JournalReader};
use crate::rules::Engine;

fn open_read_only(cfg: &Config) -> Result<JournalReader, String> {
    JournalReader::open(&cfg.storage.dir, std::time::Duration::from_secs(5))
        .map_err(|e| e.to_string())
}

/// Writes the journal's events (an event log that `replay` accepts) or, with
/// `transitions`, its alert transitions, one JSON line each, oldest first. Events of days
/// already archived (`storage.archive_dir`) come first, so the whole history replays.
pub fn export(
    cfg: &Config,
    transitions: bool,
    out: &mut impl std::io::Write,
) -> Result<(), String> {
    let journal = open_read_only(cfg)?;
    let mut line = |body: &str| writeln!(out, "{body}");
    if transitions {
        journal.each_transition_line(&mut line)
    } else {
        retention::each_archived_line(&cfg.storage.archive_path(), &mut line)
            .and_then(|()| journal.each_event_line(&mut line))
    }
    .map_err(|e| e.to_string())
}

/// The rules' clock, who is checked in where, room figures and open alerts, as JSON.
/// Opens the journal read-only; never creates it.
pub fn read(cfg: &Config) -> Result<Value, String> {
    let journal = match JournalReader::open(&cfg.storage.dir, std::time::Duration::from_secs(5)) {
        Ok(j) => j,
        // A first start on a full disk: no journal yet, but the agent runs and says how.
        Err(e @ crate::journal::JournalError::Empty { .. }) => {
            return Ok(json!({
                "clock": null, "clock_synced": clock_synced(), "occupancy": {}, "rooms": [],
                "open_alerts": [], "uplink": null, "journal": journal_health(cfg),
                "error": e.to_string(),
            }))
        }
        Err(e) => return Err(e.to_string()),
    };
    let snap = journal
        .snapshot()
        .map_err(|e| format!("{}: {e}", journal.path().display()))?;
    let uplink = uplink(&journal).map_err(|e| e.to_string())?;
    let health = journal_health(cfg);
    let Some(snap) = snap else {
        return Ok(
            json!({ "clock": null, "clock_synced": clock_synced(), "occupancy": {}, "rooms": [], "open_alerts": [], "uplink": uplink, "journal": health }),
        );
    };
    // The rules judge under the configuration in force (the file, plus the people a
    // reload kept until checked out), which may not be the file `status` was given.
    let in_force = in_force(&journal)?;
    let judged_under = in_force
        .as_ref()
        .and_then(|f| crate::config::parse(&f.text, &cfg.storage.dir.join("config.toml")).ok());
    let mut engine = Engine::restore(judged_under.as_ref().unwrap_or(cfg), &snap)?;
    let config = config_in_force(in_force.as_ref(), &engine);
    let mut occupancy = serde_json::Map::new();
    for (person, room) in engine.occupancy() {
        let list = occupancy.entry(room).or_insert_with(|| json!([]));
        if let Value::Array(a) = list {
            a.push(json!(person));
        }
    }
    let open: Vec<Value> = engine
        .open_alerts()
        .into_iter()
        .map(|(id, kind, subject, since)| {
            json!({
                "alert_id": id,
                "type": kind.as_str(),
                "subject": subject,
                "since": engine.local(since).to_rfc3339(),
            })
        })
        .collect();
    // The last SIGHUP reload: applied (with the content hash) or refused (every problem).
    let reload: Option<Value> = journal
        .meta(&crate::daemon::core::RELOAD_KEY)
        .map_err(|e| e.to_string())?
        .and_then(|v| serde_json::from_str(&v).ok());
    Ok(json!({
        "clock": engine.clock().map(|c| engine.local(c).to_rfc3339()),
        "clock_synced": clock_synced(),
        "occupancy": occupancy,
        "rooms": engine.rooms(),
        "open_alerts": open,
        "uplink": uplink,
        "reload": reload,
        "config": config,
        "journal": health,
    }))
}

fn in_force(journal: &JournalReader) -> Result<Option<InForce>, String> {
    let value = journal
        .meta(&crate::daemon::core::in_force::IN_FORCE_KEY)
        .map_err(|e| e.to_string())?;
    Ok(InForce::parse(value.as_deref()))
}

/// The configuration in force: its file's hash, since when, and who a reload removed but
/// the rules keep because they are still checked in.
fn config_in_force(f: Option<&InForce>, engine: &Engine) -> Value {
    let Some(f) = f else {
        return Value::Null;
    };
    let present: Vec<String> = engine.occupancy().into_iter().map(|(p, _)| p).collect();
    let kept: Vec<&String> = f.kept.iter().filter(|p| present.contains(p)).collect();
    json!({ "hash": f.hash, "since": f.since, "kept_until_checked_out": kept })
}

/// What the running agent says of its journal (`journal-health.json`, written beside it
/// because a journal that cannot be written cannot say so itself): `state` `ok` or
/// `failing`, `held`, `not_held`, `since`, `error`, `updated`; null before the agent has
/// written one.
fn journal_health(cfg: &Config) -> Value {
    crate::journal::health::read(&cfg.storage.dir)
        .and_then(|h| serde_json::to_value(h).ok())
        .unwrap_or(Value::Null)
}

/// What the running link has noted (`uplink_link`, written by the uplink's store):
/// `client_id_conflict` is the client id another client seems to be taking over, with
/// `since`, or null.
fn uplink(journal: &JournalReader) -> Result<Value, crate::journal::JournalError> {
    Ok(match journal.client_id_conflict()? {
        Some((id, since)) => json!({ "client_id_conflict": { "client_id": id, "since": since } }),
        None => json!({ "client_id_conflict": null }),
    })
}

/// Whether the board's clock is synchronised (contract section 11), read now.
fn clock_synced() -> bool {
    crate::wallclock::clock_synced(&crate::wallclock::sync_flag())
}
