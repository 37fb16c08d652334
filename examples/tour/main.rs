//! placeholder, replaced by the tour
fn main() {}
