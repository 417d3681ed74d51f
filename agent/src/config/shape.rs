//! Pass 2 of the loader: the shape, with serde, on a document that loses one rejected key at
//! a time.
//!
//! [`Config`] is deserialized from the document; on an error, the key or element the error
//! is about is reported and taken out of a working copy, and the copy is deserialized again,
//! until it succeeds or only a missing required key is left. Every unknown key and every
//! malformed value is so reported, at any depth, and the serde types stay the only
//! description of the file. What kind of error it was comes from [`de`](super::de) as data,
//! never from the wording of serde's messages.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

use toml_edit::{InlineTable, Item, Table, Value};

use super::de::{self, one_of, ErrorKind};
use super::doc::{join, line_of, problem, Doc, Index, Node};
use super::{Config, Problem};

/// A file this broken is not worth more rounds; every round removes one key or element, so
/// the bound is only there to make termination obvious.
const MAX_ROUNDS: usize = 10_000;

/// What the shape pass found.
pub(super) struct Shaped {
    pub(super) config: Option<Config>,
    /// The config was completed with stand-ins for `[facility]` keys so that the meaning
    /// pass could still look at the rest; it must never be returned.
    pub(super) placeholder: bool,
    pub(super) problems: Vec<Problem>,
    pub(super) doc: Doc,
}

/// What to take out of the working document before the next round.
#[derive(Clone, PartialEq, Eq)]
enum Removal {
    /// The key with this span, and its value.
    Key(Range<usize>),
    /// The array element with this span.
    Element(Range<usize>),
}

/// Whether another round can make progress.
enum Next {
    Retry,
    Stop,
}

/// Pass 2: deserialize [`Config`], and on each error report it, take out the key or element
/// it is about, and try again.
pub(super) fn shape(text: &str, root: &Table, index: &Index, origin: &Path) -> Shaped {
    let mut base = root.clone();
    dates_as_strings_table(&mut base);
    let mut pass = Pass {
        text,
        origin,
        index,
        doc: Doc::new(text, index),
        problems: Vec::new(),
        reported: HashSet::new(),
        removals: Vec::new(),
        stand_in_values: facility_stand_ins(),
    };
    let mut misplaced = Vec::new();
    misplaced_dates_table("", root, &mut misplaced);
    for (key, span, text) in misplaced {
        pass.report(
            span.as_ref(),
            key.clone(),
            format!(
                "a TOML date/time ({text}) where text is expected; write it in quotes if it \
                 is meant as text"
            ),
        );
        pass.reported.insert(key);
    }
    for _ in 0..MAX_ROUNDS {
        let work = pass.working_copy(&base);
        match de::from_table::<Config>(&work) {
            Ok(cfg) => return pass.finish(Some(cfg)),
            Err(err) => {
                if let Next::Stop = pass.on_error(&err) {
                    break;
                }
            }
        }
    }
    pass.finish(None)
}

/// The state of the shape pass between rounds.
struct Pass<'a> {
    text: &'a str,
    origin: &'a Path,
    index: &'a Index,
    doc: Doc,
    problems: Vec<Problem>,
    /// Keys already reported, so that a malformed required key is not also "missing".
    reported: HashSet<String>,
    removals: Vec<Removal>,
    stand_in_values: Table,
}

impl Pass<'_> {
    fn finish(self, config: Option<Config>) -> Shaped {
        Shaped {
            config,
            placeholder: self.doc.has_stand_ins(),
            problems: self.problems,
            doc: self.doc,
        }
    }

    fn report(&mut self, span: Option<&Range<usize>>, key: String, message: String) {
        let line = span.map(|s| line_of(self.text, s.start));
        self.problems.push(problem(self.origin, line, key, message));
    }

    /// `base` without what was taken out, with the stand-ins put in.
    fn working_copy(&self, base: &Table) -> Table {
        let mut work = base.clone();
        for r in &self.removals {
            remove_table(&mut work, r);
        }
        if self.doc.has_stand_ins() {
            if !work.get("facility").is_some_and(Item::is_table) {
                work.insert("facility", Item::Table(Table::new()));
            }
            if let Some(facility) = work.get_mut("facility").and_then(Item::as_table_mut) {
                for (name, value) in self.stand_in_values.iter() {
                    if self.doc.stand_in(&format!("facility.{name}")) {
                        facility.insert(name, value.clone());
                    }
                }
            }
        }
        work
    }

    fn on_error(&mut self, err: &de::Error) -> Next {
        let index = self.index;
        let missing = match err.kind {
            ErrorKind::MissingField(field) => Some(field),
            _ => None,
        };
        let at_root = err.span.is_none() || err.span == index.root_span;
        let node = match (missing, &err.span) {
            (Some(_), _) if at_root => None,
            (_, Some(span)) => index.find(span),
            (_, None) => None,
        };
        match (missing, node) {
            (Some(field), node) => self.on_missing(field, node),
            (None, Some(n)) => self.on_rejected(n, err),
            // Nothing to point at: report and stop.
            (None, None) => {
                let message = err.to_string().trim_end().to_owned();
                self.report(err.span.as_ref(), String::new(), message);
                Next::Stop
            }
        }
    }

    /// A required key is missing in a table (`node`, or the root): report it (unless the key
    /// was there and already reported as malformed), then drop the table.
    fn on_missing(&mut self, field: &str, node: Option<&Node>) -> Next {
        let prefix = node.map_or(String::new(), |n| n.path.clone());
        let key = join(&prefix, field);
        if !self.reported.contains(&key) {
            let span = node.and_then(|n| n.value_span.as_ref().or(n.key_span.as_ref()));
            self.report(span, key.clone(), missing_message(&prefix, field));
            self.reported.insert(key.clone());
        }
        // Without a usable [facility] nothing parses; stand-ins for its missing keys let the
        // rest of the file be checked (and the result is an error anyway).
        let stand_in = match node {
            Some(n) if n.path == "facility" => Some(vec![key]),
            None if field == "facility" => Some(
                self.stand_in_values
                    .iter()
                    .map(|(name, _)| format!("facility.{name}"))
                    .collect(),
            ),
            _ => None,
        };
        match (stand_in, node) {
            (Some(keys), _) => {
                let known = |k: &String| {
                    let name = k.trim_start_matches("facility.");
                    self.stand_in_values.contains_key(name)
                };
                if !keys.iter().all(known) || keys.iter().all(|k| self.doc.stand_in(k)) {
                    return Next::Stop;
                }
                self.doc.add_stand_ins(keys);
                Next::Retry
            }
            (None, Some(n)) => {
                self.reported.insert(n.path.clone());
                self.drop_node(n);
                Next::Retry
            }
            (None, None) => Next::Stop,
        }
    }

    /// A key or element was rejected: report it and take it out.
    fn on_rejected(&mut self, n: &Node, err: &de::Error) -> Next {
        let raw = n.value_span.as_ref().and_then(|s| self.text.get(s.clone()));
        let span = n.key_span.as_ref().or(n.value_span.as_ref());
        // Already reported (a date/time where text belongs): only take it out.
        if self.reported.insert(n.path.clone()) {
            self.report(span, n.path.clone(), shape_message(err, raw));
        }
        let removal = self.drop_node(n);
        if self.removals[..self.removals.len() - 1].contains(&removal) {
            // Taking it out again would change nothing; give up on the shape pass.
            return Next::Stop;
        }
        Next::Retry
    }

    /// Records that `n` is to be taken out of the working document.
    fn drop_node(&mut self, n: &Node) -> Removal {
        let removal = match (&n.key_span, &n.value_span) {
            (Some(k), _) => Removal::Key(k.clone()),
            (None, Some(v)) => Removal::Element(v.clone()),
            // Every node of a parsed document has a span; removing by an empty range is a
            // no-op.
            (None, None) => Removal::Element(0..0),
        };
        self.doc.record_drop(n);
        self.removals.push(removal.clone());
        removal
    }
}

fn missing_message(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        format!("missing required table [{field}]")
    } else {
        "missing required key".to_owned()
    }
}

/// What serde found, in the file's terms: a TOML file has keys and values, not fields and
/// variants. `raw` is the value as the file writes it.
pub(super) fn shape_message(err: &de::Error, raw: Option<&str>) -> String {
    match &err.kind {
        ErrorKind::UnknownField { expected: [], .. } => "unknown key".to_owned(),
        ErrorKind::UnknownField { expected, .. } => {
            format!("unknown key, expected {}", one_of(expected))
        }
        ErrorKind::UnknownVariant {
            variant,
            expected: [],
        } => {
            format!("unknown value `{variant}`, there are no variants")
        }
        ErrorKind::UnknownVariant { variant, expected } => {
            format!("unknown value `{variant}`, expected {}", one_of(expected))
        }
        // chrono says what went wrong with a date but not what it expected.
        ErrorKind::InvalidDate => {
            let raw = raw.unwrap_or("").trim();
            format!("invalid date {raw} (expected \"YYYY-MM-DD\", e.g. \"2025-05-20\")")
        }
        ErrorKind::MissingField(_) | ErrorKind::Other(_) => err.to_string().trim_end().to_owned(),
    }
}

fn remove_table(t: &mut Table, r: &Removal) -> bool {
    let names: Vec<String> = t.iter().map(|(k, _)| k.to_owned()).collect();
    for name in names {
        if let Removal::Key(span) = r {
            if t.key(&name).and_then(|k| k.span()).as_ref() == Some(span) {
                t.remove(&name);
                return true;
            }
        }
        if let Some(item) = t.get_mut(&name) {
            if remove_item(item, r) {
                return true;
            }
        }
    }
    false
}

fn remove_inline(t: &mut InlineTable, r: &Removal) -> bool {
    let names: Vec<String> = t.iter().map(|(k, _)| k.to_owned()).collect();
    for name in names {
        if let Removal::Key(span) = r {
            if t.key(&name).and_then(|k| k.span()).as_ref() == Some(span) {
                t.remove(&name);
                return true;
            }
        }
        if let Some(v) = t.get_mut(&name) {
            if remove_value(v, r) {
                return true;
            }
        }
    }
    false
}

fn remove_item(item: &mut Item, r: &Removal) -> bool {
    match item {
        Item::Table(t) => remove_table(t, r),
        Item::Value(v) => remove_value(v, r),
        Item::ArrayOfTables(a) => {
            if let Removal::Element(span) = r {
                let before = a.len();
                a.retain(|t| t.span().as_ref() != Some(span));
                if a.len() != before {
                    return true;
                }
            }
            a.iter_mut().any(|t| remove_table(t, r))
        }
        Item::None => false,
    }
}

fn remove_value(v: &mut Value, r: &Removal) -> bool {
    match v {
        Value::InlineTable(t) => remove_inline(t, r),
        Value::Array(a) => {
            if let Removal::Element(span) = r {
                let before = a.len();
                a.retain(|v| v.span().as_ref() != Some(span));
                if a.len() != before {
                    return true;
                }
            }
            a.iter_mut().any(|v| remove_value(v, r))
        }
        _ => false,
    }
}

/// TOML has its own date type, and `birth_date = 2025-05-20` is the natural way to write a
/// date in TOML; the serde types read dates from strings. Turning every TOML date-time into
/// its string form accepts both spellings without a second description of the schema (a
/// date-time where a date-time makes no sense is still rejected, by its string form).
fn dates_as_strings_table(t: &mut Table) {
    for (_, item) in t.iter_mut() {
        dates_as_strings_item(item);
    }
}

fn dates_as_strings_item(item: &mut Item) {
    match item {
        Item::Table(t) => dates_as_strings_table(t),
        Item::ArrayOfTables(a) => a.iter_mut().for_each(dates_as_strings_table),
        Item::Value(v) => dates_as_strings_value(v),
        Item::None => {}
    }
}

fn dates_as_strings_value(v: &mut Value) {
    match v {
        Value::Datetime(d) => *v = Value::from(d.value().to_string()),
        Value::Array(a) => a.iter_mut().for_each(dates_as_strings_value),
        Value::InlineTable(t) => {
            for (_, v) in t.iter_mut() {
                dates_as_strings_value(v);
            }
        }
        _ => {}
    }
}

/// Keys whose value is a date or a time of day, where a TOML date/time is natural.
const DATE_KEYS: [&str; 7] = [
    "birth_date",
    "date",
    "expires",
    "open",
    "close",
    "start",
    "arrival_deadline",
];

/// Every TOML date/time of the document under any other key (`name = 2025-05-20`, `card =
/// 10:30:00`): (key path, span, the value as written). Almost certainly a mistake — a
/// name or card number that TOML read as a date — rather than text.
fn misplaced_dates_table(
    prefix: &str,
    t: &Table,
    out: &mut Vec<(String, Option<Range<usize>>, String)>,
) {
    for (name, item) in t.iter() {
        let path = join(prefix, name);
        match item {
            Item::Table(t) => misplaced_dates_table(&path, t, out),
            Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    misplaced_dates_table(&format!("{path}[{i}]"), t, out);
                }
            }
            Item::Value(v) => misplaced_dates_value(&path, name, v, out),
            Item::None => {}
        }
    }
}

fn misplaced_dates_value(
    path: &str,
    name: &str,
    v: &Value,
    out: &mut Vec<(String, Option<Range<usize>>, String)>,
) {
    match v {
        Value::Datetime(d) if !DATE_KEYS.contains(&name) => {
            out.push((path.to_owned(), v.span(), d.value().to_string()));
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                misplaced_dates_value(&format!("{path}[{i}]"), name, v, out);
            }
        }
        Value::InlineTable(t) => {
            for (k, v) in t.iter() {
                misplaced_dates_value(&join(path, k), k, v, out);
            }
        }
        _ => {}
    }
}

/// Values that stand in for missing or malformed required `[facility]` keys, so that the
/// rest of the file is still checked. Only ever used on the way to an error.
fn facility_stand_ins() -> Table {
    let mut t = Table::new();
    t.insert("id", toml_edit::value("placeholder"));
    t.insert("name", toml_edit::value("placeholder"));
    t.insert("timezone", toml_edit::value("UTC"));
    t.insert("ratio_preset", toml_edit::value("cn-2019"));
    t.insert("open", toml_edit::value("00:00"));
    t.insert("close", toml_edit::value("23:59"));
    t
}
