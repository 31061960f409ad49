//! `cargo xtask setup`: installs what is missing to build and test the app,
//! and skips what is there (CONTRIBUTING.md lists each tool and how it is installed).

use crate::{
    elapsed, install, is_root, ok, output, postgres, run_cmd, step, which, Ctx, Result, WASM_TARGET,
};
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Trunk is pinned: 0.22 needs a newer rustc, and 0.21 only builds with its own lock file.
const TRUNK_VERSION: &str = "0.21.14";
/// binaryen (wasm-opt) from npm, pinned.
const BINARYEN_VERSION: &str = "132";

/// Installs each tool that is missing, in the order the others need them.
pub(crate) fn setup(ctx: &Ctx) -> Result {
    step("setup: checking tools");
    let started = Instant::now();
    setup_wasm_target()?;
    setup_clippy()?;
    setup_system_packages()?;
    setup_trunk(ctx)?;
    setup_wasm_bindgen(ctx)?;
    setup_wasm_opt(ctx)?;
    setup_litellm(ctx)?;
    println!("[xtask] setup complete ({})", elapsed(started));
    Ok(())
}

fn setup_wasm_target() -> Result {
    let installed = output("rustup", &["target", "list", "--installed"])
        .ok_or("`rustup` not found: install Rust with rustup (https://rustup.rs) first")?;
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        ok(&format!("rust target {WASM_TARGET}"));
        return Ok(());
    }
    install(&format!("rust target {WASM_TARGET}"));
    run_cmd(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// Clippy, which `test` runs: rustup's default profile has it, the minimal one not.
fn setup_clippy() -> Result {
    if output("cargo", &["clippy", "--version"]).is_some() {
        ok("clippy");
        return Ok(());
    }
    install("clippy");
    run_cmd(Command::new("rustup").args(["component", "add", "clippy"]))
}

/// Command-line tools that come from Debian packages: (tool on PATH, package providing it).
const SYSTEM_TOOLS: &[(&str, &str)] = &[
    ("cc", "build-essential"),
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    ("npm", "npm"),
];

/// The Debian packages that give the `libxml` crate its library and the
/// pkg-config that finds it.
const LIBXML2_PACKAGES: [&str; 2] = ["pkg-config", "libxml2-dev"];

fn has_libxml2() -> bool {
    output("pkg-config", &["--exists", "libxml-2.0"]).is_some()
}

fn setup_system_packages() -> Result {
    let mut missing = Vec::new();
    for (tool, package) in SYSTEM_TOOLS {
        match which(tool) {
            Some(path) => ok(&format!("{tool} ({})", path.display())),
            None => missing.push(*package),
        }
    }
    // The gateway's tests run against a PostgreSQL server of their own;
    // Debian keeps its programs off PATH.
    match postgres::bin_dir() {
        Some(bin) => ok(&format!(
            "PostgreSQL's initdb and pg_ctl ({})",
            bin.display()
        )),
        None => missing.push(postgres::PACKAGE),
    }
    // The command line's JUnit report is validated by libxml2 in its tests
    // (the `libxml` crate finds the library through pkg-config).
    if has_libxml2() {
        ok("libxml2 (pkg-config libxml-2.0)");
    } else {
        missing.extend(LIBXML2_PACKAGES);
    }
    if missing.is_empty() {
        return Ok(());
    }
    install(&format!("Debian packages {}", missing.join(" ")));
    if which("apt-get").is_none() {
        return Err(format!(
            "missing system packages {missing:?} and no `apt-get` on this machine: install \
             Chromium, its chromedriver, npm, PostgreSQL, pkg-config and libxml2's headers \
             with your package manager, so that `chromium`, `chromedriver`, `npm`, `initdb` \
             and `pg_ctl` are on PATH and `pkg-config libxml-2.0` finds libxml2"
        ));
    }
    let sudo = if is_root() {
        None
    } else if which("sudo").is_some() {
        Some("sudo")
    } else {
        return Err("installing Debian packages needs root (or sudo)".into());
    };
    let apt = |args: &[&str]| {
        let mut cmd = match sudo {
            Some(sudo) => {
                let mut cmd = Command::new(sudo);
                cmd.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
                cmd
            }
            None => Command::new("apt-get"),
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        run_cmd(&mut cmd)
    };
    apt(&["update"])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)?;
    for (tool, _) in SYSTEM_TOOLS {
        if which(tool).is_none() {
            return Err(format!(
                "`{tool}` is still not on PATH after installing {missing:?}"
            ));
        }
    }
    if !has_libxml2() {
        return Err(format!(
            "pkg-config still finds no libxml-2.0 after installing {missing:?}"
        ));
    }
    if postgres::bin_dir().is_none() {
        return Err(format!(
            "PostgreSQL's initdb and pg_ctl are still missing (on PATH and in /usr/lib/postgresql/*/bin) after installing {missing:?}"
        ));
    }
    Ok(())
}

/// A tool built from crates.io with `cargo install`, at a pinned version.
struct CargoTool<'a> {
    /// The crate to install.
    krate: &'a str,
    /// The exact version.
    version: &'a str,
    /// Why this version, shown beside it (may be empty).
    pinned_by: &'a str,
    /// The programs it provides: the first one's `--version` must name
    /// `version`, and every one must be on PATH.
    programs: &'a [&'a str],
    /// Flags for `cargo install` beyond the crate and its version.
    flags: &'a [&'a str],
    /// How long installing takes, for the message.
    takes: &'a str,
}

/// Installs `tool` with `cargo install`, unless the pinned version is there.
fn cargo_install(ctx: &Ctx, tool: &CargoTool) -> Result {
    let CargoTool {
        krate,
        version,
        pinned_by,
        programs,
        flags,
        takes,
    } = tool;
    // Each prints its name and version: `trunk 0.21.14`, `wasm-bindgen 0.2.130`.
    let current = output(programs[0], &["--version"]);
    if version_matches(current.as_deref(), version)
        && programs.iter().all(|program| which(program).is_some())
    {
        ok(&format!("{krate} {version}{pinned_by}"));
        return Ok(());
    }
    install(&format!(
        "{krate} {version}{pinned_by} (found: {}) — {takes}",
        current.as_deref().map(str::trim).unwrap_or("none")
    ));
    run_cmd(
        Command::new(&ctx.cargo)
            .args(["install", krate, "--version", version])
            .args(*flags)
            .current_dir(env::temp_dir()),
    )
}

fn setup_trunk(ctx: &Ctx) -> Result {
    cargo_install(
        ctx,
        &CargoTool {
            krate: "trunk",
            version: TRUNK_VERSION,
            pinned_by: "",
            programs: &["trunk"],
            // Trunk 0.21 does not build against the newest versions of its
            // dependencies: only with its own lock file.
            flags: &["--locked"],
            takes: "builds from crates.io, takes ~10 minutes",
        },
    )
}

fn setup_wasm_bindgen(ctx: &Ctx) -> Result {
    let version = locked_version(&ctx.root.join("Cargo.lock"), "wasm-bindgen")?;
    cargo_install(
        ctx,
        &CargoTool {
            krate: "wasm-bindgen-cli",
            version: &version,
            pinned_by: " (matches Cargo.lock)",
            // The browser tests' runner comes with it.
            programs: &["wasm-bindgen", "wasm-bindgen-test-runner"],
            // Not `--locked`: the CLI's published lock file does not build
            // with every toolchain. `--force`: installs again even when cargo
            // records this version as installed (a program may be missing).
            flags: &["--force"],
            takes: "takes ~3 minutes",
        },
    )
}

/// Where `setup` installs binaryen's `wasm-opt` (see [`setup_wasm_opt`]).
pub(crate) fn binaryen_bin(root: &Path) -> PathBuf {
    root.join("target/tools/node_modules/binaryen/bin")
}

/// LiteLLM's proxy, pinned: the gateway's end-to-end test of its `openai` and
/// `anthropic` adapters runs through it (it answers both APIs with mock
/// answers, no network). In a venv under `target/tools/litellm`, from PyPI.
const LITELLM_VERSION: &str = "1.108.7";

/// Installs LiteLLM's proxy unless the pinned version is there (about
/// 2.5 minutes on a fresh machine, 2 cores; Python 3.9+ with `venv`).
fn setup_litellm(ctx: &Ctx) -> Result {
    let venv = ctx.root.join("target/tools/litellm");
    let pip = venv.join("bin/pip");
    let installed = output(&pip.display().to_string(), &["show", "litellm"]).is_some_and(|shown| {
        shown
            .lines()
            .any(|line| line.trim() == format!("Version: {LITELLM_VERSION}"))
    });
    if installed && venv.join("bin/litellm").exists() {
        ok(&format!(
            "LiteLLM proxy {LITELLM_VERSION} (target/tools/litellm)"
        ));
        return Ok(());
    }
    install(&format!(
        "LiteLLM proxy {LITELLM_VERSION} into target/tools/litellm (about 2.5 minutes)"
    ));
    if !venv.join("bin/python").exists() {
        run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run_cmd(Command::new(&pip).args([
        "install",
        "--quiet",
        &format!("litellm[proxy]=={LITELLM_VERSION}"),
    ]))
}

/// binaryen's `wasm-opt`, for Trunk's release builds. Debian's (version 108)
/// is too old for what current wasm-bindgen emits (reference types): the app
/// it optimizes fails to start. The npm package is a current, pinned build
/// that runs on Node.js, installs in seconds, and lives under `target/tools`.
fn setup_wasm_opt(ctx: &Ctx) -> Result {
    let bin = binaryen_bin(&ctx.root);
    let current = output(
        bin.join("wasm-opt").to_str().unwrap_or_default(),
        &["--version"],
    );
    // `wasm-opt --version` prints `wasm-opt version 132 (version_132)`.
    if !version_matches(current.as_deref(), BINARYEN_VERSION) {
        install(&format!("binaryen {BINARYEN_VERSION} (wasm-opt) from npm"));
        let tools = ctx.root.join("target/tools");
        fs::create_dir_all(&tools)
            .map_err(|e| format!("cannot create {}: {e}", tools.display()))?;
        run_cmd(Command::new("npm").current_dir(&tools).args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--prefix",
            ".",
            &format!("binaryen@{BINARYEN_VERSION}"),
        ]))?;
    } else {
        ok(&format!("binaryen {BINARYEN_VERSION} (wasm-opt)"));
    }
    Ok(())
}

/// True if `--version` output names exactly `version` (as a whole word).
fn version_matches(output: Option<&str>, version: &str) -> bool {
    output.is_some_and(|text| text.split_whitespace().any(|word| word == version))
}

/// The version of `package` recorded in the lock file `lock` (first match).
fn locked_version(lock: &Path, package: &str) -> Result<String> {
    let text =
        fs::read_to_string(lock).map_err(|e| format!("cannot read {}: {e}", lock.display()))?;
    let wanted = format!("name = \"{package}\"");
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
            {
                return Ok(version.to_string());
            }
        }
    }
    Err(format!("no `{package}` package in {}", lock.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matching_is_exact() {
        assert!(version_matches(Some("trunk 0.21.14\n"), "0.21.14"));
        assert!(!version_matches(Some("trunk 0.21.1\n"), "0.21.14"));
        assert!(!version_matches(Some("trunk 0.21.140\n"), "0.21.14"));
        assert!(!version_matches(None, "0.21.14"));
    }

    #[test]
    fn reads_the_wasm_bindgen_version_from_the_lock_file() {
        let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
        let version = locked_version(&lock, "wasm-bindgen").unwrap();
        assert!(version.starts_with("0.2."), "{version}");
        assert!(locked_version(&lock, "no-such-package").is_err());
    }
}
