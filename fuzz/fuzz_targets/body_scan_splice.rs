//! `BodyScanner::scan` on arbitrary bytes; for every accepted body, the spliced upstream body
//! (model replaced, members inserted, streaming forced, usage requested) must scan again with
//! the new model and the inserted facts: the splice must always produce valid JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmux::body::{BodyFacts, BodyScanner, SplicedBody};

const MODEL: &str = "gpt-4o-mini";

fn rescan(scanner: &mut BodyScanner, spliced: &SplicedBody, body: &[u8], what: &str) -> BodyFacts {
    let mut out = Vec::new();
    spliced.write_to(body, &mut out);
    assert_eq!(out.len(), spliced.len(), "{what}: len() disagrees with write_to");
    match scanner.scan(&out) {
        Ok(f) => {
            let model = f.model.as_ref().map(|m| m.value.as_str());
            assert_eq!(model, Some(MODEL), "{what}: model after splice");
            f
        }
        Err(e) => panic!(
            "{what}: spliced body does not scan ({e:?}):\n{}",
            String::from_utf8_lossy(&out)
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut scanner = BodyScanner::new();
    let Ok(facts) = scanner.scan(data) else {
        return;
    };
    if let Some(m) = &facts.model {
        assert!(m.raw.end <= data.len() && data[m.raw.start] == b'"');
    }
    assert_eq!(data[facts.object_open - 1], b'{');

    // As the brief (and the proxy, minus its `has_max_tokens` check) calls it.
    let spliced = SplicedBody::build(data.len(), &facts, Some(MODEL), &[("max_tokens", "512")]);
    let f = rescan(&mut scanner, &spliced, data, "build");
    assert!(f.has_max_tokens);

    // The proxy's full path for a stream it asks usage of.
    let mut spliced = SplicedBody::build(data.len(), &facts, Some(MODEL), &[]);
    spliced.force_stream(&facts);
    spliced.ensure_include_usage(&facts);
    let f = rescan(&mut scanner, &spliced, data, "force_stream + ensure_include_usage");
    assert!(f.stream, "stream not true after force_stream");
    assert!(f.include_usage, "include_usage not true after ensure_include_usage");

    // A body that already names the model is forwarded unchanged.
    if facts.model.as_ref().is_some_and(|m| m.value == MODEL) {
        let same = SplicedBody::build(data.len(), &facts, Some(MODEL), &[]);
        assert!(same.is_unchanged());
        let mut out = Vec::new();
        same.write_to(data, &mut out);
        assert_eq!(out, data);
    }
});
