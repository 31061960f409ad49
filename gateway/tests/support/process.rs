//! The real gateway binary, started on a free loopback port: for what only
//! a process shows (being killed mid-request, its exit code at start).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A gateway process, killed (SIGKILL) when dropped.
pub struct GatewayProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl GatewayProcess {
    /// Starts the binary with `flags` on a free loopback port and waits until
    /// it listens. Panics, with what it said, if it does not start.
    pub fn start(flags: &[String]) -> GatewayProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_prompt-runs-gateway"))
            .args(["--addr", "127.0.0.1:0", "--requests-per-minute", "0"])
            .args(flags)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the gateway binary starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut first)
            .expect("its first line");
        let Some(url) = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
        else {
            let _ = child.wait();
            panic!("the gateway did not start ({first:?}; its stderr is above)");
        };
        GatewayProcess {
            url: url.to_owned(),
            child,
        }
    }

    /// Kills it at once, as a crash or `kill -9` would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary with `flags`, expecting it to refuse to start: its exit
/// code and what it wrote to stderr. Panics if it is still running after
/// 20 s (it started after all).
pub fn refused_start(flags: &[String]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_prompt-runs-gateway"))
        .args(["--addr", "127.0.0.1:0"])
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gateway binary runs");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("its status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the gateway started with {flags:?}, where it should have refused");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("its output");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
