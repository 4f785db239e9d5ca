//! Fault injection: the public [`Fault`] and [`FaultKind`] a test queues, the queue itself, and
//! the random faults of [`crate::options::RandomFaults`]. The pipeline takes faults before a
//! request reaches its handler; only `OperationFailed` is taken by the Graph fake itself, while
//! it holds the world lock (lock order `world` → `faults`).

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::options::RandomFaults;
use crate::state::calls::Service;

/// A queued misbehaviour. It matches a request when `service`, `method` (if set, any case) and
/// `path_contains` (a substring of the percent-decoded path, if set) match; it applies `times`
/// times and is then removed. Faults are checked in injection order and at most one applies to
/// a request. `times: 0` never applies.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub service: Service,
    pub method: Option<String>,
    pub path_contains: Option<String>,
    pub times: u32,
    pub kind: FaultKind,
}

impl Fault {
    /// A fault on every request of `service`, once. Narrow it with the builder methods.
    pub fn new(service: Service, kind: FaultKind) -> Fault {
        Fault {
            service,
            method: None,
            path_contains: None,
            times: 1,
            kind,
        }
    }
    /// Only requests with this HTTP method.
    pub fn method(mut self, method: &str) -> Fault {
        self.method = Some(method.to_string());
        self
    }
    /// Only requests whose decoded path contains `part`.
    pub fn path_contains(mut self, part: &str) -> Fault {
        self.path_contains = Some(part.to_string());
        self
    }
    /// Apply `times` times instead of once.
    pub fn times(mut self, times: u32) -> Fault {
        self.times = times;
        self
    }
}

/// What a matching [`Fault`] does.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Answer with this status, the service's documented error body and, when given, a
    /// `Retry-After` header. The request has no effect. A 429 with a `Retry-After` opens a
    /// window on the request's bucket (see
    /// [`MockServices::retry_after_violations`](crate::MockServices::retry_after_violations)).
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// Close the connection without any response. No effect.
    Reset,
    /// Answer normally after the delay.
    Delay(Duration),
    /// Perform the request's effect, then answer 500 (a create that worked but the client saw
    /// an error).
    SucceedThen500,
    /// Graph only: the next teamsAsyncOperation created by a matching request ends `failed`
    /// with error `TeamUnavailable`, and has no effect.
    OperationFailed,
}

/// The queued faults, in injection order.
#[derive(Default)]
pub(crate) struct Faults {
    queue: Mutex<Vec<Fault>>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, Vec<Fault>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn inject(&self, fault: Fault) {
        if fault.times > 0 {
            self.lock().push(fault);
        }
    }

    /// Takes one use of the first fault matching a request (`method`, decoded `path`), except
    /// `OperationFailed`, which is taken by the Graph handler when it actually creates an
    /// operation.
    pub fn take(&self, service: Service, method: &str, path: &str) -> Option<FaultKind> {
        self.take_matching(service, method, path, |kind| {
            !matches!(kind, FaultKind::OperationFailed)
        })
    }

    /// Takes one use of the first matching `OperationFailed` fault.
    pub fn take_operation_fault(&self, service: Service, method: &str, path: &str) -> bool {
        self.take_matching(service, method, path, |kind| {
            matches!(kind, FaultKind::OperationFailed)
        })
        .is_some()
    }

    fn take_matching(
        &self,
        service: Service,
        method: &str,
        path: &str,
        want: impl Fn(&FaultKind) -> bool,
    ) -> Option<FaultKind> {
        let mut faults = self.lock();
        let pos = faults.iter().position(|f| {
            f.service == service
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && f.path_contains.as_deref().is_none_or(|p| path.contains(p))
                && want(&f.kind)
        })?;
        let fault = &mut faults[pos];
        let kind = fault.kind.clone();
        fault.times -= 1;
        if fault.times == 0 {
            faults.remove(pos);
        }
        Some(kind)
    }
}

/// With `MockOptions::random_faults`, a 503 or a reset for that share of Graph and Classroom requests.
pub(crate) fn random_fault(random: Option<RandomFaults>, service: Service) -> Option<FaultKind> {
    let rate = random?.rate;
    if !matches!(service, Service::Graph | Service::Classroom) {
        return None;
    }
    let roll: f64 = rand::random();
    if roll >= rate {
        return None;
    }
    Some(if roll < rate / 2.0 {
        FaultKind::Status {
            status: 503,
            retry_after: None,
        }
    } else {
        FaultKind::Reset
    })
}
