//! tickctl: drive and inspect a tickd daemon. Thin: parse, run, map the error
//! to its exit code (see `engine::ctl`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = engine::ctl::Cli::parse();
    match engine::ctl::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tickctl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
