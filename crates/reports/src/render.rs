//! A report as CSV (the csv crate quotes and escapes), JSON (rows as objects
//! keyed by column, in column order) or a printable HTML page (askama
//! escapes every cell).

use askama::Template;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};

use crate::{Cell, ReportError, Table};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Comma-separated values with a header row.
    #[default]
    Csv,
    /// JSON for scripts.
    Json,
    /// A printable HTML page.
    Html,
}

impl Format {
    /// The media type of the output.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "html" => Ok(Format::Html),
            _ => Err(format!("no format {s:?}: csv, json or html")),
        }
    }
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    name: &'a str,
    title: &'a str,
    scope: &'a str,
    columns: &'a [&'static str],
    rows: Vec<Vec<String>>,
    notes: &'a [String],
}

struct Row<'a> {
    columns: &'a [&'static str],
    cells: &'a [Cell],
}

impl Serialize for Row<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.columns.len()))?;
        for (c, v) in self.columns.iter().zip(self.cells) {
            m.serialize_entry(c, v)?;
        }
        m.end()
    }
}

struct Rows<'a>(&'a Table);

impl Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.rows.len()))?;
        for r in &self.0.rows {
            seq.serialize_element(&Row {
                columns: &self.0.columns,
                cells: r,
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct JsonTable<'a> {
    report: &'a str,
    title: &'a str,
    scope: &'a str,
    columns: &'a [&'static str],
    rows: Rows<'a>,
    notes: &'a [String],
}

/// `table` in `format`.
pub fn render(table: &Table, format: Format) -> Result<Vec<u8>, ReportError> {
    let err = |e: &dyn std::fmt::Display| ReportError::Render(e.to_string());
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(&table.columns).map_err(|e| err(&e))?;
            for r in &table.rows {
                w.write_record(r.iter().map(Cell::text))
                    .map_err(|e| err(&e))?;
            }
            w.into_inner().map_err(|e| err(&e))
        }
        Format::Json => serde_json::to_vec_pretty(&JsonTable {
            report: table.report,
            title: &table.title,
            scope: &table.scope,
            columns: &table.columns,
            rows: Rows(table),
            notes: &table.notes,
        })
        .map_err(|e| err(&e)),
        Format::Html => Page {
            name: table.report,
            title: &table.title,
            scope: &table.scope,
            columns: &table.columns,
            rows: table
                .rows
                .iter()
                .map(|r| r.iter().map(Cell::text).collect())
                .collect(),
            notes: &table.notes,
        }
        .render()
        .map(String::into_bytes)
        .map_err(|e| err(&e)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn hostile() -> Table {
        Table {
            report: "issues",
            title: "Issue register <script>".into(),
            scope: "site \"x\"".into(),
            columns: vec!["a", "b"],
            rows: vec![vec![
                Cell::Text("comma, \"quote\"\nline".into()),
                Cell::Text("<b>&</b>".into()),
            ]],
            notes: vec![],
        }
    }

    #[test]
    fn csv_quotes_commas_quotes_and_newlines() {
        let out = String::from_utf8(render(&hostile(), Format::Csv).unwrap()).unwrap();
        assert_eq!(out, "a,b\n\"comma, \"\"quote\"\"\nline\",<b>&</b>\n");
        let mut r = csv::Reader::from_reader(out.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[0], "comma, \"quote\"\nline");
    }

    #[test]
    fn html_escapes_every_cell_and_the_title() {
        let out = String::from_utf8(render(&hostile(), Format::Html).unwrap()).unwrap();
        assert!(!out.contains("<script>"), "{out}");
        assert!(!out.contains("<b>&</b>"), "{out}");
        assert!(
            out.contains("<td>&#60;b&#62;&#38;&#60;/b&#62;</td>"),
            "{out}"
        );
        assert!(out.contains("<td>comma"), "{out}");
    }

    #[test]
    fn json_rows_are_objects_in_column_order() {
        let mut t = hostile();
        t.rows.push(vec![Cell::Int(3), Cell::Empty]);
        let v: serde_json::Value =
            serde_json::from_slice(&render(&t, Format::Json).unwrap()).unwrap();
        assert_eq!(v["rows"][1]["a"], 3);
        assert!(v["rows"][1]["b"].is_null());
        assert_eq!(v["rows"][0]["b"], "<b>&</b>");
    }
}
