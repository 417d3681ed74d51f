//! A reference receiver for platform engineers (issue 13, contract sections 6, 7 and 12):
//! subscribes to every facility's topics, stores every envelope exactly once in
//! PostgreSQL, asks the agents with `resend` for the seqs it is missing, and reports how
//! complete each facility's record is. Not part of the board's build.

pub mod envelope;
pub mod http;
pub mod ranges;
pub mod report;
pub mod run;
pub mod store;
