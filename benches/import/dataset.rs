//! The national data set, generated school by school from a seed: every school's classes, users
//! and enrollments come from its own random stream, so a school can be made again (for the second
//! pass of the JSON file, and for the changed variant) without holding the whole set in memory.
//!
//! Per school: 1–2 administrators, then teachers (12% of its other users) and learners; its classes
//! each get `enrollments / classes` members, two of them teachers (fewer when a class has fewer
//! than three members), picked at random among the school's teachers and learners.
//!
//! The changed variant: every class whose global index is 50 modulo 100 (1%) loses its last
//! learner's enrollment and gains a learner it did not have; every other one of them is renamed
//! too (and one whose roster cannot change, at a tiny scale, is renamed instead).

/// The academic year of the set: `schoolYear` 2026 in OneRoster.
pub const YEAR: &str = "2025-26";
pub const SCHOOL_YEAR: &str = "2026";
pub const DOMAIN: &str = "hwbcymru.net";

/// The sizes of the set.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    pub schools: usize,
    pub classes: usize,
    pub users: usize,
    pub enrollments: usize,
    pub seed: u64,
}

impl Dims {
    /// How many classes the changed variant changes.
    pub fn changed_classes(&self) -> usize {
        (0..self.classes).filter(|g| is_changed(*g)).count()
    }
}

fn is_changed(global_class: usize) -> bool {
    global_class % 100 == 50
}

/// `n` split over `parts` as evenly as possible: part `i`'s start.
fn share(n: usize, parts: usize, i: usize) -> usize {
    (n as u128 * i as u128 / parts as u128) as usize
}

/// SplitMix64: small, fast, and the same on every platform and version.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Administrator,
    Teacher,
    Student,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Teacher => "teacher",
            Role::Student => "student",
        }
    }
}

pub struct User {
    /// Global index: the sourcedId is `u{index}`.
    pub index: usize,
    pub role: Role,
}

impl User {
    pub fn sourced_id(&self) -> String {
        format!("u{}", self.index)
    }

    pub fn email(&self) -> String {
        let prefix = match self.role {
            Role::Administrator => "gweinyddwr",
            Role::Teacher => "athro",
            Role::Student => "dysgwr",
        };
        format!("{prefix}{}@{DOMAIN}", self.index)
    }
}

pub struct Enrollment {
    pub sourced_id: String,
    /// Index into the school's `users`.
    pub user: usize,
    pub role: Role,
}

pub struct Class {
    pub sourced_id: String,
    pub title: String,
    /// Index into the school's courses (`{school}-c{k}`).
    pub course: usize,
    pub year_group: u32,
    pub enrollments: Vec<Enrollment>,
}

pub struct School {
    pub id: String,
    pub name: String,
    pub users: Vec<User>,
    /// Indexes into `users`, in file order.
    pub admins: Vec<usize>,
    pub classes: Vec<Class>,
}

pub const COURSES: &[&str] = &[
    "Mathematics",
    "English",
    "Cymraeg",
    "Science",
    "History",
    "Geography",
    "Art",
    "Music",
    "Computing",
    "Physical Education",
];

pub fn school_id(s: usize) -> String {
    format!("{}", 6_600_000 + s)
}

/// School `s` of the set, as it is in the base set (`changed` false) or the changed variant.
pub fn school(d: &Dims, s: usize, changed: bool) -> School {
    let mut rng = Rng::new(d.seed ^ (s as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let id = school_id(s);
    let (u0, u1) = (
        share(d.users, d.schools, s),
        share(d.users, d.schools, s + 1),
    );
    let n_users = u1 - u0;
    let n_admins = (1 + rng.below(2)).min(n_users);
    let n_teachers = ((n_users - n_admins) * 12 / 100)
        .max(2)
        .min(n_users - n_admins);
    let users: Vec<User> = (0..n_users)
        .map(|k| User {
            index: u0 + k,
            role: if k < n_admins {
                Role::Administrator
            } else if k < n_admins + n_teachers {
                Role::Teacher
            } else {
                Role::Student
            },
        })
        .collect();
    let teachers = n_admins..n_admins + n_teachers;
    let learners = n_admins + n_teachers..n_users;
    let (c0, c1) = (
        share(d.classes, d.schools, s),
        share(d.classes, d.schools, s + 1),
    );
    let mut classes = Vec::with_capacity(c1 - c0);
    for g in c0..c1 {
        let local = g - c0;
        let members = share(d.enrollments, d.classes, g + 1) - share(d.enrollments, d.classes, g);
        let n_t = if members >= 3 { 2 } else { members.min(1) }.min(teachers.len());
        let n_l = (members - n_t).min(learners.len());
        let year_group = 7 + (local % 7) as u32;
        let course = local % COURSES.len();
        let sourced_id = format!("{id}-{YEAR}-C{g}");
        let mut enrollments = Vec::with_capacity(n_t + n_l + 1);
        let mut picked: Vec<usize> = Vec::with_capacity(n_t + n_l);
        for (range, n, role) in [
            (teachers.clone(), n_t, Role::Teacher),
            (learners.clone(), n_l, Role::Student),
        ] {
            let mut slot = 0;
            while slot < n {
                let u = range.start + rng.below(range.len());
                if picked.contains(&u) {
                    continue;
                }
                picked.push(u);
                enrollments.push(Enrollment {
                    sourced_id: format!("e{g}-{}", enrollments.len()),
                    user: u,
                    role,
                });
                slot += 1;
            }
        }
        let mut title = format!(
            "{year_group}{}/{} {}",
            (b'A' + (local / 10 % 6) as u8) as char,
            local,
            COURSES[course]
        );
        if local % 9 == 4 {
            // Some titles need quoting in CSV.
            title.push_str(", set 2");
        }
        if changed && is_changed(g) {
            let mut roster_changed = false;
            if let Some(last) = enrollments.iter().rposition(|e| e.role == Role::Student)
                && n_l > 1
            {
                enrollments.remove(last);
                roster_changed = true;
            }
            // A learner the class does not have, drawn from a stream of its own so that every
            // other class is drawn exactly as in the base set.
            let mut rng = Rng::new(d.seed ^ (g as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 1);
            for _ in 0..20 {
                if learners.is_empty() {
                    break;
                }
                let u = learners.start + rng.below(learners.len());
                if !picked.contains(&u) {
                    enrollments.push(Enrollment {
                        sourced_id: format!("e{g}-x"),
                        user: u,
                        role: Role::Student,
                    });
                    roster_changed = true;
                    break;
                }
            }
            if (g / 100) % 2 == 0 || !roster_changed {
                title.push_str(" (new name)");
            }
        }
        classes.push(Class {
            sourced_id,
            title,
            course,
            year_group,
            enrollments,
        });
    }
    School {
        name: format!("Ysgol Enghraifft {s}"),
        id,
        admins: (0..n_admins).collect(),
        users,
        classes,
    }
}
