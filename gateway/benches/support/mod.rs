//! What the gateway's benchmarks share: the real binary on loopback, and
//! numbers written as docs/benchmarks.md writes them.
#![allow(dead_code)] // each benchmark uses its part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A gateway process on a free loopback port, killed when dropped.
pub struct Gateway {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its history database's directory (unless the flags name one),
    /// removed when dropped.
    _data: Option<tempfile::TempDir>,
}

impl Gateway {
    /// Starts the release binary on a free loopback port, its offline
    /// models fast, with `extra` flags (a temporary data directory unless
    /// they name a database), and waits until it listens.
    pub fn start(extra: &[&str]) -> Gateway {
        let named = extra
            .iter()
            .any(|flag| *flag == "--data-dir" || *flag == "--database-url");
        let data = (!named).then(|| tempfile::tempdir().expect("a temporary directory"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_prompt-runs-gateway"));
        if let Some(data) = &data {
            command.arg("--data-dir").arg(data.path());
        }
        let mut child = command
            .args([
                "--addr",
                "127.0.0.1:0",
                "--offline-tokens-per-second",
                "100000",
            ])
            .args(extra)
            // No log lines: the benchmark checks every answer itself, and a
            // line per request would bury its figures.
            .env("PROMPT_RUNS_LOG", "off")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the gateway binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("it says where it listens");
        let url = line
            .split_whitespace()
            .last()
            .expect("an address")
            .to_owned();
        Gateway {
            child,
            url,
            _data: data,
        }
    }

    /// The process's peak resident memory so far, in KiB (Linux's VmHWM).
    pub fn peak_memory_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM:")
    }

    /// The process's resident memory now, in KiB (Linux's VmRSS).
    pub fn memory_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS:")
    }

    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last event of a server-sent event stream `body`: its name and its
/// data (`("done", "{…}")`), when it has one.
pub fn last_event(body: &str) -> Option<(&str, &str)> {
    let block = body.rsplit("\n\n").find(|block| !block.trim().is_empty())?;
    block.strip_prefix("event: ")?.split_once("\ndata: ")
}

/// `n` with a comma every three digits, as docs/benchmarks.md writes numbers.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (at, digit) in digits.chars().enumerate() {
        if at > 0 && (digits.len() - at).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
