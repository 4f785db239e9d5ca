//! The work: what each action implies (`planner`), what one job does (`jobs`), who runs the jobs
//! (`worker`) and when the nightly run starts (`scheduler`).

#[cfg(test)]
pub(crate) mod fake_provider;
pub mod jobs;
pub mod planner;
pub mod quota_share;
pub mod scheduler;
pub mod wait;
pub mod worker;
