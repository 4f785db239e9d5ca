//! The release binary as a child: `class-sync serve` on the bench's store (its stdout and stderr in
//! `serve.log`; killed if the bench ends without stopping it), its RSS read from /proc while it
//! runs, and `class-sync status` timed.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Serve {
    pub pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: PathBuf,
    process: tokio::process::Child,
}

impl Serve {
    /// Starts `class-sync --config CONFIG --today TODAY serve` (listening on `port`, as the config
    /// says).
    pub fn start(config: &Path, today: &str, port: u16, log: &Path) -> anyhow::Result<Serve> {
        let out = std::fs::File::create(log).with_context(|| format!("{}", log.display()))?;
        let process = tokio::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
            .arg("--config")
            .arg(config)
            .args(["--today", today, "serve"])
            .current_dir(config.parent().context("the config's directory")?)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .context("starting class-sync serve")?;
        Ok(Serve {
            pid: process.id().context("the new process has a pid")?,
            base: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
            process,
        })
    }

    /// Waits until `/healthz` answers 200 (fails when the process exits or `patience` passes).
    pub async fn wait_ready(&mut self, patience: Duration) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + patience;
        let url = format!("{}/healthz", self.base);
        loop {
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if let Some(status) = self.process.try_wait()? {
                bail!(
                    "serve exited before it answered: {status}\n{}",
                    self.tail(30)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "serve did not answer {url} within {patience:?}\n{}",
                    self.tail(30)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> anyhow::Result<bool> {
        Ok(self.process.try_wait()?.is_some())
    }

    /// SIGTERM, then waits; killed after `patience`.
    pub async fn stop(&mut self, patience: Duration) -> anyhow::Result<()> {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .context("running kill -TERM")?;
        if !sent.success() {
            bail!("kill -TERM {} failed", self.pid);
        }
        if tokio::time::timeout(patience, self.process.wait())
            .await
            .is_err()
        {
            eprintln!("serve did not stop within {patience:?}: killed");
            self.process.start_kill()?;
            self.process.wait().await?;
        }
        Ok(())
    }

    /// The last `lines` lines of its log.
    pub fn tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let from = all.len().saturating_sub(lines);
        format!(
            "--- {} (last {} lines):\n{}",
            self.log.display(),
            all.len() - from,
            all[from..].join("\n")
        )
    }
}

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`); None when the process is gone.
fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    proc_file_kib(pid, "status", field)
}

/// A field of /proc/PID/FILE in KiB (`status`, or `smaps_rollup` for `Pss`).
fn proc_file_kib(pid: u32, file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
}

/// CPU time (user + system) of a process so far, in seconds; zero when it is gone. `pid` "self" is
/// this process.
pub fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // After the command name (in parentheses): utime and stime are the 12th and 13th fields.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) as f64 / hz
}

/// Polls a process's RSS every 100 ms (and its PSS every 500 ms) until stopped.
pub struct RssWatch {
    pid: u32,
    max_rss: Arc<AtomicU64>,
    max_pss: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl RssWatch {
    pub fn start(pid: u32) -> RssWatch {
        let max_rss = Arc::new(AtomicU64::new(0));
        let max_pss = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (max_rss, max_pss, stop) = (max_rss.clone(), max_pss.clone(), stop.clone());
            tokio::spawn(async move {
                let mut tick = 0u64;
                while !stop.load(Ordering::Acquire) {
                    if let Some(kib) = proc_kib(pid, "VmRSS") {
                        max_rss.fetch_max(kib, Ordering::AcqRel);
                    }
                    // PSS walks the page tables: every half second is enough.
                    if tick.is_multiple_of(5)
                        && let Some(kib) = proc_file_kib(pid, "smaps_rollup", "Pss")
                    {
                        max_pss.fetch_max(kib, Ordering::AcqRel);
                    }
                    tick += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        RssWatch {
            pid,
            max_rss,
            max_pss,
            stop,
            task,
        }
    }

    /// The peak (the kernel's high-water mark, or the largest sample if that is unreadable) and the
    /// RSS now, in KiB.
    pub async fn stop(self) -> Rss {
        let now = proc_kib(self.pid, "VmRSS").unwrap_or(0);
        let hwm = proc_kib(self.pid, "VmHWM").unwrap_or(0);
        let anon = proc_kib(self.pid, "RssAnon").unwrap_or(0);
        let file = proc_kib(self.pid, "RssFile").unwrap_or(0);
        let pss = proc_file_kib(self.pid, "smaps_rollup", "Pss").unwrap_or(0);
        self.stop.store(true, Ordering::Release);
        let _ = self.task.await;
        let sampled = self.max_rss.load(Ordering::Acquire).max(now);
        Rss {
            peak_kib: hwm.max(sampled),
            peak_pss_kib: self.max_pss.load(Ordering::Acquire).max(pss),
            end_kib: now,
            end_anon_kib: anon,
            end_file_kib: file,
        }
    }
}

/// `serve`'s memory, in KiB: the peak, and at the end of the load in all, anonymous (heap) and
/// file-backed (mapped files: SQLite's `mmap_size` maps the database).
#[derive(Clone, Copy, Debug)]
pub struct Rss {
    pub peak_kib: u64,
    /// The largest proportional set size sampled (every 0.5 s): a file page mapped by several of
    /// SQLite's connections (each maps the database itself) counts once, not once a mapping.
    pub peak_pss_kib: u64,
    pub end_kib: u64,
    pub end_anon_kib: u64,
    pub end_file_kib: u64,
}

/// A port free on 127.0.0.1 now (the OS picks it; released at once for `serve` to take).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The wall time of one `class-sync --config CONFIG --today TODAY status` (spawn to exit); its
/// output goes to `log`. A failure is an error.
pub fn time_status(config: &Path, today: &str, log: &Path) -> anyhow::Result<f64> {
    let out = std::fs::File::create(log).with_context(|| format!("{}", log.display()))?;
    let start = Instant::now();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
        .arg("--config")
        .arg(config)
        .args(["--today", today, "status"])
        .current_dir(config.parent().context("the config's directory")?)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .status()
        .context("running class-sync status")?;
    let seconds = start.elapsed().as_secs_f64();
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        bail!("class-sync status ended with {status}:\n{text}");
    }
    Ok(seconds)
}

/// A TCP port that accepts connections and never answers (nor reads): the Microsoft endpoints of
/// the bench's config. Its thread holds every connection until the bench ends.
pub struct Silent {
    pub port: u16,
}

impl Silent {
    pub fn start() -> anyhow::Result<Silent> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        Ok(Silent { port })
    }
}
