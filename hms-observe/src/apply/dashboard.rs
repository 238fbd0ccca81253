//! The dashboard (it carries no tags): PutDashboard creates and updates it.

use hms_core::error::deleted;
use hms_core::state::Resource;
use hms_core::ui::Task;
use hms_core::{Error, Result};

use super::internal;
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

pub(super) async fn put(c: &Clients, spec: &Spec, task: &Task<'_>) -> Result<Resource> {
    let d = spec
        .dashboard
        .as_ref()
        .ok_or_else(|| internal(format!("{}: not in the spec", Addr::Dashboard)))?;
    let out = c
        .cloudwatch
        .put_dashboard()
        .dashboard_name(&d.name)
        .dashboard_body(d.body.to_string())
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("{} {}", Addr::Dashboard, d.name),
                "cloudwatch:PutDashboard",
                e,
            )
        })?;
    // Invalid bodies fail the call; these are warnings about a dashboard that was saved.
    for m in out.dashboard_validation_messages() {
        task.status(
            &format!(
                "warning: {}: {}",
                m.data_path().unwrap_or_default(),
                m.message().unwrap_or_default()
            ),
            true,
        );
    }
    Ok(Resource::new(&d.name))
}

pub(super) async fn delete(c: &Clients, address: &str, name: &str) -> Result<()> {
    deleted(
        c.cloudwatch
            .delete_dashboards()
            .dashboard_names(name)
            .send()
            .await,
        address,
        "cloudwatch:DeleteDashboards",
    )
}
