//! Strategies for property tests (the `proptest` feature): faults, fault
//! sequences and plans that shrink towards the smallest failing plan (fewer
//! steps, and [`Fault::Ok`] in place of a fault).
