//! Checksum algorithms and the multi-digest hasher.
//!
//! Pure: hashes byte slices and `Read` streams, opens no paths. Every algorithm a file
//! needs is fed from the same buffer, so each byte is read from disk once.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use rayon::prelude::*;
use serde::{Serialize, Serializer};
use sha2::Digest as _;

/// Read buffer size. 256 KiB keeps syscalls rare and lets BLAKE3 use its SIMD lanes
/// fully, while staying small enough that a pool of workers stays far under the memory
/// budget.
pub const BUF_SIZE: usize = 256 * 1024;

/// Chunks at least this long are hashed by several threads (see
/// [`MultiHasher::update`]). BLAKE3's multi-threaded mode pays from about 128 KiB.
pub const PARALLEL_MIN: usize = 128 * 1024;

/// A checksum algorithm, named as BagIt names it in manifest file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Blake3,
    Sha256,
    Sha512,
    Sha384,
    Sha224,
    Sha1,
    Md5,
}

impl Algorithm {
    /// Every algorithm Cairn can verify, in the order reports list them.
    pub const ALL: [Algorithm; 7] = [
        Algorithm::Blake3,
        Algorithm::Sha256,
        Algorithm::Sha512,
        Algorithm::Sha384,
        Algorithm::Sha224,
        Algorithm::Sha1,
        Algorithm::Md5,
    ];

    /// Cairn's default for new bags: BLAKE3 for speed, SHA-512 for every other tool
    /// (RFC 8493 §2.4 says tools SHOULD default to SHA-512).
    pub const DEFAULT: [Algorithm; 2] = [Algorithm::Blake3, Algorithm::Sha512];

    /// The normalised name used in `manifest-NAME.txt` (lowercase, no punctuation).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Blake3 => "blake3",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha224 => "sha224",
            Algorithm::Sha1 => "sha1",
            Algorithm::Md5 => "md5",
        }
    }

    /// Length of the digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Blake3 | Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
            Algorithm::Sha384 => 48,
            Algorithm::Sha224 => 28,
            Algorithm::Sha1 => 20,
            Algorithm::Md5 => 16,
        }
    }

    /// Whether Cairn writes new manifests with this algorithm. MD5 and SHA-1 are broken
    /// and SHA-224/384 add nothing over the others; they are read for old bags only.
    pub fn can_create(self) -> bool {
        matches!(
            self,
            Algorithm::Blake3 | Algorithm::Sha256 | Algorithm::Sha512
        )
    }

    /// Parses a manifest file name's algorithm part. Only the exact lowercase names are
    /// accepted: RFC 8493 §2.4 requires normalised names, and `manifest-SHA256.txt` is a
    /// different file on a case-sensitive disk.
    pub fn from_manifest_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The error for an unknown algorithm name given by a user.
#[derive(Debug, thiserror::Error)]
#[error("unknown checksum algorithm \"{0}\" (known: blake3, sha256, sha512; md5, sha1, sha224, sha384 for reading old bags)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Accepts common spellings (`SHA-512`, `sha512`) by normalising as RFC 8493 §2.4 does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Algorithm::from_manifest_name(&norm).ok_or_else(|| UnknownAlgorithm(s.to_string()))
    }
}

/// The longest digest Cairn holds: 512 bits (SHA-512, and any common algorithm).
pub const MAX_DIGEST_LEN: usize = 64;

/// A digest value, up to 512 bits, stored inline (no allocation: an archive's
/// validation holds one per file and algorithm). Displayed as lowercase hex; parsed
/// from hex in either case.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest {
    len: u8,
    bytes: [u8; MAX_DIGEST_LEN],
}

/// The empty digest (no bytes): equal to no digest any algorithm computes.
impl Default for Digest {
    fn default() -> Digest {
        Digest {
            len: 0,
            bytes: [0; MAX_DIGEST_LEN],
        }
    }
}

impl Digest {
    /// From raw bytes; `None` if longer than [`MAX_DIGEST_LEN`].
    pub fn from_bytes(raw: &[u8]) -> Option<Digest> {
        if raw.len() > MAX_DIGEST_LEN {
            return None;
        }
        let mut bytes = [0u8; MAX_DIGEST_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(Digest {
            len: raw.len() as u8,
            bytes,
        })
    }

    /// Parses hex of either case (RFC 8493 §2.1.3). Returns `None` for anything else,
    /// including a digest longer than 512 bits.
    pub fn from_hex(hex: &str) -> Option<Digest> {
        if !hex.len().is_multiple_of(2) || hex.len() > MAX_DIGEST_LEN * 2 {
            return None;
        }
        let mut bytes = [0u8; MAX_DIGEST_LEN];
        for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
            bytes[i] = hex_val(pair[0])? << 4 | hex_val(pair[1])?;
        }
        Some(Digest {
            len: (hex.len() / 2) as u8,
            bytes,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(self.len as usize * 2);
        for b in self.as_bytes() {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
        }
        s
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// SHA-512 and SHA-384: OpenSSL's, where built with the `openssl-sha512` feature (the
/// default; a third faster than sha2 on the reference machine, BENCHMARKS.md), else
/// the sha2 crate's. Both are checked against each other in the tests.
#[cfg(feature = "openssl-sha512")]
type Sha512 = openssl::sha::Sha512;
#[cfg(feature = "openssl-sha512")]
type Sha384 = openssl::sha::Sha384;
#[cfg(not(feature = "openssl-sha512"))]
type Sha512 = sha2::Sha512;
#[cfg(not(feature = "openssl-sha512"))]
type Sha384 = sha2::Sha384;

enum State {
    Blake3(Box<blake3::Hasher>),
    Sha256(sha2::Sha256),
    Sha512(Box<Sha512>),
    Sha384(Box<Sha384>),
    Sha224(sha2::Sha224),
    Sha1(sha1::Sha1),
    Md5(md5::Md5),
}

impl State {
    fn new(alg: Algorithm) -> State {
        match alg {
            Algorithm::Blake3 => State::Blake3(Box::new(blake3::Hasher::new())),
            Algorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => State::Sha512(Box::new(Sha512::new())),
            Algorithm::Sha384 => State::Sha384(Box::new(Sha384::new())),
            Algorithm::Sha224 => State::Sha224(sha2::Sha224::new()),
            Algorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            Algorithm::Md5 => State::Md5(md5::Md5::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            State::Blake3(h) => {
                h.update(data);
            }
            State::Sha256(h) => h.update(data),
            State::Sha512(h) => h.update(data),
            State::Sha384(h) => h.update(data),
            State::Sha224(h) => h.update(data),
            State::Sha1(h) => h.update(data),
            State::Md5(h) => h.update(data),
        }
    }

    /// As `update`, with BLAKE3 spread over the rayon pool.
    fn update_parallel(&mut self, data: &[u8]) {
        match self {
            State::Blake3(h) => {
                h.update_rayon(data);
            }
            other => other.update(data),
        }
    }

    fn finish(self) -> Digest {
        let d = match self {
            State::Blake3(h) => Digest::from_bytes(h.finalize().as_bytes()),
            State::Sha256(h) => Digest::from_bytes(&h.finalize()),
            State::Sha512(h) => Digest::from_bytes(&h.finish()),
            State::Sha384(h) => Digest::from_bytes(&h.finish()),
            State::Sha224(h) => Digest::from_bytes(&h.finalize()),
            State::Sha1(h) => Digest::from_bytes(&h.finalize()),
            State::Md5(h) => Digest::from_bytes(&h.finalize()),
        };
        // Every algorithm here has at most 512 bits.
        d.unwrap_or(Digest {
            len: 0,
            bytes: [0; MAX_DIGEST_LEN],
        })
    }
}

/// `finish` for the sha2 types, under the name OpenSSL's types use.
#[cfg(not(feature = "openssl-sha512"))]
trait FinishShim: sha2::Digest + Sized {
    fn finish(self) -> sha2::digest::Output<Self> {
        self.finalize()
    }
}
#[cfg(not(feature = "openssl-sha512"))]
impl<T: sha2::Digest> FinishShim for T {}

/// A set of digests of one file, one per algorithm: the one type for them in register
/// entries (payload and tag files), tombstones and events. Held inline (a register entry
/// for a bag of a hundred thousand files holds one of these per file), written as a JSON
/// object of algorithm name to lowercase hex, in name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestMap(Vec<(Algorithm, Digest)>);

impl DigestMap {
    pub fn new(mut values: Vec<(Algorithm, Digest)>) -> DigestMap {
        values.sort_by_key(|(a, _)| a.name());
        DigestMap(values)
    }

    pub fn get(&self, alg: Algorithm) -> Option<&Digest> {
        self.0.iter().find(|(a, _)| *a == alg).map(|(_, d)| d)
    }

    /// In algorithm-name order (so blake3 first when present).
    pub fn iter(&self) -> impl Iterator<Item = &(Algorithm, Digest)> {
        self.0.iter()
    }

    /// The digests of one byte stream, without its length.
    pub fn of(d: &Digests) -> DigestMap {
        DigestMap::new(d.values.clone())
    }
}

impl serde::Serialize for DigestMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (a, d) in &self.0 {
            m.serialize_entry(a.name(), &d.to_hex())?;
        }
        m.end()
    }
}

impl<'de> serde::Deserialize<'de> for DigestMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let raw: std::collections::BTreeMap<String, String> = serde::Deserialize::deserialize(d)?;
        let mut values = Vec::with_capacity(raw.len());
        for (name, hex) in raw {
            let alg = Algorithm::from_manifest_name(&name)
                .ok_or_else(|| D::Error::custom(format!("unknown algorithm \"{name}\"")))?;
            let digest = Digest::from_hex(&hex)
                .filter(|d| d.as_bytes().len() == alg.digest_len())
                .ok_or_else(|| {
                    D::Error::custom(format!(
                        "{name} digest \"{hex}\" is not valid hex of the right length"
                    ))
                })?;
            values.push((alg, digest));
        }
        Ok(DigestMap::new(values))
    }
}

/// Feeds several algorithms from one stream of bytes. Implements `Write`, so it can sit
/// behind a tee while copying.
pub struct MultiHasher {
    states: Vec<(Algorithm, State)>,
    len: u64,
}

/// The digests of one byte stream, one per algorithm, plus its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub len: u64,
    pub values: Vec<(Algorithm, Digest)>,
}

impl Digests {
    pub fn get(&self, alg: Algorithm) -> Option<&Digest> {
        self.values.iter().find(|(a, _)| *a == alg).map(|(_, d)| d)
    }
}

impl MultiHasher {
    /// A hasher for the given algorithms; duplicates are computed once.
    pub fn new(algorithms: &[Algorithm]) -> MultiHasher {
        let mut algs: Vec<Algorithm> = algorithms.to_vec();
        algs.sort();
        algs.dedup();
        MultiHasher {
            states: algs.into_iter().map(|a| (a, State::new(a))).collect(),
            len: 0,
        }
    }

    /// Feeds `data` to every algorithm.
    ///
    /// A chunk of [`PARALLEL_MIN`] bytes or more is hashed by several threads of the
    /// rayon pool: BLAKE3 with its own multi-threaded mode, and each other algorithm as
    /// a task of its own, so one large file uses every core (its time is that of the
    /// slowest algorithm, not their sum). When the pool is already busy with other
    /// files, the tasks run inline on this thread and cost next to nothing.
    pub fn update(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        if data.len() >= PARALLEL_MIN && rayon::current_num_threads() > 1 {
            self.states
                .par_iter_mut()
                .with_max_len(1)
                .for_each(|(_, s)| s.update_parallel(data));
        } else {
            for (_, s) in &mut self.states {
                s.update(data);
            }
        }
    }

    pub fn finish(self) -> Digests {
        Digests {
            len: self.len,
            values: self
                .states
                .into_iter()
                .map(|(a, s)| (a, s.finish()))
                .collect(),
        }
    }
}

impl Write for MultiHasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hashes everything `reader` yields, with every algorithm in one pass, using `buf`
/// as the read buffer (callers reuse one buffer per worker).
pub fn hash_reader<R: Read>(
    reader: R,
    algorithms: &[Algorithm],
    buf: &mut [u8],
) -> io::Result<Digests> {
    copy_and_hash(reader, io::sink(), algorithms, buf)
}

/// Copies `reader` to `writer` and hashes the bytes on the way, so a copy costs one read.
pub fn copy_and_hash<R: Read, W: Write>(
    mut reader: R,
    mut writer: W,
    algorithms: &[Algorithm],
    buf: &mut [u8],
) -> io::Result<Digests> {
    let mut hasher = MultiHasher::new(algorithms);
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        writer.write_all(&buf[..n])?;
        crate::progress::add_bytes(n as u64);
    }
    writer.flush()?;
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_of_abc() {
        let mut buf = vec![0u8; 7];
        let d = hash_reader(&b"abc"[..], &Algorithm::ALL, &mut buf).unwrap();
        assert_eq!(d.len, 3);
        let hex = |a| d.get(a).unwrap().to_hex();
        assert_eq!(hex(Algorithm::Md5), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(Algorithm::Sha1),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(Algorithm::Sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(Algorithm::Blake3),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert!(hex(Algorithm::Sha512).starts_with("ddaf35a193617aba"));
    }

    #[test]
    fn large_chunks_hashed_in_parallel_give_the_same_digests() {
        // Chunks above PARALLEL_MIN take the multi-threaded path; 1-byte-off sizes
        // exercise partial BLAKE3 chunks and SHA block boundaries.
        let data: Vec<u8> = (0..3 * PARALLEL_MIN + 12_345)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let mut whole = MultiHasher::new(&Algorithm::ALL);
        whole.update(&data);
        let mut pieces = MultiHasher::new(&Algorithm::ALL);
        for piece in data.chunks(1000) {
            pieces.update(piece);
        }
        let (a, b) = (whole.finish(), pieces.finish());
        assert_eq!(a, b);
        assert_eq!(a.len, data.len() as u64);
        let reference = blake3::hash(&data);
        assert_eq!(
            a.get(Algorithm::Blake3).unwrap().as_bytes(),
            reference.as_bytes()
        );
        let sha = sha2::Sha512::digest(&data);
        assert_eq!(a.get(Algorithm::Sha512).unwrap().as_bytes(), &sha[..]);
    }

    #[test]
    fn sha512_and_sha384_agree_with_the_sha2_crate() {
        // Whichever back end is built (OpenSSL by default), it must agree with the
        // pure-Rust sha2 crate at every length around the 128-byte block size.
        let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 253) as u8).collect();
        let mut buf = vec![0u8; 4096];
        for len in (0..300).chain([1023, 1024, 1025, 65_536, 70_000]) {
            let d = hash_reader(
                &data[..len],
                &[Algorithm::Sha512, Algorithm::Sha384],
                &mut buf,
            )
            .unwrap();
            assert_eq!(
                d.get(Algorithm::Sha512).unwrap().as_bytes(),
                &sha2::Sha512::digest(&data[..len])[..],
                "sha512 of {len} bytes"
            );
            assert_eq!(
                d.get(Algorithm::Sha384).unwrap().as_bytes(),
                &sha2::Sha384::digest(&data[..len])[..],
                "sha384 of {len} bytes"
            );
        }
    }

    #[test]
    fn hex_round_trip_either_case() {
        let d = Digest::from_hex("DEADbeef").unwrap();
        assert_eq!(d.to_hex(), "deadbeef");
        assert!(Digest::from_hex("abc").is_none());
        assert!(Digest::from_hex("zz").is_none());
    }

    #[test]
    fn algorithm_names_normalise() {
        assert_eq!("SHA-512".parse::<Algorithm>().unwrap(), Algorithm::Sha512);
        assert_eq!("blake3".parse::<Algorithm>().unwrap(), Algorithm::Blake3);
        assert!("whirlpool".parse::<Algorithm>().is_err());
        assert_eq!(Algorithm::from_manifest_name("SHA512"), None);
    }
}
