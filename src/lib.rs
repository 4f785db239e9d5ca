//! class-sync: keeps school class groups in Microsoft Teams and Google Classroom in step with the
//! UMP through the academic year, and rolls them over at its end. See ARCHITECTURE.md for the map.

pub mod api;
pub mod app;
pub mod auth;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod link;
pub mod observability;
pub mod planner;
pub mod providers;
pub mod remote;
pub mod restore_policy;
pub mod retry;
pub mod roster;
pub mod scheduler;
pub mod service;
pub mod snapshot;
pub mod status;
pub mod store;
pub mod throttle;
pub mod worker;
