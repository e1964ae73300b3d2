//! `find_member` and `member_values` on bodies whose members repeat, nest or hide in strings.

use super::raw::*;

fn cut(b: &str, m: &Member) -> String {
    format!("{}{}", &b[..m.span.start], &b[m.span.end..])
}

#[test]
fn finds_and_cuts_members() {
    let b = r#"{"a":1, "apikey" : "k1" ,"b":[1,{"apikey":2}]}"#;
    let MemberLookup::Found(m) = find_member(b.as_bytes(), "apikey") else {
        panic!()
    };
    assert_eq!(&b[m.value.clone()], r#""k1""#);
    assert_eq!(cut(b, &m), r#"{"a":1, "b":[1,{"apikey":2}]}"#);
    let last = r#"{"a":1,"apikey":"k"}"#;
    let MemberLookup::Found(m) = find_member(last.as_bytes(), "apikey") else {
        panic!()
    };
    assert_eq!(cut(last, &m), r#"{"a":1}"#);
    let only = r#" { "ap\u0069key":"k" } "#;
    let MemberLookup::Found(m) = find_member(only.as_bytes(), "apikey") else {
        panic!()
    };
    assert!(m.only);
    assert_eq!(cut(only, &m), " {  } ");
    assert_eq!(
        find_member(br#"{"apikey":1,"apikey":2}"#, "apikey"),
        MemberLookup::Duplicate
    );
    assert_eq!(find_member(br#"{"a":1}"#, "apikey"), MemberLookup::Absent);
    assert_eq!(find_member(b"{}", "apikey"), MemberLookup::Absent);
    assert_eq!(find_member(b"[1]", "apikey"), MemberLookup::NotAnObject);
    assert_eq!(
        find_member(br#"{"a":1"#, "apikey"),
        MemberLookup::NotAnObject
    );
}
