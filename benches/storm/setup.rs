//! What both modes share before the storm: the scaled quotas, the admins, the mocks enforcing the
//! quotas, class-sync's limits set to the same quotas, the snapshot, and when Restore is pressed.

use crate::Args;
use anyhow::Context;
use class_sync::config::Config;
use class_sync::core::domain::{Group, School, Snapshot, Target};
use class_sync::demo::YEAR;
use class_sync_mocks::{MockOptions, MockServices, Quotas, RandomFaults};
use std::time::Duration;

pub const GROUPS_PER_SCHOOL: usize = 70;
/// How long a Graph archive operation runs in the mocks; polls come a little after it.
pub const OPERATION: Duration = Duration::from_millis(200);
/// `[microsoft] operation_poll_seconds`: the first poll comes a little after the operation ends.
pub const POLL: f64 = 0.25;

/// The quotas of one run (the documented ones × `scale`) and who Classroom calls go as.
pub struct Plan {
    pub scale: f64,
    pub quotas: Quotas,
    pub admins: Vec<String>,
}

impl Plan {
    pub fn new(args: &Args) -> Plan {
        let scale =
            args.groups as f64 / (Quotas::documented().teams_write_per_sec as f64 * args.seconds);
        Plan {
            scale,
            quotas: scaled(scale),
            admins: (1..=args.admins)
                .map(|i| format!("classroom-admin{i}@hwbcymru.net"))
                .collect(),
        }
    }

    /// The Classroom per-client quota, per second.
    pub fn per_client(&self) -> f64 {
        self.quotas.classroom_per_client_per_min as f64 / 60.0
    }

    /// One admin's Classroom per-user quota, per second.
    pub fn per_user(&self) -> f64 {
        self.quotas.classroom_per_user_per_min as f64 / 60.0
    }

    /// What bounds the Classroom rate: the per-client quota, or every admin's per-user quota.
    pub fn classroom_binding(&self) -> f64 {
        self.per_client()
            .min(self.admins.len() as f64 * self.per_user())
    }

    /// How long each target's storm lasts at its quota.
    pub fn storm_of(&self, target: Target, groups: usize) -> f64 {
        match target {
            Target::Teams => groups as f64 / self.quotas.teams_write_per_sec as f64,
            Target::Classroom => groups as f64 / self.classroom_binding(),
        }
    }

    /// The quota of a bucket of the mocks' call log (`per_user:{email}` for one Classroom user),
    /// per second.
    pub fn quota_of(&self, bucket: &str) -> Option<f64> {
        let q = &self.quotas;
        Some(match bucket {
            "teams_create" => q.teams_create_per_sec as f64,
            "teams_write" => q.teams_write_per_sec as f64,
            "teams_read" => q.teams_read_per_sec as f64,
            "education" => q.education_per_sec as f64,
            "per_client" => self.per_client(),
            b if b.starts_with("per_user:") => self.per_user(),
            _ => return None,
        })
    }

    /// The mocks, enforcing the scaled quotas, with this plan's admins.
    pub async fn start_mocks(&self, fault_rate: f64) -> anyhow::Result<MockServices> {
        Ok(MockServices::start(MockOptions {
            admin_emails: self.admins.clone(),
            operation_delay: OPERATION,
            first_poll_sees_not_started: false,
            page_size: 100,
            quotas: Some(self.quotas.clone()),
            random_faults: (fault_rate > 0.0).then_some(RandomFaults { rate: fault_rate }),
            ..MockOptions::default()
        })
        .await?)
    }

    /// class-sync's limits set to the same scaled quotas the mocks enforce.
    pub fn apply_limits(&self, config: &mut Config, args: &Args) -> anyhow::Result<()> {
        let q = &self.quotas;
        let m = config.microsoft.as_mut().context("microsoft configured")?;
        m.operation_poll_seconds = POLL;
        m.limits.teams_create = q.teams_create_per_sec as f64;
        m.limits.teams_write = q.teams_write_per_sec as f64;
        m.limits.teams_read = q.teams_read_per_sec as f64;
        m.limits.per_team = q.per_team_per_sec as f64;
        m.limits.education = q.education_per_sec as f64;
        let g = config.google.as_mut().context("google configured")?;
        g.limits.per_client = q.classroom_per_client_per_min as f64;
        g.limits.per_user = q.classroom_per_user_per_min as f64;
        config.worker.concurrency = args.concurrency;
        Ok(())
    }

    /// When Restore is pressed, in seconds from the storm's start: half on each target, spread
    /// over the first 80% of that target's own storm (Classroom's quota is higher, so its storm
    /// ends sooner).
    pub fn restore_schedule(&self, args: &Args) -> Vec<(f64, Target)> {
        let mut schedule: Vec<(f64, Target)> = Vec::new();
        for target in [Target::Teams, Target::Classroom] {
            let n = args.restores / 2 + (target == Target::Teams) as usize * (args.restores % 2);
            for k in 0..n {
                schedule.push((
                    self.storm_of(target, args.groups) * 0.8 * (k + 1) as f64 / (n + 1) as f64,
                    target,
                ));
            }
        }
        schedule.sort_by(|a, b| a.0.total_cmp(&b.0));
        schedule
    }
}

/// The documented quotas × `scale`, as both the mocks and class-sync's config use them.
fn scaled(scale: f64) -> Quotas {
    let d = Quotas::documented();
    let s = |v: u32| ((v as f64) * scale).round() as u32;
    Quotas {
        teams_create_per_sec: s(d.teams_create_per_sec),
        teams_write_per_sec: s(d.teams_write_per_sec),
        teams_read_per_sec: s(d.teams_read_per_sec),
        per_team_per_sec: d.per_team_per_sec,
        education_per_sec: s(d.education_per_sec),
        classroom_per_client_per_min: s(d.classroom_per_client_per_min),
        classroom_per_user_per_min: s(d.classroom_per_user_per_min),
        retry_after_secs: 1,
    }
}

pub fn snapshot(n: usize) -> Snapshot {
    let schools = n.div_ceil(GROUPS_PER_SCHOOL);
    let school_id = |s: usize| format!("{}", 6_600_000 + s);
    Snapshot {
        schools: (0..schools)
            .map(|s| School {
                id: school_id(s),
                name: format!("Ysgol {s}"),
                admins: vec![format!("admin{s}@hwbcymru.net")],
            })
            .collect(),
        groups: (0..n)
            .map(|i| {
                let s = i / GROUPS_PER_SCHOOL;
                Group {
                    id: format!("{}-{YEAR}-G{i}", school_id(s)),
                    school: school_id(s),
                    academic_year: YEAR.into(),
                    name: format!("Class {i}"),
                    year_group: Some(7),
                    subject: None,
                    targets: vec![Target::Teams, Target::Classroom],
                    teachers: vec![format!("teacher{i}@hwbcymru.net")],
                    learners: Vec::new(),
                }
            })
            .collect(),
    }
}
