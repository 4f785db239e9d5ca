//! The context of the job whose remote calls run on this task: its lane, by which the throttle
//! queues its calls, and its concurrency slot, which it hands back while it only waits.
//!
//! The worker sets it (`scope`); the call path and the providers read it. A leaf module: it knows
//! nothing of the worker, the store or the providers, so the call path never reaches up into them.

use crate::core::job::Lane;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One job's claim on its worker's pool of concurrency slots.
pub struct JobSlot {
    slots: Arc<Semaphore>,
    permit: Mutex<Option<OwnedSemaphorePermit>>,
}

impl JobSlot {
    /// A slot held through `permit`, taken from `slots`.
    pub fn new(slots: Arc<Semaphore>, permit: OwnedSemaphorePermit) -> Arc<JobSlot> {
        Arc::new(JobSlot {
            slots,
            permit: Mutex::new(Some(permit)),
        })
    }
}

/// What the worker tells the call path about the job running on a task.
#[derive(Clone)]
pub struct JobContext {
    pub lane: Lane,
    /// None outside a worker (tests, one-off calls): waits then keep nothing to hand back.
    pub slot: Option<Arc<JobSlot>>,
}

tokio::task_local! {
    static CONTEXT: JobContext;
}

/// Runs `work` as the job described by `context`.
pub async fn scope<F: Future>(context: JobContext, work: F) -> F::Output {
    CONTEXT.scope(context, work).await
}

/// Runs `work` with its remote calls queued in `lane`, holding no slot.
pub async fn in_lane<F: Future>(lane: Lane, work: F) -> F::Output {
    scope(JobContext { lane, slot: None }, work).await
}

/// The lane of the job on this task. Calls made outside any job count as an operator's.
pub fn current_lane() -> Lane {
    CONTEXT.try_with(|c| c.lane).unwrap_or(Lane::Operator)
}

/// Runs `wait` (a pause that does no work, such as the gap between two polls of an operation)
/// with this job's concurrency slot handed back, so the worker runs other jobs meanwhile.
pub async fn without_slot<F: Future>(wait: F) -> F::Output {
    let Some(slot) = CONTEXT.try_with(|c| c.slot.clone()).ok().flatten() else {
        return wait.await;
    };
    drop(slot.permit.lock().unwrap_or_else(|e| e.into_inner()).take());
    let out = wait.await;
    let permit = slot.slots.clone().acquire_owned().await.ok();
    *slot.permit.lock().unwrap_or_else(|e| e.into_inner()) = permit;
    out
}
