//! A throwaway PostgreSQL server for the gateway's tests and benchmarks:
//! Debian's binaries (`initdb`, `pg_ctl`), a cluster initialized in a
//! temporary directory by an unprivileged user, listening on a free loopback
//! port only, with no password (trust) for local connections; stopped and
//! deleted when dropped, whether the tests passed or not.

use crate::{capture, free_port, is_root, output, run_cmd, which, Result, SERVE_ADDRESS};
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Debian package that provides the server binaries.
pub const PACKAGE: &str = "postgresql";
/// Tells the gateway's tests (at run time) where their PostgreSQL is.
pub const TEST_URL_ENV: &str = "PROMPT_RUNS_TEST_POSTGRES_URL";
/// The unprivileged user Debian's package creates, who runs the server when
/// we are root (PostgreSQL refuses to run as root).
const SERVER_USER: &str = "postgres";
/// The database the tests are given (they create their own beside it).
const DATABASE: &str = "prompt_runs";

/// The server programs xtask runs, all from one directory.
const PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "createdb"];

/// Where Debian installs each PostgreSQL version, as `<version>/bin`.
const DEBIAN_LIB: &str = "/usr/lib/postgresql";

/// The directory holding the server's programs: where the `initdb` on PATH
/// really is (following a symbolic link), else the newest
/// `/usr/lib/postgresql/<version>/bin` (where Debian puts them, off PATH).
pub fn bin_dir() -> Option<PathBuf> {
    find_bin_dir(which("initdb"), Path::new(DEBIAN_LIB))
}

/// [`bin_dir`], given the `initdb` found on PATH and Debian's directory.
fn find_bin_dir(on_path: Option<PathBuf>, debian_lib: &Path) -> Option<PathBuf> {
    let complete = |dir: &Path| PROGRAMS.iter().all(|program| dir.join(program).is_file());
    let on_path = on_path
        .and_then(|initdb| fs::canonicalize(initdb).ok())
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
        .filter(|dir| complete(dir));
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(debian_lib)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            complete(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A PostgreSQL server of our own, stopped and deleted when dropped.
pub struct TestPostgres {
    /// Holds the cluster (`data/`), its socket and its log.
    dir: PathBuf,
    bin: PathBuf,
    /// Whom the server runs as, when we are root.
    run_as: Option<&'static str>,
    /// Where it listens, with the database made for the tests.
    pub url: String,
}

/// How the cluster is tuned.
#[derive(Clone, Copy, PartialEq)]
pub enum Durability {
    /// As shipped: every commit is flushed to disk (for benchmark figures).
    AsShipped,
    /// Nothing flushed (`fsync=off`): quicker, and the tests never crash the
    /// machine under it.
    Off,
}

impl TestPostgres {
    /// Initializes a cluster in a fresh temporary directory, starts it on a
    /// free loopback port, and creates the tests' database.
    pub fn start(durability: Durability) -> Result<TestPostgres> {
        let bin = bin_dir().ok_or(
            "PostgreSQL's initdb and pg_ctl were not found (on PATH or in /usr/lib/postgresql/*/bin): \
             `cargo xtask setup` installs Debian's postgresql package",
        )?;
        let run_as = if is_root() {
            if output("id", &["-u", SERVER_USER]).is_none() {
                return Err(format!(
                    "as root, the tests' PostgreSQL runs as the user `{SERVER_USER}`, which does not exist: \
                     install Debian's {PACKAGE} package (it creates that user)"
                ));
            }
            if which("runuser").is_none() {
                return Err("as root, the tests' PostgreSQL is started with `runuser`, which is missing (util-linux)".into());
            }
            Some(SERVER_USER)
        } else {
            None
        };
        let dir = env::temp_dir().join(format!("prompt-runs-postgres-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let port = free_port()?;
        let server = TestPostgres {
            url: format!("postgres://{SERVER_USER}@{SERVE_ADDRESS}:{port}/{DATABASE}"),
            dir,
            bin,
            run_as,
        };
        if let Some(user) = run_as {
            run_cmd(Command::new("chown").arg(user).arg(&server.dir))?;
        }
        let data = server.dir.join("data");
        // Its long greeting is shown only if it fails.
        capture(server.command("initdb").arg("-D").arg(&data).args([
            "--username",
            SERVER_USER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]))?;
        let mut settings = format!(
            "-c listen_addresses={SERVE_ADDRESS} -p {port} -k {}",
            server.dir.display()
        );
        if durability == Durability::Off {
            settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
        }
        run_cmd(
            server
                .command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(server.dir.join("server.log"))
                .args(["-w", "-t", "60", "-o", &settings, "start"]),
        )
        .map_err(|e| format!("{e}; its log: {}", server.dir.join("server.log").display()))?;
        run_cmd(server.command("createdb").args([
            "-h",
            SERVE_ADDRESS,
            "-p",
            &port.to_string(),
            "-U",
            SERVER_USER,
            DATABASE,
        ]))?;
        println!("[xtask] PostgreSQL for the tests at {}", server.url);
        Ok(server)
    }

    /// One of the server's programs, run as the server's user, from its
    /// directory (which that user can read; our working directory may not be).
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.current_dir(&self.dir);
        command
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .status();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs `command` with a PostgreSQL server of its own (for the gateway's
/// tests or its sync benchmark, one at a time), stopped and deleted afterwards.
pub(crate) fn with_postgres(command: &[String]) -> Result {
    // Flushing every commit as shipped (for figures), or not (quicker tests).
    let (durability, command) = match command {
        [flag, rest @ ..] if flag == "--as-shipped" => (Durability::AsShipped, rest),
        _ => (Durability::Off, command),
    };
    let [program, args @ ..] = command else {
        return Err("usage: cargo xtask with-postgres [--as-shipped] <command> [args…]".into());
    };
    let postgres = TestPostgres::start(durability)?;
    run_cmd(
        Command::new(program)
            .args(args)
            .env(TEST_URL_ENV, &postgres.url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of empty files named `programs` under `root/relative`.
    fn programs(root: &Path, relative: &str, programs: &[&str]) -> PathBuf {
        let dir = root.join(relative);
        fs::create_dir_all(&dir).unwrap();
        for program in programs {
            fs::write(dir.join(program), "").unwrap();
        }
        dir
    }

    #[test]
    fn finds_the_newest_complete_debian_version_when_path_has_none() {
        let root = env::temp_dir().join(format!("xtask-postgres-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let lib = root.join("lib");
        assert_eq!(
            find_bin_dir(None, &lib),
            None,
            "no PostgreSQL at all: install it"
        );
        programs(&lib, "13/bin", &PROGRAMS);
        let newest = programs(&lib, "15/bin", &PROGRAMS);
        programs(&lib, "16/bin", &["initdb", "pg_ctl"]); // no createdb: incomplete
        programs(&lib, "common/bin", &PROGRAMS); // not a version
        assert_eq!(find_bin_dir(None, &lib), Some(newest.clone()));

        // An initdb on PATH whose directory lacks the others (a lone symbolic
        // link, as some images have) does not hide Debian's.
        let lone = programs(&root, "usr-local-bin", &["initdb"]);
        assert_eq!(find_bin_dir(Some(lone.join("initdb")), &lib), Some(newest));
        let local = programs(&root, "opt-pg/bin", &PROGRAMS);
        assert_eq!(
            find_bin_dir(Some(local.join("initdb")), &lib),
            Some(fs::canonicalize(local).unwrap())
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
