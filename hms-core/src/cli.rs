//! Command-line arguments shared by every tool.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

/// Options every tool takes, before or after the command.
#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Config file (repeatable; later files win). Default: ./hms.toml when it exists.
    #[arg(long = "config", value_name = "FILE", global = true)]
    pub config: Vec<PathBuf>,

    /// Override one config value; VALUE is a TOML value, a bare word a string (--set vpc.cidr=10.1.0.0/16).
    #[arg(long = "set", value_name = "KEY=VALUE", global = true)]
    pub set: Vec<String>,

    /// Stack name (default: [stack] name, else "hms").
    #[arg(long, value_name = "NAME", global = true)]
    pub stack: Option<String>,

    /// Environment name (default: [stack] env, else "production").
    #[arg(long, value_name = "NAME", global = true)]
    pub env: Option<String>,

    #[command(flatten)]
    pub aws: AwsArgs,

    /// Where state is kept: a directory or s3://BUCKET/PREFIX (default: [state] url, else .hms/state).
    #[arg(long, value_name = "DIR|S3_URL", env = "HMS_STATE", global = true)]
    pub state: Option<String>,

    /// Longest time to wait for AWS to finish a change (30s, 20m, 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30m", global = true)]
    pub timeout: Duration,

    /// How long to wait for another run's lock before giving up (default: fail at once).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s", global = true)]
    pub lock_timeout: Duration,

    /// More detail on stderr: each step as it starts, waits as they go.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// No colour on stderr (also when NO_COLOR is set).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// `up` in a pipeline: hand early documents on while waiting for AWS, and start on the early
    /// documents of the tools upstream, so that the stack's waits overlap (see the README's "Document").
    #[arg(long, env = "HMS_OVERLAP", value_parser = clap::builder::FalseyValueParser::new(), global = true)]
    pub overlap: bool,
}

/// AWS connection options; the standard `AWS_*` environment variables keep working.
#[derive(Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// AWS region (default: [stack] region, then AWS_REGION, then the profile, then us-east-1).
    #[arg(long, value_name = "REGION", global = true)]
    pub region: Option<String>,

    /// Named profile from ~/.aws/config (default: AWS_PROFILE, then "default").
    #[arg(long, value_name = "NAME", global = true)]
    pub profile: Option<String>,

    /// Send every AWS call to this endpoint (AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> work too).
    #[arg(long, value_name = "URL", global = true)]
    pub endpoint_url: Option<String>,

    /// Attempts per AWS call, with the standard retry mode's jittered backoff (default: [aws] max_attempts, else 8).
    #[arg(long, value_name = "N", global = true)]
    pub max_attempts: Option<u32>,
}

/// No flags of the tool's own for a command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoFlags {}

// By hand rather than derived: a derived `Args` names an argument group after the type, and `up` flattens
// two `NoFlags` (its plan flags and its own) when a tool has neither.
impl clap::FromArgMatches for NoFlags {
    fn from_arg_matches(_: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Ok(NoFlags {})
    }

    fn update_from_arg_matches(&mut self, _: &clap::ArgMatches) -> Result<(), clap::Error> {
        Ok(())
    }
}

impl Args for NoFlags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn group_id() -> Option<clap::Id> {
        None
    }
}

/// The commands every tool has. `P`, `U` and `D` are the tool's own flags (clap `Args` types flattened in):
/// `P` decides the plan and is taken by `plan` and `up` alike, `U` by `up` only, `D` by `down`.
#[derive(Subcommand, Debug, Clone)]
pub enum Command<P: Args = NoFlags, U: Args = NoFlags, D: Args = NoFlags> {
    /// Show what `up` would change; nothing is changed.
    Plan {
        /// Exit 2 when changes are pending, 0 when none (as Terraform).
        #[arg(long)]
        detailed_exitcode: bool,
        /// Print the plan as JSON (format in hms_core::plan_json) on stdout instead of the stack
        /// document: for review and CI, not a pipeline stage.
        #[arg(long)]
        json: bool,
        /// Also save the plan as JSON to FILE, for `up --plan FILE` (stdout keeps the document).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        flags: P,
    },
    /// Create or update until AWS matches the config.
    ///
    /// Run alone by a person (stdin and stderr both terminals), `up` shows the plan and asks for `yes`
    /// before changing anything; --yes skips the question. In a pipeline (stdin a pipe), from make or CI
    /// (no terminal), it proceeds without asking. Changes that delete or replace a resource always need
    /// --allow-destroy.
    Up {
        /// Allow changes that delete or replace a resource.
        #[arg(long)]
        allow_destroy: bool,
        /// Do not ask for confirmation at a terminal.
        #[arg(long)]
        yes: bool,
        /// Apply exactly the plan saved by `plan --out FILE`; refused if AWS or the config changed since.
        #[arg(long = "plan", value_name = "FILE")]
        plan_file: Option<PathBuf>,
        #[command(flatten)]
        plan: P,
        #[command(flatten)]
        flags: U,
    },
    /// Delete everything this tool owns, in reverse dependency order.
    Down {
        /// Do not ask for confirmation (needed off a terminal).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        flags: D,
    },
    /// Take over what a Terraform state manages: map it to this tool's addresses, check it exists,
    /// record it in state and add the hms:* tags (nothing else changes), then show the plan `up` would run.
    ///
    /// Import tool by tool in pipeline order (each reads the outputs of the ones before from the state
    /// store), review each plan, and `terraform state rm` what it took over (it prints the command).
    Import {
        /// The Terraform state: a terraform.tfstate (format version 4), `-` for the JSON of
        /// `terraform show -json` on stdin, or s3://BUCKET/KEY (the S3 backend's object).
        #[arg(long, value_name = "FILE")]
        terraform_state: String,
        /// Add to a state that already records resources (those recorded stay).
        #[arg(long)]
        merge: bool,
        /// Do not add the hms:* tags: import then changes nothing in AWS (the first `up` tags).
        #[arg(long)]
        no_tag: bool,
        #[command(flatten)]
        flags: P,
    },
    /// Print this tool's outputs from state.
    Show {
        /// Check the recorded resources against AWS first.
        #[arg(long)]
        refresh: bool,
    },
    /// Break a stale lock left by a run that died.
    Unlock {
        /// The lock id printed by the run that found the lock held.
        lock_id: String,
    },
    /// Inspect, repair or move the recorded state (not a pipeline stage: prints its own format).
    #[command(subcommand)]
    State(StateCommand),
    /// Print the tool's outputs from state: all as JSON, or one value raw (as `terraform output -raw`).
    Output {
        /// One output (`vpc_id`, `services.backend.name`); raw text for a string.
        name: Option<String>,
    },
    /// Print a shell completion script on stdout (not a pipeline stage).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout; `make man` writes every tool's into man/.
    Man,
    /// Print the IAM policy this tool needs for this stack (not a pipeline stage: prints its own format).
    ///
    /// Least privilege for the role that runs the tool: `plan` only reads, `up` makes every call `up`
    /// can make (deletes included: replacements, drift removal), `down` reads and deletes, `all` the
    /// union. Resources are ARNs of this stack (stack, env, region, account), `aws:ResourceTag/hms:*`
    /// conditions where ids are not known in advance, `aws:RequestTag/hms:*` on creates. With an S3
    /// `--state`, the state store's own permissions are included. The account comes from --account,
    /// else the one `[stack] allowed_account_ids` entry, else one sts:GetCallerIdentity call.
    Permissions {
        /// Which command the policy is for.
        #[arg(long, value_enum, default_value = "all")]
        command: crate::permissions::PolicyCommand,
        /// An IAM policy document, or a Terraform `data "aws_iam_policy_document"` block.
        #[arg(long, value_enum, default_value = "json")]
        format: crate::permissions::PolicyFormat,
        /// The 12-digit account id the ARNs name (no AWS call then).
        #[arg(long, value_name = "ID")]
        account: Option<String>,
    },
}

/// Examples ending each command's help (`{t}` is the tool's name): (command path, text).
const EXAMPLES: &[(&[&str], &str)] = &[
    (
        &["plan"],
        "{t} plan                                  # alone: upstream outputs from the state store
  {t} plan --detailed-exitcode              # exit 2 when changes are pending (CI)
  {t} plan --out {t}.plan && {t} up --plan {t}.plan
  {t} plan --json | jq '.changes[] | {action, address}'",
    ),
    (
        &["up"],
        "{t} up                                    # at a terminal: shows the plan, asks 'yes'
  hms-vpc up | … | {t} up                   # in a pipeline: asks nothing
  {t} up --plan {t}.plan                    # exactly the plan reviewed",
    ),
    (
        &["down"],
        "{t} down                                  # at a terminal: shows what goes, asks 'yes'
  {t} down --yes </dev/null                 # from make or CI",
    ),
    (
        &["show"],
        "{t} show | jq .outputs
  {t} show --refresh                        # check the recorded resources against AWS",
    ),
    (
        &["output"],
        "{t} output
  {t} output NAME                           # one value, raw",
    ),
    (
        &["import"],
        "{t} import --terraform-state terraform.tfstate    # then review the plan it prints
  terraform show -json | {t} import --terraform-state -
  {t} import --terraform-state s3://hospital-tf-state/hms/terraform.tfstate
  {t} import --terraform-state terraform.tfstate --no-tag   # record only: change nothing in AWS",
    ),
    (
        &["unlock"],
        "{t} unlock 7d0e5c1a                       # the id the failed run printed",
    ),
    (&["state", "list"], "{t} state list"),
    (&["state", "show"], "{t} state show ADDRESS"),
    (
        &["state", "rm"],
        "{t} state rm ADDRESS --yes                # forget; the next up adopts it by its tags",
    ),
    (&["state", "mv"], "{t} state mv OLD NEW"),
    (&["state", "pull"], "{t} state pull > {t}.state.json"),
    (&["state", "push"], "{t} state push {t}.state.json"),
    (
        &["state", "bootstrap"],
        "{t} state bootstrap s3://hospital-hms-state/prod",
    ),
    (
        &["state", "migrate"],
        "{t} state migrate --to s3://hospital-hms-state/prod",
    ),
    (
        &["completions"],
        "{t} completions bash > ~/.local/share/bash-completion/completions/{t}
  {t} completions zsh > ~/.zfunc/_{t}
  {t} completions fish > ~/.config/fish/completions/{t}.fish",
    ),
    (&["man"], "{t} man > {t}.1 && man ./{t}.1"),
    (
        &["permissions"],
        "{t} permissions > {t}-policy.json            # plan, up and down of this stack
  {t} permissions --command plan --account 123456789012   # read only, for the plan job of CI
  {t} permissions --state s3://hospital-hms-state/prod    # with the state store's objects
  {t} permissions --format terraform >> iam.tf            # a data \"aws_iam_policy_document\" block
  aws iam put-role-policy --role-name ci-{t} --policy-name {t} --policy-document file://{t}-policy.json",
    ),
];

/// `cmd` with the examples of its common commands at the end of their help, in the tool's name.
pub fn with_examples(mut cmd: clap::Command) -> clap::Command {
    let tool = cmd.get_name().to_owned();
    for (path, text) in EXAMPLES {
        let text = format!("Examples:\n  {}", text.replace("{t}", &tool));
        cmd = match path {
            [one] if cmd.find_subcommand(one).is_some() => {
                cmd.mut_subcommand(*one, |c| c.after_help(text))
            }
            [one, two] if cmd.find_subcommand(one).is_some() => {
                cmd.mut_subcommand(*one, |c| c.mut_subcommand(*two, |c| c.after_help(text)))
            }
            _ => cmd,
        };
    }
    cmd
}

/// The tool's whole command line, kept by [`crate::main`] for `completions` and `man`.
pub(crate) static COMMAND: std::sync::OnceLock<clap::Command> = std::sync::OnceLock::new();

/// `completions SHELL` and `man`: the script or the page on stdout; returns the exit code.
pub(crate) fn print_generated(what: &Generated) -> i32 {
    let Some(cmd) = COMMAND.get() else {
        return crate::error::EXIT_FAILURE;
    };
    let mut cmd = cmd.clone();
    let name = cmd.get_name().to_owned();
    let mut out = std::io::stdout().lock();
    let written = match what {
        Generated::Completions(shell) => {
            clap_complete::generate(*shell, &mut cmd, name.clone(), &mut out);
            Ok(())
        }
        Generated::Man => clap_mangen::Man::new(cmd).render(&mut out),
    };
    match written {
        Ok(()) => crate::error::EXIT_OK,
        Err(e) => {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("{name}: error: cannot write stdout: {e}\n").as_bytes(),
            );
            crate::error::EXIT_FAILURE
        }
    }
}

/// What `completions` and `man` generate.
pub(crate) enum Generated {
    Completions(clap_complete::Shell),
    Man,
}

/// `state …`: what Terraform users reach for when something goes wrong. Each works on this tool's state
/// in the store chosen by `--state` (or `HMS_STATE`, or `[state] url`).
#[derive(Subcommand, Debug, Clone)]
pub enum StateCommand {
    /// One recorded address per line, with its id.
    List,
    /// The recorded attributes of one resource, as JSON.
    Show {
        /// A recorded address (`vpc.subnet.private[us-east-1a]`).
        address: String,
    },
    /// Forget resources without deleting them; a later `up` adopts them again by their tags.
    Rm {
        /// The addresses to forget.
        #[arg(required = true)]
        addresses: Vec<String>,
        /// Do not ask for confirmation (needed off a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Rename a recorded address (after a rename in config), so that nothing is replaced.
    Mv {
        /// The recorded address.
        old: String,
        /// Its new address; refused if it is already recorded.
        new: String,
    },
    /// The raw state document, on stdout.
    Pull,
    /// Replace the state with a state document (from `state pull`); refuses a lower serial unless --force.
    Push {
        /// The document to push, or - for stdin.
        file: String,
        /// Push even when the stored state has a higher serial.
        #[arg(long)]
        force: bool,
    },
    /// Create (or check and fix) an S3 state bucket: versioned, encrypted, private, TLS only.
    Bootstrap {
        /// s3://BUCKET/PREFIX
        url: String,
    },
    /// Copy this stack's state to another store with both locks held; the source is left as it is.
    Migrate {
        /// The target store: a directory or s3://BUCKET/PREFIX.
        #[arg(long)]
        to: String,
        /// Only this tool's state (default: every tool's).
        #[arg(long, value_name = "TOOL")]
        tool: Option<String>,
    },
}

impl<P: Args, U: Args, D: Args> Command<P, U, D> {
    /// The command's name as recorded in the stack document's `runs`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Plan { .. } => "plan",
            Command::Up { .. } => "up",
            Command::Down { .. } => "down",
            Command::Show { .. } => "show",
            Command::Unlock { .. } => "unlock",
            Command::Import { .. } => "import",
            Command::State(_) => "state",
            Command::Output { .. } => "output",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
            Command::Permissions { .. } => "permissions",
        }
    }
}

/// Parses `30s`, `20m`, `1h30m`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (use e.g. 90s, 20m, 1h)"))
}
