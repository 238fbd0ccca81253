//! hms-vpc's flow-log group and the key it is encrypted with (one DescribeLogGroups by its name).

use hms_core::diff::{Found, FoundSet};
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::Addr;
use crate::plan::LOGS_KEY;
use crate::spec::Spec;
use crate::Clients;

/// The group to look at: the one upstream, else the one state recorded (hms-vpc's flow logs turned off
/// since).
fn group(spec: &Spec, state: &State) -> Option<String> {
    spec.flow_log_group.clone().flatten().or_else(|| {
        state
            .id(&Addr::FlowLogsEncryption.to_string())
            .map(str::to_owned)
    })
}

/// The group's name and its KMS key, when the group exists.
pub(super) async fn describe(
    c: &Clients,
    spec: &Spec,
    state: &State,
) -> Result<Option<(String, Option<String>)>> {
    let Some(name) = group(spec, state) else {
        return Ok(None);
    };
    let out = c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&name)
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("{} {name}", Addr::FlowLogsEncryption),
                "logs:DescribeLogGroups",
                e,
            )
        })?;
    Ok(out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name.as_str()))
        .map(|g| (name.clone(), g.kms_key_id().map(str::to_owned))))
}

/// The association when the group is encrypted: its key by address when it is the `logs` key found.
pub(super) fn found(read: Option<(String, Option<String>)>, out: &mut FoundSet) {
    let Some((name, Some(key))) = read else {
        return;
    };
    let logs = Addr::key(LOGS_KEY).to_string();
    let logs_arn = out
        .get(&logs)
        .and_then(|f| f.info.get("arn"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let key = if logs_arn.as_deref() == Some(key.as_str()) {
        logs.clone()
    } else {
        key
    };
    out.insert(
        Addr::FlowLogsEncryption.to_string(),
        Found::new(&name)
            .attr("log_group", name.clone())
            .attr("kms_key", key)
            .uses([logs]),
    );
}
