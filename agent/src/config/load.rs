//! The three passes of the loader (see the module documentation in `mod.rs`): syntax with
//! `toml_edit`, shape with serde on a document that loses one rejected key at a time, and
//! meaning with [`validate`](super::validate).
//!
//! Spans are the thread through all three: the document is parsed once with
//! [`toml_edit::ImDocument`], which keeps the byte range of every key and value; every serde
//! error carries the span of the key or value it is about; and an index of the original
//! document maps a span back to a key path (`rooms[2].capacity`) and a line.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use toml_edit::{ArrayOfTables, ImDocument, InlineTable, Item, Table, Value};

use super::{validate, Config, ConfigErrors, Problem};

/// A file this broken is not worth more rounds; every round removes one key or element, so
/// the bound is only there to make termination obvious.
const MAX_ROUNDS: usize = 10_000;

pub(super) fn parse_and_validate(text: &str, origin: &Path) -> Result<Config, ConfigErrors> {
    let problem = |line: Option<usize>, key: String, message: String| Problem {
        file: origin.to_path_buf(),
        line,
        key,
        message,
    };

    // Pass 1: syntax.
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let line = e.span().map(|s| line_of(text, s.start));
            // toml_edit's messages may span lines; a problem is one line.
            let message = e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            return Err(ConfigErrors {
                problems: vec![problem(line, String::new(), message)],
            });
        }
    };
    let index = Index::new(text, doc.as_table());

    // Pass 2: shape.
    let shaped = shape(text, doc.as_table(), &index);
    let mut found: Vec<(String, String)> = Vec::new();
    let mut problems: Vec<Problem> = shaped
        .problems
        .iter()
        .map(|p| problem(p.line, p.key.clone(), p.message.clone()))
        .collect();

    // Pass 3: meaning, on whatever did parse.
    if let Some(cfg) = &shaped.config {
        found.extend(validate::validate(cfg, &shaped.doc));
    }
    for (key, message) in found {
        problems.push(problem(shaped.doc.line(&key), key, message));
    }

    match shaped.config {
        Some(cfg) if problems.is_empty() && !shaped.placeholder => Ok(cfg),
        _ => {
            if problems.is_empty() {
                // Unreachable in practice: a placeholder is only used after a problem.
                problems.push(problem(None, String::new(), "invalid configuration".into()));
            }
            // Document order; problems without a line last. The sort is stable, so problems
            // on one line keep the order in which they were found.
            problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
            Err(ConfigErrors { problems })
        }
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// One key or array element of the original document.
#[derive(Debug)]
struct Node {
    /// `rooms[2].capacity`, `children[0].guardians[1]`, with indices of the original file.
    path: String,
    /// Span of the key, for a key; `None` for an array element.
    key_span: Option<Range<usize>>,
    value_span: Option<Range<usize>>,
    /// For an array element that is a table with a string `id`: that id.
    id: Option<String>,
    /// For an array element that is a table with a string `card`: that card.
    card: Option<String>,
}

/// Every key and array element of the original document, in document order (pre-order: a
/// table before what it contains).
struct Index {
    nodes: Vec<Node>,
    root_span: Option<Range<usize>>,
}

impl Index {
    fn new(text: &str, root: &Table) -> Self {
        let mut index = Index {
            nodes: Vec::new(),
            root_span: root.span(),
        };
        index.table(text, "", root);
        index
    }

    fn push_key(&mut self, path: String, key: Option<&toml_edit::Key>, span: Option<Range<usize>>) {
        self.nodes.push(Node {
            path,
            key_span: key.and_then(|k| k.span()),
            value_span: span,
            id: None,
            card: None,
        });
    }

    fn table(&mut self, text: &str, prefix: &str, t: &Table) {
        for (name, item) in t.iter() {
            let path = join(prefix, name);
            self.push_key(path.clone(), t.key(name), item.span());
            self.item(text, &path, item);
        }
    }

    fn inline(&mut self, text: &str, prefix: &str, t: &InlineTable) {
        for (name, value) in t.iter() {
            let path = join(prefix, name);
            self.push_key(path.clone(), t.key(name), value.span());
            self.value(text, &path, value);
        }
    }

    fn item(&mut self, text: &str, path: &str, item: &Item) {
        match item {
            Item::Table(t) => self.table(text, path, t),
            Item::ArrayOfTables(a) => self.array_of_tables(text, path, a),
            Item::Value(v) => self.value(text, path, v),
            Item::None => {}
        }
    }

    fn array_of_tables(&mut self, text: &str, path: &str, a: &ArrayOfTables) {
        for (i, t) in a.iter().enumerate() {
            let elem = format!("{path}[{i}]");
            self.nodes.push(Node {
                path: elem.clone(),
                key_span: None,
                value_span: t.span(),
                id: t.get("id").and_then(|v| v.as_str()).map(str::to_owned),
                card: t.get("card").and_then(|v| v.as_str()).map(str::to_owned),
            });
            self.table(text, &elem, t);
        }
    }

    fn value(&mut self, text: &str, path: &str, v: &Value) {
        match v {
            Value::InlineTable(t) => self.inline(text, path, t),
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    let elem = format!("{path}[{i}]");
                    self.nodes.push(Node {
                        path: elem.clone(),
                        key_span: None,
                        value_span: v.span(),
                        id: string_in(v, "id"),
                        card: string_in(v, "card"),
                    });
                    self.value(text, &elem, v);
                }
            }
            _ => {}
        }
    }

    /// The node an error span is about: the deepest node whose key or value has exactly that
    /// span, else the smallest value that contains it.
    fn find(&self, span: &Range<usize>) -> Option<&Node> {
        let exact = self
            .nodes
            .iter()
            .rev()
            .find(|n| n.key_span.as_ref() == Some(span) || n.value_span.as_ref() == Some(span));
        exact.or_else(|| {
            self.nodes
                .iter()
                .filter(|n| {
                    n.value_span
                        .as_ref()
                        .is_some_and(|v| v.start <= span.start && span.end <= v.end)
                })
                .min_by_key(|n| n.value_span.as_ref().map_or(usize::MAX, |v| v.len()))
        })
    }
}

/// The string value of `key` in an inline table.
fn string_in(v: &Value, key: &str) -> Option<String> {
    v.as_inline_table()
        .and_then(|t| t.get(key))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// What the shape pass tells the meaning pass about the original document.
pub(super) struct Doc {
    /// Key path → 1-based line, for every key and array element of the file.
    lines: HashMap<String, usize>,
    /// Array path → original indices of the elements the shape pass dropped (ascending).
    dropped: BTreeMap<String, Vec<usize>>,
    /// `(top-level array, id)` of dropped elements; references to them are not reported
    /// again as dangling.
    dropped_ids: HashSet<(String, String)>,
    /// Path, id and card of each dropped element of a top-level array: their ids and cards
    /// still take part in the uniqueness checks.
    dropped_elems: Vec<(String, Option<String>, Option<String>)>,
    /// Keys removed wholesale (`rooms = 5`).
    removed: HashSet<String>,
    /// `facility.*` keys that were missing or malformed and hold a stand-in value, so that
    /// the rest of the file could still be checked.
    stand_ins: HashSet<String>,
}

impl Doc {
    /// The line of `key`, or of the nearest enclosing key or element the file has (a
    /// missing optional key is reported at its table).
    pub(super) fn line(&self, key: &str) -> Option<usize> {
        let mut key = key;
        loop {
            if let Some(&line) = self.lines.get(key) {
                return Some(line);
            }
            let cut = key.rfind(['.', '['])?;
            key = &key[..cut];
        }
    }

    /// Path of element `i` of the parsed array at `array` (itself a path of the original
    /// file), numbered as in the original file: elements the shape pass dropped still count.
    pub(super) fn elem(&self, array: &str, i: usize) -> String {
        let mut original = i;
        if let Some(dropped) = self.dropped.get(array) {
            for &d in dropped {
                if d <= original {
                    original += 1;
                }
            }
        }
        format!("{array}[{original}]")
    }

    /// Whether the shape pass dropped an element of `kind` with this id, or all of `kind`:
    /// a reference to it has already been accounted for by a shape problem.
    pub(super) fn lost(&self, kind: &str, id: &str) -> bool {
        self.removed.contains(kind) || self.dropped_ids.contains(&(kind.to_owned(), id.to_owned()))
    }

    /// Path (`staff[1]`), id and card of each element of the top-level array `kind` that the
    /// shape pass dropped.
    pub(super) fn dropped_elements<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, Option<&'a str>, Option<&'a str>)> + 'a {
        self.dropped_elems
            .iter()
            .filter(move |(path, _, _)| path.split('[').next() == Some(kind) && !path.contains('.'))
            .map(|(path, id, card)| (path.as_str(), id.as_deref(), card.as_deref()))
    }

    /// Whether `key` holds a stand-in for a missing or malformed value; checks of its value
    /// would only report the stand-in.
    pub(super) fn stand_in(&self, key: &str) -> bool {
        self.stand_ins.contains(key)
    }

    /// Whether the shape pass dropped anything of the top-level `kind` (the key or any of
    /// its elements).
    pub(super) fn damaged(&self, kind: &str) -> bool {
        self.removed.contains(kind)
            || self
                .dropped
                .keys()
                .any(|k| k.split('[').next() == Some(kind))
    }
}

struct ShapeProblem {
    line: Option<usize>,
    key: String,
    message: String,
}

struct Shaped {
    config: Option<Config>,
    /// The config was completed with stand-ins for `[facility]` keys so that the meaning
    /// pass could still look at the rest; it must never be returned.
    placeholder: bool,
    problems: Vec<ShapeProblem>,
    doc: Doc,
}

/// What to take out of the working document before the next round.
#[derive(Clone, PartialEq, Eq)]
enum Removal {
    /// The key with this span, and its value.
    Key(Range<usize>),
    /// The array element with this span.
    Element(Range<usize>),
}

/// Pass 2: deserialize [`Config`], and on each error report it, take out the key or element
/// it is about, and try again.
fn shape(text: &str, root: &Table, index: &Index) -> Shaped {
    let mut doc = Doc {
        lines: HashMap::new(),
        dropped: BTreeMap::new(),
        dropped_ids: HashSet::new(),
        dropped_elems: Vec::new(),
        removed: HashSet::new(),
        stand_ins: HashSet::new(),
    };
    for n in &index.nodes {
        let span = n.key_span.as_ref().or(n.value_span.as_ref());
        if let Some(span) = span {
            doc.lines.insert(n.path.clone(), line_of(text, span.start));
        }
    }

    let mut base = root.clone();
    dates_as_strings_table(&mut base);

    let mut problems: Vec<ShapeProblem> = Vec::new();
    let mut reported: HashSet<String> = HashSet::new();
    let mut removals: Vec<Removal> = Vec::new();
    let stand_in_values = facility_stand_ins();

    for _ in 0..MAX_ROUNDS {
        let mut work = base.clone();
        for r in &removals {
            remove_table(&mut work, r);
        }
        if !doc.stand_ins.is_empty() {
            if !work.get("facility").is_some_and(Item::is_table) {
                work.insert("facility", Item::Table(Table::new()));
            }
            if let Some(facility) = work.get_mut("facility").and_then(Item::as_table_mut) {
                for (name, value) in stand_in_values.iter() {
                    if doc.stand_ins.contains(&format!("facility.{name}")) {
                        facility.insert(name, value.clone());
                    }
                }
            }
        }
        let placeholder = !doc.stand_ins.is_empty();
        let err = match toml_edit::de::from_document::<Config>(toml_edit::DocumentMut::from(work)) {
            Ok(cfg) => {
                return Shaped {
                    config: Some(cfg),
                    placeholder,
                    problems,
                    doc,
                }
            }
            Err(e) => e,
        };

        let message = err.message().trim_end().to_string();
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'))
            .map(str::to_owned);
        let at_root = err.span().is_none() || err.span() == index.root_span;
        let node = match (&missing, err.span()) {
            (Some(_), _) if at_root => None,
            (_, Some(span)) => index.find(&span),
            (_, None) => None,
        };

        match (missing, node) {
            // A required key is missing in a table: report it (unless the key was there and
            // already reported as malformed), then drop the table.
            (Some(field), node) => {
                let prefix = node.map_or(String::new(), |n| n.path.clone());
                let key = join(&prefix, &field);
                if !reported.contains(&key) {
                    let line = node.and_then(|n| n.value_span.as_ref().or(n.key_span.as_ref()));
                    problems.push(ShapeProblem {
                        line: line.map(|s| line_of(text, s.start)),
                        key: key.clone(),
                        message: missing_message(&prefix, &field),
                    });
                    reported.insert(key.clone());
                }
                // Without a usable [facility] nothing parses; stand-ins for its missing keys
                // let the rest of the file be checked (and the result is an error anyway).
                let stand_in = match node {
                    Some(n) if n.path == "facility" => Some(vec![key.clone()]),
                    None if field == "facility" => Some(
                        stand_in_values
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
                            stand_in_values.contains_key(name)
                        };
                        if !keys.iter().all(known) || keys.iter().all(|k| doc.stand_ins.contains(k))
                        {
                            break;
                        }
                        doc.stand_ins.extend(keys);
                    }
                    (None, Some(n)) => {
                        reported.insert(n.path.clone());
                        drop_node(n, &mut removals, &mut doc);
                    }
                    (None, None) => break,
                }
            }
            // A key or element was rejected: report it and take it out.
            (None, Some(n)) => {
                let raw = n.value_span.as_ref().and_then(|s| text.get(s.clone()));
                let line = n.key_span.as_ref().or(n.value_span.as_ref());
                problems.push(ShapeProblem {
                    line: line.map(|s| line_of(text, s.start)),
                    key: n.path.clone(),
                    message: shape_message(&message, raw),
                });
                reported.insert(n.path.clone());
                let removal = drop_node(n, &mut removals, &mut doc);
                if removals[..removals.len() - 1].contains(&removal) {
                    // Taking it out again would change nothing; give up on the shape pass.
                    break;
                }
            }
            // Nothing to point at: report and stop.
            (None, None) => {
                problems.push(ShapeProblem {
                    line: err.span().map(|s| line_of(text, s.start)),
                    key: String::new(),
                    message,
                });
                break;
            }
        }
    }
    Shaped {
        config: None,
        placeholder: !doc.stand_ins.is_empty(),
        problems,
        doc,
    }
}

/// Records that `n` is to be taken out of the working document.
fn drop_node(n: &Node, removals: &mut Vec<Removal>, doc: &mut Doc) -> Removal {
    let removal = match (&n.key_span, &n.value_span) {
        (Some(k), _) => Removal::Key(k.clone()),
        (None, Some(v)) => Removal::Element(v.clone()),
        // Every node of a parsed document has a span; removing by an empty range is a no-op.
        (None, None) => Removal::Element(0..0),
    };
    match n.path.rfind('[').filter(|_| n.key_span.is_none()) {
        Some(open) => {
            let array = &n.path[..open];
            if let Ok(i) = n.path[open + 1..n.path.len() - 1].parse::<usize>() {
                let list = doc.dropped.entry(array.to_owned()).or_default();
                list.push(i);
                list.sort_unstable();
            }
            if let Some(id) = &n.id {
                let kind = array.split(['.', '[']).next().unwrap_or(array);
                doc.dropped_ids.insert((kind.to_owned(), id.clone()));
            }
            doc.dropped_elems
                .push((n.path.clone(), n.id.clone(), n.card.clone()));
        }
        None => {
            doc.removed.insert(n.path.clone());
        }
    }
    removals.push(removal.clone());
    removal
}

fn missing_message(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        format!("missing required table [{field}]")
    } else {
        "missing required key".to_owned()
    }
}

/// Serde's wording, in the file's terms: a TOML file has keys and values, not fields and
/// variants.
fn shape_message(message: &str, raw: Option<&str>) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let after = rest.split_once("`, ").map(|(_, a)| a);
        return match after {
            Some("there are no fields") | None => "unknown key".to_owned(),
            Some(expected) => format!("unknown key, {expected}"),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        return format!("unknown value {rest}");
    }
    // chrono's date parser says what went wrong but not what it expected.
    const CHRONO: [&str; 7] = [
        "input is out of range",
        "no possible date and time matching input",
        "input is not enough for unique date and time",
        "premature end of input",
        "trailing input",
        "input contains invalid characters",
        "bad or unsupported format string",
    ];
    if CHRONO.contains(&message) {
        let raw = raw.unwrap_or("").trim();
        return format!("invalid date {raw} (expected \"YYYY-MM-DD\", e.g. \"2025-05-20\")");
    }
    message.to_owned()
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
