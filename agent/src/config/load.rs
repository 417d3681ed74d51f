//! The three passes of the loader (see the module documentation in `mod.rs`): syntax with
//! `toml_edit`, shape with serde ([`shape`](super::shape)), and meaning
//! ([`validate`](super::validate)).
//!
//! Spans are the thread through all three: the document is parsed once with
//! [`toml_edit::ImDocument`], which keeps the byte range of every key and value; every shape
//! error carries the span of the key or value it is about; and the [`Index`] of the original
//! document maps a span back to a key path (`rooms[2].capacity`) and a line. Dependencies
//! point one way: `load` → `shape`, `validate` → `doc`.

use std::path::Path;

use toml_edit::ImDocument;

use super::doc::{line_of, problem, Index};
use super::{shape, validate, Config, ConfigErrors};

pub(super) fn parse_and_validate(text: &str, origin: &Path) -> Result<Config, ConfigErrors> {
    // Pass 1: syntax.
    let doc = ImDocument::parse(text).map_err(|e| ConfigErrors {
        problems: vec![syntax_problem(text, origin, &e)],
    })?;
    let index = Index::new(doc.as_table());

    // Pass 2: shape.
    let shaped = shape::shape(text, doc.as_table(), &index, origin);
    let mut problems = shaped.problems;

    // Pass 3: meaning, on whatever did parse.
    if let Some(cfg) = &shaped.config {
        let found = validate::validate(cfg, &shaped.doc);
        problems.extend(found.into_iter().map(|f| shaped.doc.problem(origin, f)));
    }

    match shaped.config {
        Some(cfg) if problems.is_empty() && !shaped.placeholder => Ok(cfg),
        _ => {
            if problems.is_empty() {
                // Unreachable in practice: a placeholder is only used after a problem.
                problems.push(problem(
                    origin,
                    None,
                    String::new(),
                    "invalid configuration".into(),
                ));
            }
            // Document order; problems without a line last. The sort is stable, so problems
            // on one line keep the order in which they were found.
            problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
            Err(ConfigErrors { problems })
        }
    }
}

/// A file that is not TOML: one problem, with the line of the error and no key.
fn syntax_problem(text: &str, origin: &Path, e: &toml_edit::TomlError) -> super::Problem {
    let line = e.span().map(|s| line_of(text, s.start));
    // toml_edit's messages may span lines; a problem is one line.
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    let message = if message.is_empty() {
        unnamed_syntax_error(text, e)
    } else {
        message
    };
    problem(origin, line, String::new(), message)
}

/// Words for a syntax error toml_edit gives none for (a control character in a comment,
/// found by fuzzing): the character at the error, or at least that it is not TOML.
fn unnamed_syntax_error(text: &str, e: &toml_edit::TomlError) -> String {
    let at = e.span().and_then(|s| text.get(s.start..));
    match at.and_then(|rest| rest.chars().next()) {
        Some(c) if c.is_control() => format!(
            "invalid character U+{:04X} (a control character) in the TOML text",
            u32::from(c)
        ),
        Some(c) => format!("not valid TOML at `{}`", c.escape_default()),
        None => "not valid TOML (the file ends too early)".into(),
    }
}
