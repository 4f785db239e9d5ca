//! The clients: `clients` tasks on one shared `reqwest::Client`, each sending its next request as
//! soon as the last is answered (closed loop), the kind drawn at random by its share. Every answer
//! is checked (200, and the shape and counts the generator implies); latencies after the warm-up
//! are kept per kind.

use crate::dataset::Rng;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the generator says the store holds.
#[derive(Default)]
pub struct Known {
    /// Every teacher's email with the number of classes they teach (at least one).
    pub teachers: Vec<(String, u64)>,
    /// Every school admin's email with the number of classes of their school.
    pub admins: Vec<(String, u64)>,
    /// Every class id.
    pub groups: Vec<String>,
    pub schools: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Teacher,
    Admin,
    Status,
    Group,
    Schools,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Teacher,
        Kind::Admin,
        Kind::Status,
        Kind::Group,
        Kind::Schools,
    ];

    /// Percent of the requests.
    fn share(self) -> usize {
        match self {
            Kind::Teacher => 35,
            Kind::Admin => 20,
            Kind::Status => 10,
            Kind::Group => 25,
            Kind::Schools => 10,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Teacher => "teacher",
            Kind::Admin => "admin",
            Kind::Status => "status",
            Kind::Group => "group",
            Kind::Schools => "schools",
        }
    }

    /// The p99 budget (issue 11), if the kind has one.
    pub fn budget_ms(self) -> Option<f64> {
        match self {
            Kind::Teacher => Some(50.0),
            Kind::Admin => Some(100.0),
            Kind::Status => Some(100.0),
            Kind::Group => Some(20.0),
            Kind::Schools => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn draw(rng: &mut Rng) -> Kind {
        let mut r = rng.below(100);
        for k in Kind::ALL {
            if r < k.share() {
                return k;
            }
            r -= k.share();
        }
        Kind::Teacher
    }
}

pub struct Plan {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub token: String,
    pub clients: usize,
    pub warmup: Duration,
    pub measure: Duration,
    pub known: Arc<Known>,
    pub today: &'static str,
    pub year: &'static str,
    pub seed: u64,
}

/// Latencies per kind and the errors.
pub struct Outcome {
    /// Microseconds, per kind (`Kind::index`), sorted.
    latencies: Vec<Vec<u32>>,
    pub errors: u64,
    /// The measured span.
    pub seconds: f64,
}

pub struct Stats {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Outcome {
    pub fn stats(&self, kind: Kind) -> Stats {
        let v = &self.latencies[kind.index()];
        let at = |q: f64| -> f64 {
            if v.is_empty() {
                return f64::NAN;
            }
            // The smallest value with at least q of the samples at or below it.
            let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
            f64::from(v[rank - 1]) / 1000.0
        };
        Stats {
            count: v.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }

    pub fn total(&self) -> usize {
        self.latencies.iter().map(Vec::len).sum()
    }
}

/// Errors printed in full; the rest are counted.
const ERRORS_SHOWN: u64 = 20;

pub async fn run(plan: Plan) -> anyhow::Result<Outcome> {
    if plan.known.teachers.is_empty() || plan.known.admins.is_empty() {
        anyhow::bail!("the set has no teachers or no admins");
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.clients)
        .timeout(Duration::from_secs(60))
        .build()?;
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.measure;
    let plan = Arc::new(plan);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..plan.clients {
        let (http, plan) = (http.clone(), plan.clone());
        tasks.spawn(async move {
            let plan = &*plan;
            let mut rng = Rng::new(plan.seed ^ 0x5eed_0000 ^ (c as u64).wrapping_mul(0x9e37));
            let mut mine: Vec<Vec<u32>> = vec![Vec::new(); Kind::ALL.len()];
            let mut errors = 0u64;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let kind = Kind::draw(&mut rng);
                let (path, expect) = request(plan, kind, &mut rng);
                let answer = http
                    .get(format!("{}{path}", plan.base))
                    .bearer_auth(&plan.token)
                    .send()
                    .await;
                let checked = match answer {
                    Ok(r) => {
                        let status = r.status();
                        match r.bytes().await {
                            Ok(body) if status == reqwest::StatusCode::OK => expect.check(&body),
                            Ok(body) => Err(format!(
                                "{status}: {}",
                                String::from_utf8_lossy(&body[..body.len().min(300)])
                            )),
                            Err(e) => Err(format!("{status}, reading the body: {e}")),
                        }
                    }
                    Err(e) => Err(format!("no answer: {e}")),
                };
                let took = sent.elapsed();
                match checked {
                    Ok(()) => {
                        if sent >= measure_from {
                            mine[kind.index()].push(took.as_micros().min(u32::MAX as u128) as u32);
                        }
                    }
                    Err(why) => {
                        errors += 1;
                        if errors <= ERRORS_SHOWN {
                            eprintln!("ERROR: GET {path}: {why}");
                        }
                    }
                }
            }
            (mine, errors)
        });
    }
    let mut latencies: Vec<Vec<u32>> = vec![Vec::new(); Kind::ALL.len()];
    let mut errors = 0;
    while let Some(done) = tasks.join_next().await {
        let (mine, e) = done?;
        errors += e;
        for (all, m) in latencies.iter_mut().zip(mine) {
            all.extend(m);
        }
    }
    for v in &mut latencies {
        v.sort_unstable();
    }
    let seconds = Instant::now()
        .min(end)
        .saturating_duration_since(measure_from)
        .as_secs_f64();
    Ok(Outcome {
        latencies,
        errors,
        seconds: seconds.max(f64::MIN_POSITIVE),
    })
}

/// What an answer must say.
enum Expect<'a> {
    /// View Groups: `as`, a first page of `min(total, limit)` groups, `total`.
    Page {
        viewer: &'a str,
        total: u64,
        limit: u64,
    },
    Status {
        today: &'a str,
        year: &'a str,
        links: u64,
        schools: u64,
    },
    Group {
        id: &'a str,
        year: &'a str,
    },
    Schools {
        total: u64,
        limit: u64,
    },
}

/// The path of a request of `kind` and what its answer must say.
fn request<'a>(plan: &'a Plan, kind: Kind, rng: &mut Rng) -> (String, Expect<'a>) {
    let k: &Known = &plan.known;
    match kind {
        Kind::Teacher => {
            let (email, n) = &k.teachers[rng.below(k.teachers.len())];
            (
                format!("/v1/groups?as={email}"),
                Expect::Page {
                    viewer: email,
                    total: *n,
                    limit: 100,
                },
            )
        }
        Kind::Admin => {
            let (email, n) = &k.admins[rng.below(k.admins.len())];
            (
                format!("/v1/groups?as={email}&limit=100"),
                Expect::Page {
                    viewer: email,
                    total: *n,
                    limit: 100,
                },
            )
        }
        Kind::Status => (
            "/v1/status".to_string(),
            Expect::Status {
                today: plan.today,
                year: plan.year,
                links: k.groups.len() as u64,
                schools: k.schools,
            },
        ),
        Kind::Group => {
            let id = &k.groups[rng.below(k.groups.len())];
            (
                format!("/v1/groups/{id}"),
                Expect::Group {
                    id,
                    year: plan.year,
                },
            )
        }
        Kind::Schools => (
            "/v1/schools?limit=100".to_string(),
            Expect::Schools {
                total: k.schools,
                limit: 100,
            },
        ),
    }
}

#[derive(Deserialize)]
struct PageDoc {
    #[serde(rename = "as")]
    viewer: String,
    groups: Vec<PageGroup>,
    next: Option<String>,
    total: u64,
}

#[derive(Deserialize)]
struct PageGroup {
    id: String,
    links: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
struct StatusDoc {
    today: String,
    links: BTreeMap<String, BTreeMap<String, u64>>,
    #[allow(dead_code)]
    queue: IgnoredAny,
    schools: StatusSchools,
}

#[derive(Deserialize)]
struct StatusSchools {
    known: u64,
}

#[derive(Deserialize)]
struct GroupDoc {
    group: String,
    academic_year: String,
    links: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
struct SchoolsDoc {
    schools: Vec<IgnoredAny>,
    next: Option<String>,
    total: u64,
}

fn parse<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| {
        format!(
            "not the expected shape ({e}): {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )
    })
}

impl Expect<'_> {
    fn check(&self, body: &[u8]) -> Result<(), String> {
        match *self {
            Expect::Page {
                viewer,
                total,
                limit,
            } => {
                let p: PageDoc = parse(body)?;
                let shown = total.min(limit);
                if p.viewer != viewer
                    || p.total != total
                    || p.groups.len() as u64 != shown
                    || p.next.is_some() != (total > limit)
                {
                    return Err(format!(
                        "as {} total {} groups {} next {:?}; expected as {viewer} total {total} groups {shown}",
                        p.viewer,
                        p.total,
                        p.groups.len(),
                        p.next
                    ));
                }
                if let Some(g) = p.groups.iter().find(|g| g.links.len() != 1) {
                    return Err(format!("group {} has {} links, not 1", g.id, g.links.len()));
                }
                if p.groups.windows(2).any(|w| w[0].id >= w[1].id) {
                    return Err("groups not in id order".into());
                }
                Ok(())
            }
            Expect::Status {
                today,
                year,
                links,
                schools,
            } => {
                let s: StatusDoc = parse(body)?;
                let counted: u64 = s.links.get(year).map_or(0, |m| m.values().sum());
                if s.today != today || counted != links || s.schools.known != schools {
                    return Err(format!(
                        "today {} links of {year} {counted} schools {}; expected {today}, {links}, {schools}",
                        s.today, s.schools.known
                    ));
                }
                Ok(())
            }
            Expect::Group { id, year } => {
                let g: GroupDoc = parse(body)?;
                if g.group != id || g.academic_year != year || g.links.len() != 1 {
                    return Err(format!(
                        "group {} year {} with {} links; expected {id}, {year}, 1 link",
                        g.group,
                        g.academic_year,
                        g.links.len()
                    ));
                }
                Ok(())
            }
            Expect::Schools { total, limit } => {
                let s: SchoolsDoc = parse(body)?;
                let shown = total.min(limit);
                if s.total != total
                    || s.schools.len() as u64 != shown
                    || s.next.is_some() != (total > limit)
                {
                    return Err(format!(
                        "total {} schools {} next {:?}; expected total {total}, {shown} schools",
                        s.total,
                        s.schools.len(),
                        s.next
                    ));
                }
                Ok(())
            }
        }
    }
}
