//! class-sync: keeps school class groups in Microsoft Teams and Google Classroom in step with the
//! UMP through the academic year, and rolls them over at its end. See ARCHITECTURE.md for the map.
//!
//! Layers, each depending only on those listed before it: `core` (pure rules), `config`, `remote`
//! (Microsoft and Google), `store` (durable state), `app` (the composition root), `work` (planner,
//! jobs, worker, scheduler), `status` (the read side), then the front doors `api`, `console`, `cli`,
//! `serve` and `demo`, and `observability` (logs and metrics) beside them.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod console;
pub mod core;
pub mod demo;
pub mod observability;
pub mod oneroster;
pub mod remote;
pub mod serve;
pub mod status;
pub mod store;
pub mod work;
