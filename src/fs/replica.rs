//! A replica's object store: a folder or an S3-compatible bucket behind one interface
//! (the `object_store` crate, docs/replicas.md), driven synchronously from the ops.
//!
//! Every transfer is streamed in parts of [`PART_SIZE`] bytes, at most
//! [`PARTS_IN_FLIGHT`] of them in flight, so memory stays bounded whatever the file's
//! size (many small objects go at once: `batch.rs`); every byte written is hashed on the
//! way, and the caller can refuse to complete an upload whose digest is not the one
//! the register records (the upload is then aborted and nothing appears under the key).
//! Credentials come from `CAIRN_REPLICA_<NAME>_ACCESS_KEY_ID` / `_SECRET_ACCESS_KEY`,
//! else `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, in the environment the
//! configuration was loaded with (crate::replica::apply_env); they are never printed.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::digest::{Algorithm, Digest, MultiHasher};
use crate::error::Error;
use crate::replica::{Location, ReplicaSection};

mod batch;
pub use batch::{PutJob, BATCH_OBJECTS, PARALLEL, SMALL_MAX};

/// Bytes per uploaded part and per read (S3 needs at least 5 MiB per part but the last).
pub const PART_SIZE: usize = 8 << 20;

/// Parts of one upload in flight at once (memory: this many parts, plus the one read).
pub const PARTS_IN_FLIGHT: usize = 3;

/// An opened replica.
pub struct Replica {
    pub name: String,
    pub url: String,
    /// What the replica holds: a mirror of the archive root, or an OCFL storage root.
    pub kind: crate::replica::ReplicaKind,
    store: Arc<dyn ObjectStore>,
    /// The key prefix inside the bucket (S3); empty for a folder.
    prefix: String,
    /// The folder of a folder replica.
    folder: Option<std::path::PathBuf>,
    /// The folder backend itself (a folder replica): its key-to-path mapping.
    local: Option<Arc<object_store::local::LocalFileSystem>>,
    rt: tokio::runtime::Runtime,
}

/// An object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The key relative to the replica's root (`archive/ID/data/x.tif`).
    pub key: String,
    pub size: u64,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The object was written (and read back: its digest is the one asked for).
    Done,
    /// The bytes read from the local file did not have the expected digest: nothing was
    /// written (the local copy is damaged).
    SourceMismatch,
}

impl Replica {
    /// Opens the replica `section` (no request is made yet).
    pub fn open(section: &ReplicaSection) -> Result<Replica, Error> {
        let err = |detail: String| Error::Replica {
            name: section.name.clone(),
            detail,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err(format!("cannot start the I/O runtime: {e}")))?;
        let location = section.location().map_err(err)?;
        type Opened = (Arc<dyn ObjectStore>, String, Option<std::path::PathBuf>);
        let mut local = None;
        let (store, prefix, folder): Opened = match location {
            Location::Folder(path) => {
                // Never created here: a missing root is a disk or share that is not
                // mounted, and a copy written under its mount point is no copy.
                if !path.is_dir() {
                    return Err(err(format!(
                        "the folder {} does not exist: is the disk or share mounted? Cairn never creates a replica's root; if it is meant to be a new replica, create the folder and run `cairn replicate --init {}`",
                        path.display(),
                        section.name
                    )));
                }
                // With fsync: each file and its folder are durable before a write
                // returns, as an S3 server's acknowledgement promises. A delete also
                // removes the folders it leaves empty (a purged item leaves none).
                let fs = object_store::local::LocalFileSystem::new_with_prefix(&path)
                    .map_err(|e| err(e.to_string()))?
                    .with_fsync(true)
                    .with_automatic_cleanup(true);
                let fs = Arc::new(fs);
                local = Some(fs.clone());
                (fs, String::new(), Some(path))
            }
            Location::S3 { bucket, prefix } => {
                let mut b = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&bucket)
                    .with_region(if section.region.is_empty() {
                        "us-east-1"
                    } else {
                        &section.region
                    })
                    // A request that times out (a slow or busy server) is retried: the
                    // retry window is longer than one request's timeout. A refused
                    // connection fails within a few seconds; an authorisation error is
                    // never retried.
                    .with_client_options(
                        object_store::ClientOptions::new().with_timeout(Duration::from_secs(60)),
                    )
                    .with_retry(object_store::RetryConfig {
                        backoff: object_store::BackoffConfig {
                            init_backoff: Duration::from_millis(100),
                            max_backoff: Duration::from_secs(2),
                            base: 2.0,
                        },
                        max_retries: 4,
                        retry_timeout: Duration::from_secs(180),
                    });
                if !section.endpoint.is_empty() {
                    b = b
                        .with_endpoint(&section.endpoint)
                        .with_allow_http(section.endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                match &section.credentials {
                        Some(c) => {
                            b = b
                                .with_access_key_id(&c.access_key_id)
                                .with_secret_access_key(&c.secret_access_key);
                        }
                        None => {
                            return Err(err(format!(
                                "no credentials: set {p}ACCESS_KEY_ID and {p}SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
                                p = ReplicaSection::env_prefix(&section.name)
                            )))
                        }
                    }
                let s3 = b.build().map_err(|e| err(e.to_string()))?;
                (Arc::new(s3), prefix, None)
            }
        };
        Ok(Replica {
            name: section.name.clone(),
            url: section.url.clone(),
            kind: section.kind,
            store,
            prefix,
            folder,
            local,
            rt,
        })
    }

    /// Whether the replica is an OCFL storage root (`kind = "ocfl"`).
    pub fn is_ocfl(&self) -> bool {
        self.kind == crate::replica::ReplicaKind::Ocfl
    }

    /// The key of the replica's marker: `.cairn/replica.json`, or in an OCFL storage
    /// root (where a folder that is no object root is not allowed) the extension
    /// folder `extensions/cairn-replica/replica.json`.
    pub fn marker_key(&self) -> &'static str {
        if self.is_ocfl() {
            crate::fs::ocfl::MARKER_KEY
        } else {
            crate::fs::layout::MARKER_KEY
        }
    }

    /// The key of `rel` as written: the path itself (UTF-8 names stay readable), or,
    /// for a name the store cannot carry as it is (a control character), its
    /// percent-encoded form.
    fn key(&self, rel: &str) -> Key {
        let full = if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        };
        Key::parse(&full).unwrap_or_else(|_| Key::from(full.as_str()))
    }

    fn fail(&self, op: &str, rel: &str, e: impl std::fmt::Display) -> Error {
        Error::Replica {
            name: self.name.clone(),
            detail: format!("cannot {op} {rel} at {}: {e}", self.url),
        }
    }

    /// The object's size, or `None` when there is no object under `rel`.
    pub fn head(&self, rel: &str) -> Result<Option<u64>, Error> {
        match self.rt.block_on(self.store.head(&self.key(rel))) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.fail("look up", rel, e)),
        }
    }

    /// Every object under `rel` (a folder-like prefix, no trailing `/`; empty for all).
    pub fn list(&self, rel: &str) -> Result<Vec<Listed>, Error> {
        let base = if rel.is_empty() {
            if self.prefix.is_empty() {
                None
            } else {
                Some(Key::from(self.prefix.as_str()))
            }
        } else {
            Some(self.key(rel))
        };
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        self.rt.block_on(async {
            let mut out = Vec::new();
            let mut stream = self.store.list(base.as_ref());
            while let Some(item) = stream.next().await {
                let meta = item.map_err(|e| self.fail("list", rel, e))?;
                let full = meta.location.to_string();
                let key = full.strip_prefix(&strip).unwrap_or(&full).to_string();
                // Temporary files of an interrupted folder upload are not objects.
                if key.rsplit('/').next().is_some_and(|n| n.contains("#")) {
                    continue;
                }
                out.push(Listed {
                    key,
                    size: meta.size,
                });
            }
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
    }

    /// Reads the object `rel` in parts, feeding each to `sink`, and returns its digest
    /// with `alg` and its length; `None` when it does not exist.
    pub fn read_with(
        &self,
        rel: &str,
        alg: Algorithm,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<Option<(u64, Digest)>, Error> {
        self.rt.block_on(self.read_async(rel, alg, sink))
    }

    /// [`Replica::read_with`] inside the runtime.
    async fn read_async(
        &self,
        rel: &str,
        alg: Algorithm,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<Option<(u64, Digest)>, Error> {
        let got = match self.store.get(&self.key(rel)).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.fail("read", rel, e)),
        };
        let mut hasher = MultiHasher::new(&[alg]);
        let mut stream = got.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.fail("read", rel, e))?;
            hasher.update(&chunk);
            sink(&chunk)?;
            crate::progress::add_bytes(chunk.len() as u64);
        }
        let d = hasher.finish();
        let digest = d
            .get(alg)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("no {alg} digest computed for {rel}")))?;
        Ok(Some((d.len, digest)))
    }

    /// The object's digest with `alg` and its length, read back in full.
    pub fn hash(&self, rel: &str, alg: Algorithm) -> Result<Option<(u64, Digest)>, Error> {
        self.read_with(rel, alg, &mut |_| Ok(()))
    }

    /// The whole object (for small ones: register entries, the log's head).
    pub fn get_bytes(&self, rel: &str) -> Result<Option<Vec<u8>>, Error> {
        let mut out = Vec::new();
        let found = self.read_with(rel, Algorithm::Blake3, &mut |c| {
            out.extend_from_slice(c);
            Ok(())
        })?;
        Ok(found.map(|_| out))
    }

    /// Uploads the first `limit` bytes of `local` (all of it when `None`) as `rel`,
    /// hashing them with `expected.0` on the way. When `expected.1` is given and the
    /// bytes read do not have that digest, the upload is abandoned and nothing is
    /// written ([`Written::SourceMismatch`]). `create`: only if no object exists (the
    /// store is asked to refuse an existing key where it can; callers look first, as
    /// some stores ignore the condition). Then the object is read back in full and
    /// must have the same digest.
    pub fn put_file(
        &self,
        local: &Path,
        rel: &str,
        expected: (Algorithm, Option<&Digest>),
        limit: Option<u64>,
        create: bool,
    ) -> Result<Written, Error> {
        let (alg, want) = expected;
        let file = crate::fs::open_read(local).map_err(|e| Error::io("read", local, e))?;
        let mut reader: Box<dyn Read> = match limit {
            Some(n) => Box::new(file.take(n)),
            None => Box::new(file),
        };
        let key = self.key(rel);
        self.clear_staged(rel)?;
        let mut hasher = MultiHasher::new(&[alg]);
        let mut first = read_part(&mut reader, local)?;
        let (written, sent) = self.rt.block_on(async {
            if first.len() < PART_SIZE {
                // One request: the whole (small) file is in `first`.
                hasher.update(&first);
                let sent = take_digest(&mut hasher, alg)?;
                if want.is_some_and(|w| *w != sent) {
                    return Ok((Written::SourceMismatch, sent));
                }
                let mode = if create {
                    PutMode::Create
                } else {
                    PutMode::Overwrite
                };
                let opts = PutOptions {
                    mode,
                    ..Default::default()
                };
                match self
                    .store
                    .put_opts(&key, PutPayload::from(Bytes::from(first)), opts)
                    .await
                {
                    Ok(_) => Ok((Written::Done, sent)),
                    Err(e) => Err(self.fail("write", rel, e)),
                }
            } else {
                let mut upload = self
                    .store
                    .put_multipart(&key)
                    .await
                    .map_err(|e| self.fail("start upload of", rel, e))?;
                // Up to PARTS_IN_FLIGHT parts travel at once (polled together), while
                // the next is read.
                let mut in_flight = futures_util::stream::FuturesUnordered::new();
                loop {
                    if first.is_empty() {
                        break;
                    }
                    hasher.update(&first);
                    crate::progress::add_bytes(first.len() as u64);
                    in_flight.push(upload.put_part(PutPayload::from(Bytes::from(first))));
                    while in_flight.len() >= PARTS_IN_FLIGHT {
                        if let Some(Err(e)) = in_flight.next().await {
                            let _ = upload.abort().await;
                            return Err(self.fail("upload a part of", rel, e));
                        }
                        crate::fs::failpoint::pause("replica-after-part");
                    }
                    first = match read_part(&mut reader, local) {
                        Ok(p) => p,
                        Err(e) => {
                            let _ = upload.abort().await;
                            return Err(e);
                        }
                    };
                }
                while let Some(done) = in_flight.next().await {
                    if let Err(e) = done {
                        let _ = upload.abort().await;
                        return Err(self.fail("upload a part of", rel, e));
                    }
                    crate::fs::failpoint::pause("replica-after-part");
                }
                let sent = take_digest(&mut hasher, alg)?;
                if want.is_some_and(|w| *w != sent) {
                    let _ = upload.abort().await;
                    return Ok((Written::SourceMismatch, sent));
                }
                upload
                    .complete()
                    .await
                    .map_err(|e| self.fail("complete upload of", rel, e))?;
                Ok((Written::Done, sent))
            }
        })?;
        if written == Written::SourceMismatch {
            return Ok(written);
        }
        match self.hash(rel, alg)? {
            Some((_, back)) if back == sent => Ok(Written::Done),
            Some((_, back)) => Err(self.fail(
                "verify",
                rel,
                format!(
                    "read back with {alg} {} after writing {}",
                    back.to_hex(),
                    sent.to_hex()
                ),
            )),
            None => Err(self.fail("verify", rel, "the object is not there after writing")),
        }
    }

    /// Deletes the object `rel` (no error when it is already gone).
    pub fn delete(&self, rel: &str) -> Result<(), Error> {
        let key = self.key(rel);
        match self.rt.block_on(self.store.delete(&key)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.fail("delete", rel, e)),
        }
    }

    /// Writes small bytes as `rel`, replacing what is there, then reads them back.
    pub fn put_bytes(&self, rel: &str, bytes: &[u8]) -> Result<(), Error> {
        let key = self.key(rel);
        self.clear_staged(rel)?;
        self.rt
            .block_on(
                self.store
                    .put(&key, PutPayload::from(Bytes::copy_from_slice(bytes))),
            )
            .map_err(|e| self.fail("write", rel, e))?;
        match self.get_bytes(rel)? {
            Some(b) if b == bytes => Ok(()),
            _ => Err(self.fail("verify", rel, "the object read back differs")),
        }
    }
}

impl Replica {
    /// The replica's folder (a `file://` replica), `None` on S3.
    pub fn folder(&self) -> Option<&Path> {
        self.folder.as_deref()
    }

    /// Folder replicas: every temporary file that a write cut short left anywhere in
    /// the replica (`NAME#1`, `NAME#2`, ...: the folder backend writes there and renames
    /// into place on success), as keys, sorted. One walk of the replica's folders (a
    /// directory read each, no file opened); listings never show these files.
    pub fn interrupted(&self) -> Result<Vec<String>, Error> {
        let Some(root) = &self.folder else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let list_err = |e: std::io::Error| self.fail("list", &dir.display().to_string(), e);
            for entry in std::fs::read_dir(&dir).map_err(list_err)? {
                let entry = entry.map_err(list_err)?;
                let path = entry.path();
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    stack.push(path);
                } else if is_interrupted_name(&entry.file_name().to_string_lossy()) {
                    if let Ok(rel) = path.strip_prefix(root) {
                        found.push(rel.to_string_lossy().into_owned());
                    }
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Folder replicas: deletes every file [`Replica::interrupted`] finds and returns
    /// their keys. Only called under the archive lock, so no other write is under way.
    pub fn clear_interrupted(&self) -> Result<Vec<String>, Error> {
        let Some(root) = &self.folder else {
            return Ok(Vec::new());
        };
        let found = self.interrupted()?;
        for rel in &found {
            match std::fs::remove_file(root.join(rel)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.fail("remove the interrupted write", rel, e)),
            }
        }
        Ok(found)
    }

    /// Folder replicas: deletes what a write to `rel` cut short left behind (the folder
    /// backend writes `NAME#1`, `NAME#2`, ... and renames it into place on success).
    /// Only called under the archive lock, so no other write is under way.
    fn clear_staged(&self, rel: &str) -> Result<(), Error> {
        let Some(folder) = &self.folder else {
            return Ok(());
        };
        for n in 1.. {
            let staged = folder.join(format!("{rel}#{n}"));
            match std::fs::remove_file(&staged) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(self.fail("remove the interrupted write", rel, e)),
            }
        }
        Ok(())
    }
}

/// Whether a file name is the folder backend's temporary name for a write under way
/// (`NAME#N`, N digits).
fn is_interrupted_name(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The digest of what `hasher` was fed (it is left fresh).
fn take_digest(hasher: &mut MultiHasher, alg: Algorithm) -> Result<Digest, Error> {
    std::mem::replace(hasher, MultiHasher::new(&[alg]))
        .finish()
        .get(alg)
        .cloned()
        .ok_or_else(|| Error::Internal(format!("no {alg} digest computed")))
}

/// Reads up to [`PART_SIZE`] bytes (fewer only at the end of the file).
fn read_part(reader: &mut dyn Read, local: &Path) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; PART_SIZE];
    let mut filled = 0;
    while filled < PART_SIZE {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read", local, e)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}
