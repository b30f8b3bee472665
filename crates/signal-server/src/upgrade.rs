//! The HTTP side of a connection, before the WebSocket upgrade: the path, the key and the
//! origin are checked here, so a refused client never holds a socket open.

use std::sync::Arc;

use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{self, StatusCode};

use peerchat_protocol::local_proof;

use crate::hub::keys::{KeyEntry, KeyTable};
use crate::per_ip::IpPermit;

/// What an accepted upgrade request carried.
#[derive(Debug)]
pub struct Admitted {
    pub key: Arc<KeyEntry>,
    pub resume: Option<String>,
}

/// Why an upgrade request was refused (or answered without an upgrade).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A local-proof challenge (and no key): HTTP 401 with this JSON body, which carries
    /// the proofs. (tungstenite sends no successful status without an upgrade.)
    Proof(String),
    /// Not the `/v1` path: HTTP 404.
    NotFound,
    /// Missing or unknown key: HTTP 401.
    InvalidKey,
    /// The key's origin allow-list does not match: HTTP 403.
    OriginNotAllowed,
    /// A browser (an `Origin` header) where the server refuses browsers: HTTP 403.
    BrowserNotAllowed,
    /// The client's address holds its maximum of connections: HTTP 429.
    TooManyFromAddress,
}

impl Refusal {
    fn response(self) -> ErrorResponse {
        match self {
            Refusal::Proof(body) => respond(StatusCode::UNAUTHORIZED, body),
            Refusal::NotFound => refuse(StatusCode::NOT_FOUND, "not_found"),
            Refusal::InvalidKey => refuse(StatusCode::UNAUTHORIZED, "invalid_key"),
            Refusal::OriginNotAllowed => refuse(StatusCode::FORBIDDEN, "origin_not_allowed"),
            Refusal::BrowserNotAllowed => refuse(StatusCode::FORBIDDEN, "browser_not_allowed"),
            Refusal::TooManyFromAddress => refuse(StatusCode::TOO_MANY_REQUESTS, "too_many_connections_from_address"),
        }
    }
}

/// Header with the publishable key (native clients; proxies do not log it).
pub const KEY_HEADER: &str = "peerchat-key";
/// Header with the resume token.
pub const RESUME_HEADER: &str = "peerchat-resume";

/// Checks an upgrade request. The key and resume token come from the `Peerchat-Key` and
/// `Peerchat-Resume` headers or, for browsers (which cannot set headers on a
/// WebSocket), from the `key` and `resume` query parameters; a header wins over the
/// query. With `refuse_browsers`, a request with an `Origin` header is refused before
/// anything else is looked at (a web page learns nothing, not even whether a key is
/// valid).
///
/// With `proving_at` (the address the client connected to, on a server with
/// `local_proof`), a request carrying a `Peerchat-Challenge` gets the proofs of this
/// server's keys instead (see `peerchat_protocol::local_proof`), whatever else it carries.
pub fn admit(
    keys: &KeyTable,
    req: &Request,
    refuse_browsers: bool,
    proving_at: Option<&str>,
) -> Result<Admitted, Refusal> {
    if refuse_browsers && req.headers().contains_key(http::header::ORIGIN) {
        return Err(Refusal::BrowserNotAllowed);
    }
    if req.uri().path() != peerchat_protocol::PATH_V1 {
        return Err(Refusal::NotFound);
    }
    if let (Some(addr), Some(value)) = (proving_at, req.headers().get(local_proof::CHALLENGE_HEADER)) {
        let challenge = value.to_str().ok().and_then(local_proof::parse_challenge).ok_or(Refusal::InvalidKey)?;
        let proofs: Vec<String> = keys.digests().iter().map(|d| local_proof::prove(d, &challenge, addr)).collect();
        return Err(Refusal::Proof(serde_json::json!({ "error": "invalid_key", "proofs": proofs }).to_string()));
    }
    let mut key = None;
    let mut resume = None;
    for pair in req.uri().query().unwrap_or("").split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "key" => key = percent_decode(value),
            "resume" => resume = percent_decode(value).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(k) = header(KEY_HEADER) {
        key = Some(k);
    }
    if let Some(r) = header(RESUME_HEADER).filter(|r| !r.is_empty()) {
        resume = Some(r);
    }
    let Some(entry) = key.as_deref().and_then(|k| keys.lookup(k)) else {
        return Err(Refusal::InvalidKey);
    };
    let origin = req.headers().get(http::header::ORIGIN).and_then(|v| v.to_str().ok());
    if !entry.allows_origin(origin) {
        return Err(Refusal::OriginNotAllowed);
    }
    Ok(Admitted { key: entry, resume })
}

fn refuse(status: StatusCode, error: &str) -> ErrorResponse {
    respond(status, format!(r#"{{"error":"{error}"}}"#))
}

fn respond(status: StatusCode, body: String) -> ErrorResponse {
    let len = http::HeaderValue::from(body.len());
    let mut resp = ErrorResponse::new(Some(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    h.insert(http::header::CONTENT_LENGTH, len);
    h.insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    resp
}

/// Decodes `%XX` escapes and `+`; `None` for malformed escapes or invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Adapts [`admit`] and the address cap to tungstenite's handshake callback, keeping
/// the result.
pub struct Gate<'a> {
    pub keys: &'a KeyTable,
    pub metrics: &'a crate::metrics::Metrics,
    pub permit: &'a mut IpPermit,
    pub admitted: &'a mut Option<Admitted>,
    pub refuse_browsers: bool,
    /// The address this connection reached, when the server answers local proofs.
    pub proving_at: Option<String>,
}

impl tokio_tungstenite::tungstenite::handshake::server::Callback for Gate<'_> {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        let a =
            admit(self.keys, request, self.refuse_browsers, self.proving_at.as_deref()).map_err(Refusal::response)?;
        let forwarded = request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
        if self.permit.admit(forwarded).is_err() {
            self.metrics.refused_per_address();
            return Err(Refusal::TooManyFromAddress.response());
        }
        *self.admitted = Some(a);
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_escapes() {
        assert_eq!(percent_decode("pk_a%2Bb+c").as_deref(), Some("pk_a+b c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(percent_decode("é%C3%A9").as_deref(), Some("éé"));
    }
}
