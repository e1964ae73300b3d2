use super::*;

#[test]
fn parses_borrowed_and_keeps_raw_tokens() {
    let body = br#"{"model":"m","messages":[{"role":"user","content":"a\"b\u00e9"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]}],"max_tokens":12,"temperature":0.50,"stop":"END","unknown":{"deep":[1,2]}}"#;
    let req = ChatRequest::parse(body).unwrap();
    assert_eq!(req.model.as_deref(), Some("m"));
    assert_eq!(req.max_tokens().map(RawValue::get), Some("12"));
    // Numbers keep the client's spelling.
    assert_eq!(req.temperature.map(RawValue::get), Some("0.50"));
    let Content::Text(t) = Content::of(req.messages[0].content).unwrap() else {
        panic!("text expected");
    };
    assert_eq!(t.get(), r#""a\"b\u00e9""#);
    assert_eq!(unquote(t).unwrap(), "a\"bé");
    assert!(matches!(
        Content::of(req.messages[1].content).unwrap(),
        Content::None
    ));
    let call = &req.messages[1].tool_calls.as_ref().unwrap()[0];
    assert_eq!(arguments_object(call).unwrap(), r#"{"x":1}"#);
    let mut stop = Vec::new();
    write_stop_array(req.stop.unwrap(), &mut stop).unwrap();
    assert_eq!(stop, br#"["END"]"#);
}

#[test]
fn rejects_what_cannot_be_translated() {
    assert!(ChatRequest::parse(br#"{"messages":"no"}"#).is_err());
    assert!(ChatRequest::parse(br#"{"model":"a","model":"b","messages":[]}"#).is_err());
    let req =
        ChatRequest::parse(br#"{"messages":[{"role":"wizard","content":"x"}],"n":2}"#).unwrap();
    assert!(Role::of(&req.messages[0]).is_err());
    assert!(req.check_single_choice("p").is_err());
    let bad_args = br#"{"messages":[{"role":"assistant","tool_calls":[{"id":"1","function":{"name":"f","arguments":"[1]"}}]}]}"#;
    let req = ChatRequest::parse(bad_args).unwrap();
    let call = &req.messages[0].tool_calls.as_ref().unwrap()[0];
    assert!(arguments_object(call)
        .unwrap_err()
        .0
        .contains("not a JSON object"));
    let empty_args = br#"{"messages":[{"role":"assistant","tool_calls":[{"id":"1","function":{"name":"f","arguments":""}}]}]}"#;
    let req = ChatRequest::parse(empty_args).unwrap();
    let call = &req.messages[0].tool_calls.as_ref().unwrap()[0];
    assert_eq!(arguments_object(call).unwrap(), "{}");
}

#[test]
fn parts_data_urls_and_tool_choice() {
    let req = ChatRequest::parse(
        br#"{"messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}}]}],"tool_choice":{"type":"function","function":{"name":"get"}}}"#,
    )
    .unwrap();
    let Content::Parts(parts) = Content::of(req.messages[0].content).unwrap() else {
        panic!("parts expected");
    };
    assert_eq!(parts.len(), 2);
    let url = &parts[1].image_url.as_ref().unwrap().url;
    let d = DataUrl::parse(url).unwrap();
    assert_eq!((d.media_type, d.data), ("image/png", "iVBOR"));
    assert!(DataUrl::parse("https://x/y.png").is_none());
    assert_eq!(media_type_of_url("https://x/y.PNG?s=1"), "image/png");
    assert_eq!(media_type_of_url("https://x/y"), "image/jpeg");
    match ToolChoice::of(req.tool_choice).unwrap() {
        Some(ToolChoice::Function(name)) => assert_eq!(name.get(), "\"get\""),
        other => panic!("{other:?}"),
    }
    let raw: &RawValue = serde_json::from_str("\"required\"").unwrap();
    assert!(matches!(
        ToolChoice::of(Some(raw)).unwrap(),
        Some(ToolChoice::Required)
    ));
    let raw: &RawValue = serde_json::from_str("\"sometimes\"").unwrap();
    assert!(ToolChoice::of(Some(raw)).is_err());
}

#[test]
fn defaults_yield_to_the_client() {
    let req =
        ChatRequest::parse(br#"{"messages":[],"max_completion_tokens":5,"top_k":3}"#).unwrap();
    let ctx = RequestCtx {
        max_tokens: Some("100"),
        temperature: Some("0.2"),
        top_k: Some(9),
        ..RequestCtx::default()
    };
    assert_eq!(ctx.max_tokens(&req), Some("5"));
    assert_eq!(ctx.temperature(&req), Some("0.2"));
    assert_eq!(ctx.top_k(&req).as_deref(), Some("3"));
    let none = ChatRequest::parse(br#"{"messages":[]}"#).unwrap();
    assert_eq!(ctx.top_k(&none).as_deref(), Some("9"));
    assert_eq!(ctx.top_p(&none), None);
}

#[test]
fn a_text_part_needs_its_text() {
    let content = |c: &str| {
        let raw: Box<RawValue> = serde_json::from_str(c).unwrap();
        Content::of(Some(&raw)).map(|_| ()).map_err(|e| e.0)
    };
    for bad in [
        r#"[{"type":"text","bad_text_field":"What is in this picture?"}]"#,
        r#"[{"type":"text","text":null}]"#,
        r#"[{"type":"text","text":3}]"#,
    ] {
        let err = content(bad).unwrap_err();
        assert!(err.contains("`text`"), "{bad}: {err}");
    }
    // An empty text is still a text (left out of the blocks later, not refused).
    assert!(content(r#"[{"type":"text","text":""}]"#).is_ok());
    assert!(content(r#"[{"type":"image_url","image_url":{"url":"https://x/a.png"}}]"#).is_ok());
}
