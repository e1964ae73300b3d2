//! Kong's rate-limit arithmetic and headers, on one core's state.

use super::*;
use crate::config::access::{Period, Strategy, TokenProvider, TokenWindow};

fn request_limit(limits: Vec<(Period, f64)>) -> RequestLimit {
    RequestLimit {
        id: "rl".into(),
        limits,
        limit_by: LimitBy::Consumer,
        strategy: Strategy::Local,
        hide_client_headers: false,
        error_code: 429,
        error_message: "API rate limit exceeded".into(),
    }
}

fn applied<'a, C>(conf: &'a C, at: usize, identity: &'a [u8], now: Now) -> Applied<'a, C> {
    Applied {
        conf,
        at,
        identity,
        now,
    }
}

fn text(headers: &[u8]) -> String {
    String::from_utf8_lossy(headers).into_owned()
}

#[test]
fn request_limit_counts_passing_requests_and_says_so_in_kongs_headers() {
    let mut state = LimitsState::new(0);
    let at = state.bind("rl", None);
    let conf = request_limit(vec![(Period::Second, 5.0), (Period::Minute, 2.0)]);
    // 12:00:10.500, 50 s before the minute ends.
    let now = Now {
        ms: 1_700_000_400_000 + 10_500,
    };
    let mut h = Vec::new();
    assert!(check_requests(&mut state, &applied(&conf, at, b"c:a", now), &mut h).is_ok());
    assert_eq!(
        text(&h),
        "X-RateLimit-Limit-Second: 5\r\nX-RateLimit-Remaining-Second: 4\r\n\
         X-RateLimit-Limit-Minute: 2\r\nX-RateLimit-Remaining-Minute: 1\r\n\
         RateLimit-Limit: 2\r\nRateLimit-Remaining: 1\r\nRateLimit-Reset: 50\r\n"
    );
    h.clear();
    assert!(check_requests(&mut state, &applied(&conf, at, b"c:a", now), &mut h).is_ok());
    h.clear();
    let refused = check_requests(&mut state, &applied(&conf, at, b"c:a", now), &mut h);
    assert_eq!(
        refused,
        Err(Limited {
            status: 429,
            message: "API rate limit exceeded".into()
        })
    );
    assert!(
        text(&h).contains("X-RateLimit-Remaining-Minute: 0\r\n"),
        "{}",
        text(&h)
    );
    assert!(text(&h).contains("Retry-After: 50\r\n"), "{}", text(&h));
    // Refused requests are not counted; another identity has its own counters.
    assert_eq!(
        state.count(at, b"c:a", clock::period_window(Period::Minute, now)),
        2.0
    );
    h.clear();
    assert!(check_requests(&mut state, &applied(&conf, at, b"c:b", now), &mut h).is_ok());
    // The next minute starts afresh.
    let later = Now {
        ms: now.ms + 60_000,
    };
    assert!(check_requests(&mut state, &applied(&conf, at, b"c:a", later), &mut h).is_ok());
}

fn token_limit(sliding: bool) -> TokenLimit {
    let window = |limit: f64, seconds: u64| TokenWindow {
        limit,
        seconds,
        limit_header: format!("X-AI-RateLimit-Limit-{seconds}-openai"),
        remaining_header: format!("X-AI-RateLimit-Remaining-{seconds}-openai"),
        reset_header: format!("X-AI-RateLimit-Reset-{seconds}-openai"),
        retry_after_header: format!("X-AI-RateLimit-Retry-After-{seconds}-openai"),
    };
    TokenLimit {
        id: "ai".into(),
        providers: vec![TokenProvider {
            name: "openai".into(),
            provider: Some(Provider::OpenAi),
            windows: vec![window(100.0, 60)],
        }],
        identifier: LimitBy::Consumer,
        strategy: Strategy::Local,
        window_type: if sliding {
            WindowType::Sliding
        } else {
            WindowType::Fixed
        },
        count: TokenCount::TotalTokens,
        hide_client_headers: false,
        error_code: 429,
        error_message: "AI token rate limit exceeded for provider(s): ".into(),
        error_hide_providers: false,
    }
}

#[test]
fn the_request_that_crosses_a_budget_is_served_and_the_next_refused() {
    let mut state = LimitsState::new(0);
    let at = state.bind("ai", None);
    let conf = token_limit(false);
    let openai = 1 << (Provider::OpenAi as u32);
    let now = Now {
        ms: 1_700_000_400_000 + 15_000,
    };
    let (mut key, mut h) = (Vec::new(), Vec::new());
    assert!(check_tokens(
        &state,
        &applied(&conf, at, b"c:a", now),
        openai,
        &mut key,
        &mut h
    )
    .is_ok());
    assert_eq!(
        text(&h),
        "X-AI-RateLimit-Limit-60-openai: 100\r\nX-AI-RateLimit-Remaining-60-openai: 100\r\n"
    );
    let tally = Tally {
        total_tokens: 150,
        ..Tally::default()
    };
    let spent = applied(&conf, at, b"c:a", now);
    spend_tokens(&mut state, &spent, Provider::OpenAi, &tally, &mut key);
    h.clear();
    let refused = check_tokens(
        &state,
        &applied(&conf, at, b"c:a", now),
        openai,
        &mut key,
        &mut h,
    );
    assert_eq!(
        refused.unwrap_err().message,
        "AI token rate limit exceeded for provider(s): openai"
    );
    let t = text(&h);
    for line in [
        "X-AI-RateLimit-Remaining-60-openai: 0\r\n",
        "X-AI-RateLimit-Reset-60-openai: 45\r\n",
        "X-AI-RateLimit-Retry-After: 45\r\n",
        "Retry-After: 45\r\n",
    ] {
        assert!(t.contains(line), "{line} in {t}");
    }
    // A budget for a provider the route does not use is not checked.
    h.clear();
    assert!(check_tokens(
        &state,
        &applied(&conf, at, b"c:a", now),
        0,
        &mut key,
        &mut h
    )
    .is_ok());
    // The next fixed window starts empty.
    let next = Now {
        ms: now.ms + 60_000,
    };
    assert!(check_tokens(
        &state,
        &applied(&conf, at, b"c:a", next),
        openai,
        &mut key,
        &mut h
    )
    .is_ok());
}

#[test]
fn a_sliding_window_remembers_the_previous_one() {
    let mut state = LimitsState::new(0);
    let at = state.bind("ai", None);
    let conf = token_limit(true);
    let openai = 1 << (Provider::OpenAi as u32);
    let start = 1_700_000_400_000;
    let (mut key, mut h) = (Vec::new(), Vec::new());
    let tally = Tally {
        total_tokens: 150,
        ..Tally::default()
    };
    let spent = applied(&conf, at, b"c:a", Now { ms: start + 59_000 });
    spend_tokens(&mut state, &spent, Provider::OpenAi, &tally, &mut key);
    // 30 s into the next window half of the previous one still counts: 75 of 100.
    let mid = Now { ms: start + 90_000 };
    assert!(check_tokens(
        &state,
        &applied(&conf, at, b"c:a", mid),
        openai,
        &mut key,
        &mut h
    )
    .is_ok());
    assert!(
        text(&h).contains("X-AI-RateLimit-Remaining-60-openai: 25\r\n"),
        "{}",
        text(&h)
    );
    // 10 s in: 150 * 50/60 = 125 >= 100, refused until 150 * (60 - e)/60 < 100: e > 20 s.
    h.clear();
    let early = Now { ms: start + 70_000 };
    assert!(check_tokens(
        &state,
        &applied(&conf, at, b"c:a", early),
        openai,
        &mut key,
        &mut h
    )
    .is_err());
    assert!(text(&h).contains("Retry-After: 10\r\n"), "{}", text(&h));
}

#[test]
fn identities_fall_back_to_the_ip() {
    let mut head = RequestHead::default();
    let raw = b"POST /v1/chat HTTP/1.1\r\nHost: a\r\nX-Team: blue\r\n\r\n";
    assert!(RequestHead::parse_into(raw, &crate::http1::Limits::default(), &mut head).is_ok());
    let consumer = Consumer::new("u1".into(), Some("alice".into()), None, vec![]);
    let subject = |c| Subject {
        consumer: c,
        credential: None,
        ip: Some(IpAddr::from([10, 0, 0, 7])),
        head: &head,
        service: Some("svc"),
    };
    let mut out = Vec::new();
    let mut id = |by: LimitBy, c| {
        identity(&by, &subject(c), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    assert_eq!(id(LimitBy::Consumer, Some(&consumer)), "c:u1");
    assert_eq!(id(LimitBy::Consumer, None), "i:10.0.0.7");
    assert_eq!(id(LimitBy::Credential, Some(&consumer)), "i:10.0.0.7");
    assert_eq!(id(LimitBy::Service, None), "s:svc");
    assert_eq!(id(LimitBy::Header("x-team".into()), None), "h:blue");
    assert_eq!(id(LimitBy::Header("x-other".into()), None), "i:10.0.0.7");
    assert_eq!(id(LimitBy::Path("/v1/chat".into()), None), "p:/v1/chat");
    assert_eq!(id(LimitBy::Path("/v2".into()), None), "i:10.0.0.7");
}
