//! Configuration: the TOML file of contract section 2, its loading and its validation.

mod types;
mod units;

pub use types::*;
pub use units::{Dur, TimeOfDay};

use std::path::Path;

/// Loads a configuration file. (Provisional: replaced by the validating loader.)
pub fn load(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
