//! The fuzz targets' checks, in one file that the workspace test `tests/tests/fuzz_corpus.rs`
//! also compiles (see `checks.rs`).

pub mod checks;
