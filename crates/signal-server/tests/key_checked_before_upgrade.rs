//! Keys and origins are checked before the upgrade: 401/403/404 with a JSON body.

mod support;
use support::*;

#[tokio::test]
async fn unknown_or_missing_key_is_401_invalid_key() {
    let s = server().await;
    for url in [url(&s, "pk_wrong"), s.url(), format!("{}?key=", s.url()), url(&s, "pk_test_")] {
        let r = try_connect(&url, None).await.err().expect("refused");
        assert_eq!(r.status, 401);
        assert_eq!(r.body, r#"{"error":"invalid_key"}"#);
    }
}

#[tokio::test]
async fn other_paths_are_404() {
    let s = server().await;
    let url = format!("ws://{}/v2?key={KEY}", s.addr());
    let r = try_connect(&url, None).await.err().expect("refused");
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn percent_encoded_keys_are_decoded() {
    let s = server_with(signal_server::Config::for_keys(&["pk a+b/c"])).await;
    try_connect(&format!("{}?key=pk%20a%2Bb%2Fc", s.url()), None).await.expect("accepted");
}

#[tokio::test]
async fn origin_allow_list_gives_403_to_other_origins() {
    let s = server_with(config(
        "[[keys]]\nkey = \"pk_web\"\norigins = [\"https://*.example.com\"]\n[[keys]]\nkey = \"pk_any\"",
    ))
    .await;
    let r = try_connect(&url(&s, "pk_web"), Some("https://evil.test")).await.err().expect("refused");
    assert_eq!(r.status, 403);
    assert_eq!(r.body, r#"{"error":"origin_not_allowed"}"#);
    let r = try_connect(&url(&s, "pk_web"), None).await.err().expect("no Origin is refused too");
    assert_eq!(r.status, 403);
    try_connect(&url(&s, "pk_web"), Some("https://app.example.com")).await.expect("allowed origin");
    try_connect(&url(&s, "pk_any"), Some("https://evil.test")).await.expect("keys without a list take any origin");
}

/// A server for this machine's apps only (the app's embedded one) refuses any web page:
/// an upgrade with an `Origin` gets 403 before the key is looked at, so a page learns
/// nothing, not even whether it guessed a key.
#[tokio::test]
async fn a_server_refusing_browsers_answers_any_origin_with_403_before_the_key() {
    let s = server_with(config(&format!("[server]\nrefuse_browser_origins = true\n[[keys]]\nkey = \"{KEY}\""))).await;
    for u in [url(&s, KEY), url(&s, "pk_guess"), format!("ws://{}/v1", s.addr())] {
        let r = try_connect(&u, Some("http://localhost:8000")).await.err().expect("a browser is refused");
        assert_eq!((r.status, r.body.as_str()), (403, r#"{"error":"browser_not_allowed"}"#), "{u}");
    }
    try_connect(&url(&s, KEY), None).await.expect("an app (no Origin) is served");
}

#[tokio::test]
async fn any_of_several_keys_is_accepted() {
    let s = server_with(signal_server::Config::for_keys(&["pk_one", "pk_two"])).await;
    try_connect(&url(&s, "pk_one"), None).await.expect("first key");
    try_connect(&url(&s, "pk_two"), None).await.expect("second key");
}

#[tokio::test]
async fn the_key_and_resume_token_in_headers_are_accepted_and_win_over_the_query() {
    let s = server().await;
    let bare = s.url();
    let mut a = try_connect_with(&bare, &[("peerchat-key", KEY)]).await.expect("key in a header");
    a.subscribe("lobby", "a").await;
    // A header wins over the query, both ways.
    let refused = try_connect_with(&url(&s, KEY), &[("peerchat-key", "pk_wrong")]).await.err().unwrap();
    assert_eq!(refused.status, 401);
    try_connect_with(&format!("{bare}?key=pk_wrong"), &[("peerchat-key", KEY)]).await.expect("header key wins");
    // The resume token in a header resumes the same identity.
    let token = a.token.clone();
    let b = try_connect_with(&bare, &[("peerchat-key", KEY), ("peerchat-resume", &token)]).await.unwrap();
    assert_eq!(b.peer_id, a.peer_id);
    assert_eq!(b.welcome["resumed"], true, "{}", b.welcome);
}
