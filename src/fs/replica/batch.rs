//! Many objects written at once, so that the cost of a copy is the copy: on a folder
//! replica one `syncfs` for a batch instead of an fsync per file and per folder; on S3
//! up to [`PARALLEL`] small objects in flight, each read back as soon as it is written
//! while the others are still being sent.
//!
//! Folder replicas, the order that keeps a kill at any instant harmless
//! (docs/replicas.md, "Batched writes and crashes"):
//! 1. every object of the batch is written under a temporary name beside its key
//!    (`NAME#1`, the name the folder backend uses and that listings skip), hashed on the
//!    way; one whose bytes do not have the register's digest is deleted again;
//! 2. one `syncfs` makes them durable, folders created for them included;
//! 3. each is renamed (or, for a key that must not exist, hard-linked and its temporary
//!    name removed) to its key;
//! 4. a second `syncfs` makes the names durable (for a batch that the caller follows
//!    with another one before it records anything, that batch's step 2 does it);
//! 5. each object is read back under its key and hashed again.
//!
//! Only then does the caller record anything. A name thus never points at bytes that
//! are not on the disk; a crash leaves temporary files (every `replicate` deletes them
//! first) and objects that are complete or absent.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

use super::{take_digest, Replica, Written};
use crate::digest::{copy_and_hash, hash_reader, Algorithm, Digest, MultiHasher, BUF_SIZE};
use crate::error::Error;

/// Objects in flight at once on S3.
pub const PARALLEL: usize = 8;
/// The largest object sent among the parallel ones, whole in one request (memory:
/// at most [`PARALLEL`] of them at once); a larger one is sent alone, in parts.
pub const SMALL_MAX: u64 = 1 << 20;
/// Objects per batch: on a folder replica, one pair of `syncfs` calls each.
pub const BATCH_OBJECTS: usize = 1000;

/// One object of a batch: the archive's file, the key it goes to, and the digest its
/// bytes must have (else nothing is written: [`Written::SourceMismatch`]).
pub struct PutJob<'a> {
    pub local: &'a Path,
    pub key: &'a str,
    pub alg: Algorithm,
    pub want: &'a Digest,
    /// Only where no object is (see [`Replica::put_file`]).
    pub create: bool,
}

/// A folder object written under its temporary name.
struct Staged {
    job: usize,
    tmp: PathBuf,
    dest: PathBuf,
    sent: Digest,
}

impl Replica {
    /// Writes `jobs` and reads each back (see the module's text for the order); the
    /// result of each, in the order of `jobs`. At most [`BATCH_OBJECTS`] at a time make
    /// sense on a folder replica (the caller cuts longer lists).
    ///
    /// `sync_names`: on a folder replica, make the new names durable before returning
    /// (step 4). Without it they become durable with the next batch's step 2, which
    /// must come before anything records this one: a name lost meanwhile is an object
    /// absent, sent by the next run; it never points at bytes that are not on the disk.
    pub fn put_batch(&self, jobs: &[PutJob], sync_names: bool) -> Vec<Result<Written, Error>> {
        match &self.local {
            Some(_) => self.put_batch_folder(jobs, sync_names),
            None => self.put_batch_s3(jobs),
        }
    }

    fn put_batch_folder(&self, jobs: &[PutJob], sync_names: bool) -> Vec<Result<Written, Error>> {
        let mut out: Vec<Result<Written, Error>> = Vec::with_capacity(jobs.len());
        let mut staged: Vec<Staged> = Vec::new();
        let mut buf = vec![0u8; BUF_SIZE];
        for (i, job) in jobs.iter().enumerate() {
            match self.stage(job, &mut buf) {
                Ok(Some((tmp, dest, sent))) => {
                    staged.push(Staged {
                        job: i,
                        tmp,
                        dest,
                        sent,
                    });
                    out.push(Ok(Written::Done));
                }
                Ok(None) => out.push(Ok(Written::SourceMismatch)),
                Err(e) => out.push(Err(e)),
            }
        }
        let Some(root) = self.folder.as_deref().filter(|_| !staged.is_empty()) else {
            return out;
        };
        if let Err(e) = crate::fs::durable::sync_tree(root) {
            return self.fail_staged(out, &staged, jobs, &e);
        }
        crate::fs::failpoint::hit("replica-batch-staged");
        for s in &staged {
            let job = &jobs[s.job];
            if let Err(e) = publish(&s.tmp, &s.dest, job.create) {
                out[s.job] = Err(self.fail("write", job.key, e));
            }
        }
        if sync_names {
            if let Err(e) = crate::fs::durable::sync_tree(root) {
                return self.fail_staged(out, &staged, jobs, &e);
            }
            crate::fs::failpoint::hit("replica-batch-published");
        }
        for s in &staged {
            if out[s.job].is_ok() {
                out[s.job] = self.verify_file(&s.dest, &jobs[s.job], &s.sent, &mut buf);
            }
        }
        out
    }

    /// Every staged object's result an error (the batch could not be made durable).
    fn fail_staged(
        &self,
        mut out: Vec<Result<Written, Error>>,
        staged: &[Staged],
        jobs: &[PutJob],
        e: &Error,
    ) -> Vec<Result<Written, Error>> {
        for s in staged {
            out[s.job] = Err(self.fail("make durable", jobs[s.job].key, e));
        }
        out
    }

    /// Step 1: the object written under `NAME#1` beside its key and hashed on the way;
    /// `None` (and nothing left behind) when its bytes are not the ones wanted.
    fn stage(
        &self,
        job: &PutJob,
        buf: &mut [u8],
    ) -> Result<Option<(PathBuf, PathBuf, Digest)>, Error> {
        let Some(local_fs) = &self.local else {
            return Err(Error::Internal(
                "stage on a replica that is no folder".into(),
            ));
        };
        let dest = local_fs
            .path_to_filesystem(&self.key(job.key))
            .map_err(|e| self.fail("write", job.key, e))?;
        clear_staged_at(&dest)
            .map_err(|e| self.fail("remove the interrupted write", job.key, e))?;
        let mut tmp = dest.clone().into_os_string();
        tmp.push("#1");
        let tmp = PathBuf::from(tmp);
        let source =
            crate::fs::open_read(job.local).map_err(|e| Error::io("read", job.local, e))?;
        if let Some(dir) = tmp.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| self.fail("create the folder of", job.key, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| self.fail("write", job.key, e))?;
        let copied = copy_and_hash(source, file, &[job.alg], buf);
        let sent = match copied {
            Ok(d) => d.get(job.alg).copied(),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(self.fail("write", job.key, e));
            }
        };
        if sent.as_ref() != Some(job.want) {
            std::fs::remove_file(&tmp)
                .map_err(|e| self.fail("remove the refused write", job.key, e))?;
            return Ok(None);
        }
        Ok(sent.map(|s| (tmp, dest, s)))
    }

    /// Step 5: the object under its key read back and hashed again.
    fn verify_file(
        &self,
        dest: &Path,
        job: &PutJob,
        sent: &Digest,
        buf: &mut [u8],
    ) -> Result<Written, Error> {
        let file = std::fs::File::open(dest).map_err(|e| self.fail("verify", job.key, e))?;
        let back =
            hash_reader(file, &[job.alg], buf).map_err(|e| self.fail("verify", job.key, e))?;
        match back.get(job.alg) {
            Some(d) if d == sent => Ok(Written::Done),
            other => Err(self.fail(
                "verify",
                job.key,
                format!(
                    "read back with {} {} after writing {}",
                    job.alg,
                    other.map(|d| d.to_hex()).unwrap_or_default(),
                    sent.to_hex()
                ),
            )),
        }
    }

    /// S3: the small objects [`PARALLEL`] at a time, each read back as soon as it is
    /// written; the large ones after them, one at a time in parts ([`Replica::put_file`]).
    fn put_batch_s3(&self, jobs: &[PutJob]) -> Vec<Result<Written, Error>> {
        let mut out: Vec<Option<Result<Written, Error>>> = jobs.iter().map(|_| None).collect();
        let mut small = Vec::new();
        let mut large = Vec::new();
        for (i, job) in jobs.iter().enumerate() {
            match std::fs::metadata(job.local) {
                Ok(m) if m.len() <= SMALL_MAX => small.push(i),
                Ok(_) => large.push(i),
                Err(e) => out[i] = Some(Err(Error::io("read", job.local, e))),
            }
        }
        self.rt.block_on(async {
            let mut done = futures_util::stream::iter(
                small
                    .into_iter()
                    .map(|i| async move { (i, self.put_small(&jobs[i]).await) }),
            )
            .buffer_unordered(PARALLEL);
            while let Some((i, r)) = done.next().await {
                out[i] = Some(r);
            }
        });
        for i in large {
            let job = &jobs[i];
            out[i] = Some(self.put_file(
                job.local,
                job.key,
                (job.alg, Some(job.want)),
                None,
                job.create,
            ));
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::Internal("an object of a batch was not sent".into()))
                })
            })
            .collect()
    }

    /// One small object: read whole, hashed, refused unless it has the digest wanted,
    /// sent in one request, then read back.
    async fn put_small(&self, job: &PutJob<'_>) -> Result<Written, Error> {
        let bytes = {
            use std::io::Read;
            let mut f =
                crate::fs::open_read(job.local).map_err(|e| Error::io("read", job.local, e))?;
            let mut v = Vec::new();
            f.read_to_end(&mut v)
                .map_err(|e| Error::io("read", job.local, e))?;
            v
        };
        let mut hasher = MultiHasher::new(&[job.alg]);
        hasher.update(&bytes);
        let sent = take_digest(&mut hasher, job.alg)?;
        if sent != *job.want {
            return Ok(Written::SourceMismatch);
        }
        crate::progress::add_bytes(bytes.len() as u64);
        let opts = PutOptions {
            mode: if job.create {
                PutMode::Create
            } else {
                PutMode::Overwrite
            },
            ..Default::default()
        };
        self.store
            .put_opts(
                &self.key(job.key),
                PutPayload::from(Bytes::from(bytes)),
                opts,
            )
            .await
            .map_err(|e| self.fail("write", job.key, e))?;
        match self.read_async(job.key, job.alg, &mut |_| Ok(())).await? {
            Some((_, back)) if back == sent => Ok(Written::Done),
            Some((_, back)) => Err(self.fail(
                "verify",
                job.key,
                format!(
                    "read back with {} {} after writing {}",
                    job.alg,
                    back.to_hex(),
                    sent.to_hex()
                ),
            )),
            None => Err(self.fail("verify", job.key, "the object is not there after writing")),
        }
    }
}

/// Step 3: the temporary file given its key's name; where no object may be, by a hard
/// link (which fails on an existing name) and then the temporary name's removal.
fn publish(tmp: &Path, dest: &Path, create: bool) -> std::io::Result<()> {
    if create {
        std::fs::hard_link(tmp, dest)?;
        std::fs::remove_file(tmp)
    } else {
        std::fs::rename(tmp, dest)
    }
}

/// Deletes `DEST#1`, `DEST#2`, ... (an earlier write to `dest` cut short).
fn clear_staged_at(dest: &Path) -> std::io::Result<()> {
    for n in 1.. {
        let mut p = dest.as_os_str().to_owned();
        p.push(format!("#{n}"));
        match std::fs::remove_file(PathBuf::from(p)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
