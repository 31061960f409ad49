//! The gateway's logs captured in a test, as the binary writes them.

use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::MakeWriter;

/// Everything logged while it is the default subscriber.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    /// Captures this thread's logs up to `level` until the guard is
    /// dropped, without colours or targets.
    pub fn start(&self, level: tracing::Level) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_target(false)
            .with_max_level(level)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// The request log's lines for the answer to `path`.
    pub fn answered(&self, path: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| line.contains(&format!("path={path}}}")) && line.contains("answered"))
            .map(str::to_owned)
            .collect()
    }
}
