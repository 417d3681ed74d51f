//! The original document as the passes of the loader see it, and the one way a problem is
//! made.
//!
//! Both the shape pass ([`shape`](super::shape)) and the meaning pass
//! ([`validate`](super::validate)) need to turn "something is wrong here" into a
//! [`Problem`] with a key and a line of the *original* file. This module is what they
//! share, and it imports neither:
//!
//! - [`Index`]: every key and array element of the parsed file with its byte spans, so that
//!   the span of a deserialization error leads back to a key path (`rooms[2].capacity`);
//! - [`Doc`]: key path → line, and what the shape pass had to drop, so that the meaning pass
//!   numbers elements as the file does and does not report twice what is already reported;
//! - [`problem`] / [`Doc::problem`]: a [`Problem`] from a key and a message.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use toml_edit::{ArrayOfTables, InlineTable, Item, Key, Table, Value};

use super::Problem;

/// A problem of the meaning pass: the key it is about (with the indices of the original
/// file) and what is wrong. The line comes from the [`Doc`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    pub(super) key: String,
    pub(super) message: String,
}

impl Found {
    pub(super) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Found {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// A problem in `file`.
pub(super) fn problem(file: &Path, line: Option<usize>, key: String, message: String) -> Problem {
    Problem {
        file: file.to_path_buf(),
        line,
        key,
        message,
    }
}

/// 1-based line of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// `prefix.name`, or `name` at the top level.
pub(super) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// One key or array element of the original document.
#[derive(Debug)]
pub(super) struct Node {
    /// `rooms[2].capacity`, `children[0].guardians[1]`, with indices of the original file.
    pub(super) path: String,
    /// Span of the key, for a key; `None` for an array element.
    pub(super) key_span: Option<Range<usize>>,
    pub(super) value_span: Option<Range<usize>>,
    /// For an array element that is a table with a string `id`: that id.
    pub(super) id: Option<String>,
    /// For an array element that is a table with a string `card`: that card.
    pub(super) card: Option<String>,
}

/// Every key and array element of the original document, in document order (pre-order: a
/// table before what it contains).
pub(super) struct Index {
    pub(super) nodes: Vec<Node>,
    pub(super) root_span: Option<Range<usize>>,
}

impl Index {
    pub(super) fn new(root: &Table) -> Self {
        let mut index = Index {
            nodes: Vec::new(),
            root_span: root.span(),
        };
        index.table("", root);
        index
    }

    fn push_key(&mut self, path: String, key: Option<&Key>, span: Option<Range<usize>>) {
        self.nodes.push(Node {
            path,
            key_span: key.and_then(|k| k.span()),
            value_span: span,
            id: None,
            card: None,
        });
    }

    fn table(&mut self, prefix: &str, t: &Table) {
        for (name, item) in t.iter() {
            let path = join(prefix, name);
            self.push_key(path.clone(), t.key(name), item.span());
            self.item(&path, item);
        }
    }

    fn inline(&mut self, prefix: &str, t: &InlineTable) {
        for (name, value) in t.iter() {
            let path = join(prefix, name);
            self.push_key(path.clone(), t.key(name), value.span());
            self.value(&path, value);
        }
    }

    fn item(&mut self, path: &str, item: &Item) {
        match item {
            Item::Table(t) => self.table(path, t),
            Item::ArrayOfTables(a) => self.array_of_tables(path, a),
            Item::Value(v) => self.value(path, v),
            Item::None => {}
        }
    }

    fn array_of_tables(&mut self, path: &str, a: &ArrayOfTables) {
        for (i, t) in a.iter().enumerate() {
            let elem = format!("{path}[{i}]");
            self.nodes.push(Node {
                path: elem.clone(),
                key_span: None,
                value_span: t.span(),
                id: t.get("id").and_then(|v| v.as_str()).map(str::to_owned),
                card: t.get("card").and_then(|v| v.as_str()).map(str::to_owned),
            });
            self.table(&elem, t);
        }
    }

    fn value(&mut self, path: &str, v: &Value) {
        match v {
            Value::InlineTable(t) => self.inline(path, t),
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
                    self.value(&elem, v);
                }
            }
            _ => {}
        }
    }

    /// The node an error span is about: the deepest node whose key or value has exactly that
    /// span, else the smallest value that contains it.
    pub(super) fn find(&self, span: &Range<usize>) -> Option<&Node> {
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
    /// The lines of every node of `index`, nothing dropped yet.
    pub(super) fn new(text: &str, index: &Index) -> Self {
        let mut lines = HashMap::new();
        for n in &index.nodes {
            let span = n.key_span.as_ref().or(n.value_span.as_ref());
            if let Some(span) = span {
                lines.insert(n.path.clone(), line_of(text, span.start));
            }
        }
        Doc {
            lines,
            dropped: BTreeMap::new(),
            dropped_ids: HashSet::new(),
            dropped_elems: Vec::new(),
            removed: HashSet::new(),
            stand_ins: HashSet::new(),
        }
    }

    /// The problem `found` in `file`, at the line of its key.
    pub(super) fn problem(&self, file: &Path, found: Found) -> Problem {
        problem(file, self.line(&found.key), found.key, found.message)
    }

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

    /// Whether the file itself has `key` (an optional key left out has a default instead).
    pub(super) fn has(&self, key: &str) -> bool {
        self.lines.contains_key(key)
    }

    /// `key` followed by ` (line N)` when the file has it, for messages that point at a
    /// second place.
    pub(super) fn at(&self, key: &str) -> String {
        match self.line(key) {
            Some(line) => format!("{key} (line {line})"),
            None => key.to_owned(),
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

    /// Whether any key holds a stand-in (and so the config must never be returned).
    pub(super) fn has_stand_ins(&self) -> bool {
        !self.stand_ins.is_empty()
    }

    /// Records that `keys` now hold stand-ins.
    pub(super) fn add_stand_ins(&mut self, keys: impl IntoIterator<Item = String>) {
        self.stand_ins.extend(keys);
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

    /// Records that the shape pass took `n` out of the document: an array element (whose
    /// index, id and card are remembered) or a key.
    pub(super) fn record_drop(&mut self, n: &Node) {
        match n.path.rfind('[').filter(|_| n.key_span.is_none()) {
            Some(open) => {
                let array = &n.path[..open];
                if let Ok(i) = n.path[open + 1..n.path.len() - 1].parse::<usize>() {
                    let list = self.dropped.entry(array.to_owned()).or_default();
                    list.push(i);
                    list.sort_unstable();
                }
                if let Some(id) = &n.id {
                    let kind = array.split(['.', '[']).next().unwrap_or(array);
                    self.dropped_ids.insert((kind.to_owned(), id.clone()));
                }
                self.dropped_elems
                    .push((n.path.clone(), n.id.clone(), n.card.clone()));
            }
            None => {
                self.removed.insert(n.path.clone());
            }
        }
    }
}
