//! IAM-style policy documents compared by meaning: key order, a single string versus a one-element list,
//! and the order of actions, resources or statements make no difference.

use serde_json::{Map, Value};

/// Keys whose values are a string or a list of strings with the same meaning.
const LISTY: &[&str] = &["Action", "NotAction", "Resource", "NotResource"];

/// The canonical form of a policy document (also of a JSON string holding one; IAM's URL-encoded form is
/// decoded first).
pub fn normalize(doc: &Value) -> Value {
    match doc {
        Value::String(s) => {
            let text = if s.trim_start().starts_with('{') {
                s.clone()
            } else {
                url_decode(s)
            };
            match serde_json::from_str::<Value>(&text) {
                Ok(v @ Value::Object(_)) => normalize(&v),
                _ => Value::String(s.clone()),
            }
        }
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let v = match k.as_str() {
                    "Statement" => {
                        let list = match v {
                            Value::Array(a) => a.clone(),
                            other => vec![other.clone()],
                        };
                        // Key order must not decide statement order: compare canonical (sorted-key) forms.
                        let mut stmts: Vec<Value> =
                            list.iter().map(|x| canonical(&statement(x))).collect();
                        stmts.sort_by_key(|s| s.to_string());
                        Value::Array(stmts)
                    }
                    _ => v.clone(),
                };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The same value with every object's keys in sorted order (serde_json keeps insertion order here).
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn statement(s: &Value) -> Value {
    let Value::Object(m) = s else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in m {
        let v = if LISTY.contains(&k.as_str()) {
            sorted_list(v)
        } else if k == "Principal" || k == "NotPrincipal" {
            match v {
                Value::Object(p) => Value::Object(
                    p.iter()
                        .map(|(pk, pv)| (pk.clone(), sorted_list(pv)))
                        .collect(),
                ),
                other => other.clone(),
            }
        } else if k == "Condition" {
            match v {
                Value::Object(ops) => Value::Object(
                    ops.iter()
                        .map(|(op, kv)| {
                            let kv = match kv {
                                Value::Object(x) => Value::Object(
                                    x.iter()
                                        .map(|(ck, cv)| (ck.clone(), sorted_list(cv)))
                                        .collect(),
                                ),
                                other => other.clone(),
                            };
                            (op.clone(), kv)
                        })
                        .collect(),
                ),
                other => other.clone(),
            }
        } else {
            v.clone()
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

fn sorted_list(v: &Value) -> Value {
    let list: Vec<Value> = match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    let mut list: Vec<Value> = list.iter().map(canonical).collect();
    list.sort_by_key(|x| x.to_string());
    list.dedup();
    Value::Array(list)
}

/// Decodes the URL-encoded form in which IAM returns policy documents.
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_by_meaning() {
        let a = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}]});
        let b = json!({"Statement": {"Resource": ["*"], "Condition": {"StringEquals": {"aws:SourceAccount": ["1"]}},
            "Principal": {"Service": ["ecs-tasks.amazonaws.com"]}, "Action": ["s3:GetObject"], "Effect": "Allow"}, "Version": "2012-10-17"});
        assert_eq!(normalize(&a), normalize(&b));
        let encoded = Value::String(
            "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22%2A%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ecs-tasks.amazonaws.com%22%7D%2C%22Condition%22%3A%7B%22StringEquals%22%3A%7B%22aws%3ASourceAccount%22%3A%221%22%7D%7D%7D%7D".into(),
        );
        assert_eq!(normalize(&encoded), normalize(&a));
        // Regression: two statements whose keys come in another order used to sort differently.
        let two = json!({"Statement": [{"Sid": "A", "Effect": "Allow", "Action": "x:A", "Resource": "*"},
            {"Sid": "B", "Effect": "Allow", "Action": "x:B", "Resource": "*"}]});
        let two_reversed = json!({"Statement": [{"Resource": "*", "Action": "x:B", "Effect": "Allow", "Sid": "B"},
            {"Resource": "*", "Action": "x:A", "Effect": "Allow", "Sid": "A"}]});
        assert_eq!(normalize(&two), normalize(&two_reversed));
        let c = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]});
        assert_ne!(normalize(&a), normalize(&c));
    }
}
