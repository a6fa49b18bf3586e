//! Replicas (docs/replicas.md): folder replicas on another disk, and S3 on a real server.

mod local;
pub(crate) mod s3;
