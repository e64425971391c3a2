//! tickd: the tick processing daemon. Thin: parse flags, load the config,
//! start logging, hand over to `engine::daemon`, map errors to exit codes.
//!
//! Exit codes: 0 clean stop, 1 runtime failure (or drain over the timeout),
//! 2 bad command line or configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use engine::config::Config;

/// The tickd tick processing daemon.
#[derive(Parser, Debug)]
#[command(name = "tickd", version, about)]
struct Args {
    /// Configuration file (TOML); without it the built-in defaults apply
    /// (they equal config/tickd.toml).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override one key, e.g. --set workers.threads=2 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
    /// Validate a configuration file and exit (0: valid, 2: not).
    #[arg(long, value_name = "FILE")]
    check_config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = &args.check_config {
        return match Config::load(Some(path), &args.set) {
            Ok(_) => {
                println!("{}: ok", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tickd: {e}");
                ExitCode::from(2)
            }
        };
    }
    let cfg = match Config::load(args.config.as_deref(), &args.set) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tickd: {e}");
            return ExitCode::from(2);
        }
    };
    if args.print_config {
        print!("{}", cfg.to_toml());
        return ExitCode::SUCCESS;
    }
    let log = match engine::logging::init(&cfg.log_level, cfg.log_file.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tickd: cannot open the log file: {e}");
            return ExitCode::from(2);
        }
    };
    match engine::daemon::run(cfg, log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("tickd: {e}");
            ExitCode::from(1)
        }
    }
}
