//! `cargo xtask run`: builds the app and serves it, with the API and the
//! offline models, from the gateway.

use crate::{
    build_release_app, run_cmd, step, Ctx, Result, DEFAULT_PORT, GATEWAY_PACKAGE, SERVE_ADDRESS,
};
use std::process::Command;

/// Builds the release app and serves it on `--port` (8000 by default) until stopped.
pub(crate) fn run(ctx: &Ctx, args: &[String]) -> Result {
    let port = match args {
        [] => DEFAULT_PORT,
        [flag, port] if flag == "--port" => port
            .parse()
            .map_err(|_| format!("not a port number: `{port}`"))?,
        _ => {
            return Err(format!(
                "unexpected arguments {args:?}; usage: cargo xtask run [--port N]"
            ))
        }
    };
    step("run: trunk build --release (the app), then the gateway serves it and the API");
    build_release_app(ctx)?;
    println!("[xtask] the app will be at  http://{SERVE_ADDRESS}:{port}/   (Ctrl-C to stop)\n");
    run_cmd(Command::new(&ctx.cargo).current_dir(&ctx.root).args([
        "run",
        "-p",
        GATEWAY_PACKAGE,
        "--",
        "--addr",
        &format!("{SERVE_ADDRESS}:{port}"),
        "--static-dir",
        "dist",
    ]))
}
