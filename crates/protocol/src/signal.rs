//! The payload of `signal` frames: `{"gen": n, "description": ...}` or
//! `{"gen": n, "candidate": ...}`, in the JSON shapes browsers use
//! (`RTCSessionDescriptionInit`, `RTCIceCandidateInit`).

use serde::{Deserialize, Serialize};

/// `RTCSessionDescriptionInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDescription {
    /// `offer`, `answer`, `pranswer` or `rollback`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The SDP text.
    #[serde(default)]
    pub sdp: String,
}

/// `RTCIceCandidateInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    /// The candidate line (`candidate:...`); empty means end of candidates.
    pub candidate: String,
    /// Media stream id tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// Index of the m-line.
    #[serde(default, rename = "sdpMLineIndex", skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
    /// ICE ufrag the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// What a `signal` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalBody {
    /// An offer or answer.
    Description(SessionDescription),
    /// A trickled candidate; `None` is end of candidates.
    Candidate(Option<IceCandidate>),
}

/// A parsed `signal.data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalPayload {
    /// Peer-connection generation (1 for the first connection of a pair).
    pub gen: u64,
    /// Description or candidate.
    pub body: SignalBody,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    gen: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<SessionDescription>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    candidate: Option<Option<IceCandidate>>,
}

mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(v: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// Why a signal payload was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// Not JSON of the expected shape.
    #[error("malformed signal payload: {0}")]
    Malformed(String),
    /// Neither or both of `description` and `candidate`.
    #[error("a signal must carry exactly one of `description` or `candidate`")]
    Ambiguous,
    /// `gen` 0 is not a valid generation.
    #[error("signal generation must be at least 1")]
    ZeroGeneration,
}

impl SignalPayload {
    /// Parses `signal.data` as received from a peer. Never panics.
    pub fn parse(json: &str) -> Result<SignalPayload, SignalError> {
        let w: Wire = serde_json::from_str(json).map_err(|e| SignalError::Malformed(e.to_string()))?;
        if w.gen == 0 {
            return Err(SignalError::ZeroGeneration);
        }
        let body = match (w.description, w.candidate) {
            (Some(d), None) => SignalBody::Description(d),
            (None, Some(c)) => SignalBody::Candidate(c.filter(|c| !c.candidate.is_empty())),
            _ => return Err(SignalError::Ambiguous),
        };
        Ok(SignalPayload { gen: w.gen, body })
    }

    /// Serialises the payload as `signal.data` JSON.
    pub fn to_json(&self) -> String {
        let (description, candidate) = match &self.body {
            SignalBody::Description(d) => (Some(d.clone()), None),
            SignalBody::Candidate(c) => (None, Some(c.clone())),
        };
        serde_json::to_string(&Wire { gen: self.gen, description, candidate }).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_descriptions_and_candidates() {
        let p = SignalPayload::parse(r#"{"gen":2,"description":{"type":"offer","sdp":"v=0"}}"#).unwrap();
        assert_eq!(p.gen, 2);
        assert!(matches!(p.body, SignalBody::Description(ref d) if d.kind == "offer"));
        let p = SignalPayload::parse(r#"{"gen":1,"candidate":{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdpMid":"0","sdpMLineIndex":0}}"#).unwrap();
        assert!(matches!(p.body, SignalBody::Candidate(Some(ref c)) if c.sdp_m_line_index == Some(0)));
        let p = SignalPayload::parse(r#"{"gen":1,"candidate":null}"#).unwrap();
        assert_eq!(p.body, SignalBody::Candidate(None));
        assert_eq!(SignalPayload::parse(&p.to_json()).unwrap(), p);
    }

    #[test]
    fn rejects_bad_payloads() {
        assert!(matches!(SignalPayload::parse("{}"), Err(SignalError::Malformed(_))));
        assert_eq!(SignalPayload::parse(r#"{"gen":1}"#), Err(SignalError::Ambiguous));
        assert_eq!(SignalPayload::parse(r#"{"gen":0,"candidate":null}"#), Err(SignalError::ZeroGeneration));
        assert!(SignalPayload::parse(r#"{"gen":-1,"candidate":null}"#).is_err());
        assert!(SignalPayload::parse(r#"{"gen":1,"description":{"sdp":"x"}}"#).is_err());
    }
}
