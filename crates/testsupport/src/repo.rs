//! The repository's own files, reached the same way from every crate's
//! tests: golden vectors under `tests/vectors/` (which crate owns each set:
//! `tests/vectors/README.md`), the documents under `docs/`, fuzz seeds.

use std::path::{Path, PathBuf};

/// The repository's root directory.
pub fn root() -> PathBuf {
    // This crate sits at crates/testsupport.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A path inside the repository, e.g. `repo::path("fuzz/seeds")`.
pub fn path(relative: &str) -> PathBuf {
    root().join(relative)
}

/// The directory of one set of golden vectors, e.g. `vectors("core")`.
pub fn vectors(set: &str) -> PathBuf {
    root().join("tests/vectors").join(set)
}

/// The text of a document under `docs/`, e.g. `doc("formats.md")`.
pub fn doc(name: &str) -> String {
    let p = root().join("docs").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}
