//! `config::load_str` on arbitrary text: every YAML or Kong mistake must be an error, never a
//! panic (the admin reload endpoint and start-up both feed it user files).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match llmux::config::load_str(text, "fuzz", &|_| None) {
        Ok(loaded) => {
            let _ = loaded.warnings.len();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
