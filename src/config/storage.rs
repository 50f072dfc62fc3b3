//! `[storage]`: where file fields' files are kept — under the data dir (the default) or in an
//! S3-compatible bucket. The keys mirror PocketBase's `s3` settings (bucket, region, endpoint,
//! accessKey, secret, forcePathStyle).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Keep files in the bucket below instead of `<data dir>/storage`.
    pub s3_enabled: bool,
    pub s3_bucket: String,
    /// Empty: `us-east-1`.
    pub s3_region: String,
    /// `https://…` (or `http://…` for a server on this machine); empty: AWS's endpoint.
    pub s3_endpoint: String,
    pub s3_access_key: String,
    pub s3_secret: String,
    /// Address objects as `<endpoint>/<bucket>/<key>` (most self-hosted servers need it).
    pub s3_force_path_style: bool,
}
