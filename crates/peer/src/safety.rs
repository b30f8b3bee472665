//! Safety numbers: what two people read to each other to know that nobody sits between
//! them. Each side's DTLS certificate fingerprint is what its SDP carries (`a=fingerprint`);
//! the DTLS handshake then proves that the other end holds that certificate. Whoever
//! relays the SDPs (the signalling server) could swap both fingerprints for its own and
//! read the chat: the two sides would then compute different numbers.
//!
//! The number is SHA-256 over a label and both fingerprints in a fixed order (the lower
//! one first), so both sides compute the same value; 30 digits in six groups of five
//! (about 100 bits: no certificate an attacker can grind will match them). Sans-IO: SDP
//! text in, values out.

use sha2::{Digest, Sha256};

/// Longest fingerprint accepted (SHA-512 is 64 bytes).
const MAX_FINGERPRINT_BYTES: usize = 64;
/// Domain separation: a safety number is never any other hash of the same bytes.
const LABEL: &[u8] = b"peerchat safety number v1";

/// A DTLS certificate fingerprint as SDP carries it (`a=fingerprint:sha-256 AB:CD:…`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint {
    algorithm: String,
    bytes: Vec<u8>,
}

/// Why an SDP's fingerprint could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FingerprintError {
    #[error("the description carries no fingerprint")]
    Missing,
    #[error("malformed fingerprint `{0}`")]
    Malformed(String),
    #[error("the description carries two different {0} fingerprints")]
    Ambiguous(String),
}

impl Fingerprint {
    /// Parses the value of an `a=fingerprint:` attribute (`sha-256 AB:CD:…`).
    pub fn parse(value: &str) -> Result<Fingerprint, FingerprintError> {
        let bad = || FingerprintError::Malformed(value.chars().take(120).collect());
        let mut parts = value.split_whitespace();
        let (Some(algorithm), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let bytes = hex
            .split(':')
            .map(|b| if b.len() == 2 { u8::from_str_radix(b, 16).ok() } else { None })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(bad)?;
        if bytes.len() < 16 || bytes.len() > MAX_FINGERPRINT_BYTES || algorithm.len() > 16 {
            return Err(bad());
        }
        Ok(Fingerprint { algorithm: algorithm.to_ascii_lowercase(), bytes })
    }

    /// The fingerprint an SDP carries: its `sha-256` one (what browsers and the engine
    /// send), else its first. Every line with the chosen algorithm must agree.
    pub fn from_sdp(sdp: &str) -> Result<Fingerprint, FingerprintError> {
        let mut all = Vec::new();
        for line in sdp.lines() {
            if let Some(v) = line.trim_end_matches('\r').strip_prefix("a=fingerprint:") {
                all.push(Fingerprint::parse(v)?);
            }
        }
        let chosen = all.iter().find(|f| f.algorithm == "sha-256").or(all.first()).ok_or(FingerprintError::Missing)?;
        if all.iter().any(|f| f.algorithm == chosen.algorithm && f.bytes != chosen.bytes) {
            return Err(FingerprintError::Ambiguous(chosen.algorithm.clone()));
        }
        Ok(chosen.clone())
    }

    /// The hash algorithm (`sha-256`).
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }
}

impl std::fmt::Display for Fingerprint {
    /// As SDP writes it: `sha-256 AB:CD:…`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ", self.algorithm)?;
        for (i, b) in self.bytes.iter().enumerate() {
            write!(f, "{}{b:02X}", if i == 0 { "" } else { ":" })?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = FingerprintError;
    fn from_str(s: &str) -> Result<Fingerprint, FingerprintError> {
        Fingerprint::parse(s)
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fingerprint, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Fingerprint::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Thirty digits in six groups of five, the same on both sides of a connection.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SafetyNumber([u32; 6]);

impl SafetyNumber {
    /// The number of the pair of fingerprints `a` and `b`, in either order.
    pub fn of(a: &Fingerprint, b: &Fingerprint) -> SafetyNumber {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let mut h = Sha256::new();
        h.update(LABEL);
        for f in [lo, hi] {
            h.update([f.algorithm.len() as u8]);
            h.update(f.algorithm.as_bytes());
            h.update([f.bytes.len() as u8]);
            h.update(&f.bytes);
        }
        let digest = h.finalize();
        let mut groups = [0u32; 6];
        for (g, chunk) in groups.iter_mut().zip(digest.chunks_exact(5)) {
            let n = chunk.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
            *g = (n % 100_000) as u32;
        }
        SafetyNumber(groups)
    }

    /// The six groups, each below 100,000.
    pub fn groups(&self) -> [u32; 6] {
        self.0
    }
}

impl std::fmt::Display for SafetyNumber {
    /// `12345 67890 …`: six groups of five digits.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, g) in self.0.iter().enumerate() {
            write!(f, "{}{g:05}", if i == 0 { "" } else { " " })?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SafetyNumber({self})")
    }
}

impl serde::Serialize for SafetyNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What protects a connection: both certificates' fingerprints as the SDPs carried them,
/// and the safety number of the pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSecurity {
    /// Ours, from our local description.
    pub local: Fingerprint,
    /// The other side's, from its description as it reached us.
    pub remote: Fingerprint,
    pub safety_number: SafetyNumber,
}

impl PeerSecurity {
    pub fn new(local: Fingerprint, remote: Fingerprint) -> PeerSecurity {
        let safety_number = SafetyNumber::of(&local, &remote);
        PeerSecurity { local, remote, safety_number }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str =
        "sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9";
    const B: &str =
        "sha-256 FF:EE:DD:CC:BB:AA:99:88:77:66:55:44:33:22:11:00:FF:EE:DD:CC:BB:AA:99:88:77:66:55:44:33:22:11:00";

    fn fp(s: &str) -> Fingerprint {
        Fingerprint::parse(s).unwrap()
    }

    #[test]
    fn both_sides_compute_the_same_number_whatever_the_order() {
        assert_eq!(SafetyNumber::of(&fp(A), &fp(B)), SafetyNumber::of(&fp(B), &fp(A)));
    }

    #[test]
    fn another_fingerprint_gives_another_number() {
        let c = A.replace("0A:1B", "0A:1C");
        assert_ne!(SafetyNumber::of(&fp(A), &fp(B)), SafetyNumber::of(&fp(&c), &fp(B)));
        assert_ne!(SafetyNumber::of(&fp(A), &fp(B)), SafetyNumber::of(&fp(A), &fp(A)));
    }

    #[test]
    fn the_number_is_six_groups_of_five_digits() {
        let text = SafetyNumber::of(&fp(A), &fp(B)).to_string();
        let groups: Vec<&str> = text.split(' ').collect();
        assert_eq!(groups.len(), 6, "{text}");
        assert!(groups.iter().all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit())), "{text}");
    }

    #[test]
    fn hex_case_does_not_change_the_fingerprint() {
        assert_eq!(fp(A), fp(&A.to_lowercase()));
        assert_eq!(fp(&A.to_lowercase()).to_string(), A);
    }

    #[test]
    fn the_fingerprint_is_read_from_an_sdp() {
        let sdp = format!("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=fingerprint:sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=fingerprint:{A}\r\n");
        assert_eq!(Fingerprint::from_sdp(&sdp).unwrap(), fp(A));
    }

    #[test]
    fn an_sdp_without_or_with_conflicting_fingerprints_is_refused() {
        assert_eq!(Fingerprint::from_sdp("v=0\r\n"), Err(FingerprintError::Missing));
        let two = format!("a=fingerprint:{A}\r\na=fingerprint:{B}\r\n");
        assert_eq!(Fingerprint::from_sdp(&two), Err(FingerprintError::Ambiguous("sha-256".into())));
    }

    #[test]
    fn malformed_fingerprints_are_typed_errors() {
        for bad in ["sha-256", "sha-256 zz:11", "sha-256 0A:1B", "sha-256 0A1B2C", &format!("{A} extra"), ""] {
            assert!(matches!(Fingerprint::parse(bad), Err(FingerprintError::Malformed(_))), "{bad}");
        }
        let long = format!("sha-256 {}", vec!["AB"; 65].join(":"));
        assert!(Fingerprint::parse(&long).is_err());
    }

    #[test]
    fn a_fingerprint_round_trips_through_json() {
        let json = serde_json::to_string(&fp(A)).unwrap();
        assert_eq!(serde_json::from_str::<Fingerprint>(&json).unwrap(), fp(A));
        assert!(serde_json::from_str::<Fingerprint>("\"sha-256 nope\"").is_err());
    }
}
