//! One import by the real release binary: `class-sync --config FILE --today DAY import PATH
//! --no-wait`, its wall time, and its peak RSS from `wait4` (the kernel's `ru_maxrss` of that one
//! child: exact, no sampling). Its stdout and stderr go to a log file beside the config.

use anyhow::{Context, bail};
use std::path::Path;
use std::time::Instant;

/// What one import did.
#[derive(Clone, Debug)]
pub struct Measured {
    pub seconds: f64,
    pub peak_rss_kib: u64,
    pub summary: Summary,
    /// The binary's `import (…): …` line.
    pub line: String,
}

/// The counts of the summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub added: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub withdrawn: u64,
    pub jobs: u64,
}

pub fn import(config: &Path, today: &str, input: &Path, log: &Path) -> anyhow::Result<Measured> {
    let out = std::fs::File::create(log).with_context(|| format!("{}", log.display()))?;
    let start = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
        .arg("--config")
        .arg(config)
        .args(["--today", today, "import"])
        .arg(input)
        .arg("--no-wait")
        .current_dir(config.parent().context("the config's directory")?)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .context("starting class-sync import")?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data the kernel fills; `pid` is our own child, which `Child` does
    // not wait for on drop, so it is reaped exactly once, here.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = loop {
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    let seconds = start.elapsed().as_secs_f64();
    drop(child);
    if reaped != pid {
        bail!("wait4: {}", std::io::Error::last_os_error());
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !exited_ok {
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "class-sync import {} ended with status {:#x} after {seconds:.1} s; log {}:\n{}",
            input.display(),
            status,
            log.display(),
            tail.join("\n")
        );
    }
    let line = text
        .lines()
        .find(|l| l.starts_with("import ("))
        .with_context(|| format!("no summary line in {}", log.display()))?
        .to_string();
    Ok(Measured {
        seconds,
        // Linux reports `ru_maxrss` in KiB.
        peak_rss_kib: usage.ru_maxrss as u64,
        summary: parse(&line),
        line,
    })
}

/// `import (json): 1 added, 2 changed, 3 unchanged, 4 withdrawn; 5 jobs enqueued; …`
fn parse(line: &str) -> Summary {
    let mut s = Summary::default();
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == ':')
        .filter(|w| !w.is_empty())
        .collect();
    for pair in words.windows(2) {
        let Ok(n) = pair[0].parse::<u64>() else {
            continue;
        };
        match pair[1] {
            "added" => s.added = n,
            "changed" => s.changed = n,
            "unchanged" => s.unchanged = n,
            "withdrawn" => s.withdrawn = n,
            "jobs" => s.jobs = n,
            _ => {}
        }
    }
    s
}
