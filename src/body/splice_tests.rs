//! Splice tests: the upstream body is the original with only the intended bytes changed, and
//! still parses as JSON with the intended values.

use simd_json::prelude::*;
use simd_json::OwnedValue;

use super::scan_tests::{big_messages, scan};
use super::*;

pub(super) fn spliced(body: &[u8], s: &SplicedBody) -> Vec<u8> {
    let mut out = Vec::new();
    s.write_to(body, &mut out);
    assert_eq!(out.len(), s.len());
    // Segments are contiguous over the body, in order, never empty.
    let mut cursor = 0;
    for seg in s.segments() {
        match seg {
            Segment::Original(r) => {
                assert!(
                    r.start >= cursor && r.start < r.end && r.end <= body.len(),
                    "{r:?}"
                );
                cursor = r.end;
            }
            Segment::Owned(b) => assert!(!b.is_empty()),
        }
    }
    out
}

pub(super) fn parse(bytes: &[u8]) -> OwnedValue {
    let mut copy = bytes.to_vec();
    simd_json::to_owned_value(&mut copy)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

fn build(body: &str, name: Option<&str>, inserts: &[(&str, &str)]) -> (BodyFacts, Vec<u8>) {
    let facts = scan(body.as_bytes()).unwrap();
    let s = SplicedBody::build(body.len(), &facts, name, inserts);
    let out = spliced(body.as_bytes(), &s);
    (facts, out)
}

#[test]
fn replacing_the_model_changes_only_its_token() {
    let msgs = big_messages(100_000);
    for body in [
        format!(r#"{{"model":"gpt-4o","messages":{msgs}}}"#),
        format!(r#"{{"messages":{msgs}, "model" : "gpt-4o" ,"stream":true}}"#),
        format!(r#"{{"messages":{msgs},"model":"gp\"t\\4\u00e9"}}"#),
    ] {
        let (facts, out) = build(&body, Some("upstream-model"), &[]);
        let raw = facts.model.unwrap().raw;
        let new = br#""upstream-model""#;
        assert_eq!(out.len(), body.len() - raw.len() + new.len());
        assert_eq!(&out[..raw.start], &body.as_bytes()[..raw.start]);
        assert_eq!(&out[raw.start..raw.start + new.len()], new);
        assert_eq!(&out[raw.start + new.len()..], &body.as_bytes()[raw.end..]);
        assert_eq!(scan(&out).unwrap().model.unwrap().value, "upstream-model");
        assert_eq!(parse(&out).get_str("model"), Some("upstream-model"));
    }
}

#[test]
fn same_name_or_nothing_to_do_is_unchanged() {
    let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    for name in [Some("m"), None] {
        let facts = scan(body.as_bytes()).unwrap();
        let s = SplicedBody::build(body.len(), &facts, name, &[]);
        assert!(s.is_unchanged());
        assert_eq!(s.segments(), &[Segment::Original(0..body.len())]);
        assert_eq!(s.len(), body.len());
    }
    let escaped = r#"{"model":"\u006d"}"#;
    let (_, out) = build(escaped, Some("m"), &[]);
    assert_eq!(
        out,
        escaped.as_bytes(),
        "equal value: the client's spelling is kept"
    );
    let (_, out) = build(r#"{"messages":[]}"#, None, &[]);
    assert_eq!(out, br#"{"messages":[]}"#);
}

#[test]
fn replacement_name_is_escaped() {
    let nasty = "a\"b\\c\nd\u{1}\u{1f}\u{7f}é中😀</script>\t\r\u{8}\u{c}";
    let (_, out) = build(r#"{"model":"x"}"#, Some(nasty), &[]);
    assert_eq!(scan(&out).unwrap().model.unwrap().value, nasty);
    assert_eq!(parse(&out).get_str("model"), Some(nasty));
    let (_, out) = build(r#"{"a":1}"#, Some(nasty), &[]);
    assert_eq!(scan(&out).unwrap().model.unwrap().value, nasty);
}

#[test]
fn inserts_into_empty_objects() {
    for body in ["{}", "{ }", " {\n} ", "\t{\r\n\t}\n"] {
        let inserts = [("max_tokens", "512"), ("temperature", "0.5")];
        let (facts, out) = build(body, Some("m"), &inserts);
        assert!(facts.object_empty);
        let f = scan(&out).unwrap();
        assert!(f.has_max_tokens && f.has_temperature && !f.has_top_p);
        assert_eq!(f.model.unwrap().value, "m");
        let v = parse(&out);
        assert_eq!(v.get_u64("max_tokens"), Some(512));
        assert_eq!(v.get_f64("temperature"), Some(0.5));
        let (_, out) = build(body, None, &[("top_p", "1")]);
        assert!(scan(&out).unwrap().has_top_p);
        let (_, out) = build(body, Some("only"), &[]);
        assert_eq!(parse(&out).get_str("model"), Some("only"));
    }
}

#[test]
fn inserts_after_the_opening_brace() {
    let body = " {\n  \"messages\": [1]\n}";
    let (facts, out) = build(body, None, &[("max_tokens", "512")]);
    let open = facts.object_open;
    let expected = format!("{}\"max_tokens\":512,{}", &body[..open], &body[open..]);
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[test]
fn model_inserted_when_the_body_has_none() {
    let body = r#"{"messages":[{"model":"nested"}],"stream":true}"#;
    let (facts, out) = build(body, Some("m\"1"), &[("max_tokens", "16")]);
    assert!(facts.model.is_none());
    let expected = format!(r#"{{"model":"m\"1","max_tokens":16,{}"#, &body[1..]);
    assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);
    let f = scan(&out).unwrap();
    assert_eq!(f.model.unwrap().value, "m\"1");
    assert!(f.has_max_tokens && f.stream);
}

#[test]
fn model_replaced_and_fields_inserted_together() {
    let body = r#"{"messages":[],"model":"client","temperature":1}"#;
    let (_, out) = build(
        body,
        Some("target"),
        &[("max_tokens", "8"), ("top_p", "0.9")],
    );
    let expected = r#"{"max_tokens":8,"top_p":0.9,"messages":[],"model":"target","temperature":1}"#;
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

/// Applies `ensure_include_usage` and returns the new body.
fn with_usage(body: &str, name: Option<&str>) -> Vec<u8> {
    let facts = scan(body.as_bytes()).unwrap();
    let mut s = SplicedBody::build(body.len(), &facts, name, &[("max_tokens", "4")]);
    let changed = s.ensure_include_usage(&facts);
    assert_eq!(changed, !facts.include_usage);
    assert!(!s.ensure_include_usage(&facts), "idempotent");
    spliced(body.as_bytes(), &s)
}

#[test]
fn include_usage_is_requested_with_minimal_edits() {
    let cases = [
        (
            r#"{"stream":true}"#,
            r#"{"max_tokens":4,"stream_options":{"include_usage":true},"stream":true}"#,
        ),
        (
            r#"{}"#,
            r#"{"max_tokens":4,"stream_options":{"include_usage":true}}"#,
        ),
        (
            r#"{"stream_options":null}"#,
            r#"{"max_tokens":4,"stream_options":{"include_usage":true}}"#,
        ),
        (
            r#"{"stream_options" : {}}"#,
            r#"{"max_tokens":4,"stream_options" : {"include_usage":true}}"#,
        ),
        (
            r#"{"stream_options":{ "x":1 }}"#,
            r#"{"max_tokens":4,"stream_options":{"include_usage":true, "x":1 }}"#,
        ),
        (
            r#"{"stream_options":{"include_usage": false}}"#,
            r#"{"max_tokens":4,"stream_options":{"include_usage": true}}"#,
        ),
        (
            r#"{"stream_options":{"include_usage":true}}"#,
            r#"{"max_tokens":4,"stream_options":{"include_usage":true}}"#,
        ),
    ];
    for (body, want) in cases {
        let out = with_usage(body, None);
        assert_eq!(String::from_utf8(out.clone()).unwrap(), want);
        assert!(scan(&out).unwrap().include_usage);
    }
    let body = r#"{"model":"a","stream":true,"stream_options":{"continuous_usage_stats":true}}"#;
    let out = with_usage(body, Some("b"));
    let f = scan(&out).unwrap();
    assert!(f.include_usage && f.stream && f.has_max_tokens);
    assert_eq!(f.model.unwrap().value, "b");
    let v = parse(&out);
    let options = v.get("stream_options").unwrap();
    assert_eq!(options.get_bool("continuous_usage_stats"), Some(true));
}

#[test]
fn streaming_is_forced_by_overwriting_or_inserting() {
    let cases = [
        (
            r#"{"stream":false,"model":"a"}"#,
            r#"{"stream":true,"model":"b"}"#,
        ),
        (
            r#"{"model":"a", "stream" : null }"#,
            r#"{"model":"b", "stream" : true }"#,
        ),
        (r#"{"model":"a"}"#, r#"{"stream":true,"model":"b"}"#),
        (r#"{}"#, r#"{"model":"b","stream":true}"#),
        (r#"{"stream":true}"#, r#"{"model":"b","stream":true}"#),
    ];
    for (body, want) in cases {
        let facts = scan(body.as_bytes()).unwrap();
        let mut s = SplicedBody::build(body.len(), &facts, Some("b"), &[]);
        assert_eq!(s.force_stream(&facts), !facts.stream);
        assert!(!s.force_stream(&facts), "idempotent");
        let out = spliced(body.as_bytes(), &s);
        assert_eq!(String::from_utf8(out.clone()).unwrap(), want);
        assert!(scan(&out).unwrap().stream);
    }
}

#[test]
fn json_escape_round_trips_every_char_class() {
    let mut all: String = (0u32..0x80).filter_map(char::from_u32).collect();
    all.push_str("é中😀\u{2028}\u{2029}\u{10FFFF}\u{FEFF}");
    let mut token = b"\"".to_vec();
    json_escape_into(&all, &mut token);
    token.push(b'"');
    let mut copy = token.clone();
    let v = simd_json::to_owned_value(&mut copy).unwrap();
    assert_eq!(v.as_str(), Some(all.as_str()));
    let mut out = Vec::new();
    json_escape_into("a\"\\\n\t\r\u{8}\u{c}\u{0}\u{1f}z", &mut out);
    assert_eq!(out, br#"a\"\\\n\t\r\b\f\u0000\u001fz"#);
    out.clear();
    json_escape_into("plain é", &mut out);
    assert_eq!(out, "plain é".as_bytes());
}

#[test]
fn types_can_move_to_worker_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<BodyScanner>();
    send::<SplicedBody>();
    sync::<SplicedBody>();
    send::<ScanError>();
}

#[test]
fn a_null_model_is_replaced_in_place_not_duplicated() {
    let (_, out) = build(r#"{"model": null, "messages":[1]}"#, Some("gpt-4"), &[]);
    assert_eq!(out, br#"{"model": "gpt-4", "messages":[1]}"#);
}

#[test]
fn replace_rewrites_every_occurrence_of_a_member_and_refuses_overlaps() {
    let body = br#"{"apikey":"a","model":"m","apikey" : "b"}"#;
    let facts = scan(body).unwrap();
    let found = member_values(body, &facts, "apikey");
    assert_eq!(found.len(), 2);
    let mut s = SplicedBody::build(body.len(), &facts, Some("gpt-4"), &[]);
    for r in found {
        assert!(s.replace(r, b"\"k\""));
    }
    let model = facts.model.clone().unwrap().raw;
    assert!(!s.replace(model, b"1"), "overlaps the model edit");
    assert_eq!(
        spliced(body, &s),
        br#"{"apikey":"k","model":"gpt-4","apikey" : "k"}"#
    );
}

#[test]
fn removing_a_member_keeps_the_rest_valid() {
    use crate::body::{find_member, MemberLookup};
    let body = br#"{"apikey":"k","model":"fast","messages":[]}"#;
    let facts = BodyScanner::new().scan(body).unwrap();
    let MemberLookup::Found(m) = find_member(body, "apikey") else {
        panic!()
    };
    let mut s = SplicedBody::build(body.len(), &facts, Some("gpt-4o"), &[("top_p", "1")]);
    assert!(s.remove(m.span.clone(), m.only));
    assert!(!s.remove(m.span, m.only), "overlapping edits are refused");
    let mut out = Vec::new();
    s.write_to(body, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"top_p":1,"model":"gpt-4o","messages":[]}"#
    );
    assert_eq!(
        s.len(),
        r#"{"top_p":1,"model":"gpt-4o","messages":[]}"#.len()
    );
    let only = br#"{"apikey":"k"}"#;
    let facts = BodyScanner::new().scan(only).unwrap();
    let MemberLookup::Found(m) = find_member(only, "apikey") else {
        panic!()
    };
    let mut s = SplicedBody::build(only.len(), &facts, Some("m"), &[]);
    assert!(s.remove(m.span, m.only));
    let mut out = Vec::new();
    s.write_to(only, &mut out);
    assert_eq!(String::from_utf8(out).unwrap(), r#"{"model":"m"}"#);
}
