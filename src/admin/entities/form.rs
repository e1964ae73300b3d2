//! Form-encoded (`application/x-www-form-urlencoded`) and `multipart/form-data` bodies, read into
//! the tree a JSON body would give, the way Kong's Admin API reads them (`kong/api/arguments.lua`
//! and `arguments_decoder.lua`).
//!
//! Kong's key syntax: dots nest records (`config.balancer.algorithm=priority`), `[n]` indexes a
//! list from 1 (`config.targets[1].model.name=gpt-4o`), `[]` appends (`tags[]=a&tags[]=b`), a
//! repeated key is a list (`tags=a&tags=b`), `[word]` is a map key (`headers[x-a]=v`). Values are
//! text here; `infer` types them by the schema afterwards, as Kong does. Errors say which key,
//! never a value: a body may hold credentials.

use serde_yaml_ng::{Mapping, Value};

/// Kong's cap on form arguments (`max_post_args`), answered `Too many arguments`.
pub(super) const MAX_ARGS: usize = 100;

/// A list index in a key larger than this is refused (Kong's tables would be sparse).
const MAX_INDEX: usize = 1024;

/// `name=value` pairs in body order; repeated names stay repeated.
pub(super) type Pairs = Vec<(String, Value)>;

/// The pairs of an `application/x-www-form-urlencoded` body. A name without `=` is `true`, as
/// in nginx.
pub(super) fn urlencoded(body: &[u8]) -> Result<Pairs, String> {
    let mut pairs = Pairs::new();
    for part in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], Some(&part[i + 1..])),
            None => (part, None),
        };
        let name = decode_component(name)
            .ok_or_else(|| format!("form key number {} is not UTF-8", pairs.len() + 1))?;
        let value = match value {
            Some(v) => Value::String(
                decode_component(v).ok_or_else(|| format!("the value of `{name}` is not UTF-8"))?,
            ),
            None => Value::Bool(true),
        };
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// `+` is a space, `%XX` a byte (a `%` not followed by two hex digits stays as it is).
fn decode_component(s: &[u8]) -> Option<String> {
    let hex = |i: usize| s.get(i).and_then(|&c| (c as char).to_digit(16));
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match (s[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
            (b'+', _, _) => out.push(b' '),
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The named parts of a `multipart/form-data` body (`content_type` carries the boundary), each
/// part's content as text.
pub(super) fn multipart(content_type: &str, body: &[u8]) -> Result<Pairs, String> {
    let boundary = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or("multipart/form-data without a boundary")?;
    let delimiter = format!("--{boundary}");
    let mut rest = match find(body, delimiter.as_bytes()) {
        Some(i) => &body[i + delimiter.len()..],
        None => return Err("no part starts with the multipart boundary".into()),
    };
    let next = format!("\r\n--{boundary}");
    let mut pairs = Pairs::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(pairs);
        }
        let part_start = rest
            .strip_prefix(b"\r\n")
            .ok_or("a multipart boundary is not followed by CRLF")?;
        let end = find(part_start, next.as_bytes()).ok_or("a multipart part is not closed")?;
        let part = &part_start[..end];
        rest = &part_start[end + next.len()..];
        let head_end = find(part, b"\r\n\r\n").ok_or("a multipart part has no header end")?;
        let head = std::str::from_utf8(&part[..head_end])
            .map_err(|_| "a multipart part's headers are not UTF-8")?;
        let Some(name) = part_name(head) else {
            continue;
        };
        let content = std::str::from_utf8(&part[head_end + 4..])
            .map_err(|_| format!("the multipart part `{name}` is not UTF-8 text"))?;
        pairs.push((name, Value::String(content.to_string())));
    }
}

/// `name` of a part's `Content-Disposition: form-data; name="..."`.
fn part_name(head: &str) -> Option<String> {
    let disposition = head.split("\r\n").find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(v)
    })?;
    disposition.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        (k.trim() == "name").then(|| v.trim().trim_matches('"').to_string())
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One step of a decoded key.
#[derive(Clone, Debug, PartialEq)]
enum Key {
    Name(String),
    /// A 1-based list position.
    Index(usize),
    /// `[]` at the end of a key: append.
    Append,
}

/// Kong's tree of tables while arguments are combined.
#[derive(Debug)]
enum Node {
    Leaf(Value),
    Table(Vec<(TableKey, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
enum TableKey {
    Name(String),
    Index(usize),
}

/// The pairs as one record, keys decoded and combined as Kong does.
pub(super) fn decode(pairs: Pairs) -> Result<Mapping, String> {
    if pairs.len() > MAX_ARGS {
        return Err("Too many arguments".into());
    }
    // nginx hands Kong a repeated name once, with its values as a list.
    let mut grouped: Vec<(String, Vec<Value>)> = Vec::new();
    for (name, value) in pairs {
        match grouped.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => grouped.push((name, vec![value])),
        }
    }
    let mut root = Vec::new();
    for (name, values) in grouped {
        let keys = keys(&name)?;
        let tree = chain(&keys, values);
        combine(&mut root, tree);
    }
    match to_value(Node::Table(root))? {
        Value::Mapping(m) => Ok(m),
        _ => Ok(Mapping::new()),
    }
}

/// `config.targets[1].model.name` as its steps. Dots split outside brackets; `a[...]` is `a`
/// then one step per bracket (numbers are positions, empty is append, other text a map key).
fn keys(name: &str) -> Result<Vec<Key>, String> {
    let mut out = Vec::new();
    for segment in segments(name) {
        let Some(open) = segment
            .char_indices()
            .skip(1)
            .find(|&(_, c)| c == '[')
            .map(|(i, _)| i)
        else {
            out.push(Key::Name(segment.to_string()));
            continue;
        };
        let brackets = bracket_keys(&segment[open..]);
        if brackets.is_empty() {
            out.push(Key::Name(segment.to_string()));
            continue;
        }
        out.push(Key::Name(segment[..open].to_string()));
        for b in brackets {
            out.push(if b.is_empty() {
                Key::Append
            } else if b.bytes().all(|c| c.is_ascii_digit()) {
                match b.parse::<usize>() {
                    Ok(n) if (1..=MAX_INDEX).contains(&n) => Key::Index(n),
                    _ => return Err(format!("`{name}`: list positions go from 1 to {MAX_INDEX}")),
                }
            } else {
                Key::Name(b.to_string())
            });
        }
    }
    // `[]` means append at the end only; elsewhere Kong takes it as the first position.
    let last = out.len().saturating_sub(1);
    for k in &mut out[..last] {
        if *k == Key::Append {
            *k = Key::Index(1);
        }
    }
    Ok(out)
}

/// The dot-separated parts of a key; a dot inside `[...]` does not split (`headers[x.y]`).
fn segments(name: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    let b = name.as_bytes();
    while i < b.len() {
        match b[i] {
            b'[' => {
                if let Some(close) = name[i..].find(']') {
                    i += close;
                }
            }
            b'.' => {
                out.push(&name[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&name[start..]);
    out.retain(|s| !s.is_empty());
    out
}

/// The contents of each `[...]` in `s` (text outside brackets is skipped, as Kong's pattern does).
fn bracket_keys(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        match rest[open..].find(']') {
            Some(close) => {
                out.push(&rest[open + 1..open + close]);
                rest = &rest[open + close + 1..];
            }
            None => break,
        }
    }
    out
}

/// One argument as a chain of tables ending in its value (a list when the name was repeated).
fn chain(keys: &[Key], values: Vec<Value>) -> Vec<(TableKey, Node)> {
    let Some((last, parents)) = keys.split_last() else {
        return Vec::new();
    };
    let list = |values: Vec<Value>| {
        Node::Table(
            values
                .into_iter()
                .enumerate()
                .map(|(i, v)| (TableKey::Index(i + 1), Node::Leaf(v)))
                .collect(),
        )
    };
    let mut node = match (last, values.len()) {
        (Key::Append, _) => list(values),
        (_, 1) => Node::Leaf(values.into_iter().next().unwrap_or(Value::Null)),
        _ => list(values),
    };
    let mut steps: Vec<TableKey> = parents.iter().map(table_key).collect();
    if *last != Key::Append {
        steps.push(table_key(last));
    }
    let Some(first) = steps.first().cloned() else {
        // `[]` alone: nothing to name.
        return Vec::new();
    };
    for step in steps[1..].iter().rev() {
        node = Node::Table(vec![(step.clone(), node)]);
    }
    vec![(first, node)]
}

fn table_key(k: &Key) -> TableKey {
    match k {
        Key::Name(n) => TableKey::Name(n.clone()),
        Key::Index(i) => TableKey::Index(*i),
        Key::Append => TableKey::Index(1),
    }
}

/// Kong's `combine_arg`: tables merge key by key; a value meeting another becomes a list of both.
fn combine(to: &mut Vec<(TableKey, Node)>, from: Vec<(TableKey, Node)>) {
    for (k, v) in from {
        match to.iter_mut().find(|(key, _)| *key == k) {
            None => to.push((k, v)),
            Some((_, existing)) => {
                if let Node::Leaf(old) = existing {
                    let old = std::mem::take(old);
                    *existing = Node::Table(vec![(TableKey::Index(1), Node::Leaf(old))]);
                }
                let Node::Table(t) = existing else { continue };
                match v {
                    Node::Table(items) => combine(t, items),
                    leaf @ Node::Leaf(_) => {
                        let next = t.len() + 1;
                        t.push((TableKey::Index(next), leaf));
                    }
                }
            }
        }
    }
}

/// Tables with positions only become lists (holes are `null`); others, mappings.
fn to_value(node: Node) -> Result<Value, String> {
    let items = match node {
        Node::Leaf(v) => return Ok(v),
        Node::Table(items) => items,
    };
    let positions: Option<Vec<usize>> = items
        .iter()
        .map(|(k, _)| match k {
            TableKey::Index(i) => Some(*i),
            TableKey::Name(_) => None,
        })
        .collect();
    match positions {
        Some(positions) if !items.is_empty() => {
            let len = positions.into_iter().max().unwrap_or(0);
            let mut list = vec![Value::Null; len];
            for (k, v) in items {
                if let TableKey::Index(i) = k {
                    list[i - 1] = to_value(v)?;
                }
            }
            Ok(Value::Sequence(list))
        }
        _ => {
            let mut m = Mapping::new();
            for (k, v) in items {
                let key = match k {
                    TableKey::Name(n) => n,
                    TableKey::Index(i) => i.to_string(),
                };
                m.insert(Value::String(key), to_value(v)?);
            }
            Ok(Value::Mapping(m))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> serde_json::Value {
        let m = decode(urlencoded(body.as_bytes()).unwrap()).unwrap();
        serde_json::to_value(super::super::json::Json(&Value::Mapping(m))).unwrap()
    }

    #[test]
    fn kong_key_syntax() {
        let v = form(
            "name=ai-proxy-advanced&config.targets[1].model.name=gpt-4o\
             &config.targets[1].model.provider=openai&config.targets[2].route_type=llm%2Fv1%2Fchat\
             &config.balancer.algorithm=lowest-usage&tags[]=a&tags[]=b+c",
        );
        assert_eq!(
            v,
            serde_json::json!({
                "name": "ai-proxy-advanced",
                "config": {
                    "targets": [
                        {"model": {"name": "gpt-4o", "provider": "openai"}},
                        {"route_type": "llm/v1/chat"}
                    ],
                    "balancer": {"algorithm": "lowest-usage"}
                },
                "tags": ["a", "b c"]
            })
        );
        // Repeated keys are lists, `[n]` places, `[word]` is a map key, a bare name is true.
        assert_eq!(form("tags=a&tags=b")["tags"], serde_json::json!(["a", "b"]));
        assert_eq!(
            form("protocols[2]=https&protocols[1]=http")["protocols"],
            serde_json::json!(["http", "https"])
        );
        assert_eq!(
            form("headers[x-a.b][]=v")["headers"],
            serde_json::json!({"x-a.b": ["v"]})
        );
        assert_eq!(form("enabled")["enabled"], true);
        assert_eq!(form("a[2]=x")["a"], serde_json::json!([null, "x"]));
        assert_eq!(form("a..b=1&c.=2")["a"]["b"], "1");
        assert_eq!(form("%5Bx=1&y=%zz")["y"], "%zz");
    }

    #[test]
    fn refused_forms() {
        let too_many: String = (0..=MAX_ARGS).map(|i| format!("k{i}=v&")).collect();
        assert_eq!(
            decode(urlencoded(too_many.as_bytes()).unwrap()).unwrap_err(),
            "Too many arguments"
        );
        let err = decode(urlencoded(b"a[99999999999]=sk-secret").unwrap()).unwrap_err();
        assert!(
            err.contains("a[99999999999]") && !err.contains("sk-secret"),
            "{err}"
        );
        assert!(decode(urlencoded(b"a[0]=x").unwrap()).is_err());
        assert!(urlencoded(b"k=%ff").is_err());
    }

    #[test]
    fn multipart_parts() {
        let body = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n\
                    ai-proxy\r\n--XyZ\r\ncontent-disposition: form-data; name=config.route_type\r\n\
                    Content-Type: text/plain\r\n\r\nllm/v1/chat\r\n--XyZ\r\n\
                    Content-Disposition: form-data\r\n\r\nignored\r\n--XyZ--\r\n";
        let pairs = multipart("multipart/form-data; boundary=\"XyZ\"", body.as_bytes()).unwrap();
        let m = decode(pairs).unwrap();
        assert_eq!(m["name"].as_str(), Some("ai-proxy"));
        assert_eq!(m["config"]["route_type"].as_str(), Some("llm/v1/chat"));
        assert!(multipart("multipart/form-data", body.as_bytes()).is_err());
        assert!(multipart("multipart/form-data; boundary=XyZ", b"--XyZ\r\nno end").is_err());
    }
}
