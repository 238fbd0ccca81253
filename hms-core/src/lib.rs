//! hms-core: what every hms-infra tool shares — config, AWS setup, the stack document, state and locking,
//! tags, plans and their execution, progress and errors.
//!
//! A tool implements [`contract::Tool`] (`spec → observe → plan → apply`); [`engine`] runs it, and its
//! `main.rs` calls [`main`].

pub mod addr;
pub mod apply;
pub mod aws;
pub mod aws_tags;
pub mod cli;
pub mod config;
pub mod contract;
pub mod diff;
pub mod document;
pub mod engine;
pub mod error;
pub mod overlap;
pub mod permissions;
pub mod plan;
pub mod plan_json;
pub mod policy;
pub mod s3;
pub mod secret;
pub mod services;
pub mod state;
pub mod state_cmd;
pub mod tags;
pub mod terraform;
pub mod ui;

pub use error::{Error, Result};

use std::future::Future;

/// Parses the command line (usage errors exit 64, `--help`/`--version` exit 0), runs `run` on a
/// single-threaded runtime and exits with its code. The only place that exits the process.
pub fn main<C, F, Fut>(run: F) -> !
where
    C: clap::Parser + clap::CommandFactory,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = i32>,
{
    let cmd = cli::with_examples(C::command());
    let _ = cli::COMMAND.set(cmd.clone());
    let parsed = cmd
        .try_get_matches()
        .and_then(|m| <C as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) {
                let _ = e.print();
                std::process::exit(error::EXIT_OK); // allow: the one exit of every binary
            }
            // One line, prefixed like every other message: the input and where to read more.
            let cmd = C::command();
            let name = cmd.get_name().to_owned();
            let message = match e.kind() {
                clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                | clap::error::ErrorKind::MissingSubcommand => {
                    let names: Vec<&str> = cmd
                        .get_subcommands()
                        .map(|c| c.get_name())
                        .filter(|n| *n != "help")
                        .collect();
                    format!("a command is required: {}", names.join(", "))
                }
                _ => {
                    let text = e.render().to_string();
                    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
                    let mut first = lines
                        .next()
                        .unwrap_or_default()
                        .trim_start_matches("error: ")
                        .to_owned();
                    if first.ends_with(':') {
                        first = format!("{first} {}", lines.next().unwrap_or_default());
                    }
                    first
                }
            };
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("{name}: error: {message} (see '{name} --help')\n").as_bytes(),
            );
            // The tools downstream in a pipe must see that this one failed.
            let _ = engine::failed_document_from_args(&name, &message).write_stdout();
            std::process::exit(error::EXIT_USAGE); // allow: the one exit of every binary
        }
    };
    let code = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run(cli)),
        Err(e) => {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("error: cannot start the async runtime: {e}\n").as_bytes(),
            );
            error::EXIT_FAILURE
        }
    };
    std::process::exit(code) // allow: the one exit of every binary
}
