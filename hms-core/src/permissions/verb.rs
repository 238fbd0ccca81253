//! `hms-<tool> permissions`: the policy of [`super`] for this stack on stdout. Reads the config and the
//! identity as every command does; makes no AWS call unless it has to learn the account id (neither
//! `--account` nor a single `[stack] allowed_account_ids` entry), and then only sts:GetCallerIdentity.

use std::io::Write;

use super::{PolicyCommand, PolicyFormat, Request, Vars};
use crate::cli::GlobalArgs;
use crate::config::{AwsConfig, Config, StackConfig, StateConfig};
use crate::contract::Tool;
use crate::engine::{check_identity, identity};
use crate::error::{Error, Result, EXIT_OK};
use crate::state::Location;
use crate::ui::Ui;

/// The permissions every tool needs through hms-core: the account guard's call (it needs no permission
/// in AWS, but a policy that names it documents the call).
pub const CORE: &[super::Permission] = &[super::allow(
    &["sts:GetCallerIdentity"],
    super::READ,
    super::Scope::Any("sts:GetCallerIdentity has no resource (and AWS allows it to everyone)"),
)];

/// Runs `permissions` for tool `T`; returns the exit code.
pub async fn print<T: Tool>(
    ui: &Ui,
    global: &GlobalArgs,
    command: PolicyCommand,
    format: PolicyFormat,
    account: Option<&str>,
) -> i32 {
    match render::<T>(global, command, format, account).await {
        Ok(text) => {
            let mut o = std::io::stdout().lock();
            match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    ui.error(format!("cannot write to stdout: {e}"));
                    crate::error::EXIT_FAILURE
                }
                _ => EXIT_OK,
            }
        }
        Err(e) => {
            ui.error(e.to_string());
            e.exit_code()
        }
    }
}

/// The policy text for `T`.
pub async fn render<T: Tool>(
    global: &GlobalArgs,
    command: PolicyCommand,
    format: PolicyFormat,
    account: Option<&str>,
) -> Result<String> {
    let config = Config::load(&global.config, &global.set)?;
    let stack: StackConfig = config.section("stack")?;
    let id = identity(global, &stack).await;
    check_identity(&config, &stack, &id)?;
    let aws: AwsConfig = config.section("aws")?;
    let state: StateConfig = config.section("state")?;
    let location = Location::parse(global.state.as_deref().or(state.url.as_deref()))?;
    let names = T::permission_names(&config, &id)?;
    let account = match account {
        Some(a) if a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()) => a.to_owned(),
        Some(a) => {
            return Err(Error::usage(format!(
                "--account {a:?}: an AWS account id is 12 digits (aws sts get-caller-identity --query Account)"
            )))
        }
        None => match stack.allowed_account_ids.as_slice() {
            [one] => one.clone(),
            allowed => {
                let sdk = crate::aws::sdk_config(&global.aws, &id.region, aws.max_attempts).await;
                crate::aws::check_credentials(&sdk).await?;
                match crate::aws::check_account(&sdk, allowed).await? {
                    Some(a) => a,
                    None => caller_account(&sdk).await?,
                }
            }
        },
    };
    let vars = Vars::new(&id, &account).with(names);
    let mut list: Vec<super::Permission> = CORE.to_vec();
    list.extend_from_slice(T::PERMISSIONS);
    let s3 = match &location {
        Location::S3(loc) => Some((loc, state.kms_key.as_deref())),
        Location::Local(_) => None,
    };
    let req = Request {
        tool: T::NAME,
        list: &list,
        command,
        vars: &vars,
        state: s3,
    };
    Ok(match format {
        PolicyFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&super::policy(&req))
                .map_err(|e| Error::Internal(e.to_string()))?
        ),
        PolicyFormat::Terraform => super::terraform(&req),
    })
}

async fn caller_account(sdk: &crate::aws::SdkConfig) -> Result<String> {
    let me = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| Error::aws("caller identity", "sts:GetCallerIdentity", e))?;
    Ok(me.account().unwrap_or_default().to_owned())
}
