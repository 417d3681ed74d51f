//! Reload (contract section 11): the rest of the core follows a configuration the engine
//! has taken — the outbox cap, who may be named upstream — and the journal's meta table
//! records what the last reload did, for `status`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::in_force::{InForce, IN_FORCE_KEY};
use super::CoreError;
use crate::config::Config;
use crate::input::Reload;
use crate::journal::Batch;
use crate::outbox;

/// Meta key of the last reload's outcome (a [`ReloadRecord`] as JSON).
pub const RELOAD_KEY: crate::journal::MetaKey = crate::journal::MetaKey::ConfigReload;

/// What `status` shows of the last reload.
#[derive(Debug, Serialize)]
pub struct ReloadRecord<'a> {
    pub at: DateTime<Utc>,
    pub applied: bool,
    /// The content hash of the configuration applied (`None` when refused).
    pub hash: Option<&'a str>,
    /// Every problem of a refused configuration.
    pub problems: &'a [String],
}

/// Ids of everyone on the roster: only these may name a person upstream.
pub(super) fn person_ids(cfg: &Config) -> HashSet<String> {
    cfg.staff
        .iter()
        .map(|p| p.id.clone())
        .chain(cfg.children.iter().map(|p| p.id.clone()))
        .chain(cfg.guardians.iter().map(|p| p.id.clone()))
        .collect()
}

/// Applies a reload the engine took (or records its refusal) and returns the line to show.
pub(super) fn follow(
    reload: Reload,
    cfg: &mut Config,
    cap: &mut outbox::Cap,
    ids: &mut HashSet<String>,
    in_force: &mut Option<InForce>,
    batch: &Batch<'_>,
    now: DateTime<Utc>,
) -> Result<String, CoreError> {
    let (record, line) = match &reload {
        Reload::Apply {
            cfg: new,
            hash,
            text,
        } => {
            *cfg = (**new).clone();
            *cap = outbox::Cap::from_config(cfg);
            *ids = person_ids(cfg);
            // What a restart must judge under: this file, plus the people kept.
            let next = InForce::after(hash, text, cfg, in_force.as_ref(), now);
            batch.set_meta(&IN_FORCE_KEY, &next.to_json())?;
            *in_force = Some(next);
            tracing::info!(%hash, "configuration reloaded");
            let record = ReloadRecord {
                at: now,
                applied: true,
                hash: Some(hash),
                problems: &[],
            };
            (record, format!("configuration reloaded ({hash})"))
        }
        Reload::Refused { problems } => {
            for p in problems {
                tracing::error!(problem = %p, "configuration refused");
            }
            let record = ReloadRecord {
                at: now,
                applied: false,
                hash: None,
                problems,
            };
            let mut line = format!(
                "configuration refused ({} problems); the running configuration stays",
                problems.len()
            );
            for p in problems {
                line.push_str("\n  ");
                line.push_str(p);
            }
            (record, line)
        }
    };
    let json = serde_json::to_string(&record).unwrap_or_default();
    batch.set_meta(&RELOAD_KEY, &json)?;
    // `status` (another process) must see the outcome now, not with the next group.
    batch.durable();
    Ok(line)
}
