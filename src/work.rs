//! CPU-heavy request work (list/filter/sort/expand, rule evaluation) off the async I/O workers:
//! [`Pool::run`] waits for a permit of a bounded pool and runs the closure on `spawn_blocking`
//! under a [`Budget`] (deadline + cancel flag). Hot loops call [`check`] so work stops when the
//! budget is spent or the waiting request future is dropped (client gone, shutdown).
//!
//! The budget is the blocking thread's ambient one (installed by `Pool::run` for the duration of
//! the closure), so the loops deep in `records` and `query` need no extra parameter; outside a
//! pool job `check` never fails. This module is a leaf: it names nothing above `error`.

use crate::error::ApiError;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Why a job stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Interrupted {
    /// The request went away (client disconnected, or the server stopped waiting for it).
    #[error("the request was cancelled")]
    Cancelled,
    /// The job ran longer than its budget.
    #[error("the request exceeded its time budget of {} ms", .0.as_millis())]
    OverBudget(Duration),
}

impl From<Interrupted> for ApiError {
    fn from(e: Interrupted) -> Self {
        match e {
            // Nobody reads this answer (the client is gone); 503 if anyone does.
            Interrupted::Cancelled => ApiError::Unavailable,
            Interrupted::OverBudget(limit) => ApiError::TooExpensive {
                budget_ms: limit.as_millis() as u64,
            },
        }
    }
}

/// A job's deadline and cancel flag.
#[derive(Debug, Clone)]
pub struct Budget {
    started: Instant,
    limit: Duration,
    cancel: Arc<AtomicBool>,
    /// An inline try (see [`Pool::run`]): running out means "move to the pool", not an error.
    inline: bool,
}

impl Budget {
    pub fn new(limit: Duration) -> Self {
        Self {
            started: Instant::now(),
            limit,
            cancel: Arc::new(AtomicBool::new(false)),
            inline: false,
        }
    }

    fn inline(limit: Duration) -> Self {
        Self {
            inline: true,
            ..Self::new(limit)
        }
    }

    /// Stops the job at its next [`check`].
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    fn check_now(&self) -> Result<(), Interrupted> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Interrupted::Cancelled);
        }
        if self.started.elapsed() > self.limit {
            if self.inline {
                YIELDED.with(|y| y.set(true));
            }
            return Err(Interrupted::OverBudget(self.limit));
        }
        Ok(())
    }
}

/// Calls between two real checks of the flag and the clock (a row costs µs, so this is ms).
const CHECK_EVERY: u32 = 16;

thread_local! {
    static CURRENT: RefCell<Option<Budget>> = const { RefCell::new(None) };
    static TICKS: Cell<u32> = const { Cell::new(0) };
    /// Set when an inline try ran out of its slice (the job must move to the pool).
    static YIELDED: Cell<bool> = const { Cell::new(false) };
}

/// Called by hot loops once per row / record / key: `Err` once the current job must stop.
pub fn check() -> Result<(), Interrupted> {
    let tick = TICKS.with(|t| {
        let n = t.get().wrapping_add(1);
        t.set(n);
        n
    });
    if tick % CHECK_EVERY != 0 {
        return Ok(());
    }
    CURRENT.with(|c| c.borrow().as_ref().map_or(Ok(()), Budget::check_now))
}

/// Called before work whose cost grows with the data (a scan of a whole collection): in an inline
/// try (see [`Pool::run`]) it hands the job to the pool at once instead of wasting the slice.
pub fn expect_heavy() -> Result<(), Interrupted> {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some(b) if b.inline => {
            YIELDED.with(|y| y.set(true));
            Err(Interrupted::OverBudget(b.limit))
        }
        _ => Ok(()),
    })
}

/// Installs `budget` as this thread's current one until dropped.
struct Scope {
    previous: Option<Budget>,
}

impl Scope {
    fn enter(budget: Budget) -> Self {
        TICKS.with(|t| t.set(0));
        let previous = CURRENT.with(|c| c.borrow_mut().replace(budget));
        Self { previous }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Flips the cancel flag when the awaiting future is dropped before the job ends.
struct CancelOnDrop(Option<Budget>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            b.cancel();
        }
    }
}

/// The bounded pool of CPU work and the per-request time budget.
pub struct Pool {
    permits: Arc<Semaphore>,
    budget: Duration,
    inline: Duration,
}

impl Pool {
    /// `threads` jobs at once (0 = one per core), each stopped after `budget`. Jobs first run
    /// right on the calling thread for up to `inline` (zero: never), see [`Pool::run`].
    pub fn new(threads: usize, budget: Duration, inline: Duration) -> Self {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        Self {
            permits: Arc::new(Semaphore::new(threads)),
            budget,
            inline,
        }
    }

    /// Runs `job` on the pool, cancelled when `gone` resolves (the client disconnected) or the
    /// returned future is dropped. Waiting for a permit longer than the budget is 503 with
    /// `Retry-After` (the server is saturated); running longer than the budget is the job's own
    /// cost ([`ApiError::TooExpensive`]). A job must only read, or stage its writes and commit
    /// them after it returns, so an interrupted job leaves nothing behind.
    ///
    /// Most jobs are cheap (a page read in index order), and a thread hop per request halved list
    /// throughput; so a job first runs right here for the `inline` slice. If it finishes, that is
    /// the answer; if it runs out of the slice, the (read-only) job is thrown away and run again
    /// on the pool. The I/O worker is held for at most the slice.
    pub async fn run<T, F>(&self, job: F, gone: impl Future<Output = ()>) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn() -> Result<T, ApiError> + Send + 'static,
    {
        if !self.inline.is_zero() {
            YIELDED.with(|y| y.set(false));
            let out = {
                let _scope = Scope::enter(Budget::inline(self.inline));
                job()
            };
            if out.is_ok() || !YIELDED.with(|y| y.replace(false)) {
                return out;
            }
        }
        tokio::pin!(gone);
        tokio::select! {
            out = self.run_to_end(job) => out,
            // Dropping `run_to_end` flips the job's cancel flag.
            _ = &mut gone => Err(ApiError::from(Interrupted::Cancelled)),
        }
    }

    /// Runs a job whose cost the client cannot scale (one record by id, no expand) right here,
    /// under the same time budget but without a thread hop.
    pub fn run_inline<T>(&self, job: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
        let _scope = Scope::enter(Budget::new(self.budget));
        job()
    }

    async fn run_to_end<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    {
        let permit = tokio::time::timeout(self.budget, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::Overloaded {
                retry_after_secs: self.budget.as_secs().clamp(1, 10),
            })?
            .map_err(|_| ApiError::Unavailable)?;
        let budget = Budget::new(self.budget);
        let mut guard = CancelOnDrop(Some(budget.clone()));
        // The job logs under the request's span (its request id), like the async part does.
        let span = tracing::Span::current();
        let task = tokio::task::spawn_blocking(move || {
            let _span = span.enter();
            // The permit is held until the job really ends, even when nobody awaits it anymore.
            let _permit = permit;
            let _scope = Scope::enter(budget);
            job()
        });
        let out = task.await;
        guard.0 = None;
        match out {
            Ok(result) => result,
            // A panicking job is a bug: log it as a 500 rather than unwinding into the server.
            Err(e) => Err(ApiError::internal(format!("request job failed: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin_until_interrupted() -> Result<(), ApiError> {
        loop {
            check()?;
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    #[test]
    fn check_outside_a_job_never_fails() {
        for _ in 0..1000 {
            assert_eq!(check(), Ok(()));
        }
    }

    #[tokio::test]
    async fn over_budget_is_too_expensive() {
        let pool = Pool::new(1, Duration::from_millis(50), Duration::ZERO);
        let started = Instant::now();
        let err = pool
            .run(spin_until_interrupted, std::future::pending())
            .await
            .expect_err("stops");
        assert!(
            matches!(err, ApiError::TooExpensive { budget_ms: 50 }),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        // The thread's budget is gone after the job.
        assert_eq!(
            pool.run(|| Ok(check()), std::future::pending()).await.ok(),
            Some(Ok(()))
        );
    }

    #[tokio::test]
    async fn dropping_the_future_cancels_the_job_and_frees_the_permit() {
        let pool = Arc::new(Pool::new(1, Duration::from_secs(30), Duration::ZERO));
        let (tx, rx) = std::sync::mpsc::channel();
        let job = pool.run(
            move || {
                let r = spin_until_interrupted();
                let _ = tx.send(matches!(r, Err(ApiError::Unavailable)));
                r
            },
            std::future::pending(),
        );
        let _ = tokio::time::timeout(Duration::from_millis(50), job).await;
        let cancelled =
            tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(5)))
                .await
                .expect("join");
        assert_eq!(cancelled, Ok(true));
        // The single permit is free again.
        let v = tokio::time::timeout(
            Duration::from_secs(5),
            pool.run(|| Ok(7), std::future::pending()),
        )
        .await
        .expect("permit released");
        assert_eq!(v.ok(), Some(7));
    }

    #[tokio::test]
    async fn cheap_jobs_answer_inline_and_long_ones_move_to_the_pool() {
        let pool = Pool::new(1, Duration::from_secs(5), Duration::from_millis(5));
        let here = std::thread::current().id();
        let ran_on = pool
            .run(|| Ok(std::thread::current().id()), std::future::pending())
            .await
            .expect("cheap job");
        assert_eq!(ran_on, here, "a cheap job needs no thread hop");
        let tries = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = tries.clone();
        let job = move || {
            counted.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(30) {
                check()?;
                std::thread::sleep(Duration::from_micros(50));
            }
            Ok(std::thread::current().id())
        };
        let ran_on = pool
            .run(job, std::future::pending())
            .await
            .expect("long job");
        assert_ne!(ran_on, here, "a long job finishes on the pool");
        assert_eq!(
            tries.load(Ordering::Relaxed),
            2,
            "one inline try, one pool run"
        );
        // A job that knows it will scan goes to the pool without using the slice.
        let job = || {
            expect_heavy()?;
            Ok(std::thread::current().id())
        };
        let ran_on = pool
            .run(job, std::future::pending())
            .await
            .expect("heavy job");
        assert_ne!(ran_on, here, "announced heavy work runs on the pool");
    }

    #[tokio::test]
    async fn a_saturated_pool_answers_503_after_the_budget() {
        let pool = Arc::new(Pool::new(1, Duration::from_millis(100), Duration::ZERO));
        let busy = pool.clone();
        let hog = tokio::spawn(async move {
            // Holds the only permit longer than the other request's wait, ignoring its budget.
            let job = || {
                std::thread::sleep(Duration::from_millis(400));
                Ok(())
            };
            busy.run(job, std::future::pending()).await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let err = pool
            .run(|| Ok(()), std::future::pending())
            .await
            .expect_err("no permit in time");
        assert!(matches!(err, ApiError::Overloaded { .. }), "{err:?}");
        let _ = hog.await;
    }
}
