//! `hms-db snapshot`: a manual snapshot of the instance, tagged as this stack's, waited for until it is
//! available. Asking again with the same name reports that snapshot if it is of this instance.

use hms_core::contract::VerbCtx;
use hms_core::ui::wait_until;
use hms_core::{Error, Result};
use serde_json::{json, Map, Value};

use crate::addr::Addr;
use crate::spec::Spec;
use crate::{Clients, Db};

/// Takes the snapshot `name` (default `<instance>-manual-<UTC time>`); returns `last_snapshot`.
pub async fn snapshot(v: &VerbCtx<'_, Db>, name: Option<&str>) -> Result<Map<String, Value>> {
    let spec = v.spec;
    let c = &v.tool.clients;
    let name = name
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}-manual-{}", spec.identifier, crate::apply::stamp()));
    let arn = create(v, c, spec, &name).await?;
    wait_available(v, c, &name).await?;
    let mut m = Map::new();
    m.insert("last_snapshot".into(), json!({"id": name, "arn": arn}));
    Ok(m)
}

/// Asks for the snapshot; returns its ARN.
async fn create(v: &VerbCtx<'_, Db>, c: &Clients, spec: &Spec, name: &str) -> Result<String> {
    let tags = spec
        .tagger
        .tags(&Addr::Snapshot.to_string(), Some(name))
        .iter()
        .map(|(k, val)| aws_sdk_rds::types::Tag::builder().key(k).value(val).build())
        .collect();
    let created = c
        .rds
        .create_db_snapshot()
        .db_instance_identifier(&spec.identifier)
        .db_snapshot_identifier(name)
        .set_tags(Some(tags))
        .send()
        .await;
    match created {
        Ok(out) => Ok(out
            .db_snapshot()
            .and_then(|s| s.db_snapshot_arn())
            .unwrap_or_default()
            .to_owned()),
        // Asked for before (a run that died waiting): report that snapshot if it is of this instance.
        Err(e) if hms_core::error::code_of(&e) == Some("DBSnapshotAlreadyExists") => {
            let o = c
                .rds
                .describe_db_snapshots()
                .db_snapshot_identifier(name)
                .send()
                .await
                .map_err(|e| {
                    Error::aws(format!("snapshot {name}"), "rds:DescribeDBSnapshots", e)
                })?;
            let snap = o.db_snapshots().first();
            if snap.and_then(|s| s.db_instance_identifier()) != Some(spec.identifier.as_str()) {
                return Err(Error::Refused(format!(
                    "snapshot {name} already exists and is not of {}; choose another --name",
                    spec.identifier
                )));
            }
            v.ctx
                .ui
                .info(format!("snapshot {name} already exists; reporting it"));
            Ok(snap
                .and_then(|s| s.db_snapshot_arn())
                .unwrap_or_default()
                .to_owned())
        }
        Err(e) => Err(Error::aws(
            format!("{} {}", Addr::Instance, spec.identifier),
            "rds:CreateDBSnapshot",
            e,
        )),
    }
}

async fn wait_available(v: &VerbCtx<'_, Db>, c: &Clients, name: &str) -> Result<()> {
    let task = v.ctx.ui.task(format!("snapshot {name}"));
    wait_until(
        &task,
        &format!("snapshot {name}"),
        "it is available",
        v.ctx.timeout,
        || async {
            let o = c
                .rds
                .describe_db_snapshots()
                .db_snapshot_identifier(name)
                .send()
                .await
                .map_err(|e| {
                    Error::aws(format!("snapshot {name}"), "rds:DescribeDBSnapshots", e)
                })?;
            let status = o
                .db_snapshots()
                .first()
                .and_then(|s| s.status())
                .unwrap_or("creating")
                .to_owned();
            task.status(&format!("status {status}"), false);
            Ok((status == "available").then_some(()))
        },
    )
    .await?;
    task.done("available");
    Ok(())
}
