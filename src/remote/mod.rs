//! Everything that talks to Microsoft and Google: the one call path (`call`), the throttle in front
//! of it, retry timing, token caches, the classified provider error, and the two providers.
//!
//! Nothing here knows the store, the calendar or the job queue; a job's lane and slot reach the
//! call path through `job_context`, which the worker sets.

pub mod auth;
pub mod call;
pub mod error;
pub mod job_context;
pub mod providers;
pub mod retry;
pub mod throttle;
