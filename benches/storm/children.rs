//! The worker processes of the multi-process storm: the real binary, `class-sync serve`, one config
//! file each (its own `[api] listen` port). Each writes its stdout and stderr to `worker-N.log` in
//! the run's directory. They are stopped with SIGTERM (graceful: running jobs finish or go back to
//! the queue) or killed with SIGKILL (a crash), and every one still running is killed when this
//! set is dropped — the end of the run, an error, or a panic of the bench.

use crate::report;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a worker process ended.
#[derive(Clone, Debug)]
pub enum Ended {
    /// SIGKILL from the bench (the simulated crash), at this many seconds into the storm.
    Killed { at: f64 },
    /// SIGTERM from the bench at the end of the storm; its exit status (None: a signal ended it).
    Stopped { at: f64, code: Option<i32> },
    /// Exited on its own while the storm ran.
    Exited { at: f64, code: Option<i32> },
}

pub struct Worker {
    /// `p1`, `p2`, … in the order they started.
    pub name: String,
    pub pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Seconds into the storm when it was started.
    pub started_at: f64,
    /// Its API answers `/healthz`.
    pub ready: Arc<AtomicBool>,
    pub ended: Option<Ended>,
    /// CPU time and peak RSS, read from `/proc` just before it was stopped or killed.
    pub cpu: Duration,
    pub peak_rss_kib: u64,
    pub log: PathBuf,
    process: tokio::process::Child,
}

impl Worker {
    pub fn live(&self) -> bool {
        self.ended.is_none()
    }

    fn sample(&mut self) {
        let pid = self.pid.to_string();
        self.cpu = report::cpu_time(&pid);
        self.peak_rss_kib = report::peak_rss_kib(&pid);
    }
}

/// Every worker process of one run.
pub struct Workers {
    pub list: Vec<Worker>,
    /// The storm's start: every time above is measured from it.
    pub start: Instant,
    dir: PathBuf,
    http: reqwest::Client,
}

impl Workers {
    pub fn new(dir: &Path, start: Instant) -> Workers {
        Workers {
            list: Vec::new(),
            start,
            dir: dir.to_path_buf(),
            http: reqwest::Client::new(),
        }
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Starts `class-sync --config CONFIG --today TODAY serve` listening on `port`; a task marks it
    /// ready once its API answers. Returns its index.
    pub fn spawn(&mut self, config: &Path, port: u16, today: &str) -> anyhow::Result<usize> {
        let index = self.list.len();
        let name = format!("p{}", index + 1);
        let log = self.dir.join(format!("worker-{}.log", index + 1));
        let out = std::fs::File::create(&log).with_context(|| format!("{}", log.display()))?;
        let process = tokio::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
            .arg("--config")
            .arg(config)
            .args(["--today", today, "serve"])
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .context("starting class-sync serve")?;
        let pid = process.id().context("the new process has a pid")?;
        let base = format!("http://127.0.0.1:{port}");
        let ready = Arc::new(AtomicBool::new(false));
        {
            let (http, url, ready) = (self.http.clone(), format!("{base}/healthz"), ready.clone());
            tokio::spawn(async move {
                // Gives up after a minute; the storm's checks then say the process never served.
                for _ in 0..1200 {
                    if let Ok(r) = http.get(&url).send().await
                        && r.status().is_success()
                    {
                        ready.store(true, Ordering::Release);
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
        self.list.push(Worker {
            name,
            pid,
            base,
            started_at: self.now(),
            ready,
            ended: None,
            cpu: Duration::ZERO,
            peak_rss_kib: 0,
            log,
            process,
        });
        Ok(index)
    }

    /// Waits until worker `i` answers on its API (or fails when it exits or a minute passes).
    pub async fn wait_ready(&mut self, i: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.list[i].ready.load(Ordering::Acquire) {
            if let Some(status) = self.list[i].process.try_wait()? {
                bail!("{} exited before it served: {status}", self.list[i].name);
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not answer on {} within a minute",
                    self.list[i].name,
                    self.list[i].base
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// The crash: SIGKILL to worker `i`, nothing handed back.
    pub async fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        let at = self.now();
        let w = &mut self.list[i];
        w.sample();
        w.process.start_kill()?;
        w.process.wait().await?;
        w.ended = Some(Ended::Killed { at });
        Ok(())
    }

    /// Notes workers that exited on their own.
    pub fn reap(&mut self) -> anyhow::Result<()> {
        let at = self.now();
        for w in self.list.iter_mut().filter(|w| w.ended.is_none()) {
            if let Some(status) = w.process.try_wait()? {
                w.ended = Some(Ended::Exited {
                    at,
                    code: status.code(),
                });
            }
        }
        Ok(())
    }

    /// SIGTERM to every live worker (as an operator's `systemctl stop` would), then waits for them
    /// to exit; one still running after `patience` is killed (and its status says so).
    pub async fn stop_all(&mut self, patience: Duration) -> anyhow::Result<()> {
        self.reap()?;
        let at = self.now();
        for w in self.list.iter_mut().filter(|w| w.ended.is_none()) {
            w.sample();
            let sent = std::process::Command::new("kill")
                .args(["-TERM", &w.pid.to_string()])
                .status()
                .context("running kill -TERM")?;
            if !sent.success() {
                bail!("kill -TERM {} failed", w.pid);
            }
        }
        let deadline = tokio::time::Instant::now() + patience;
        for w in self.list.iter_mut().filter(|w| w.ended.is_none()) {
            let code = match tokio::time::timeout_at(deadline, w.process.wait()).await {
                Ok(status) => status?.code(),
                Err(_) => {
                    w.process.start_kill()?;
                    w.process.wait().await?;
                    None
                }
            };
            w.ended = Some(Ended::Stopped { at, code });
        }
        Ok(())
    }

    /// The indexes of workers that are running and answer on their API.
    pub fn serving(&self) -> Vec<usize> {
        self.list
            .iter()
            .enumerate()
            .filter(|(_, w)| w.live() && w.ready.load(Ordering::Acquire))
            .map(|(i, _)| i)
            .collect()
    }

    /// The worker whose process id is `pid`.
    pub fn by_pid(&self, pid: u32) -> Option<&Worker> {
        self.list.iter().find(|w| w.pid == pid)
    }

    /// The last `lines` lines of every worker's log, for a run that went wrong.
    pub fn tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for w in &self.list {
            let text = std::fs::read_to_string(&w.log).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let from = all.len().saturating_sub(lines);
            out.push_str(&format!(
                "--- {} (pid {}), {} ({} lines, last {}):\n",
                w.name,
                w.pid,
                w.log.display(),
                all.len(),
                all.len() - from
            ));
            for l in &all[from..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    /// Lines of every worker's log containing `needle`.
    pub fn count_in_logs(&self, needle: &str) -> usize {
        self.list
            .iter()
            .map(|w| {
                std::fs::read_to_string(&w.log)
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains(needle))
                    .count()
            })
            .sum()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // `kill_on_drop` would too; doing it here, first, also covers a panic while a `wait` runs.
        for w in self.list.iter_mut().filter(|w| w.ended.is_none()) {
            let _ = w.process.start_kill();
        }
    }
}

/// A port free on 127.0.0.1 now (the OS picks it; it is released at once for the worker to take).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
