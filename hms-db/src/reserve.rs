//! `hms-db reserve`: reserved DB instances for the instance as configured. Lists matching offerings with
//! their prices and today's coverage; buys exactly one only with `--purchase --reservation-id ID --yes`,
//! idempotently by reservation id. Never part of `up`; `down` never touches reservations.

use aws_sdk_rds::types::{DbInstance, ReservedDbInstance, ReservedDbInstancesOffering, Tag};
use hms_core::error::code_of;
use hms_core::{Error, Result};
use serde_json::{json, Map, Value};

use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// What `reserve` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub purchase: bool,
    pub reservation_id: Option<String>,
    pub yes: bool,
}

/// The hourly part of an offering's price.
fn hourly(o: &ReservedDbInstancesOffering) -> f64 {
    o.recurring_charges()
        .iter()
        .filter_map(|r| r.recurring_charge_amount())
        .sum()
}

fn offering_json(o: &ReservedDbInstancesOffering) -> Value {
    let hourly = hourly(o);
    json!({
        "offering_id": o.reserved_db_instances_offering_id(),
        "instance_class": o.db_instance_class(),
        "multi_az": o.multi_az(),
        "product": o.product_description(),
        "offering_type": o.offering_type(),
        "years": o.duration().map(|d| d / 31_536_000),
        "fixed_price": o.fixed_price(),
        "hourly_price": hourly,
        "currency": o.currency_code(),
    })
}

fn reservation_json(r: &ReservedDbInstance) -> Value {
    json!({
        "reservation_id": r.reserved_db_instance_id(),
        "offering_id": r.reserved_db_instances_offering_id(),
        "instance_class": r.db_instance_class(),
        "multi_az": r.multi_az(),
        "offering_type": r.offering_type(),
        "years": r.duration().map(|d| d / 31_536_000),
        "fixed_price": r.fixed_price(),
        "state": r.state(),
        "start_time": r.start_time().map(|t| t.to_string()),
        "arn": r.reserved_db_instance_arn(),
    })
}

impl Request {
    /// Refuses a purchase without an id, and an id RDS would not take.
    fn check(&self) -> Result<()> {
        if self.purchase && self.reservation_id.is_none() {
            return Err(Error::usage(
                "reserve --purchase needs --reservation-id ID (it makes the purchase idempotent)",
            ));
        }
        match self
            .reservation_id
            .as_deref()
            .filter(|id| !crate::spec::rds_name_ok(id))
        {
            None => Ok(()),
            Some(id) => Err(Error::usage(format!(
                "reserve --reservation-id {id:?}: 1-255 letters, digits and single '-', starting with a letter"
            ))),
        }
    }
}

/// Runs `reserve`; returns what goes into `outputs.db.reservation*`.
pub async fn reserve(
    c: &Clients,
    ui: &hms_core::ui::Ui,
    spec: &Spec,
    req: &Request,
) -> Result<Map<String, Value>> {
    req.check()?;
    let market = Market::read(c, spec).await?;
    let what = format!(
        "{} PostgreSQL{}, {} year(s), {}",
        spec.instance_class,
        if spec.multi_az { " Multi-AZ" } else { "" },
        spec.reservation_years,
        spec.reservation_offering_type
    );
    market.report(ui, spec, &what);
    let mut out = Map::new();
    out.insert(
        "reservation_offerings".into(),
        Value::Array(market.offerings.iter().map(offering_json).collect()),
    );
    out.insert(
        "reservation_coverage".into(),
        json!({"reserved": market.active(), "running": market.running(spec)}),
    );
    let (true, Some(id)) = (req.purchase, req.reservation_id.as_deref()) else {
        ui.info("nothing bought (reserve --purchase --reservation-id ID --yes buys one; it cannot be undone)");
        return Ok(out);
    };
    // Idempotent by reservation id: an existing one is reported, never bought again.
    if let Some(r) = existing(c, id).await? {
        ui.info(format!(
            "reservation {id} already exists ({}); nothing bought",
            r.state().unwrap_or("?")
        ));
        out.insert("reservation".into(), reservation_json(&r));
        return Ok(out);
    }
    let offering = match market.offerings.as_slice() {
        [one] => one,
        [] => return Err(Error::Refused(format!("no offering matches {what}; nothing bought"))),
        many => {
            return Err(Error::Refused(format!(
                "{} offerings match {what}; narrow it (db.reservation_offering_type, db.reservation_years); nothing bought",
                many.len()
            )))
        }
    };
    if !req.yes {
        return Err(Error::Refused(format!(
            "buying reservation {id} ({what}, fixed {:.2}) cannot be undone; pass --yes to buy it",
            offering.fixed_price().unwrap_or(0.0)
        )));
    }
    let r = purchase(c, spec, offering, id).await?;
    ui.info(format!(
        "bought reservation {id}: {what}, state {}",
        r.state().unwrap_or("?")
    ));
    out.insert("reservation".into(), reservation_json(&r));
    Ok(out)
}

/// The offerings for the instance as configured, the reservations of its class, and the running
/// instances (for coverage): read concurrently.
struct Market {
    offerings: Vec<ReservedDbInstancesOffering>,
    reserved: Vec<ReservedDbInstance>,
    instances: Vec<DbInstance>,
}

impl Market {
    async fn read(c: &Clients, spec: &Spec) -> Result<Self> {
        let years = spec.reservation_years.to_string();
        let offerings = async {
            c.rds
                .describe_reserved_db_instances_offerings()
                .db_instance_class(&spec.instance_class)
                .product_description("postgresql")
                .multi_az(spec.multi_az)
                .duration(&years)
                .offering_type(&spec.reservation_offering_type)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| {
                    Error::aws(
                        "reserved DB instance offerings",
                        "rds:DescribeReservedDBInstancesOfferings",
                        e,
                    )
                })
        };
        let reserved = async {
            c.rds
                .describe_reserved_db_instances()
                .db_instance_class(&spec.instance_class)
                .product_description("postgresql")
                .multi_az(spec.multi_az)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| {
                    Error::aws(
                        "reserved DB instances",
                        "rds:DescribeReservedDBInstances",
                        e,
                    )
                })
        };
        let instances = async {
            c.rds
                .describe_db_instances()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| Error::aws("DB instances", "rds:DescribeDBInstances", e))
        };
        let (offerings, reserved, instances) = tokio::try_join!(offerings, reserved, instances)?;
        Ok(Market {
            offerings,
            reserved,
            instances,
        })
    }

    /// Instances reserved now.
    fn active(&self) -> i32 {
        self.reserved
            .iter()
            .filter(|r| r.state() == Some("active"))
            .map(|r| r.db_instance_count().unwrap_or(1))
            .sum()
    }

    /// Running instances a reservation for the spec would cover.
    fn running(&self, spec: &Spec) -> usize {
        self.instances
            .iter()
            .filter(|i| {
                i.db_instance_class() == Some(spec.instance_class.as_str())
                    && i.engine() == Some("postgres")
                    && i.multi_az() == Some(spec.multi_az)
                    && i.db_instance_status() != Some("deleting")
            })
            .count()
    }

    /// The offerings with their effective hourly prices, and today's coverage, for a person.
    fn report(&self, ui: &hms_core::ui::Ui, spec: &Spec, what: &str) {
        ui.info(format!("offerings for {what}:"));
        for o in &self.offerings {
            let hourly = hourly(o);
            let hours = 8760.0 * f64::from(spec.reservation_years);
            let effective = (o.fixed_price().unwrap_or(0.0) + hourly * hours) / hours;
            ui.info(format!(
                "  {}  fixed {:.2} {}  + {:.4}/hour  (effective {:.4}/hour)",
                o.reserved_db_instances_offering_id().unwrap_or_default(),
                o.fixed_price().unwrap_or(0.0),
                o.currency_code().unwrap_or("USD"),
                hourly,
                effective
            ));
        }
        if self.offerings.is_empty() {
            ui.warn(format!("no offering matches {what}"));
        }
        ui.info(format!(
            "coverage today: {} reserved for {} running {} PostgreSQL{} instance(s)",
            self.active(),
            self.running(spec),
            spec.instance_class,
            if spec.multi_az { " Multi-AZ" } else { "" }
        ));
    }
}

/// The reservation `id`, if it exists.
async fn existing(c: &Clients, id: &str) -> Result<Option<ReservedDbInstance>> {
    match c
        .rds
        .describe_reserved_db_instances()
        .reserved_db_instance_id(id)
        .send()
        .await
    {
        Ok(o) => Ok(o.reserved_db_instances().first().cloned()),
        Err(e) if code_of(&e) == Some("ReservedDBInstanceNotFound") => Ok(None),
        Err(e) => Err(Error::aws(
            format!("reservation {id}"),
            "rds:DescribeReservedDBInstances",
            e,
        )),
    }
}

/// Buys one instance of `offering` as reservation `id`, tagged as this stack's.
async fn purchase(
    c: &Clients,
    spec: &Spec,
    offering: &ReservedDbInstancesOffering,
    id: &str,
) -> Result<ReservedDbInstance> {
    let tags: Vec<Tag> = spec
        .tagger
        .tags(&Addr::Reservation.to_string(), Some(id))
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let bought = c
        .rds
        .purchase_reserved_db_instances_offering()
        .reserved_db_instances_offering_id(
            offering
                .reserved_db_instances_offering_id()
                .unwrap_or_default(),
        )
        .reserved_db_instance_id(id)
        .db_instance_count(1)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("reservation {id}"),
                "rds:PurchaseReservedDBInstancesOffering",
                e,
            )
        })?;
    bought
        .reserved_db_instance()
        .cloned()
        .ok_or_else(|| Error::Internal(format!("reservation {id}: the purchase returned nothing")))
}
