//! The peers and the measuring, shared by the comparison (`src/main.rs`)
//! and the instruction counter (`src/bin/instructions.rs`).

pub mod clients;
pub mod measure;
pub mod servers;
