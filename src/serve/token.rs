//! OAI-PMH resumption tokens. A token carries the query (verb, metadataPrefix, from,
//! until, set) and the position reached, the (datestamp, identifier) of the last record
//! sent, not an offset: items added while a harvest runs never shift the pages still
//! to come, so a token stays valid. It is signed with a keyed BLAKE3 MAC (a key drawn
//! at start-up), so a forged or edited token is refused as badResumptionToken rather
//! than followed; a token outlives neither a restart of the server nor its key.
//!
//! Shape: base64url(JSON) `.` 32 hex digits of MAC, all URL- and XML-safe.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// The longest token accepted; Cairn's own are about 150 characters.
pub const MAX_TOKEN_LEN: usize = 1024;

/// The query and position a token resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    #[serde(rename = "v")]
    pub verb: String,
    #[serde(rename = "p")]
    pub prefix: String,
    /// Inclusive bounds, seconds since the epoch, with the granularity they were asked in
    /// (true: day).
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    /// The last record sent: (datestamp, identifier).
    #[serde(rename = "d")]
    pub after_datestamp: i64,
    #[serde(rename = "i")]
    pub after_id: String,
}

/// The signing key.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// A fresh random key (from the system's random source, through UUID v4).
    pub fn random() -> TokenKey {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        TokenKey(key)
    }

    pub fn from_bytes(key: [u8; 32]) -> TokenKey {
        TokenKey(key)
    }

    fn mac(&self, body: &str) -> String {
        let h = blake3::keyed_hash(&self.0, body.as_bytes());
        h.to_hex()[..32].to_string()
    }

    pub fn encode(&self, r: &Resume) -> String {
        // Serialising a struct of strings and numbers cannot fail.
        let json = serde_json::to_vec(r).unwrap_or_default();
        let body = URL_SAFE_NO_PAD.encode(json);
        let mac = self.mac(&body);
        format!("{body}.{mac}")
    }

    /// The query and position of a token this key signed; `None` for anything else.
    pub fn decode(&self, token: &str) -> Option<Resume> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (body, mac) = token.rsplit_once('.')?;
        // Compared in constant time (no early exit), so timing reveals nothing.
        let want = self.mac(body);
        if mac.len() != want.len()
            || mac
                .bytes()
                .zip(want.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return None;
        }
        let json = URL_SAFE_NO_PAD.decode(body).ok()?;
        serde_json::from_slice(&json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Resume {
        Resume {
            verb: "ListRecords".into(),
            prefix: "oai_dc".into(),
            from: Some(0),
            until: None,
            set: Some("s21".into()),
            after_datestamp: 1_700_000_000,
            after_id: "cairn-000100".into(),
        }
    }

    #[test]
    fn round_trip_and_forgery() {
        let key = TokenKey::from_bytes([7; 32]);
        let t = key.encode(&sample());
        assert!(t.len() < 200, "{t}");
        assert!(t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        assert_eq!(key.decode(&t), Some(sample()));
        // Another key, an edited body, an edited MAC, garbage: all refused.
        assert_eq!(TokenKey::from_bytes([8; 32]).decode(&t), None);
        let (body, mac) = t.rsplit_once('.').unwrap();
        let mut forged = sample();
        forged.after_id = "cairn-000001".into();
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(key.decode(&format!("{forged_body}.{mac}")), None);
        let flipped: String = mac
            .chars()
            .map(|c| if c == '0' { '1' } else { '0' })
            .collect();
        assert_eq!(key.decode(&format!("{body}.{flipped}")), None);
        for junk in ["", ".", "a.b", "../../etc/passwd", &"x".repeat(5000)] {
            assert_eq!(key.decode(junk), None, "{junk}");
        }
    }
}
