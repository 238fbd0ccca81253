//! The standard `hms:*` tags, resource names, finding resources by tags to adopt them, and tag changes.
//!
//! A change's tags are decided once: its `after` holds every tag the resource must carry (the `hms:*`
//! tags, the stack's `[stack] tags`, `Name`), its `before` what was found. [`TagDelta`] is the difference
//! (keys to set or change, keys to remove), and [`sync`] applies it through a [`TagApi`]: one small adapter
//! per tagging API (`crate::aws_tags`), so that every taggable resource of every tool converges the same way.

use std::collections::BTreeMap;

use crate::diff::{change_tags, Tags};
use crate::document::Identity;
use crate::error::Result;
use crate::plan::Change;

/// Tag: the stack's name.
pub const STACK: &str = "hms:stack";
/// Tag: the environment.
pub const ENV: &str = "hms:env";
/// Tag: the tool that owns the resource.
pub const TOOL: &str = "hms:tool";
/// Tag: the resource's logical address in its tool.
pub const ADDRESS: &str = "hms:address";

/// Tags and names for one tool in one stack and environment.
#[derive(Debug, Clone)]
pub struct Tagger {
    pub id: Identity,
    pub tool: String,
    /// The stack's own tags from `[stack] tags`.
    pub extra: BTreeMap<String, String>,
}

impl Tagger {
    /// A tagger for `tool`.
    pub fn new(id: Identity, tool: &str, extra: BTreeMap<String, String>) -> Self {
        Tagger {
            id,
            tool: tool.to_owned(),
            extra,
        }
    }

    /// Every tag a resource at `address` carries; `name` adds the `Name` tag.
    pub fn tags(&self, address: &str, name: Option<&str>) -> BTreeMap<String, String> {
        let mut t = self.extra.clone();
        t.insert(STACK.into(), self.id.stack.clone());
        t.insert(ENV.into(), self.id.env.clone());
        t.insert(TOOL.into(), self.tool.clone());
        t.insert(ADDRESS.into(), address.to_owned());
        if let Some(n) = name {
            t.insert("Name".into(), n.to_owned());
        }
        t
    }

    /// Tag filters (`tag:hms:stack` = …) that select this tool's resources in a describe call.
    pub fn filters(&self) -> Vec<(String, String)> {
        vec![
            (format!("tag:{STACK}"), self.id.stack.clone()),
            (format!("tag:{ENV}"), self.id.env.clone()),
            (format!("tag:{TOOL}"), self.tool.clone()),
        ]
    }

    /// Whether a resource's tags give it to another stack, env or tool (it carries `hms:stack` but is not
    /// this tool's here): a resource state records is adopted by its id only when they do not.
    pub fn claimed_elsewhere<'a, I>(&self, tags: I) -> bool
    where
        I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
    {
        tags.clone().into_iter().any(|(k, _)| k == STACK) && self.owned_address(tags).is_none()
    }

    /// The address of a resource this tool owns, judged by its tags; `None` when it is not ours. Describe
    /// calls are filtered by tags too, but the check is repeated here because some APIs ignore filters.
    pub fn owned_address<'a, I>(&self, tags: I) -> Option<String>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let (mut stack, mut env, mut tool, mut address) = (false, false, false, None);
        for (k, v) in tags {
            match k {
                STACK => stack = v == self.id.stack,
                ENV => env = v == self.id.env,
                TOOL => tool = v == self.tool,
                ADDRESS => address = Some(v.to_owned()),
                _ => {}
            }
        }
        if stack && env && tool {
            address
        } else {
            None
        }
    }

    /// Whether tags mark a resource of this stack and environment (any tool).
    pub fn in_stack<'a, I>(&self, tags: I) -> bool
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let (mut stack, mut env) = (false, false);
        for (k, v) in tags {
            match k {
                STACK => stack = v == self.id.stack,
                ENV => env = v == self.id.env,
                _ => {}
            }
        }
        stack && env
    }

    /// A resource name: production keeps the reference names (`hms-vpc`); other environments add the env
    /// (`hms-staging-vpc`), so two environments share an account and region without clashes.
    pub fn name(&self, suffix: &str) -> String {
        if self.id.env == "production" {
            format!("{}-{suffix}", self.id.stack)
        } else {
            format!("{}-{}-{suffix}", self.id.stack, self.id.env)
        }
    }
}

/// What to do to a resource's tags: set (add or change) and remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagDelta {
    /// Keys to add or change, with their new values.
    pub set: Tags,
    /// Keys to remove.
    pub remove: Vec<String>,
    /// Every tag the resource carries afterwards (for APIs that replace the whole set).
    pub all: Tags,
}

impl TagDelta {
    /// From the tags found to the tags wanted.
    pub fn between(before: &Tags, after: &Tags) -> Self {
        let set: Tags = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let remove: Vec<String> = before
            .keys()
            .filter(|k| !after.contains_key(*k) && !k.starts_with("aws:"))
            .cloned()
            .collect();
        TagDelta {
            set,
            remove,
            all: after.clone(),
        }
    }

    /// The delta of a planned change (its `before` tags to its `after` tags).
    pub fn of(change: &Change) -> Self {
        Self::between(
            &change_tags(change.before.as_ref()),
            &change_tags(change.after.as_ref()),
        )
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }
}

/// One tagging API (EC2 `CreateTags`/`DeleteTags`, IAM `TagRole`/`UntagRole`, S3 `PutBucketTagging`, …).
/// `write` makes the resource's tags match: most APIs remove `delta.remove` and set `delta.set`; an API
/// that replaces the whole set writes `delta.all`. Errors name the resource and the operation.
#[allow(async_fn_in_trait)]
pub trait TagApi {
    async fn write(&self, id: &str, delta: &TagDelta) -> Result<()>;
}

/// Applies a change's tag delta to the resource `id` through `api`; no call when the tags already match.
pub async fn sync(api: &impl TagApi, id: &str, change: &Change) -> Result<bool> {
    let delta = TagDelta::of(change);
    if delta.is_empty() {
        return Ok(false);
    }
    api.write(id, &delta)
        .await
        .map_err(|e| e.at(&change.address))?;
    Ok(true)
}

/// Picks, for each address, the resource to adopt among those found: the one recorded in state when it is
/// among them, else the first found. Returns the picks and the extra copies (duplicates to report).
pub fn adopt<T, F>(
    found: Vec<(String, T)>,
    state_id: F,
    id_of: impl Fn(&T) -> &str,
) -> (BTreeMap<String, T>, Vec<(String, T)>)
where
    F: Fn(&str) -> Option<String>,
{
    let mut picks: BTreeMap<String, T> = BTreeMap::new();
    let mut extra = Vec::new();
    for (address, item) in found {
        let recorded = state_id(&address);
        match picks.remove(&address) {
            None => {
                picks.insert(address, item);
            }
            Some(prev) => {
                let item_is_recorded = recorded.as_deref() == Some(id_of(&item));
                if item_is_recorded {
                    extra.push((address.clone(), prev));
                    picks.insert(address, item);
                } else {
                    extra.push((address.clone(), item));
                    picks.insert(address, prev);
                }
            }
        }
    }
    (picks, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagger(env: &str) -> Tagger {
        Tagger::new(
            Identity {
                stack: "hms".into(),
                env: env.into(),
                region: "us-east-1".into(),
            },
            "hms-vpc",
            BTreeMap::from([("team".to_owned(), "platform".to_owned())]),
        )
    }

    #[test]
    fn names_keep_reference_in_production() {
        assert_eq!(tagger("production").name("vpc"), "hms-vpc");
        assert_eq!(tagger("staging").name("vpc"), "hms-staging-vpc");
    }

    #[test]
    fn ownership_needs_stack_env_and_tool() {
        let t = tagger("production");
        let tags = t.tags("vpc.vpc", Some("hms-vpc"));
        assert_eq!(tags.get("team").map(String::as_str), Some("platform"));
        let pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(t.owned_address(pairs.clone()), Some("vpc.vpc".to_owned()));
        assert_eq!(tagger("staging").owned_address(pairs), None);
    }

    #[test]
    fn deltas_set_change_and_remove() {
        let t = |pairs: &[(&str, &str)]| -> Tags {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let d = TagDelta::between(
            &t(&[
                ("hms:stack", "hms"),
                ("owner", "a"),
                ("gone", "x"),
                ("aws:cloudformation:stack", "s"),
            ]),
            &t(&[("hms:stack", "hms"), ("owner", "b"), ("new", "1")]),
        );
        assert_eq!(d.set, t(&[("owner", "b"), ("new", "1")]));
        // AWS's own tags are never removed (they cannot be).
        assert_eq!(d.remove, vec!["gone".to_owned()]);
        assert_eq!(d.all.len(), 3);
        assert!(TagDelta::between(&d.all, &d.all).is_empty());
    }

    #[test]
    fn adopt_prefers_the_recorded_copy() {
        let found = vec![
            ("a".to_owned(), "x1".to_owned()),
            ("a".to_owned(), "x2".to_owned()),
        ];
        let (picks, extra) = adopt(found, |_| Some("x2".to_owned()), |s| s.as_str());
        assert_eq!(picks.get("a").map(String::as_str), Some("x2"));
        assert_eq!(extra.len(), 1);
    }
}
