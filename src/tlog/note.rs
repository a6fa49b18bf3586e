//! C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures, and the
//! tlog-checkpoint body they carry (c2sp.org/tlog-checkpoint).
//!
//! A note is its text (lines ending in `\n`), a blank line, then signature lines
//! `— <key name> <base64(key ID || signature)>`. The key ID is the first 4 bytes of
//! `SHA-256(key name || 0x0A || 0x01 || public key)` (0x01: the Ed25519 signature
//! type); the signature is Ed25519 over the text alone. Keys are written as Go's
//! `golang.org/x/mod/sumdb/note` writes them: the verifier key
//! `<name>+<hex key ID>+<base64(0x01 || public key)>` and the signer key
//! `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::Hash;

/// The signature type byte of Ed25519 in signed notes.
pub const ALG_ED25519: u8 = 0x01;

/// Why a key, note or checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed key: {0}")]
    Key(String),
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("no signature by key {0} on the note")]
    NotSigned(String),
    #[error(
        "the signature by key {0} does not verify: the note was altered or signed by another key"
    )]
    BadSignature(String),
    #[error("malformed checkpoint: {0}")]
    Checkpoint(String),
}

/// A key name: non-empty, no whitespace, no `+` (the spec's rule).
pub fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::Key(format!(
            "key name {}: it must be non-empty, without spaces or '+'",
            crate::quoted(name)
        )));
    }
    Ok(())
}

/// The 4-byte key ID of an Ed25519 key.
pub fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A public (verifier) key.
#[derive(Debug, Clone)]
pub struct VerifierKey {
    pub name: String,
    pub id: [u8; 4],
    pub key: VerifyingKey,
}

impl VerifierKey {
    /// Parses `<name>+<hex key ID>+<base64(0x01 || public key)>` (surrounding
    /// whitespace ignored). The key ID must match the name and key.
    pub fn parse(text: &str) -> Result<VerifierKey, NoteError> {
        let text = text.trim();
        if text.starts_with("PRIVATE+KEY+") {
            // Never echo it: the secret is in the text.
            return Err(NoteError::Key(
                "this is the private key (PRIVATE+KEY+...), where the public key is wanted: \
                 give FILE.pub, which `cairn key generate` wrote beside it"
                    .into(),
            ));
        }
        let bad = |why: &str| NoteError::Key(format!("{why} (expected NAME+KEYID+BASE64)"));
        // The name has no '+'; the base64 may.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(hexid), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not three '+'-separated parts"));
        };
        check_name(name)?;
        let id = parse_key_id(hexid).ok_or_else(|| bad("the key ID is not 8 hex digits"))?;
        let raw = B64.decode(b64).map_err(|_| bad("the key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(bad("not an Ed25519 key (0x01 and 32 bytes)"));
        }
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&raw[1..]);
        let key =
            VerifyingKey::from_bytes(&pk).map_err(|_| bad("not a valid Ed25519 public key"))?;
        if key_id(name, &pk) != id {
            return Err(NoteError::Key(format!(
                "the key ID {hexid} does not match the name {} and key",
                crate::quoted(name)
            )));
        }
        Ok(VerifierKey {
            name: name.to_string(),
            id,
            key,
        })
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, super::hex(&self.id), B64.encode(raw))
    }
}

fn parse_key_id(hexid: &str) -> Option<[u8; 4]> {
    if hexid.len() != 8 || !hexid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let v = u32::from_str_radix(hexid, 16).ok()?;
    Some(v.to_be_bytes())
}

/// A private (signer) key.
pub struct SignerKey {
    pub name: String,
    pub id: [u8; 4],
    key: SigningKey,
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignerKey({}+{})", self.name, super::hex(&self.id))
    }
}

impl SignerKey {
    /// A key from a 32-byte seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<SignerKey, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(SignerKey {
            name: name.to_string(),
            id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`.
    pub fn parse(text: &str) -> Result<SignerKey, NoteError> {
        let bad = |why: &str| {
            NoteError::Key(format!(
                "{why} (expected PRIVATE+KEY+NAME+KEYID+BASE64, as `cairn key generate` writes)"
            ))
        };
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("not a private key"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hexid), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not three '+'-separated parts after PRIVATE+KEY+"));
        };
        let id = parse_key_id(hexid).ok_or_else(|| bad("the key ID is not 8 hex digits"))?;
        let raw = B64.decode(b64).map_err(|_| bad("the key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(bad("not an Ed25519 key (0x01 and a 32-byte seed)"));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&raw[1..]);
        let key = SignerKey::from_seed(name, seed)?;
        if key.id != id {
            return Err(bad("the key ID does not match the name and key"));
        }
        Ok(key)
    }

    /// The text form (secret!).
    pub fn to_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            super::hex(&self.id),
            B64.encode(raw)
        )
    }

    /// The matching public key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs a note's text: returns the whole note (text, blank line, signature line).
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let mut raw = self.id.to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{text}\n\u{2014} {} {}\n",
            self.name,
            B64.encode(raw)
        ))
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the text must be non-empty and end with a newline".into(),
        ));
    }
    if text.contains("\n\n") {
        return Err(NoteError::Malformed("the text has a blank line".into()));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed(
            "the text has a control character".into(),
        ));
    }
    Ok(())
}

/// A note split into its text and signature lines.
#[derive(Debug, Clone)]
pub struct Note {
    pub text: String,
    /// (key name, key ID, signature), in order.
    pub signatures: Vec<(String, [u8; 4], Vec<u8>)>,
}

impl Note {
    /// Splits a note at its last blank line and decodes each signature line.
    pub fn parse(note: &str) -> Result<Note, NoteError> {
        let bad = |why: &str| NoteError::Malformed(why.to_string());
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| bad("no blank line between the text and the signatures"))?;
        let text = &note[..split + 1];
        check_text(text)?;
        let sigs = &note[split + 2..];
        if !sigs.ends_with('\n') {
            return Err(bad("the last signature line has no newline"));
        }
        let mut signatures = Vec::new();
        for line in sigs.lines() {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| bad("a signature line does not start with '\u{2014} '"))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| bad("a signature line has no signature"))?;
            check_name(name).map_err(|_| bad("a signature line has a bad key name"))?;
            let raw = B64
                .decode(b64)
                .map_err(|_| bad("a signature is not base64"))?;
            if raw.len() < 5 {
                return Err(bad("a signature is too short"));
            }
            let id = [raw[0], raw[1], raw[2], raw[3]];
            signatures.push((name.to_string(), id, raw[4..].to_vec()));
        }
        if signatures.is_empty() {
            return Err(bad("no signature lines"));
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }

    /// Verifies the signature by `key`; other signatures are ignored, as the spec says.
    pub fn verify(&self, key: &VerifierKey) -> Result<(), NoteError> {
        let label = format!("{}+{}", key.name, super::hex(&key.id));
        let Some((_, _, sig)) = self
            .signatures
            .iter()
            .find(|(n, id, _)| *n == key.name && *id == key.id)
        else {
            return Err(NoteError::NotSigned(label));
        };
        let sig = ed25519_dalek::Signature::from_slice(sig)
            .map_err(|_| NoteError::BadSignature(label.clone()))?;
        key.key
            .verify_strict(self.text.as_bytes(), &sig)
            .map_err(|_| NoteError::BadSignature(label))
    }
}

/// A tlog-checkpoint: origin, tree size, root hash, and optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a note text as a checkpoint.
    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |why: String| NoteError::Checkpoint(why);
        let mut lines = text.lines();
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad("the origin line is empty".into()));
        }
        let size_line = lines
            .next()
            .ok_or_else(|| bad("no tree size line".into()))?;
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(bad(format!(
                "the tree size {} is not a decimal number",
                crate::quoted(size_line)
            )));
        }
        let size: u64 = size_line
            .parse()
            .map_err(|_| bad("the tree size is too large".into()))?;
        let root_line = lines
            .next()
            .ok_or_else(|| bad("no root hash line".into()))?;
        let raw = B64
            .decode(root_line)
            .map_err(|_| bad("the root hash is not base64".into()))?;
        let root: Hash = raw
            .try_into()
            .map_err(|_| bad("the root hash is not 32 bytes".into()))?;
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions: lines.map(str::to_string).collect(),
        })
    }
}

/// Base64 (standard, padded), as checkpoints and proofs write hashes.
pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Decodes a base64 hash.
pub fn hash_from_b64(s: &str) -> Option<Hash> {
    B64.decode(s).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_parse_verify_round_trip_and_tamper() {
        let k = SignerKey::from_seed("example.org/archive", [7u8; 32]).unwrap();
        let v = VerifierKey::parse(&k.verifier().to_text()).unwrap();
        let again = SignerKey::parse(&k.to_text()).unwrap();
        assert_eq!(again.id, k.id);
        let cp = Checkpoint {
            origin: "example.org/archive".into(),
            size: 12,
            root: [3u8; 32],
            extensions: vec![],
        };
        let note = k.sign(&cp.to_text()).unwrap();
        let parsed = Note::parse(&note).unwrap();
        parsed.verify(&v).unwrap();
        assert_eq!(Checkpoint::parse(&parsed.text).unwrap(), cp);
        let forged = note.replace("\n12\n", "\n13\n");
        assert!(matches!(
            Note::parse(&forged).unwrap().verify(&v),
            Err(NoteError::BadSignature(_))
        ));
        let other = SignerKey::from_seed("example.org/archive", [8u8; 32]).unwrap();
        assert!(matches!(
            parsed.verify(&other.verifier()),
            Err(NoteError::NotSigned(_))
        ));
    }

    /// The example key pair and note of the reference implementation,
    /// golang.org/x/mod/sumdb/note (note_test.go and its package documentation;
    /// BSD-3-Clause, The Go Authors): test data, used byte for byte.
    #[test]
    fn the_reference_example_verifies_and_signs_byte_for_byte() {
        let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let note = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n\
                    \n\
                    \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        let v = VerifierKey::parse(vkey).unwrap();
        Note::parse(note).unwrap().verify(&v).unwrap();
        let k = SignerKey::parse(skey).unwrap();
        assert_eq!(k.verifier().to_text(), vkey);
        assert_eq!(k.to_text(), skey);
        let text = note.split("\n\n").next().unwrap().to_string() + "\n";
        assert_eq!(k.sign(&text).unwrap(), note);
    }
}
