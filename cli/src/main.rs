//! `prompt-runs`: see the library's documentation (`src/lib.rs`).

use clap::Parser;
use prompt_runs_cli::args::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Eval(args) => prompt_runs_cli::eval(args),
    };
    ExitCode::from(status.code())
}
