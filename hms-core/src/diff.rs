//! The generic diff behind every tool's `plan`: desired resources against found ones.
//!
//! A tool describes each resource it wants as a [`Desired`] (address, compared attributes, tags, which
//! attributes force a replacement, what it uses) and each one it found as a [`Found`]. Attribute values
//! that refer to other resources hold their addresses, not ids, so that a plan can be made before the ids
//! exist. [`diff`] then decides create / update / replace / delete, and replaces whatever uses a resource
//! that is replaced.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::plan::{Action, Change, Plan};
use crate::state::{Resource, Resources};

/// Tags as a sorted map.
pub type Tags = BTreeMap<String, String>;

/// A resource as the spec wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub address: String,
    /// Compared attributes.
    pub attrs: Map<String, Value>,
    /// `None`: the resource's tags are not managed.
    pub tags: Option<Tags>,
    /// Attributes that cannot change in place.
    pub replace_on: &'static [&'static str],
    /// Addresses this resource uses.
    pub depends_on: Vec<String>,
    /// Addresses that must exist before it is made, without making it replaced when they are (a service
    /// needs its load balancer rule first, but a moved rule does not make a new service).
    pub after: Vec<String>,
}

impl Desired {
    /// A desired resource with no attributes yet.
    pub fn new(address: impl Into<String>) -> Self {
        Desired {
            address: address.into(),
            attrs: Map::new(),
            tags: None,
            replace_on: &[],
            depends_on: Vec::new(),
            after: Vec::new(),
        }
    }

    /// Sets a compared attribute.
    pub fn attr(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.attrs.insert(key.to_owned(), value.into());
        self
    }

    /// Orders after these addresses without depending on them for replacement.
    pub fn after<I: IntoIterator<Item = S>, S: Into<String>>(mut self, deps: I) -> Self {
        self.after.extend(deps.into_iter().map(Into::into));
        self
    }

    /// Manages the resource's tags.
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = Some(tags);
        self
    }

    /// Attributes that force a replacement.
    pub fn replace_on(mut self, keys: &'static [&'static str]) -> Self {
        self.replace_on = keys;
        self
    }

    /// Adds dependencies.
    pub fn uses<I: IntoIterator<Item = S>, S: Into<String>>(mut self, deps: I) -> Self {
        self.depends_on.extend(deps.into_iter().map(Into::into));
        self
    }
}

/// A resource as observed in AWS.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub id: String,
    /// Attributes comparable with [`Desired::attrs`].
    pub attrs: Map<String, Value>,
    /// `None` when the resource cannot carry tags.
    pub tags: Option<Tags>,
    /// Other facts worth recording in state (ARNs, public IPs), not compared.
    pub info: Map<String, Value>,
    /// Addresses this resource uses (for the order of deletes).
    pub depends_on: Vec<String>,
}

impl Found {
    /// A found resource with just an id.
    pub fn new(id: impl Into<String>) -> Self {
        Found {
            id: id.into(),
            attrs: Map::new(),
            tags: None,
            info: Map::new(),
            depends_on: Vec::new(),
        }
    }

    /// Sets a compared attribute.
    pub fn attr(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.attrs.insert(key.to_owned(), value.into());
        self
    }

    /// Records a fact.
    pub fn info(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.info.insert(key.to_owned(), value.into());
        self
    }

    /// Sets the observed tags (AWS's own `aws:` tags are ignored).
    pub fn tags<I, K, V>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.tags = Some(
            tags.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(k, _)| !k.starts_with("aws:"))
                .collect(),
        );
        self
    }

    /// Adds dependencies.
    pub fn uses<I: IntoIterator<Item = S>, S: Into<String>>(mut self, deps: I) -> Self {
        self.depends_on.extend(deps.into_iter().map(Into::into));
        self
    }

    /// The state record of this resource.
    pub fn record(&self) -> Resource {
        let mut attrs = self.attrs.clone();
        attrs.extend(self.info.clone());
        Resource {
            id: self.id.clone(),
            attrs,
        }
    }
}

/// All found resources by address.
pub type FoundSet = BTreeMap<String, Found>;

/// State records of all found resources.
pub fn records(found: &FoundSet) -> Resources {
    found.iter().map(|(a, f)| (a.clone(), f.record())).collect()
}

fn with_tags(attrs: &Map<String, Value>, tags: Option<&Tags>) -> Value {
    let mut m = attrs.clone();
    if let Some(t) = tags {
        m.insert(
            "tags".into(),
            Value::Object(
                t.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                    .collect(),
            ),
        );
    }
    Value::Object(m)
}

/// Plans the changes that turn `found` into `desired`.
pub fn diff(desired: &[Desired], found: &FoundSet) -> Plan {
    let mut actions: BTreeMap<&str, (Action, String)> = BTreeMap::new();
    for d in desired {
        let decided = match found.get(&d.address) {
            None => (Action::Create, String::from("new")),
            Some(f) => {
                let changed: Vec<&String> = d
                    .attrs
                    .keys()
                    .filter(|k| d.attrs.get(*k) != f.attrs.get(*k))
                    .collect();
                let tags_differ = match (&d.tags, &f.tags) {
                    (Some(want), Some(have)) => want != have,
                    (Some(want), None) => !want.is_empty(),
                    (None, _) => false,
                };
                if let Some(k) = changed.iter().find(|k| d.replace_on.contains(&k.as_str())) {
                    (Action::Replace, format!("{k} cannot change in place"))
                } else if !changed.is_empty() {
                    let keys: Vec<&str> = changed.iter().map(|k| k.as_str()).collect();
                    let mut why = format!(
                        "{} differ{}",
                        keys.join(", "),
                        if keys.len() == 1 { "s" } else { "" }
                    );
                    if tags_differ {
                        why.push_str(", tags differ");
                    }
                    (Action::Update, why)
                } else if tags_differ {
                    (Action::Update, String::from("tags differ"))
                } else {
                    (Action::NoOp, String::from("unchanged"))
                }
            }
        };
        actions.insert(d.address.as_str(), decided);
    }
    // Whatever uses a replaced resource is replaced with it (a subnet's association, a NAT in it).
    loop {
        let replaced: BTreeSet<&str> = actions
            .iter()
            .filter(|(_, (a, _))| *a == Action::Replace)
            .map(|(k, _)| *k)
            .collect();
        let mut grew = false;
        for d in desired {
            let Some((action, why)) = actions.get_mut(d.address.as_str()) else {
                continue;
            };
            if matches!(action, Action::NoOp | Action::Update) {
                if let Some(dep) = d.depends_on.iter().find(|x| replaced.contains(x.as_str())) {
                    *action = Action::Replace;
                    *why = format!("{dep} is replaced");
                    grew = true;
                }
            }
        }
        if !grew {
            break;
        }
    }
    let mut plan = Plan::default();
    for d in desired {
        let Some((action, why)) = actions.get(d.address.as_str()) else {
            continue;
        };
        let before = found
            .get(&d.address)
            .map(|f| with_tags(&f.attrs, f.tags.as_ref()));
        let after = Some(with_tags(&d.attrs, d.tags.as_ref()));
        plan.push(
            Change::new(*action, d.address.clone(), why.clone())
                .values(before, after)
                .uses(d.depends_on.iter().chain(d.after.iter()).cloned()),
        );
    }
    let wanted: BTreeSet<&str> = desired.iter().map(|d| d.address.as_str()).collect();
    for (address, f) in found {
        if !wanted.contains(address.as_str()) {
            plan.push(
                Change::new(Action::Delete, address.clone(), "no longer in the config")
                    .values(Some(with_tags(&f.attrs, f.tags.as_ref())), None)
                    .uses(f.depends_on.clone()),
            );
        }
    }
    plan
}

/// Plans the deletion of everything found.
pub fn delete_all(found: &FoundSet, reason: &str) -> Plan {
    let mut plan = Plan::default();
    for (address, f) in found {
        plan.push(
            Change::new(Action::Delete, address.clone(), reason)
                .values(Some(with_tags(&f.attrs, f.tags.as_ref())), None)
                .uses(f.depends_on.clone()),
        );
    }
    plan
}

/// The tags of a change's `after` (or `before`) value.
pub fn change_tags(v: Option<&Value>) -> Tags {
    v.and_then(|v| v.get("tags"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Tags to set and tag keys to remove to go from `before` to `after`.
pub fn tag_delta(before: &Tags, after: &Tags) -> (Tags, Vec<String>) {
    let set: Tags = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove: Vec<String> = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .cloned()
        .collect();
    (set, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn subnet(cidr: &str) -> Desired {
        Desired::new("subnet")
            .attr("cidr_block", cidr)
            .tags(tags(&[("Name", "a")]))
            .replace_on(&["cidr_block"])
            .uses(["vpc"])
    }

    fn found_subnet(cidr: &str, t: &[(&str, &str)]) -> Found {
        Found::new("subnet-1")
            .attr("cidr_block", cidr)
            .tags(t.iter().copied())
            .uses(["vpc"])
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            desired: Vec<Desired>,
            found: FoundSet,
            want: Vec<(&'static str, Action)>,
        }
        let vpc = Desired::new("vpc")
            .attr("cidr_block", "10.0.0.0/16")
            .replace_on(&["cidr_block"]);
        let found_vpc = |cidr: &str| {
            (
                "vpc".to_owned(),
                Found::new("vpc-1").attr("cidr_block", cidr),
            )
        };
        let assoc = Desired::new("assoc")
            .attr("subnet", "subnet")
            .uses(["subnet"]);
        let found_assoc = (
            "assoc".to_owned(),
            Found::new("a-1").attr("subnet", "subnet").uses(["subnet"]),
        );
        let cases = vec![
            Case {
                name: "empty account creates everything",
                desired: vec![vpc.clone(), subnet("10.0.1.0/24")],
                found: FoundSet::new(),
                want: vec![("vpc", Action::Create), ("subnet", Action::Create)],
            },
            Case {
                name: "converged is empty",
                desired: vec![vpc.clone(), subnet("10.0.1.0/24")],
                found: FoundSet::from([
                    found_vpc("10.0.0.0/16"),
                    (
                        "subnet".into(),
                        found_subnet("10.0.1.0/24", &[("Name", "a"), ("aws:cloudformation", "x")]),
                    ),
                ]),
                want: vec![],
            },
            Case {
                name: "a tag change is an update in place",
                desired: vec![subnet("10.0.1.0/24")],
                found: FoundSet::from([(
                    "subnet".into(),
                    found_subnet("10.0.1.0/24", &[("Name", "b")]),
                )]),
                want: vec![("subnet", Action::Update)],
            },
            Case {
                name: "a cidr change replaces, and what uses it",
                desired: vec![subnet("10.0.9.0/24"), assoc.clone()],
                found: FoundSet::from([
                    (
                        "subnet".into(),
                        found_subnet("10.0.1.0/24", &[("Name", "a")]),
                    ),
                    found_assoc.clone(),
                ]),
                want: vec![("subnet", Action::Replace), ("assoc", Action::Replace)],
            },
            Case {
                name: "a removed resource is deleted",
                desired: vec![],
                found: FoundSet::from([(
                    "subnet".into(),
                    found_subnet("10.0.1.0/24", &[("Name", "a")]),
                )]),
                want: vec![("subnet", Action::Delete)],
            },
        ];
        for c in cases {
            let plan = diff(&c.desired, &c.found);
            let got: Vec<(&str, Action)> = plan
                .changes
                .iter()
                .map(|x| (x.address.as_str(), x.action))
                .collect();
            assert_eq!(got, c.want, "{}", c.name);
        }
    }

    #[test]
    fn deltas() {
        let (set, remove) = tag_delta(
            &tags(&[("a", "1"), ("b", "2")]),
            &tags(&[("a", "1"), ("c", "3")]),
        );
        assert_eq!(set, tags(&[("c", "3")]));
        assert_eq!(remove, vec!["b".to_owned()]);
    }
}
