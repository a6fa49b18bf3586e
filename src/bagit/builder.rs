//! Rendering a bag's tag files from its payload digests: bag-info.txt, the payload
//! manifests, the tag manifests and bagit.txt. Pure: bytes out, nothing written (the
//! bag writer, fs/bag_writer.rs, writes them), so fuzzers and property tests can
//! reach it.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::bagit::manifest::{write_manifest, ManifestKind};
use crate::bagit::path::BagPath;
use crate::bagit::tags::{render_declaration, BagInfo};
use crate::digest::{Algorithm, Digest, Digests, MultiHasher};
use crate::error::Error;

/// What goes into a bag besides its payload.
#[derive(Debug, Clone, Copy)]
pub struct BagBuilder<'a> {
    pub algorithms: &'a [Algorithm],
    pub bagging_date: chrono::NaiveDate,
    /// bag-info.txt fields after Bagging-Date, Payload-Oxum and Bag-Software-Agent.
    pub info: &'a [(String, String)],
    /// Extra tag files (such as `metadata/dc.xml`), covered by the tag manifests.
    pub extra_tags: &'a [(String, Vec<u8>)],
}

/// A bag's rendered tag files.
#[derive(Debug, Clone)]
pub struct TagFiles {
    /// Name and bytes of every tag file, in the order to write them: bagit.txt last,
    /// since until it exists a folder does not claim to be a bag.
    pub files: Vec<(String, Vec<u8>)>,
    /// Digests of every tag file the tag manifests list, and of the tag manifests.
    pub digests: BTreeMap<String, Digests>,
    pub files_count: u64,
    pub bytes: u64,
    pub payload_oxum: String,
}

/// What rendering the tag files into a [`TagSink`] gives besides the files.
#[derive(Debug, Clone)]
pub struct TagSummary {
    /// Digests of every tag file the tag manifests list, and of the tag manifests.
    pub digests: BTreeMap<String, Digests>,
    pub files_count: u64,
    pub bytes: u64,
    pub payload_oxum: String,
}

/// Where rendered tag files go, one at a time, in the order to write them (bagit.txt
/// last): a list of byte strings ([`BagBuilder::render`]), or the bag's folder, so
/// that a manifest of a million lines is written as it is rendered, never held.
pub trait TagSink {
    /// Takes tag file `name`, whose bytes `content` writes (called once).
    fn put(
        &mut self,
        name: &str,
        content: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), Error>;
}

impl TagSink for Vec<(String, Vec<u8>)> {
    fn put(
        &mut self,
        name: &str,
        content: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), Error> {
        let mut bytes = Vec::new();
        content(&mut bytes).map_err(|e| Error::io("render", name, e))?;
        self.push((name.to_string(), bytes));
        Ok(())
    }
}

/// Passes bytes on and hashes what was taken.
struct Hashing<'a> {
    out: &'a mut dyn Write,
    hasher: &'a mut MultiHasher,
}

impl Write for Hashing<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.out.write(data)?;
        self.hasher.update(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl BagBuilder<'_> {
    /// Renders every tag file for a payload of `payload` (bag path and digests of each
    /// file, every algorithm of the builder computed).
    pub fn render(&self, payload: &[(&BagPath, &Digests)]) -> Result<TagFiles, Error> {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let summary = self.render_to(payload, &mut files)?;
        Ok(TagFiles {
            files,
            digests: summary.digests,
            files_count: summary.files_count,
            bytes: summary.bytes,
            payload_oxum: summary.payload_oxum,
        })
    }

    /// Renders every tag file into `sink`, hashing each as it goes: bag-info.txt, the
    /// payload manifests, the extra tag files, the tag manifests, then bagit.txt.
    pub fn render_to(
        &self,
        payload: &[(&BagPath, &Digests)],
        sink: &mut dyn TagSink,
    ) -> Result<TagSummary, Error> {
        let algs = self.algorithms;
        let files = payload.len() as u64;
        let bytes: u64 = payload.iter().map(|(_, d)| d.len).sum();
        let oxum = format!("{bytes}.{files}");
        let mut info = BagInfo::default();
        info.push(
            "Bagging-Date",
            self.bagging_date.format("%Y-%m-%d").to_string(),
        );
        info.push("Payload-Oxum", oxum.clone());
        info.push("Bag-Software-Agent", crate::agent());
        for (l, v) in self.info {
            info.push(l.clone(), v.clone());
        }
        let emit = |sink: &mut dyn TagSink,
                    name: &str,
                    content: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>|
         -> Result<Digests, Error> {
            let mut hasher = MultiHasher::new(algs);
            sink.put(name, &mut |out: &mut dyn Write| {
                content(&mut Hashing {
                    out,
                    hasher: &mut hasher,
                })
            })?;
            Ok(hasher.finish())
        };
        // bagit.txt is written last but listed in the tag manifests: hashed first.
        let declaration = render_declaration().into_bytes();
        let mut hasher = MultiHasher::new(algs);
        hasher.update(&declaration);
        let mut tag_digests: Vec<(String, Digests)> = vec![("bagit.txt".into(), hasher.finish())];
        let bag_info = info.render().into_bytes();
        let d = emit(sink, "bag-info.txt", &mut |w| w.write_all(&bag_info))?;
        tag_digests.push(("bag-info.txt".into(), d));
        for alg in algs {
            let mut entries: Vec<(&BagPath, &Digest)> = Vec::with_capacity(payload.len());
            for (p, d) in payload {
                entries.push((p, digest_of(d, *alg)?));
            }
            let name = ManifestKind::Payload.file_name(*alg);
            let d = emit(sink, &name, &mut |w| {
                write_manifest(w, entries.iter().copied())
            })?;
            tag_digests.push((name, d));
        }
        for (name, bytes) in self.extra_tags {
            let d = emit(sink, name, &mut |w| w.write_all(bytes))?;
            tag_digests.push((name.clone(), d));
        }
        // Tag manifests cover every other tag file.
        let mut tag_paths: Vec<(BagPath, &Digests)> = Vec::with_capacity(tag_digests.len());
        for (name, d) in &tag_digests {
            let path =
                BagPath::parse(name).map_err(|e| Error::Usage(format!("tag file {name}: {e}")))?;
            tag_paths.push((path, d));
        }
        let mut tag_manifests = Vec::new();
        for alg in algs {
            let mut entries: Vec<(&BagPath, &Digest)> = Vec::with_capacity(tag_paths.len());
            for (p, d) in &tag_paths {
                entries.push((p, digest_of(d, *alg)?));
            }
            let name = ManifestKind::Tag.file_name(*alg);
            let d = emit(sink, &name, &mut |w| {
                write_manifest(w, entries.iter().copied())
            })?;
            tag_manifests.push((name, d));
        }
        // bagit.txt last: until it exists, the folder does not claim to be a bag.
        sink.put("bagit.txt", &mut |w| w.write_all(&declaration))?;
        let mut digests: BTreeMap<String, Digests> = tag_digests.into_iter().collect();
        digests.extend(tag_manifests);
        Ok(TagSummary {
            digests,
            files_count: files,
            bytes,
            payload_oxum: oxum,
        })
    }
}

fn digest_of(d: &Digests, alg: Algorithm) -> Result<&Digest, Error> {
    d.get(alg)
        .ok_or_else(|| Error::Internal(format!("{alg} digest was not computed")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::hash_reader;

    #[test]
    fn bagit_txt_is_last_and_tag_manifests_cover_the_others() {
        let path = BagPath::parse("data/a.txt").unwrap();
        let algs = [Algorithm::Sha256];
        let mut buf = vec![0u8; 1024];
        let d = hash_reader(&b"hello"[..], &algs, &mut buf).unwrap();
        let info = [("Source-Organization".to_string(), "Test".to_string())];
        let extra = [("metadata/dc.json".to_string(), b"{}".to_vec())];
        let tags = BagBuilder {
            algorithms: &algs,
            bagging_date: chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            info: &info,
            extra_tags: &extra,
        }
        .render(&[(&path, &d)])
        .unwrap();
        let names: Vec<&str> = tags.files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "bag-info.txt",
                "manifest-sha256.txt",
                "metadata/dc.json",
                "tagmanifest-sha256.txt",
                "bagit.txt"
            ]
        );
        assert_eq!(tags.payload_oxum, "5.1");
        let tagmanifest = String::from_utf8(tags.files[3].1.clone()).unwrap();
        for listed in [
            "bagit.txt",
            "bag-info.txt",
            "manifest-sha256.txt",
            "metadata/dc.json",
        ] {
            assert!(
                tagmanifest.contains(listed),
                "{listed} not in {tagmanifest}"
            );
        }
        assert!(!tagmanifest.contains("tagmanifest"));
        assert_eq!(tags.digests.len(), 5);
        let bag_info = String::from_utf8(tags.files[0].1.clone()).unwrap();
        assert!(bag_info.starts_with("Bagging-Date: 2026-01-02\nPayload-Oxum: 5.1\n"));
        assert!(bag_info.ends_with("Source-Organization: Test\n"));
    }
}
