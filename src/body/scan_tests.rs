//! Scanner tests. Every scan is checked against the slow walker (an independent path over the
//! original bytes), so each fixture tests the tape offsets too.

use super::raw;
use super::*;

/// Scans with the fast path and asserts the strict validator + slow walker agree.
pub(super) fn scan(body: &[u8]) -> Result<BodyFacts, ScanError> {
    let fast = BodyScanner::new().scan(body);
    let slow = match raw::validate(body) {
        Ok(()) => raw::scan_slow(body),
        Err(at) => Err(ScanError::NotJson { offset: Some(at) }),
    };
    match (&fast, &slow) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", String::from_utf8_lossy(body)),
        (Err(ScanError::NotJson { .. }), Err(ScanError::NotJson { .. })) => {}
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!(
            "fast {fast:?} slow {slow:?}: {:?}",
            String::from_utf8_lossy(body)
        ),
    }
    fast
}

fn facts(body: &str) -> BodyFacts {
    scan(body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn model(body: &str) -> Option<ModelValue> {
    facts(body).model
}

/// A `messages` array of about `size` bytes full of traps (nested/quoted `model`, escapes).
pub(super) fn big_messages(size: usize) -> String {
    let mut s = String::from("[");
    let mut i = 0;
    while s.len() < size {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"role":"user","model":"nested-{i}","content":"say \"model\": \"evil\" \\ {i} é中😀 \n","meta":{{"model":{{"model":"x"}}}}}}"#
        ));
        i += 1;
    }
    s.push(']');
    s
}

fn token(body: &str, m: &ModelValue) -> String {
    body[m.raw.clone()].to_string()
}

#[test]
fn model_first_middle_last_in_100k_body() {
    let msgs = big_messages(100_000);
    let bodies = [
        format!(r#"{{"model":"gpt-4o","messages":{msgs},"stream":true}}"#),
        format!(r#"{{"stream":true,"model":"gpt-4o","messages":{msgs}}}"#),
        format!(r#"{{"messages":{msgs},"stream":true,"model":"gpt-4o"}}"#),
    ];
    for body in &bodies {
        assert!(body.len() > 100_000);
        let f = facts(body);
        let m = f.model.as_ref().unwrap();
        assert_eq!(m.value, "gpt-4o");
        assert_eq!(token(body, m), r#""gpt-4o""#);
        assert_eq!(&body[m.raw.start - 8..m.raw.start], r#""model":"#);
        assert!(f.stream && f.messages_non_empty && !f.object_empty);
    }
}

#[test]
fn model_with_escapes() {
    let body = r#"{"model":"gp\"t\\4\u00e9","x":1}"#;
    let m = model(body).unwrap();
    assert_eq!(m.value, "gp\"t\\4é");
    assert_eq!(token(body, &m), r#""gp\"t\\4\u00e9""#);
    for (body, value) in [
        (r#"{"model":"\\"}"#, "\\"),
        (r#"{"model":"a\\\\\""}"#, "a\\\\\""),
        (r#"{"model":"\/\b\f\n\r\t"}"#, "/\u{8}\u{c}\n\r\t"),
        (r#"{"model":""}"#, ""),
        (r#"{"model":"\ud83d\ude00"}"#, "😀"),
        (r#"{"model":"\u0000"}"#, "\0"),
    ] {
        let m = model(body).unwrap();
        assert_eq!(m.value, value);
        assert_eq!(m.raw, 9..body.len() - 1, "{body}");
    }
}

#[test]
fn model_unicode() {
    for name in ["😀🚀", "模型-中文", "é", "a😀b中c", "\u{10FFFF}"] {
        let body = format!(r#"{{"前":"😀","model":"{name}","後":"中"}}"#);
        let m = model(&body).unwrap();
        assert_eq!(m.value, name);
        assert_eq!(token(&body, &m), format!("\"{name}\""));
    }
}

#[test]
fn nested_model_is_not_taken() {
    let msgs = big_messages(2_000);
    assert_eq!(model(&format!(r#"{{"messages":{msgs}}}"#)), None);
    assert_eq!(
        model(r#"{"metadata":{"model":"x"},"a":[{"model":"y"}]}"#),
        None
    );
    let body = format!(r#"{{"metadata":{{"model":"x"}},"messages":{msgs},"model":"top"}}"#);
    assert_eq!(model(&body).unwrap().value, "top");
    let body = r#"{"stream_options":{"model":"x"},"model":"top"}"#;
    assert_eq!(model(body).unwrap().value, "top");
}

#[test]
fn model_inside_string_value_is_not_taken() {
    assert_eq!(model(r#"{"prompt":"{\"model\":\"evil\"}"}"#), None);
    assert_eq!(
        model(r#"{"prompt":"\"model\":\"evil\",","x":"model"}"#),
        None
    );
    let body = r#"{"prompt":"\"model\":\"evil\"","model":"good"}"#;
    let m = model(body).unwrap();
    assert_eq!(m.value, "good");
    assert_eq!(token(body, &m), r#""good""#);
}

#[test]
fn key_with_escapes_is_the_same_key() {
    let body = r#"{"mod\u0065l":"x","stre\u0061m":true}"#;
    let f = facts(body);
    assert_eq!(f.model.as_ref().unwrap().value, "x");
    assert_eq!(token(body, f.model.as_ref().unwrap()), r#""x""#);
    assert!(f.stream);
}

#[test]
fn whitespace_everywhere() {
    let body = " \n\t{ \r\n \"model\" \n : \t \"m\" \n , \"stream\"  :\ntrue ,\"stream_options\" : { \"include_usage\" : true } \n} \n\r\t";
    let f = facts(body);
    let m = f.model.as_ref().unwrap();
    assert_eq!((m.value.as_str(), token(body, m).as_str()), ("m", "\"m\""));
    assert!(f.stream && f.include_usage && f.stream_options_is_object);
    assert_eq!(f.object_open, 4);
    let options = &body[f.stream_options_range.clone().unwrap()];
    assert_eq!(options, "{ \"include_usage\" : true }");
    assert_eq!(&body[f.include_usage_range.clone().unwrap()], "true");
}

#[test]
fn non_string_model_is_an_error() {
    for v in [
        "1",
        "-1.5e3",
        "{}",
        r#"{"model":"x"}"#,
        "[\"x\"]",
        "true",
        "false",
    ] {
        let body = format!(r#"{{"messages":[],"model":{v}}}"#);
        assert_eq!(
            scan(body.as_bytes()),
            Err(ScanError::ModelNotString),
            "{body}"
        );
    }
}

#[test]
fn null_model_counts_as_absent_and_its_bytes_are_known() {
    let body = br#"{"messages":[1], "model" : null ,"x":1}"#;
    let facts = scan(body).unwrap();
    assert_eq!(facts.model, None);
    let null = facts.model_null.clone().expect("range of the null");
    assert_eq!(&body[null], b"null");
    assert_eq!(
        raw::scan_slow(body).unwrap(),
        facts,
        "the slow walker agrees"
    );
    let dup = br#"{"model":null,"model":"a"}"#;
    assert_eq!(scan(dup), Err(ScanError::DuplicateModel));
    assert_eq!(raw::scan_slow(dup), Err(ScanError::DuplicateModel));
}

#[test]
fn not_an_object() {
    for body in [
        "[]",
        "[{\"model\":\"x\"}]",
        "\"x\"",
        "123",
        "-0.5",
        "null",
        "true",
        " \"model\" ",
    ] {
        assert_eq!(scan(body.as_bytes()), Err(ScanError::NotObject), "{body}");
    }
}

#[test]
fn not_json() {
    let bad: &[&[u8]] = &[
        b"",
        b"   ",
        b"{",
        b"}",
        b"{\"model\":",
        b"{\"model\":\"x\"",
        b"{\"model\":\"x",
        b"{\"model\":\"x\",}",
        b"{\"a\" 1}",
        b"{\"a\":1 \"b\":2}",
        b"{'a':1}",
        b"{a:1}",
        b"{\"a\":01}",
        b"{\"a\":1.}",
        b"{\"a\":-}",
        b"{\"a\":tru}",
        b"{\"a\":truex}",
        b"{\"a\":\"\\x\"}",
        b"{\"a\":\"\\u12\"}",
        b"{\"a\":\"\\ud800\"}",
        b"{\"a\":\"tab\there\"}",
        b"{\"a\":\"nl\nhere\"}",
        b"{\"model\":\"\xff\"}",
        b"{\"\xc3\":1}",
        b"{\"a\":1} x",
        b"{\"a\":1}}",
        b"{\"a\":1}{}",
        b"{}[]",
        b"\xef\xbb\xbf{\"model\":\"x\"}",
        b"{\"a\":[1,]}",
        b"{\"a\":[1 2]}",
        b"{\"a\":{\"b\":1]}",
        b"\0{}",
        b"{}\0",
    ];
    for body in bad {
        match scan(body) {
            Err(ScanError::NotJson { .. }) => {}
            other => panic!("{:?} -> {other:?}", String::from_utf8_lossy(body)),
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let open = "[".repeat(10_000);
    assert!(matches!(
        scan(open.as_bytes()),
        Err(ScanError::NotJson { .. })
    ));
    let closed = format!("{}{}", open, "]".repeat(10_000));
    assert!(matches!(
        scan(closed.as_bytes()),
        Err(ScanError::NotJson { .. })
    ));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    assert!(matches!(
        scan(objects.as_bytes()),
        Err(ScanError::NotJson { .. })
    ));
    let ok = format!(
        r#"{{"model":"m","a":{}{}}}"#,
        "[".repeat(1000),
        "]".repeat(1000)
    );
    assert_eq!(facts(&ok).model.unwrap().value, "m");
    let limit = format!(r#"{{"a":{}{}}}"#, "[".repeat(1024), "]".repeat(1024));
    assert!(matches!(
        scan(limit.as_bytes()),
        Err(ScanError::NotJson { .. })
    ));
}

#[test]
fn duplicates() {
    let dup = |b: &str| scan(b.as_bytes());
    assert_eq!(
        dup(r#"{"model":"a","model":"b"}"#),
        Err(ScanError::DuplicateModel)
    );
    assert_eq!(
        dup(r#"{"model":"a","x":1,"mod\u0065l":"a"}"#),
        Err(ScanError::DuplicateModel)
    );
    assert_eq!(
        dup(r#"{"model":"a","model":1}"#),
        Err(ScanError::DuplicateModel)
    );
    assert_eq!(
        dup(r#"{"model":1,"model":"a"}"#),
        Err(ScanError::ModelNotString)
    );
    assert_eq!(
        dup(r#"{"stream":false,"stream":true}"#),
        Err(ScanError::DuplicateKey("stream"))
    );
    let options = r#"{"stream_options":null,"stream_options":{"include_usage":true}}"#;
    assert_eq!(dup(options), Err(ScanError::DuplicateKey("stream_options")));
    let f = facts(r#"{"max_tokens":1,"max_tokens":2,"messages":[1],"messages":[]}"#);
    assert!(
        f.has_max_tokens && !f.messages_non_empty,
        "last messages wins"
    );
    assert!(facts(r#"{"messages":[],"messages":[1]}"#).messages_non_empty);
    let f = facts(r#"{"stream_options":{"include_usage":true,"include_usage":false}}"#);
    assert!(!f.include_usage, "last include_usage wins");
}

#[test]
fn stream_values() {
    for (v, want) in [
        ("true", true),
        ("false", false),
        ("\"true\"", false),
        ("1", false),
        ("null", false),
    ] {
        let body = format!(r#"{{"a":1,"stream" : {v} ,"b":[]}}"#);
        let f = facts(&body);
        assert_eq!((f.stream, &body[f.stream_range.unwrap()]), (want, v));
    }
    assert!(!facts(r#"{"x":{"stream":true}}"#).stream);
    assert_eq!(facts(r#"{"x":{"stream":true}}"#).stream_range, None);
}

#[test]
fn stream_options_variants() {
    let f = facts(r#"{"stream":true,"stream_options":{"include_usage":true},"model":"m"}"#);
    assert!(f.has_stream_options && f.include_usage && f.stream_options_is_object);
    let cases = [
        (r#"{"include_usage":true}"#, true, true, Some("true")),
        (r#"{"include_usage": false }"#, false, true, Some("false")),
        (r#"{"include_usage":"true"}"#, false, true, Some("\"true\"")),
        (
            r#"{"other":1,"include_usage":null,"z":[]}"#,
            false,
            true,
            Some("null"),
        ),
        (r#"{"x":{"include_usage":true}}"#, false, true, None),
        (r#"{}"#, false, true, None),
        ("null", false, false, None),
        ("\"yes\"", false, false, None),
    ];
    for (value, usage, is_object, usage_raw) in cases {
        for body in [
            format!(r#"{{"stream_options":{value}}}"#),
            format!(r#"{{"a":1, "stream_options" :  {value} , "b":2}}"#),
        ] {
            let f = facts(&body);
            assert!(f.has_stream_options, "{body}");
            assert_eq!(
                &body[f.stream_options_range.clone().unwrap()],
                value,
                "{body}"
            );
            assert_eq!(
                (f.include_usage, f.stream_options_is_object),
                (usage, is_object)
            );
            assert_eq!(f.stream_options_empty, value == "{}");
            let raw = f.include_usage_range.map(|r| &body[r]);
            assert_eq!(raw, usage_raw, "{body}");
        }
    }
    let f = facts(r#"{"include_usage":true}"#);
    assert!(!f.has_stream_options && !f.include_usage && f.stream_options_range.is_none());
}

#[test]
fn messages_and_presence() {
    for (v, want) in [
        ("[]", false),
        ("[ \n ]", false),
        ("[1]", true),
        ("[[]]", true),
    ] {
        assert_eq!(
            facts(&format!(r#"{{"messages":{v}}}"#)).messages_non_empty,
            want,
            "{v}"
        );
    }
    for v in ["\"hi\"", "{}", "{\"a\":1}", "null", "3"] {
        assert!(
            !facts(&format!(r#"{{"messages":{v}}}"#)).messages_non_empty,
            "{v}"
        );
    }
    let f = facts(r#"{"max_tokens":null,"temperature":0,"top_p":1,"prompt":"p","input":[]}"#);
    assert!(f.has_max_tokens && f.has_temperature && f.has_top_p && f.has_prompt && f.has_input);
    let f = facts(r#"{"x":{"max_tokens":1,"temperature":0,"top_p":1,"prompt":"p","input":1}}"#);
    assert!(!(f.has_max_tokens || f.has_temperature || f.has_top_p || f.has_prompt || f.has_input));
    // A `null` prompt or input is no prompt (Kong answers "request body doesn't contain valid
    // prompts"); an empty one is the provider's to judge.
    let f = facts(r#"{"prompt":null,"input":null}"#);
    assert!(!(f.has_prompt || f.has_input));
    let f = facts(r#"{"prompt":"","input":""}"#);
    assert!(f.has_prompt && f.has_input);
}

#[test]
fn object_open_and_empty() {
    for (body, open, empty) in [("{}", 1, true), ("  {}", 3, true), ("\n{ \n }\n", 2, true)] {
        let f = facts(body);
        assert_eq!((f.object_open, f.object_empty), (open, empty), "{body:?}");
    }
    let f = facts(r#" {"a":1}"#);
    assert_eq!((f.object_open, f.object_empty), (2, false));
}

#[test]
fn numbers_simd_json_refuses_are_accepted() {
    let body = r#"{"seed":123456789012345678901234567890,"x":[1e400,-1E+999],"model":"m"}"#;
    let m = model(body).unwrap();
    assert_eq!((m.value.as_str(), token(body, &m).as_str()), ("m", "\"m\""));
    assert_eq!(scan(b"[1e400]"), Err(ScanError::NotObject));
    assert_eq!(
        scan(br#"{"a":1e400,"model":2}"#),
        Err(ScanError::ModelNotString)
    );
    assert!(matches!(
        scan(br#"{"a":1e400,"b":01}"#),
        Err(ScanError::NotJson { offset: Some(_) })
    ));
}

#[test]
fn scanner_is_reusable() {
    let big = format!(
        r#"{{"messages":{},"model":"big\"one"}}"#,
        big_messages(300_000)
    );
    let bodies: Vec<Vec<u8>> = vec![
        big.clone().into_bytes(),
        br#"{"model":"small"}"#.to_vec(),
        b"{\"model\":\"bad".to_vec(),
        br#"{"a":1e400,"model":"slow"}"#.to_vec(),
        big.into_bytes(),
        br#"{"model":"x\ny"}"#.to_vec(),
        b"{}".to_vec(),
    ];
    let mut scanner = BodyScanner::default();
    for _ in 0..3 {
        for body in &bodies {
            assert_eq!(scanner.scan(body), BodyScanner::new().scan(body));
        }
    }
}

#[test]
fn error_messages() {
    let err = scan(br#"{"a" 1}"#).unwrap_err();
    assert!(err.to_string().contains("near byte 5"), "{err}");
    assert_eq!(
        ScanError::NotObject.to_string(),
        "request body is not a JSON object"
    );
    let err = scan(b"{\"a\":\"\\ud800\"}").unwrap_err();
    assert_eq!(err.to_string(), "request body is not valid JSON");
    assert_eq!(
        ScanError::DuplicateKey("stream").to_string(),
        "\"stream\" appears more than once"
    );
}
