//! The v6audit rule engine: turns an Observation into a Verdict (findings, a
//! migration stage, a score and a priority) with a YAML rule pack. Pure: no
//! I/O beyond reading a pack file.

#![warn(missing_docs)]

pub mod addr;
pub mod engine;
pub mod pack;
pub mod plan;
pub mod render;
pub mod spec;
pub mod words;

pub use addr::{AddressClass, ContactPolicy};
pub use engine::{PriorityParts, evaluate, priority_of, priority_parts, score_of, stage_of};
pub use pack::{Pack, PackError, Text};
pub use spec::RuleId;
