//! Property-style tests with a deterministic generator (no extra crates): random bodies with the
//! model at random positions and random escapes must splice to exactly the expected bytes, and
//! random mutations of valid bodies must never panic and must agree with the slow path.

use std::ops::Range;

use super::scan_tests::scan;
use super::splice_tests::spliced;
use super::*;

/// xorshift64*: deterministic, so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn ws(rng: &mut Rng, out: &mut String) {
    if rng.chance(30) {
        for _ in 0..=rng.below(3) {
            out.push([' ', '\t', '\n', '\r'][rng.below(4)]);
        }
    }
}

/// A random JSON string token and its unescaped value.
fn string(rng: &mut Rng, max_pieces: usize) -> (String, String) {
    let (mut raw, mut value) = (String::from("\""), String::new());
    for _ in 0..rng.below(max_pieces + 1) {
        let (r, v): (String, String) = match rng.below(12) {
            0 => ("\\\"".into(), "\"".into()),
            1 => ("\\\\".into(), "\\".into()),
            2 => (rng.pick(&["/", "\\/"]).into(), "/".into()),
            3 => {
                let (r, v) = [
                    ("\\n", "\n"),
                    ("\\t", "\t"),
                    ("\\b", "\u{8}"),
                    ("\\f", "\u{c}"),
                ][rng.below(4)];
                (r.into(), v.into())
            }
            4 => {
                let c = rng.below(0x20) as u32;
                (
                    format!("\\u{c:04x}"),
                    char::from_u32(c).unwrap().to_string(),
                )
            }
            5 => {
                let c = rng.pick(&["é", "中", "😀", "ß", "\u{2028}", "\u{7f}"]);
                (c.into(), c.into())
            }
            6 => {
                let c = rng
                    .pick(&["é", "中", "😀", "\u{10ffff}"])
                    .chars()
                    .next()
                    .unwrap();
                let mut units = [0u16; 2];
                let hex: String = c
                    .encode_utf16(&mut units)
                    .iter()
                    .map(|u| format!("\\u{u:04X}"))
                    .collect();
                (hex, c.to_string())
            }
            7 => (
                "\\\"model\\\":\\\"evil\\\"".into(),
                "\"model\":\"evil\"".into(),
            ),
            8 => {
                let c = rng.pick(&["{", "}", "[", "]", ",", ":", " "]);
                (c.into(), c.into())
            }
            _ => {
                let s: String = (0..rng.below(40))
                    .map(|_| (b'a' + rng.below(26) as u8) as char)
                    .collect();
                (s.clone(), s)
            }
        };
        raw.push_str(&r);
        value.push_str(&v);
    }
    raw.push('"');
    (raw, value)
}

fn value(rng: &mut Rng, depth: usize, out: &mut String) {
    let kind = if depth > 3 {
        rng.below(5)
    } else {
        rng.below(8)
    };
    match kind {
        0 => out.push_str(&string(rng, 6).0),
        1 => out.push_str(rng.pick(&["0", "-1", "3.25", "1e10", "-0.5E-3", "123456", "1e400"])),
        2 => out.push_str(rng.pick(&["true", "false", "null"])),
        3 | 4 => out.push_str(&string(rng, 3).0),
        5 | 6 => {
            out.push('{');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, out);
                let key = rng.pick(&["\"model\"", "\"stream\"", "\"k\"", "\"stream_options\""]);
                out.push_str(if i == 0 { key } else { "\"other\"" });
                out.push(':');
                ws(rng, out);
                value(rng, depth + 1, out);
            }
            out.push('}');
        }
        _ => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, out);
                value(rng, depth + 1, out);
                ws(rng, out);
            }
            out.push(']');
        }
    }
}

struct Generated {
    body: String,
    /// Expected top-level model: unescaped value and raw token range.
    model: Option<(String, Range<usize>)>,
}

fn body(rng: &mut Rng) -> Generated {
    const KEYS: [&str; 10] = [
        "messages",
        "temperature",
        "user",
        "metadata",
        "tools",
        "n",
        "prompt",
        "input",
        "top_p",
        "x",
    ];
    let members = rng.below(7);
    let model_at = rng.chance(85).then(|| rng.below(members + 1));
    let mut keys = KEYS.to_vec();
    let mut out = String::new();
    let mut model = None;
    ws(rng, &mut out);
    out.push('{');
    for i in 0..members + usize::from(model_at.is_some()) {
        if i > 0 {
            ws(rng, &mut out);
            out.push(',');
        }
        ws(rng, &mut out);
        if Some(i) == model_at {
            out.push_str(rng.pick(&["\"model\"", "\"mod\\u0065l\"", "\"\\u006Dodel\""]));
            ws(rng, &mut out);
            out.push(':');
            ws(rng, &mut out);
            let (raw, value) = string(rng, 8);
            model = Some((value, out.len()..out.len() + raw.len()));
            out.push_str(&raw);
        } else {
            let key = keys.swap_remove(rng.below(keys.len()));
            out.push_str(&format!("\"{key}\""));
            ws(rng, &mut out);
            out.push(':');
            ws(rng, &mut out);
            if key == "messages" && rng.chance(10) {
                out.push_str(&super::scan_tests::big_messages(rng.below(20_000)));
            } else {
                value(rng, 0, &mut out);
            }
        }
        ws(rng, &mut out);
    }
    out.push('}');
    ws(rng, &mut out);
    Generated { body: out, model }
}

fn quoted(s: &str) -> Vec<u8> {
    let mut out = vec![b'"'];
    json_escape_into(s, &mut out);
    out.push(b'"');
    out
}

#[test]
fn random_bodies_splice_to_the_expected_bytes() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for case in 0..3000 {
        let g = body(&mut rng);
        let facts =
            scan(g.body.as_bytes()).unwrap_or_else(|e| panic!("case {case}: {e}: {}", g.body));
        let got = facts
            .model
            .as_ref()
            .map(|m| (m.value.clone(), m.raw.clone()));
        assert_eq!(got, g.model, "case {case}: {}", g.body);

        let name = match (rng.below(3), &g.model) {
            (0, Some((v, _))) => Some(v.clone()),
            (1, _) => None,
            _ => Some(string(&mut rng, 5).1),
        };
        let mut inserts = Vec::new();
        for (key, present) in [
            ("max_tokens", facts.has_max_tokens),
            ("top_p", facts.has_top_p),
        ] {
            if !present && rng.chance(50) {
                inserts.push((key, "7"));
            }
        }
        let s = SplicedBody::build(g.body.len(), &facts, name.as_deref(), &inserts);
        let out = spliced(g.body.as_bytes(), &s);

        let b = g.body.as_bytes();
        let mut head: Vec<Vec<u8>> = Vec::new();
        let mut replaced = None;
        match (&name, &g.model) {
            (Some(n), Some((v, raw))) if n != v => replaced = Some((raw.clone(), quoted(n))),
            (Some(n), None) => head.push([&b"\"model\":"[..], &quoted(n)].concat()),
            _ => {}
        }
        for (k, v) in &inserts {
            head.push(format!("\"{k}\":{v}").into_bytes());
        }
        let mut head = head.join(&b',');
        if !head.is_empty() && !facts.object_empty {
            head.push(b',');
        }
        let open = facts.object_open;
        let mut expected = [&b[..open], &head].concat();
        match &replaced {
            Some((raw, token)) => {
                expected.extend_from_slice(&b[open..raw.start]);
                expected.extend_from_slice(token);
                expected.extend_from_slice(&b[raw.end..]);
            }
            None => expected.extend_from_slice(&b[open..]),
        }
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected),
            "case {case}"
        );
        assert_eq!(s.is_unchanged(), out == b, "case {case}");

        let again = scan(&out).unwrap();
        let want = name.or(g.model.map(|m| m.0));
        assert_eq!(again.model.map(|m| m.value), want, "case {case}");
        assert_eq!(
            again.has_max_tokens,
            facts.has_max_tokens || inserts.iter().any(|i| i.0 == "max_tokens")
        );
    }
}

#[test]
fn mutated_bodies_never_panic_and_agree_with_the_slow_path() {
    const BYTES: &[u8] = b"\"\\{}[],: \t\n0-eE.tfnu\x00\x1f\x7f\xc3\xa9\xff\xef\xbb\xbf";
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut scanner = BodyScanner::new();
    let (mut ok, mut total) = (0, 0);
    for _ in 0..1500 {
        let g = body(&mut rng);
        if g.body.len() > 4096 {
            continue;
        }
        for _ in 0..20 {
            let mut b = g.body.clone().into_bytes();
            for _ in 0..=rng.below(3) {
                let at = rng.below(b.len() + 1);
                match rng.below(6) {
                    0 if at < b.len() => b[at] = BYTES[rng.below(BYTES.len())],
                    1 if at < b.len() => b[at] = rng.next() as u8,
                    2 => b.insert(at, BYTES[rng.below(BYTES.len())]),
                    3 if at < b.len() => drop(b.drain(at..(at + 1 + rng.below(4)).min(b.len()))),
                    4 => b.truncate(at),
                    _ => {
                        let end = (at + rng.below(16)).min(b.len());
                        let chunk = b[at..end].to_vec();
                        b.splice(at..at, chunk);
                    }
                }
            }
            total += 1;
            let result = scan(&b);
            assert_eq!(
                scanner.scan(&b),
                result,
                "a reused scanner gives the same answer"
            );
            let Ok(facts) = result else { continue };
            ok += 1;
            if let Some(m) = &facts.model {
                assert!(b[m.raw.start] == b'"' && b[m.raw.end - 1] == b'"');
            }
            let inserts = [("zz_inserted", "[1]")];
            let mut s = SplicedBody::build(b.len(), &facts, Some("re\"placed"), &inserts);
            s.force_stream(&facts);
            s.ensure_include_usage(&facts);
            let again = scan(&spliced(&b, &s)).expect("a spliced valid body stays valid");
            assert_eq!(again.model.unwrap().value, "re\"placed");
            assert!(again.stream && again.include_usage);
        }
    }
    eprintln!("mutations: {ok} of {total} still valid");
    assert!(
        ok > total / 20 && ok < total,
        "mutations should hit both outcomes: {ok}/{total}"
    );
}
