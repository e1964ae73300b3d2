//! What llmux writes on stderr: one event per line, RFC 3339 UTC timestamps, and with
//! `--log-format json` one JSON object per line.

mod support;

use support::*;

fn demo_config(upstream: &RecordingUpstream) -> String {
    plugin_yaml(
        &[T::new(
            "fast",
            "gpt-4o-mini",
            upstream.url("/v1/chat/completions"),
        )],
        "",
    )
}

fn is_rfc3339_utc_millis(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[test]
fn text_lines_start_with_an_rfc3339_utc_timestamp_and_a_level() {
    let up = RecordingUpstream::start(|_| Reply::json(200, "{}"));
    let gw = Gateway::start(&demo_config(&up));
    let _ = gw.admin_addr();
    let stderr = gw.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() >= 3, "{stderr}");
    for line in lines {
        let (time, rest) = line.split_once(' ').unwrap_or((line, ""));
        assert!(is_rfc3339_utc_millis(time), "{line}");
        assert!(
            ["INFO llmux: ", "WARN llmux: ", "ERROR llmux: "]
                .iter()
                .any(|p| rest.starts_with(p)),
            "{line}"
        );
    }
}

#[test]
fn json_format_writes_one_object_per_line() {
    let up = RecordingUpstream::start(|_| Reply::json(200, "{}"));
    let gw = Gateway::start_with(
        &demo_config(&up),
        GatewayOpts {
            args: vec!["--log-format".into(), "json".into()],
            ..GatewayOpts::default()
        },
    );
    let _ = gw.admin_addr();
    let stderr = gw.stderr();
    let mut messages = Vec::new();
    for line in stderr.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(is_rfc3339_utc_millis(v["time"].as_str().unwrap()), "{line}");
        assert!(
            ["info", "warn", "error"].contains(&v["level"].as_str().unwrap()),
            "{line}"
        );
        assert_eq!(v["target"], "llmux");
        messages.push(v["message"].as_str().unwrap().to_owned());
    }
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("proxy listening on 127.0.0.1:")),
        "{messages:?}"
    );
}
