//! What v6audit writes for people and programs to read: the output formats
//! of a report (table, JSON, JSON Lines, CSV, Markdown, JUnit, SARIF, GitHub
//! annotations, the plan), the CI policy of `check` (what fails a pipeline),
//! and the escaping they share with the TUI and the collector (the CSV
//! export, the SVG charts): one home, so every format neutralises hostile
//! strings the same way. Pure: a report and a pack in, text out; no I/O.

#![warn(missing_docs)]

pub mod escape;
pub mod output;
pub mod policy;

pub use escape::{csv_cell, json_text, terminal, terminal_line, xml};
