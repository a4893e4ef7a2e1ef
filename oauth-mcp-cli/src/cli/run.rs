//! Running a parsed command: what each command prints, and the exit status.

// This module prints the program's output: printing to stdout is its
// product, so clippy's print_stdout lint does not apply here.
#![allow(clippy::print_stdout)]

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use super::{Cli, Command, Format, TraceArgs};
use crate::store;
use crate::trace::{Outcome, Progress, Waiting, render_step, trace_with};

/// Runs the parsed command line; returns the exit status.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Trace(args) => run_trace(&args).await,
        Command::Keys(args) => {
            let _audit = crate::keys::audit_to_stderr();
            match crate::keys::run(&args).await {
                Ok(out) => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {}", e.message);
                    ExitCode::from(e.exit_code)
                }
            }
        }
        Command::Store(args) => {
            let cmd = args.command.command();
            let stdin = std::io::stdin();
            let mut lock = stdin.lock();
            match store::run(&args.store, &cmd, &mut lock).await {
                Ok(out) => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// The progress line: on stderr, rewritten in place while a request waits,
/// erased when it is done. Only for a terminal (see [`run_trace`]).
fn progress_line() -> Progress {
    Arc::new(|w: &Waiting<'_>| {
        let mut err = std::io::stderr().lock();
        let _ = if w.done {
            write!(err, "\r\x1b[2K")
        } else {
            write!(
                err,
                "\r\x1b[2K… waiting for {} {} ({} s)",
                w.method,
                w.url,
                w.elapsed.as_secs()
            )
        };
        let _ = err.flush();
    })
}

async fn run_trace(args: &TraceArgs) -> ExitCode {
    let mut opts = args.options();
    if std::io::stderr().is_terminal() {
        opts.progress = Some(progress_line());
    }
    let verbose = args.verbose;
    let to_stdout = args.format == Format::Text;
    let emit = |s: &str| {
        if to_stdout {
            print!("{s}");
            let _ = std::io::stdout().flush();
        } else {
            eprint!("{s}");
        }
    };
    let report = trace_with(&opts, |step, exchanges| {
        emit(&render_step(step, exchanges, verbose))
    })
    .await;
    emit(&format!("{}\n", report.result_line()));
    let mut code = match report.outcome() {
        Outcome::Failed => ExitCode::from(1),
        Outcome::Warnings if args.strict => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    };
    let json = || serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
    if let Some(path) = &args.save_trace {
        match std::fs::write(path, json() + "\n") {
            Ok(()) => emit(&format!("Trace saved to {}\n", path.display())),
            Err(e) => {
                eprintln!("error: cannot write the trace to {}: {e}", path.display());
                code = ExitCode::from(2);
            }
        }
    }
    match args.format {
        Format::Text => {}
        Format::Mermaid => print!("{}", report.to_mermaid()),
        Format::Json => println!("{}", json()),
    }
    code
}
