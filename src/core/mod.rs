//! The pure core: what the school year, the rosters and the Restore button mean, as plain functions
//! over plain data. Nothing here reads a clock, touches the network or the store, or can block.

pub mod calendar;
pub mod delta;
pub mod domain;
pub mod job;
pub mod link;
pub mod restore_policy;
pub mod roster;
pub mod snapshot;
