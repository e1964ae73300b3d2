//! Kong's collection paging and tag filtering: `?size=` (1-1000, default 100), `?offset=`
//! (opaque; llmux's is the base64 of the next position), `?tags=` (`a,b`: all of them; `a/b`:
//! any), and the envelope `{"data":[...],"next":"/services?offset=...","offset":"..."}` with
//! `next: null` on the last page. Errors are Kong's, with its `code` and `name`.

use super::json::Json;
use super::model::ApiResponse;
use super::response::respond;
use crate::config::get;
use serde::Serialize;
use serde_yaml_ng::Value;

const DEFAULT_SIZE: usize = 100;
const MAX_SIZE: usize = 1000;

#[derive(Serialize)]
struct Page<'a> {
    data: Vec<Json<'a>>,
    next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<String>,
}

#[derive(Serialize)]
struct KongError<'a> {
    code: u8,
    name: &'a str,
    message: String,
}

/// One page of `items` (already in Kong's order) for the query string of `path`; `collection`
/// is the path `next` points at (`/services`, `/services/x/routes`).
pub(super) fn page(path: &str, collection: &str, items: Vec<Value>) -> ApiResponse {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let arg = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
    };
    let size = match arg("size") {
        None => DEFAULT_SIZE,
        Some(s) => match s.parse::<f64>() {
            Err(_) => return error(9, "invalid size", "size must be a number".into()),
            Ok(n) if n.fract() == 0.0 && (1.0..=MAX_SIZE as f64).contains(&n) => n as usize,
            Ok(_) => {
                return error(
                    9,
                    "invalid size",
                    format!("size must be an integer between 1 and {MAX_SIZE}"),
                )
            }
        },
    };
    let start = match arg("offset") {
        None => 0,
        Some(o) => match decode_offset(&o) {
            Some(n) => n,
            None => {
                return error(
                    7,
                    "invalid offset",
                    format!("'{o}' is not a valid offset: bad base64 encoding"),
                )
            }
        },
    };
    let tags = arg("tags");
    let items: Vec<Value> = match &tags {
        None => items,
        Some(t) => items.into_iter().filter(|v| has_tags(v, t)).collect(),
    };
    let end = (start + size).min(items.len());
    let data = items
        .get(start.min(items.len())..end)
        .unwrap_or_default()
        .iter()
        .map(Json)
        .collect();
    let offset = (end < items.len()).then(|| encode_offset(end));
    let next = offset.as_ref().map(|o| {
        let mut n = format!("{collection}?offset={o}");
        if let Some(t) = &tags {
            n.push_str(&format!("&tags={t}"));
        }
        if let Some(s) = arg("size") {
            n.push_str(&format!("&size={s}"));
        }
        n
    });
    respond(200, &Page { data, next, offset })
}

fn error(code: u8, name: &str, message: String) -> ApiResponse {
    respond(
        400,
        &KongError {
            code,
            name,
            message,
        },
    )
}

/// Kong's tag query: `a,b` needs every tag, `a/b` any of them.
fn has_tags(v: &Value, query: &str) -> bool {
    let tags: Vec<&str> = get(v, "tags")
        .and_then(Value::as_sequence)
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if query.contains('/') {
        query.split('/').any(|t| tags.contains(&t))
    } else {
        query.split(',').all(|t| tags.contains(&t))
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn encode_offset(n: usize) -> String {
    let bytes = n.to_string().into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn decode_offset(s: &str) -> Option<usize> {
    let s = s.trim_end_matches('=');
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    std::str::from_utf8(&out).ok()?.parse().ok()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => {
                if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| {
                serde_yaml_ng::from_str(&format!("{{id: e{i}, tags: [t{}, all]}}", i % 2)).unwrap()
            })
            .collect()
    }

    fn body(r: &ApiResponse) -> serde_json::Value {
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn pages_walk_every_item_once_with_kongs_envelope() {
        let first = page("/services?size=2", "/services", items(5));
        let v = body(&first);
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        let next = v["next"].as_str().unwrap().to_owned();
        assert!(
            next.starts_with("/services?offset=") && next.ends_with("&size=2"),
            "{next}"
        );
        let mut seen = vec![v["data"][0]["id"].clone(), v["data"][1]["id"].clone()];
        let mut path = next;
        loop {
            let v = body(&page(&path, "/services", items(5)));
            seen.extend(
                v["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].clone()),
            );
            match v["next"].as_str() {
                Some(n) => path = n.to_owned(),
                None => {
                    assert!(v.get("offset").is_none());
                    break;
                }
            }
        }
        let ids: Vec<String> = seen
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4"]);
        let all = body(&page("/services", "/services", items(5)));
        assert_eq!(all["next"], serde_json::Value::Null);
    }

    #[test]
    fn kongs_validation_and_tags() {
        for (q, code, msg) in [
            ("size=0", 9, "size must be an integer between 1 and 1000"),
            ("size=1001", 9, "size must be an integer between 1 and 1000"),
            ("size=1.5", 9, "size must be an integer between 1 and 1000"),
            ("size=x", 9, "size must be a number"),
            (
                "offset=%21%21",
                7,
                "'!!' is not a valid offset: bad base64 encoding",
            ),
        ] {
            let r = page(&format!("/routes?{q}"), "/routes", items(1));
            assert_eq!(r.status, 400, "{q}");
            let v = body(&r);
            assert_eq!(
                (v["code"].as_u64(), v["message"].as_str()),
                (Some(code), Some(msg))
            );
        }
        let tagged = body(&page("/plugins?tags=t1,all", "/plugins", items(4)));
        assert_eq!(tagged["data"].as_array().unwrap().len(), 2);
        let any = body(&page("/plugins?tags=t0/t1", "/plugins", items(4)));
        assert_eq!(any["data"].as_array().unwrap().len(), 4);
        assert_eq!(decode_offset(&encode_offset(1234)), Some(1234));
    }
}
