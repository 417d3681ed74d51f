//! Helpers shared by the integration tests; each test file says `mod common;`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The workspace's root directory.
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `nursery-agent` binary of the same build as this test.
///
/// A test package cannot use `CARGO_BIN_EXE_*` of another package, so the path is derived
/// from the test executable itself, which lives in `<target>/<profile>/deps/`; this also
/// follows a custom `CARGO_TARGET_DIR`.
pub fn agent_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in <target>/<profile>/deps/");
    let bin = profile_dir.join(format!("nursery-agent{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} not found: run `cargo build -p nursery-agent` first (same profile and target dir as the tests)",
        bin.display()
    );
    bin
}
