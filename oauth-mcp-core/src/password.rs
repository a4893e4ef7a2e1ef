//! Password hashing with a bounded cost: argon2id parameters no weaker than
//! OWASP's minimum, and a small pool of dedicated threads so that however
//! many logins arrive at once, at most `concurrency` argon2 buffers exist.
//!
//! Each argon2 check allocates its memory cost (19 MiB by default). Run on
//! tokio's blocking pool, 200 concurrent wrong passwords take 200 buffers on
//! up to 200 threads, and the allocator keeps much of it afterwards. Here
//! they wait in a bounded queue for one of a few threads instead; when the
//! queue is full the check is refused at once ([`HashingError::Busy`], answer
//! 503 with `Retry-After`).
//!
//! ```
//! use oauth_mcp_core::password::{Argon2Params, PasswordHashing};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let pool = PasswordHashing::new(Argon2Params::OWASP_MINIMUM, 2, 16).unwrap();
//! let phc = pool.hash(&"correct horse".into()).await.unwrap();
//! assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
//! assert!(pool.verify(&"correct horse".into(), &phc).await.unwrap());
//! assert!(!pool.verify(&"wrong".into(), &phc).await.unwrap());
//! # }
//! ```

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ConfigError, StoreError};
use crate::secret::Secret;

/// argon2id cost parameters ([`Argon2Params::new`]; at least OWASP's minimum).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// OWASP's argon2id configurations of equal strength (Password Storage
/// Cheat Sheet): memory in KiB and iterations, parallelism 1.
const OWASP_FLOOR: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

impl Argon2Params {
    /// OWASP's recommended minimum: 19 MiB, 2 iterations, 1 lane (argon2's
    /// defaults).
    pub const OWASP_MINIMUM: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// `memory_kib` of memory, `iterations` passes, `parallelism` lanes
    /// (checked when the configuration is built: [`Argon2Params::validate`]).
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Self {
        Self {
            memory_kib,
            iterations,
            parallelism,
        }
    }

    /// Accepts parameters at least as strong as one of OWASP's five
    /// equivalent minimums (46 MiB × 1, 19 MiB × 2, 12 MiB × 3, 9 MiB × 4,
    /// 7 MiB × 5 iterations); anything weaker fails naming the floor.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let strong_enough = OWASP_FLOOR
            .iter()
            .any(|(m, t)| self.memory_kib >= *m && self.iterations >= *t);
        if !strong_enough || self.parallelism == 0 {
            return Err(ConfigError::new(
                "argon2_params",
                format!(
                    "m={} KiB, t={}, p={} is weaker than OWASP's minimum for argon2id; use at least \
                     m=19456 KiB with t=2 (or m=47104/t=1, m=12288/t=3, m=9216/t=4, m=7168/t=5), p>=1",
                    self.memory_kib, self.iterations, self.parallelism
                ),
            ));
        }
        self.argon2().map(|_| ()).map_err(|e| {
            ConfigError::new(
                "argon2_params",
                format!("argon2 refuses these parameters: {e}"),
            )
        })
    }

    /// Bytes one hash needs while it runs.
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_kib)
            .unwrap_or(usize::MAX)
            .saturating_mul(1024)
    }

    fn argon2(&self) -> Result<Argon2<'static>, argon2::Error> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP_MINIMUM
    }
}

/// Why a hash or a check did not run.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashingError {
    /// Every hashing thread is busy and the queue is full: try again shortly.
    #[error("too many password checks at once; try again shortly")]
    Busy,
    /// argon2 failed (a malformed stored hash, or the pool is gone).
    #[error("password hashing failed: {0}")]
    Failed(String),
}

impl From<HashingError> for StoreError {
    fn from(e: HashingError) -> Self {
        match e {
            HashingError::Busy => StoreError::Unavailable(e.to_string()),
            HashingError::Failed(m) => StoreError::Other(m),
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A bounded argon2 pool: `concurrency` dedicated threads and a queue of
/// `queue` waiting jobs. Cloning shares the pool; the threads end when the
/// last clone is dropped.
#[derive(Clone)]
pub struct PasswordHashing {
    params: Argon2Params,
    concurrency: usize,
    jobs: SyncSender<Job>,
}

impl std::fmt::Debug for PasswordHashing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHashing")
            .field("params", &self.params)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl PasswordHashing {
    /// A pool hashing new passwords with `params`, running at most
    /// `concurrency` (at least 1) checks at once with at most `queue` more
    /// waiting. Peak memory is about `concurrency × params.memory_bytes()`.
    pub fn new(
        params: Argon2Params,
        concurrency: usize,
        queue: usize,
    ) -> Result<Self, ConfigError> {
        params.validate()?;
        let concurrency = concurrency.max(1);
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..concurrency {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("oauth-mcp-argon2-{i}"))
                .spawn(move || worker(&rx))
                .map_err(|e| {
                    ConfigError::new(
                        "password_hashing",
                        format!("cannot start a password-hashing thread: {e}"),
                    )
                })?;
        }
        Ok(Self {
            params,
            concurrency,
            jobs,
        })
    }

    /// The defaults: [`Argon2Params::OWASP_MINIMUM`], as many threads as
    /// CPUs but at most 4 (≤ 76 MiB of argon2 memory), 64 waiting checks.
    pub fn with_defaults() -> Result<Self, ConfigError> {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new(Argon2Params::OWASP_MINIMUM, cpus.clamp(1, 4), 64)
    }

    /// The parameters new hashes get.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// How many checks run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Hashes `password` into a PHC string with [`Self::params`].
    pub async fn hash(&self, password: &Secret) -> Result<String, HashingError> {
        let params = self.params;
        let password = password.clone();
        self.run(move || {
            params
                .argon2()
                .map_err(|e| e.to_string())?
                .hash_password(password.secret().as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| e.to_string())
        })
        .await?
        .map_err(HashingError::Failed)
    }

    /// Checks `password` against a PHC string (its own parameters apply).
    /// `Ok(false)` for a wrong password; [`HashingError::Failed`] for a
    /// malformed hash.
    pub async fn verify(&self, password: &Secret, phc: &str) -> Result<bool, HashingError> {
        let password = password.clone();
        let phc = phc.to_owned();
        self.run(move || {
            let parsed = argon2::password_hash::phc::PasswordHash::new(&phc)
                .map_err(|e| format!("malformed password hash: {e}"))?;
            Ok(Argon2::default()
                .verify_password(password.secret().as_bytes(), &parsed)
                .is_ok())
        })
        .await?
        .map_err(HashingError::Failed)
    }

    /// Queues `f` on the pool, or refuses at once if the queue is full.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(HashingError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(HashingError::Failed("the hashing threads are gone".into()));
            }
        }
        rx.await
            .map_err(|_| HashingError::Failed("a hashing thread stopped".into()))
    }
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        // Hold the lock only to take a job, never while running one.
        let job = match rx.lock() {
            Ok(r) => r.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // every sender dropped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn owasp_floor() {
        for ok in [
            Argon2Params::OWASP_MINIMUM,
            Argon2Params {
                memory_kib: 47_104,
                iterations: 1,
                parallelism: 1,
            },
            Argon2Params {
                memory_kib: 7_168,
                iterations: 5,
                parallelism: 1,
            },
            Argon2Params {
                memory_kib: 65_536,
                iterations: 3,
                parallelism: 4,
            },
        ] {
            ok.validate().unwrap();
        }
        for weak in [
            Argon2Params {
                memory_kib: 19_455,
                iterations: 2,
                parallelism: 1,
            },
            Argon2Params {
                memory_kib: 19_456,
                iterations: 1,
                parallelism: 1,
            },
            Argon2Params {
                memory_kib: 47_103,
                iterations: 1,
                parallelism: 1,
            },
            Argon2Params {
                memory_kib: 4096,
                iterations: 10,
                parallelism: 1,
            },
            Argon2Params {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 0,
            },
        ] {
            let e = weak.validate().unwrap_err();
            assert_eq!(e.field, "argon2_params");
            assert!(e.reason.contains("m=19456 KiB with t=2"), "{}", e.reason);
        }
        assert!(
            PasswordHashing::new(
                Argon2Params {
                    memory_kib: 1024,
                    iterations: 1,
                    parallelism: 1
                },
                1,
                1
            )
            .is_err()
        );
    }

    #[tokio::test]
    async fn hashes_with_the_configured_params_and_verifies_any() {
        let strong = Argon2Params {
            memory_kib: 47_104,
            iterations: 1,
            parallelism: 1,
        };
        let pool = PasswordHashing::new(strong, 1, 4).unwrap();
        let phc = pool.hash(&"pw".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=47104,t=1,p=1$"), "{phc}");
        // A hash made with other parameters verifies with its own.
        let other = crate::login::hash_password("pw").unwrap();
        assert!(pool.verify(&"pw".into(), &other).await.unwrap());
        assert!(!pool.verify(&"PW".into(), &other).await.unwrap());
        assert!(matches!(
            pool.verify(&"pw".into(), "not a hash").await,
            Err(HashingError::Failed(_))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrency_and_queue_are_bounded() {
        // One thread, a queue of 2: of many checks at once, the first runs,
        // two wait, the rest are refused at once.
        let pool = PasswordHashing::new(Argon2Params::OWASP_MINIMUM, 1, 2).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let spawn = |tasks: &mut Vec<_>| {
            let (pool, running, peak, gate) =
                (pool.clone(), running.clone(), peak.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    let _ = gate.lock().unwrap().recv();
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        };
        let mut tasks = Vec::new();
        spawn(&mut tasks);
        for _ in 0..200 {
            if running.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(running.load(Ordering::SeqCst), 1, "the first job runs");
        for _ in 0..9 {
            spawn(&mut tasks);
        }
        // Let every task try to enqueue, then release the jobs one by one.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        let mut done = 0;
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => done += 1,
                Err(HashingError::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((done, busy), (3, 7), "1 running + 2 queued; 7 refused");
        assert_eq!(peak.load(Ordering::SeqCst), 1, "never two at once");
    }
}
