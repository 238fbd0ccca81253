//! The dashboard (it carries no tags).

use hms_core::diff::{Found, FoundSet};
use hms_core::error::{code_of, is_gone};
use hms_core::{Error, Result};
use serde_json::Value;

use super::Part;
use crate::addr::Addr;
use crate::Clients;

/// The first of `names` that exists (the configured name, then the recorded one).
pub(super) async fn observe(c: &Clients, names: &[String]) -> Result<Part> {
    for n in names {
        if let Some(f) = dashboard(c, n).await? {
            return Ok((FoundSet::from([(Addr::Dashboard.to_string(), f)]), vec![]));
        }
    }
    Ok(Part::default())
}

async fn dashboard(c: &Clients, name: &str) -> Result<Option<Found>> {
    match c
        .cloudwatch
        .get_dashboard()
        .dashboard_name(name)
        .send()
        .await
    {
        Ok(o) => {
            let body = o
                .dashboard_body()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
                .unwrap_or(Value::Null);
            Ok(Some(
                Found::new(name)
                    .attr("name", name)
                    .attr("body", body)
                    .info("arn", o.dashboard_arn().unwrap_or_default()),
            ))
        }
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{} {name}", Addr::Dashboard),
            "cloudwatch:GetDashboard",
            e,
        )),
    }
}
