//! The dashboard's body: the services' CPU and memory, the load balancer's traffic, errors and latency, the
//! database's CPU, free storage and connections, the cache members' CPU, memory, connections and
//! evictions — each graph on the real resources.

use serde_json::{json, Value};

use super::upstream::{Cache, Watched};

/// One row of two graphs per watched kind.
pub fn body(region: &str, w: &Watched) -> Value {
    let mut widgets: Vec<Value> = Vec::new();
    let mut y = 0;
    let mut row = |left: Value, right: Value| {
        widgets.push(widget(region, 0, y, left));
        widgets.push(widget(region, 12, y, right));
        y += 6;
    };
    if let Some(cluster) = &w.cluster {
        if !w.services.is_empty() {
            let per_service = |metric: &str| -> Vec<Value> {
                w.services
                    .iter()
                    .map(|s| {
                        json!([
                            "AWS/ECS",
                            metric,
                            "ClusterName",
                            cluster,
                            "ServiceName",
                            s.name
                        ])
                    })
                    .collect()
            };
            row(
                graph(
                    "ECS services: CPU %",
                    per_service("CPUUtilization"),
                    "Average",
                ),
                graph(
                    "ECS services: memory %",
                    per_service("MemoryUtilization"),
                    "Average",
                ),
            );
        }
    }
    if let Some(lb) = &w.alb {
        let lb = lb.shown("hms-ecs");
        let elb = |metric: &str| json!(["AWS/ApplicationELB", metric, "LoadBalancer", lb]);
        row(
            graph(
                "Load balancer: requests and target 5xx",
                vec![elb("RequestCount"), elb("HTTPCode_Target_5XX_Count")],
                "Sum",
            ),
            graph(
                "Load balancer: target response time (s)",
                vec![elb("TargetResponseTime")],
                "Average",
            ),
        );
    }
    if let Some(db) = &w.db {
        let db = db.id.shown("hms-db");
        let rds = |metric: &str| json!(["AWS/RDS", metric, "DBInstanceIdentifier", db]);
        row(
            graph(
                "Database: CPU % and connections",
                vec![
                    rds("CPUUtilization"),
                    json!(["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", db, {"yAxis": "right"}]),
                ],
                "Average",
            ),
            graph(
                "Database: free storage (bytes)",
                vec![rds("FreeStorageSpace")],
                "Minimum",
            ),
        );
    }
    if let Some(Cache::Planned) = &w.cache {
        // The cache row once its members are known (no dashboard is written without it meanwhile).
        row(
            graph("Cache: (known after hms-cache up)", Vec::new(), "Average"),
            graph("Cache: connections and evictions", Vec::new(), "Sum"),
        );
    }
    if let Some(Cache::Members(members)) = &w.cache {
        let per_member = |metric: &str| -> Vec<Value> {
            members
                .iter()
                .map(|m| json!(["AWS/ElastiCache", metric, "CacheClusterId", m]))
                .collect()
        };
        row(
            graph(
                "Cache: engine CPU % and memory % of maxmemory",
                [
                    per_member("EngineCPUUtilization"),
                    per_member("DatabaseMemoryUsagePercentage"),
                ]
                .concat(),
                "Average",
            ),
            graph(
                "Cache: connections and evictions",
                [per_member("CurrConnections"), per_member("Evictions")].concat(),
                "Maximum",
            ),
        );
    }
    json!({ "widgets": widgets })
}

/// A graph's title, metrics and statistic.
fn graph(title: &str, metrics: Vec<Value>, stat: &str) -> Value {
    json!({ "title": title, "stat": stat, "metrics": metrics })
}

fn widget(region: &str, x: i32, y: i32, graph: Value) -> Value {
    json!({
        "type": "metric",
        "x": x, "y": y, "width": 12, "height": 6,
        "properties": {
            "title": graph["title"],
            "region": region,
            "stat": graph["stat"],
            "period": 300,
            "view": "timeSeries",
            "metrics": graph["metrics"],
        }
    })
}
