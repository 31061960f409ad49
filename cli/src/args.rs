//! What `prompt-runs` is told on its command line, and where its prompts
//! go ([`Target`]). The gateway's access token comes from the environment
//! only (`PROMPT_RUNS_TOKEN`), as do the providers' keys (the variables the
//! providers file names), so that none shows in a process list or a CI log
//! of the command.

use clap::{Args, Parser, Subcommand};
use prompt_runs::api::wire::DEFAULT_BASE_URL;
use std::path::PathBuf;

/// The environment variable holding the gateway's access token.
pub const TOKEN_ENV: &str = "PROMPT_RUNS_TOKEN";
/// The environment variable naming the gateway, when `--gateway` does not.
pub const GATEWAY_ENV: &str = "PROMPT_RUNS_GATEWAY";
/// The environment variable naming the providers file, when `--providers`
/// does not: the gateway's own, so that both read one file.
pub const PROVIDERS_ENV: &str = "PROMPT_RUNS_PROVIDERS";

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "prompt-runs",
    version,
    about = "Runs prompt-runs experiments headless: in a terminal or in a CI pipeline"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Plans and runs an experiment file against a gateway, or straight
    /// against the providers of a providers file, writes the results, and exits 0 when its checks pass, 1 when they fail, 2 when
    /// it could not run (130 when interrupted).
    Eval(EvalArgs),
}

/// `prompt-runs eval`'s arguments.
#[derive(Clone, Debug, Args)]
pub struct EvalArgs {
    /// The experiment file: the app's export (Experiments, Export), or one
    /// written by hand (docs/experiment-file.md).
    pub experiment: PathBuf,
    /// The gateway that runs the prompts (default http://localhost:8000,
    /// or PROMPT_RUNS_GATEWAY). Its access token, when it needs one, is
    /// read from PROMPT_RUNS_TOKEN.
    #[arg(long, value_name = "URL", conflicts_with = "providers")]
    pub gateway: Option<String>,
    /// Send straight to the providers of this providers file (the
    /// gateway's, docs/providers.md; or PROMPT_RUNS_PROVIDERS), through the
    /// gateway's own code in this process. Their keys are read from the
    /// environment variables the file names.
    #[arg(long, value_name = "FILE")]
    pub providers: Option<PathBuf>,
    /// Send without asking, even when the estimate passes the budget or
    /// some model has no price (the budget still stops the sending once it
    /// is reached).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Most requests in flight at once (fewer while the gateway asks to
    /// slow down).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256), value_name = "N")]
    pub max_concurrency: u16,
    /// Write the experiment and its runs here, as the file the app imports.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the grid here as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write a JUnit XML report here: one test case per row and model.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Exit 0 when at least this share of the runs pass, though some fail:
    /// `0.9` or `90%`.
    #[arg(long, value_parser = parse_share, value_name = "RATE")]
    pub fail_under: Option<f64>,
    /// Where answers are kept between runs (by default the platform's cache
    /// directory, e.g. ~/.cache/prompt-runs/requests).
    #[arg(long, env = "PROMPT_RUNS_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor write the cache: send every request.
    #[arg(long)]
    pub no_cache: bool,
    /// Seconds to wait for the gateway to start answering, and between two
    /// pieces of a streamed answer.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
    /// Ask for whole answers rather than streamed ones (no time to first
    /// token then).
    #[arg(long)]
    pub no_stream: bool,
}

/// Where the prompts go.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// The gateway at this URL.
    Gateway(String),
    /// Straight to the providers this providers file names.
    Providers(PathBuf),
}

impl EvalArgs {
    /// Where the prompts go: `--gateway` or `--providers` (clap refuses
    /// both), else the one of `PROMPT_RUNS_GATEWAY` and
    /// `PROMPT_RUNS_PROVIDERS` that `env` has, else the gateway at
    /// `http://localhost:8000` (the app's default). The command line wins
    /// over the environment, so that `--gateway` still works in a shell
    /// that exported the providers file for a gateway; both variables and
    /// neither flag is refused, as no one said which.
    pub fn target(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Target, String> {
        if let Some(url) = &self.gateway {
            return Ok(Target::Gateway(url.clone()));
        }
        if let Some(file) = &self.providers {
            return Ok(Target::Providers(file.clone()));
        }
        let set = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        match (set(GATEWAY_ENV), set(PROVIDERS_ENV)) {
            (Some(_), Some(_)) => Err(format!(
                "both {GATEWAY_ENV} and {PROVIDERS_ENV} are set: pass --gateway or --providers to say where the prompts go"
            )),
            (Some(url), None) => Ok(Target::Gateway(url)),
            (None, Some(file)) => Ok(Target::Providers(PathBuf::from(file))),
            (None, None) => Ok(Target::Gateway(DEFAULT_BASE_URL.to_owned())),
        }
    }
}

/// A share from 0 to 1, written `0.9` or `90%`.
pub fn parse_share(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let share = match text.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|percent| percent / 100.0),
        None => text.parse::<f64>(),
    }
    .map_err(|_| format!("{text:?} is not a share: write 0.9 or 90%"))?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err(format!("{text} is not between 0 and 1 (0% and 100%)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_is_a_fraction_or_a_percentage_between_0_and_1() {
        assert_eq!(parse_share("0.9"), Ok(0.9));
        assert_eq!(parse_share("90%"), Ok(0.9));
        assert_eq!(parse_share(" 100 % "), Ok(1.0));
        assert!(parse_share("90").unwrap_err().contains("between 0 and 1"));
        assert!(parse_share("ninety").unwrap_err().contains("not a share"));
        assert!(parse_share("-1%").is_err());
    }

    #[test]
    fn the_command_line_reads_as_documented() {
        let cli = Cli::try_parse_from([
            "prompt-runs",
            "eval",
            "exp.json",
            "--gateway",
            "http://127.0.0.1:9",
            "--yes",
            "--max-concurrency",
            "16",
            "--fail-under",
            "80%",
            "--no-cache",
        ])
        .unwrap();
        let Command::Eval(args) = cli.command;
        assert_eq!(args.experiment, PathBuf::from("exp.json"));
        assert_eq!(args.gateway.as_deref(), Some("http://127.0.0.1:9"));
        assert!(args.yes && args.no_cache);
        assert_eq!((args.max_concurrency, args.fail_under), (16, Some(0.8)));
        let refused =
            Cli::try_parse_from(["prompt-runs", "eval", "e.json", "--max-concurrency", "0"]);
        assert!(refused.is_err());
    }

    fn eval_args(flags: &[&str]) -> EvalArgs {
        let mut line = vec!["prompt-runs", "eval", "exp.json"];
        line.extend(flags);
        let Command::Eval(args) = Cli::try_parse_from(line).unwrap().command;
        args
    }

    #[test]
    fn the_prompts_go_to_the_flag_then_the_environment_then_the_default_gateway() {
        let none = |_: &str| None;
        let both = |name: &str| match name {
            GATEWAY_ENV => Some("http://gateway.test".to_owned()),
            PROVIDERS_ENV => Some("env-providers.toml".to_owned()),
            _ => None,
        };
        let providers_only = |name: &str| (name == PROVIDERS_ENV).then(|| "p.toml".to_owned());
        let gateway_flag = eval_args(&["--gateway", "http://127.0.0.1:9"]);
        let providers_flag = eval_args(&["--providers", "providers.toml"]);
        let neither = eval_args(&[]);
        let gateway = |url: &str| Ok(Target::Gateway(url.to_owned()));
        let providers = |file: &str| Ok(Target::Providers(PathBuf::from(file)));
        assert_eq!(gateway_flag.target(&both), gateway("http://127.0.0.1:9"));
        assert_eq!(providers_flag.target(&both), providers("providers.toml"));
        assert_eq!(neither.target(&none), gateway(DEFAULT_BASE_URL));
        assert_eq!(neither.target(&providers_only), providers("p.toml"));
        let refused = neither.target(&both).unwrap_err();
        assert!(
            refused.contains("pass --gateway or --providers"),
            "{refused}"
        );

        let clash = Cli::try_parse_from([
            "prompt-runs",
            "eval",
            "exp.json",
            "--gateway",
            "http://127.0.0.1:9",
            "--providers",
            "providers.toml",
        ]);
        let clash = clash.unwrap_err().to_string();
        assert!(clash.contains("cannot be used with"), "{clash}");
    }
}
