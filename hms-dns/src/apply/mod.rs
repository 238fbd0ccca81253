//! Carries out one step of the plan: the zone, a record set, or a certificate (requested, its validation
//! records written, waited for until ISSUED). Every step is idempotent and records what it made at once.

pub mod certificate;
pub mod record;
pub mod zone;

use hms_core::addr::Address;
use hms_core::apply::Recorder;
use hms_core::contract::Ctx;
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::ui::Task;
use hms_core::{Error, Result};

use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// Runs one step of a change.
pub async fn apply(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    task: &Task<'_>,
) -> Result<Option<Resource>> {
    match Addr::parse(&change.address) {
        Some(Addr::Zone) => zone::apply(c, rec, spec, change, step, task).await,
        Some(Addr::Caa | Addr::Validation(_)) => record::apply(c, rec, change, step).await,
        Some(Addr::Certificate { .. }) => {
            certificate::apply(c, ctx, rec, spec, change, step, task).await
        }
        None => Err(Error::Internal(format!(
            "{}: not an hms-dns address",
            change.address
        ))),
    }
}

/// The zone the records go into, as recorded (created in this run or found).
pub fn zone_id(rec: &Recorder<'_>) -> Result<String> {
    rec.id(&Addr::Zone.to_string())
}
