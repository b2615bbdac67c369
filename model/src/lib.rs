//! The vocabulary of v6audit: inventories, observations, verdicts and reports,
//! and their versioned wire formats. No I/O beyond reading the files a user
//! names, each a regular file read with a bound ([`input`]).

#![warn(missing_docs)]

pub mod input;
pub mod inventory;
pub mod lang;
pub mod observation;
pub mod paths;
pub mod report;
pub mod shard;
pub mod source;
pub mod stage;
pub mod why;
pub mod writer;

pub use input::{FileKind, ReadError};
pub use inventory::{
    Category, Inventory, InventoryError, InventoryStream, Names, PortSpec, Portal,
};
pub use lang::Lang;
pub use observation::*;
pub use report::*;
pub use shard::Shard;
pub use source::{SourceError, SourceErrors};
pub use why::Why;
pub use writer::ReportWriter;
