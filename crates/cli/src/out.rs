//! Output helpers: JSON for scripts, tables for people.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use serde::Serialize;

/// Prints `value` as pretty JSON on stdout. A closed pipe (`| head`) is not an error.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(value)?;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// A table with a header row, for terminals.
pub fn table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    t.set_header(header.iter().copied());
    for r in rows {
        t.add_row(r);
    }
    t
}

/// Whether stderr is a terminal (progress bars only then).
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}
