//! The fuzz corpus in CI, without cargo-fuzz or a nightly compiler: every file of
//! `fuzz/corpus/<target>/` goes through the very checks the fuzz targets make (this test
//! compiles `fuzz/src/checks.rs` itself). A file that fails names itself; open-ended
//! fuzzing is `scripts/fuzz SECONDS`.

#[path = "../../fuzz/src/checks.rs"]
#[allow(dead_code)]
mod checks;

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

/// Runs `check` on every file of the target's corpus; reports every failing file at once.
fn run(target: &str, check: fn(&[u8])) {
    let files = corpus(target);
    let failed: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let bytes = std::fs::read(f).expect("a corpus file");
            std::panic::catch_unwind(|| check(&bytes))
                .err()
                .map(|_| f.display().to_string())
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} {target} corpus files fail the checks: {failed:#?}",
        failed.len(),
        files.len()
    );
}

#[test]
fn every_event_line_in_the_corpus_parses_or_is_refused_without_a_panic() {
    run("event_line", checks::event_line);
}

#[test]
fn every_configuration_in_the_corpus_is_accepted_or_refused_with_located_problems() {
    run("config", checks::config_text);
}

#[test]
fn every_platform_command_in_the_corpus_is_answered_safely_or_dropped() {
    run("command", checks::command);
}

#[test]
fn every_wiegand_and_keyboard_reader_input_in_the_corpus_decodes_as_the_model_says() {
    run("wiegand", checks::wiegand);
}

#[test]
fn every_sensor_response_in_the_corpus_decodes_only_with_valid_crcs_and_in_range() {
    run("sensirion", checks::sensirion);
}

#[test]
fn every_http_request_in_the_corpus_is_answered_without_a_500_or_a_name_leak() {
    run("http", checks::http);
}
