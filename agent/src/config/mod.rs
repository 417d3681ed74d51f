//! Configuration: the TOML file of contract section 2, its loading and its validation.
//!
//! [`load`] reads a file and returns either a [`Config`] that passed every check, or
//! [`ConfigErrors`] listing **every** problem found — not just the first — each naming the
//! file, the key (`rooms[2].capacity`) and, where the file has one, the line.
//!
//! It works in three passes, so one mistake does not hide the next:
//!
//! 1. **Syntax.** The text is parsed with `toml_edit`, which keeps the byte span of every key
//!    and value. A syntax error stops here (there is no document to look at), reported with
//!    its line.
//! 2. **Shape** (`shape.rs`). The document is deserialized into the serde types of
//!    `types.rs`. A key that serde rejects (unknown key, wrong type, bad duration…) is
//!    reported and removed, and the document is deserialized again, until it succeeds or
//!    only a missing required key is left. That way every unknown key and every malformed
//!    value is reported, at any depth, without a second copy of the schema: the serde types
//!    stay the only description of the file. The deserializer (`de.rs`) hands over serde's
//!    errors as data (unknown key, missing key, unknown value), so the loader never reads
//!    the wording of a dependency's message.
//! 3. **Meaning** (`validate/`). Small checks run on whatever did parse, each returning the
//!    problems it finds: id syntax, duplicate ids and cards, references between rooms, doors,
//!    readers, people, the numeric sanity of the rules, the hardware keys.
//!
//! `load.rs` runs the passes; `doc.rs` is what the shape and meaning passes share (the
//! original document's spans and lines, and how a problem is made): `load` → `shape`,
//! `validate` → `doc`, never back.
//!
//! After a successful load, a relative `storage.dir` is resolved against the directory that
//! contains the configuration file (not the working directory), so
//! `dir = "../var/demo"` in `config/demo.toml` means `<repo>/var/demo` wherever the agent
//! is started from.

mod days;
mod de;
mod doc;
mod hash;
mod load;
mod shape;
mod types;
mod units;
mod validate;

#[cfg(test)]
mod tests;

pub use days::{default_days, DayName};
pub use hash::content_hash;
pub use types::*;
pub use units::{Dur, TimeOfDay};

use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file as it was named to [`load`] / [`parse`].
    pub file: PathBuf,
    /// 1-based line, when the problem can be pinned to one.
    pub line: Option<usize>,
    /// Where in the document: `facility.timezone`, `rooms[2].capacity`,
    /// `rules.temperature.max_c`. Empty for a problem with the file as a whole (unreadable,
    /// not TOML).
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    /// `{file}:{line}: {key}: {message}`, leaving out `:{line}` when unknown and `{key}: `
    /// when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a configuration file, in document order (problems without a line
/// last). Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigErrors {
    /// One problem per line, no trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads, parses and validates the configuration file at `path`.
///
/// On success every check of this module has passed and a relative `storage.dir` has been
/// resolved against the directory containing `path`.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let whole_file = |message: String| ConfigErrors {
        problems: vec![Problem {
            file: path.to_path_buf(),
            line: None,
            key: String::new(),
            message,
        }],
    };
    let bytes = std::fs::read(path).map_err(|e| whole_file(format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        whole_file(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse(&text, path)
}

/// Parses and validates configuration text as if it had been read from `origin`.
///
/// `origin` names the file in problems and anchors a relative `storage.dir`; nothing is
/// read from it.
pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigErrors> {
    let mut cfg = load::parse_and_validate(text, origin)?;
    cfg.storage.dir = resolve_storage_dir(&cfg.storage.dir, origin);
    cfg.storage.spill_dir = cfg
        .storage
        .spill_dir
        .as_deref()
        .map(|p| resolve_storage_dir(p, origin));
    // Secrets and certificates are files beside the configuration, like the storage.
    if let Some(tls) = cfg.mqtt.tls.as_mut() {
        tls.ca_file = resolve_storage_dir(&tls.ca_file, origin);
        tls.cert_file = tls
            .cert_file
            .as_deref()
            .map(|p| resolve_storage_dir(p, origin));
        tls.key_file = tls
            .key_file
            .as_deref()
            .map(|p| resolve_storage_dir(p, origin));
    }
    cfg.mqtt.password_file = cfg
        .mqtt
        .password_file
        .as_deref()
        .map(|p| resolve_storage_dir(p, origin));
    Ok(cfg)
}

/// A relative path (the storage directory, TLS files, the password file) is relative to
/// the directory containing the configuration file, made absolute so that a later change of working directory cannot move it.
fn resolve_storage_dir(dir: &Path, origin: &Path) -> PathBuf {
    if dir.is_absolute() {
        return dir.to_path_buf();
    }
    let base = origin.parent().unwrap_or(Path::new(""));
    let joined = base.join(dir);
    std::path::absolute(&joined).unwrap_or(joined)
}
