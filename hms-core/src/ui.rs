//! Everything a person reads: stderr lines prefixed with the tool's name, live progress on a terminal and
//! one line per event elsewhere (CI logs, pipes). Colour only where a person reads it: stderr a terminal,
//! unless `--no-color` or `NO_COLOR`; `CLICOLOR_FORCE` forces it (anstream's rules, as clap's).

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Error, Result};

/// The stderr writer of one run.
#[derive(Debug)]
pub struct Ui {
    prefix: String,
    verbose: u8,
    quiet: bool,
    color: bool,
    multi: Option<MultiProgress>,
}

impl Ui {
    /// A writer for `tool`; live progress only when stderr is a terminal.
    pub fn new(tool: &str, verbose: u8, quiet: bool) -> Self {
        let live = std::io::stderr().is_terminal() && !quiet && std::env::var_os("CI").is_none();
        Ui {
            prefix: tool.to_owned(),
            verbose,
            quiet,
            color: anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never,
            multi: live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// Turns colour off (`--no-color`).
    pub fn no_color(mut self, off: bool) -> Self {
        if off {
            self.color = false;
        }
        self
    }

    /// Whether lines may carry colour.
    pub fn color(&self) -> bool {
        self.color
    }

    /// `text` in `style` when colour is on.
    fn styled(&self, style: anstyle::Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    fn emit(&self, line: &str) {
        let text = format!("{}: {line}", self.prefix);
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    /// A normal progress or result line (hidden by `-q`).
    pub fn info(&self, line: impl AsRef<str>) {
        if !self.quiet {
            self.emit(line.as_ref());
        }
    }

    /// Detail shown with `-v`.
    pub fn detail(&self, line: impl AsRef<str>) {
        if self.verbose > 0 && !self.quiet {
            self.emit(line.as_ref());
        }
    }

    /// The tool's name, the prefix of every line.
    pub fn tool(&self) -> &str {
        &self.prefix
    }

    /// Whether `-v` was given.
    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    /// A warning (hidden by `-q`).
    pub fn warn(&self, line: impl AsRef<str>) {
        if !self.quiet {
            let label = self.styled(
                anstyle::Style::new()
                    .bold()
                    .fg_color(Some(anstyle::AnsiColor::Yellow.into())),
                "warning:",
            );
            self.emit(&format!("{label} {}", line.as_ref()));
        }
    }

    /// An error: always shown, one line per line of the message.
    pub fn error(&self, msg: impl AsRef<str>) {
        let mut lines = msg.as_ref().lines();
        if let Some(first) = lines.next() {
            let label = self.styled(
                anstyle::Style::new()
                    .bold()
                    .fg_color(Some(anstyle::AnsiColor::Red.into())),
                "error:",
            );
            self.emit(&format!("{label} {first}"));
        }
        for l in lines {
            self.emit(l);
        }
    }

    /// Starts a task shown live on a terminal (a spinner with elapsed time); elsewhere it prints only what
    /// its owner reports.
    pub fn task(&self, label: impl Into<String>) -> Task<'_> {
        let label = label.into();
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(self.prefix.clone());
            bar.set_message(label.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Task {
            ui: self,
            label,
            bar,
            start: Instant::now(),
        }
    }
}

/// One piece of work in progress.
#[derive(Debug)]
pub struct Task<'a> {
    ui: &'a Ui,
    label: String,
    bar: Option<ProgressBar>,
    start: Instant,
}

impl Task<'_> {
    /// Updates the live status; off a terminal, printed only with `-v` or when `always`.
    pub fn status(&self, msg: &str, always: bool) {
        match &self.bar {
            Some(b) => b.set_message(format!("{}: {msg}", self.label)),
            None if always => {
                self.ui
                    .info(format!("{}: {msg} ({})", self.label, elapsed(self.start)))
            }
            None => self.ui.detail(format!("{}: {msg}", self.label)),
        }
    }

    /// Time since the task started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Ends the task with a result line.
    pub fn done(self, msg: &str) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        self.ui
            .info(format!("{}: {msg} ({})", self.label, elapsed(self.start)));
    }

    /// Ends the task without a line (the caller reports the failure).
    pub fn abandon(self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// `0.4s`, `12s`, `3m05s`.
pub fn elapsed(start: Instant) -> String {
    fmt_duration(start.elapsed())
}

/// A short human duration.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1}s")
    } else if s < 60.0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// How long a wait may take: at most `timeout`, and with `defer` (an overlapped pipeline's early pass) not at
/// all: a resource that is not ready at the first look is [`Error::Deferred`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    pub timeout: Duration,
    pub defer: bool,
}

impl From<Duration> for Patience {
    /// A wait that is never deferred (deletions, a rollout someone waits for, a snapshot).
    fn from(timeout: Duration) -> Self {
        Patience {
            timeout,
            defer: false,
        }
    }
}

/// The longest pause between two looks at a resource: short enough that a pipeline waiting on a 15-minute
/// database does not add a quarter of a minute to it, long enough to stay far below AWS's describe limits.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Polls `check` until it returns `Some`, with growing intervals (1 s up to [`MAX_POLL_INTERVAL`]) and at
/// most `patience.timeout`; with `patience.defer`, looks once. Progress goes to `task`: live on a terminal, a
/// line every 30 s elsewhere.
pub async fn wait_until<T, F, Fut>(
    task: &Task<'_>,
    resource: &str,
    what: &str,
    patience: impl Into<Patience>,
    mut check: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let Patience { timeout, defer } = patience.into();
    let start = Instant::now();
    let mut interval = Duration::from_secs(1);
    let mut last_line = Instant::now();
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if defer {
            return Err(Error::Deferred {
                resource: resource.to_owned(),
                what: what.to_owned(),
            });
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                resource: resource.to_owned(),
                what: what.to_owned(),
                after: timeout,
            });
        }
        let report = last_line.elapsed() >= Duration::from_secs(30);
        if report {
            last_line = Instant::now();
        }
        task.status(&format!("waiting until {what}"), report);
        tokio::time::sleep(interval.min(timeout.saturating_sub(start.elapsed()))).await;
        interval = (interval * 2).min(MAX_POLL_INTERVAL);
    }
}
