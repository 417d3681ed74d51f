//! The configuration in force, across restarts (contract section 11).
//!
//! A reload journals the new file (`config_loaded`, with its hash and text) and the rules
//! judge under it plus the people it removed while they were checked in, kept until they
//! are checked out. A restart must go on judging under that same configuration, and a
//! file edited while the agent was down is a change like a reload: journalled, so that
//! `replay` of an export judges each moment under the configuration in force then.
//!
//! So the journal's meta table holds an [`InForce`] record: the hash of the file in force
//! and the text the rules judge under — the file's text with the kept people's tables
//! appended, copied from the text in force before, so that it parses back into exactly
//! the configuration the rules had.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use crate::config::Config;
use crate::journal::MetaKey;

/// Meta key of the [`InForce`] record.
pub const IN_FORCE_KEY: MetaKey = MetaKey::ConfigInForce;

/// The configuration file as the daemon read it at start.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub cfg: Config,
    pub text: String,
    pub hash: String,
    pub path: PathBuf,
}

impl ConfigFile {
    /// `cfg` as loaded from `path`, with the file's text; `None` when the file cannot be
    /// read again (the daemon then does not track the configuration across restarts).
    pub fn read(cfg: &Config, path: &Path) -> Option<ConfigFile> {
        let text = std::fs::read_to_string(path).ok()?;
        Some(ConfigFile {
            cfg: cfg.clone(),
            hash: crate::config::content_hash(&text),
            text,
            path: path.to_path_buf(),
        })
    }
}

/// What the meta table says of the configuration in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InForce {
    /// The content hash of the file in force (the one its `config_loaded` carries).
    pub hash: String,
    /// When it took force (UTC): the start or reload that applied it.
    pub since: DateTime<Utc>,
    /// The text the rules judge under: the file, plus the tables of the people kept.
    pub text: String,
    /// Ids the rules keep although the file no longer has them (checked in when it was
    /// applied; they stay until the next configuration that finds them checked out).
    #[serde(default)]
    pub kept: Vec<String>,
}

impl InForce {
    /// The record as stored, or `None` (absent, or written by something else).
    pub fn parse(value: Option<&str>) -> Option<InForce> {
        serde_json::from_str(value?).ok()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The configuration the rules judge under, parsed from [`InForce::text`] as if it
    /// were the file at `origin`; `None` (logged) if it no longer parses — a newer build
    /// that validates more strictly.
    pub fn config(&self, origin: &Path) -> Option<Config> {
        match crate::config::parse(&self.text, origin) {
            Ok(cfg) => Some(cfg),
            Err(e) => {
                tracing::warn!(error = %e, "the configuration in force at the last run does not parse any more; judging under the file");
                None
            }
        }
    }

    /// The record after `file_text` (hash `hash`) took force with the rules judging under
    /// `effective` (the file plus the people kept): the kept people's tables come from
    /// `previous`, the text in force before.
    pub fn after(
        hash: &str,
        file_text: &str,
        effective: &Config,
        previous: Option<&InForce>,
        since: DateTime<Utc>,
    ) -> InForce {
        let (text, kept) = compose(file_text, previous.map(|p| p.text.as_str()), effective);
        InForce {
            hash: hash.to_string(),
            since,
            text,
            kept,
        }
    }
}

/// What a start does about the configuration.
pub struct Start {
    /// The configuration the rules go on under (`None`: the file's).
    pub judged_under: Option<Config>,
    /// The record in force before any change of this start.
    pub in_force: InForce,
    /// The file, to apply as a reload at the journal's clock: it differs from the one in
    /// force at the last run, or the journal predates these records.
    pub change: Option<crate::input::Reload>,
}

/// Compares the file read at start with the record `stored` in a journal that holds
/// (`restored`) or does not hold a state yet.
pub fn start(file: &ConfigFile, stored: Option<InForce>, restored: bool) -> Start {
    let apply = || crate::input::Reload::Apply {
        cfg: Box::new(file.cfg.clone()),
        hash: file.hash.clone(),
        text: file.text.clone(),
    };
    let of_file = || InForce {
        hash: file.hash.clone(),
        since: Utc::now(),
        text: file.text.clone(),
        kept: Vec::new(),
    };
    match (stored, restored) {
        (Some(s), true) => {
            let change = (s.hash != file.hash).then(apply);
            if change.is_some() {
                tracing::info!(was = %s.hash, now = %file.hash, "the configuration file changed since the last run; applying it as a reload");
            }
            Start {
                judged_under: s.config(&file.path),
                in_force: s,
                change,
            }
        }
        // A journal from before these records: whatever it was judged under, this file
        // is in force from now on, and the export must say so.
        (None, true) => Start {
            judged_under: None,
            in_force: of_file(),
            change: Some(apply()),
        },
        (_, false) => Start {
            judged_under: None,
            in_force: of_file(),
            change: None,
        },
    }
}

/// A person's id and, for children and staff, the room the rules put them in.
type Person<'a> = (&'a str, Option<&'a str>);

/// `file_text` with a table appended for every person of `effective` it lacks, copied
/// from `previous` (with the room the rules put them in), and the ids so kept. A person
/// `previous` does not have either is left out, and logged.
fn compose(file_text: &str, previous: Option<&str>, effective: &Config) -> (String, Vec<String>) {
    let Ok(mut doc) = file_text.parse::<DocumentMut>() else {
        return (file_text.to_string(), Vec::new());
    };
    let old = previous.and_then(|t| t.parse::<DocumentMut>().ok());
    let wanted: [(&str, Vec<Person<'_>>); 3] = [
        (
            "children",
            effective
                .children
                .iter()
                .map(|c| (c.id.as_str(), Some(c.room.as_str())))
                .collect(),
        ),
        (
            "staff",
            effective
                .staff
                .iter()
                .map(|s| (s.id.as_str(), Some(s.room.as_str())))
                .collect(),
        ),
        (
            "guardians",
            effective
                .guardians
                .iter()
                .map(|g| (g.id.as_str(), None))
                .collect(),
        ),
    ];
    let mut kept = Vec::new();
    for (key, people) in wanted {
        for (id, room) in people {
            if find(&doc, key, id).is_some() {
                continue;
            }
            let Some(mut table) = old.as_ref().and_then(|o| find(o, key, id)) else {
                tracing::warn!(%key, %id, "kept until checked out, but not in the configuration in force before: not kept across a restart");
                continue;
            };
            if let Some(room) = room {
                table["room"] = toml_edit::value(room);
            }
            push(&mut doc, key, table);
            if key != "guardians" {
                kept.push(id.to_string());
            }
        }
    }
    (doc.to_string(), kept)
}

/// The table of `[[key]]` whose `id` is `id`, whether written as an array of tables or
/// as an inline array.
fn find(doc: &DocumentMut, key: &str, id: &str) -> Option<Table> {
    let item = doc.get(key)?;
    let has_id = |t: &dyn toml_edit::TableLike| t.get("id").and_then(Item::as_str) == Some(id);
    if let Some(a) = item.as_array_of_tables() {
        return a.iter().find(|t| has_id(*t)).cloned();
    }
    item.as_array()?
        .iter()
        .filter_map(toml_edit::Value::as_inline_table)
        .find(|t| has_id(*t))
        .map(|t| t.clone().into_table())
}

fn push(doc: &mut DocumentMut, key: &str, table: Table) {
    match doc.get_mut(key) {
        Some(item) if item.is_array_of_tables() => {
            if let Some(a) = item.as_array_of_tables_mut() {
                a.push(table);
            }
        }
        Some(item) if item.is_array() => {
            if let Some(a) = item.as_array_mut() {
                a.push(table.into_inline_table());
            }
        }
        _ => {
            let mut a = ArrayOfTables::new();
            a.push(table);
            doc.insert(key, Item::ArrayOfTables(a));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nursery_testkit::Roster;

    fn parsed(text: &str) -> Config {
        crate::config::parse(text, Path::new("/tmp/in-force.toml"))
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn a_child_the_file_removed_while_checked_in_is_written_back_from_the_text_before() {
        let before = Roster::sunflower()
            .children("infant", &["2025-06-15"; 3])
            .toml();
        let after = Roster::sunflower()
            .children("infant", &["2025-06-15"; 3])
            .without("c-02")
            .toml();
        // What the rules judge under after the reload: the new file plus c-02.
        let mut effective = parsed(&after);
        let c02 = parsed(&before)
            .children
            .into_iter()
            .find(|c| c.id == "c-02")
            .unwrap();
        effective.children.push(c02);
        let previous = InForce {
            hash: "h0".into(),
            since: Utc::now(),
            text: before,
            kept: vec![],
        };
        let record = InForce::after("h1", &after, &effective, Some(&previous), Utc::now());
        assert_eq!(record.kept, vec!["c-02".to_string()]);
        let back = parsed(&record.text);
        let ids: Vec<&str> = back.children.iter().map(|c| c.id.as_str()).collect();
        assert!(ids.contains(&"c-02"), "{ids:?}\n{}", record.text);
        assert_eq!(back.children.len(), effective.children.len());
    }

    #[test]
    fn without_anyone_kept_the_text_in_force_is_the_file() {
        let text = Roster::sunflower().toml();
        let record = InForce::after("h", &text, &parsed(&text), None, Utc::now());
        assert_eq!(record.text, text);
        assert!(record.kept.is_empty());
        let stored = record.to_json();
        assert_eq!(InForce::parse(Some(&stored)), Some(record));
        assert_eq!(InForce::parse(Some("not json")), None);
    }
}
