//! hms-vpc's flow-log group encrypted with the `logs` key (AssociateKmsKey); `down` takes the key off
//! again (DisassociateKmsKey), leaving the group to hms-vpc.

use hms_core::apply::Recorder;
use hms_core::error::code_of;
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::Addr;
use crate::plan::LOGS_KEY;
use crate::Clients;

pub(super) async fn associate(
    c: &Clients,
    rec: &Recorder<'_>,
    change: &Change,
) -> Result<Resource> {
    let a = change.address.as_str();
    let group = change
        .after
        .as_ref()
        .and_then(|v| v.get("log_group"))
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Internal(format!("{a}: no log group planned")))?;
    let key = rec
        .resource(&Addr::key(LOGS_KEY).to_string())
        .and_then(|r| r.attr("arn").map(str::to_owned))
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            Error::Internal(format!(
                "{a}: the logs key has no ARN recorded yet (plan order)"
            ))
        })?;
    c.logs
        .associate_kms_key()
        .log_group_name(group)
        .kms_key_id(&key)
        .send()
        .await
        .map_err(|e| Error::aws(format!("{a} {group}"), "logs:AssociateKmsKey", e))?;
    Ok(Resource::new(group).with("kms_key", key))
}

pub(super) async fn disassociate(c: &Clients, change: &Change, group: &str) -> Result<()> {
    match c
        .logs
        .disassociate_kms_key()
        .log_group_name(group)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(Error::aws(
            format!("{} {group}", change.address),
            "logs:DisassociateKmsKey",
            e,
        )),
    }
}
