//! What v6audit writes for people and programs to read. For now this crate
//! holds only the output escaping shared by the agent (table, Markdown, CSV,
//! the plan, JUnit, GitHub annotations, the TUI) and the collector (the CSV
//! export, the SVG charts): one home, so every format neutralises hostile
//! strings the same way. The output formats themselves move here from
//! `agent/src/output/` later (the redesign's `report/` crate).

pub mod escape;

pub use escape::{csv_cell, terminal, terminal_line, xml};
