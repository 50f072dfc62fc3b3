//! [`Storage`]: where placed files live, by key (`<collection id>/<record id>/<name>`, thumbnails
//! under `<collection id>/<record id>/thumbs_<name>/<size>_<name>`, as PocketBase lays them out).
//! [`Local`] keeps them on disk under `<data dir>/storage` (the default); [`S3`] in an
//! S3-compatible bucket through the `object_store` crate.
//!
//! Methods are blocking (callers run them off the async workers); the returned read streams are
//! polled on the async runtime. Keys are built and checked by `Files` (only safe segments joined
//! by `/`), never taken from a client as they are.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The bytes of a stored object (or of a range of it), read as they are polled.
pub type ReadStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// What is known of a stored object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Size in bytes.
    pub size: u64,
    pub modified: SystemTime,
    /// An entity tag, quoted as in HTTP (`"…"`).
    pub etag: String,
}

/// A stored key and when it was last written (for the orphan sweep).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub modified: SystemTime,
}

/// Keys a bucket lists per request.
const LIST_PAGE: usize = 1000;

/// Where placed files live. Every method is blocking.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Stores the (fsynced, complete) local file `src` at `key`, durably: once this returns the
    /// object survives a crash. Storing the same file at the same key again is harmless.
    fn put(&self, key: &str, src: &Path) -> io::Result<()>;
    /// Removes `key`; a missing key is not an error.
    fn remove(&self, key: &str) -> io::Result<()>;
    /// Removes every key under `prefix` (which ends with `/`).
    fn remove_prefix(&self, prefix: &str) -> io::Result<()>;
    /// Calls `visit` with every stored key, the keys under one folder (`<collection>/<record>/`)
    /// one after another; `visit` may remove the key it is given. Stops at `visit`'s first error.
    fn list(&self, visit: &mut dyn FnMut(Listed) -> io::Result<()>) -> io::Result<()>;
    /// The object's size, time and tag; `None` when it does not exist.
    fn meta(&self, key: &str) -> io::Result<Option<Meta>>;
    /// Streams the object, or the byte `range` of it (which must lie within its size).
    fn read(&self, key: &str, range: Option<Range<u64>>) -> io::Result<ReadStream>;
    /// Copies the object to the local file `dest` (created or truncated).
    fn download(&self, key: &str, dest: &Path) -> io::Result<()>;
    /// The object's path on local disk, when it is kept there (served as a static file).
    fn local_path(&self, _key: &str) -> Option<PathBuf> {
        None
    }
}

fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Files on local disk under one root folder (the staging folder `.tmp` in it is not storage).
#[derive(Debug)]
pub struct Local {
    root: PathBuf,
}

/// Chunk size of local reads.
const READ_CHUNK: usize = 64 * 1024;

impl Local {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path_of(&self, key: &str) -> PathBuf {
        key.split('/').fold(self.root.clone(), |p, s| p.join(s))
    }

    /// Removes the empty folders above `path` (up to, not including, the root), so that a
    /// record's folder goes with its last file.
    fn prune(&self, path: &Path) {
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.root && d.starts_with(&self.root)) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }

    fn link(&self, src: &Path, dest: &Path, dir: &Path) -> io::Result<bool> {
        std::fs::create_dir_all(dir)?;
        match std::fs::hard_link(src, dest) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn walk(
        &self,
        dir: &Path,
        prefix: &str,
        visit: &mut dyn FnMut(Listed) -> io::Result<()>,
    ) -> io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if not_found(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if prefix.is_empty() && name == ".tmp" {
                continue;
            }
            let key = format!("{prefix}{name}");
            let kind = entry.file_type()?;
            if kind.is_dir() {
                self.walk(&entry.path(), &format!("{key}/"), visit)?;
            } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                visit(Listed { key, modified })?;
            }
        }
        Ok(())
    }
}

impl Storage for Local {
    fn put(&self, key: &str, src: &Path) -> io::Result<()> {
        let dest = self.path_of(key);
        let dir = dest
            .parent()
            .ok_or_else(|| io::Error::other("key has no folder"))?;
        // Folders this put creates: each one's entry is in its parent, fsynced below.
        let ancestors = || dir.ancestors().take_while(|d| *d != self.root);
        let mut created: Vec<&Path> = ancestors().filter(|d| !d.is_dir()).collect();
        // A concurrent removal may prune the fresh folder before the link: try again.
        let mut linked = self.link(src, &dest, dir);
        for _ in 0..3 {
            match &linked {
                Err(e) if not_found(e) => {
                    created = ancestors().collect();
                    linked = self.link(src, &dest, dir);
                }
                _ => break,
            }
        }
        if !linked? {
            return Ok(());
        }
        // The link, and any new folders, must survive a crash.
        sync_dir(dir)?;
        for folder in created {
            if let Some(parent) = folder.parent() {
                sync_dir(parent)?;
            }
        }
        Ok(())
    }

    fn remove(&self, key: &str) -> io::Result<()> {
        let path = self.path_of(key);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                self.prune(&path);
                Ok(())
            }
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn remove_prefix(&self, prefix: &str) -> io::Result<()> {
        let path = self.path_of(prefix.trim_end_matches('/'));
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {
                self.prune(&path);
                Ok(())
            }
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn list(&self, visit: &mut dyn FnMut(Listed) -> io::Result<()>) -> io::Result<()> {
        // Depth first: a record's files (and its thumbnail folders) come one after another.
        self.walk(&self.root, "", visit)
    }

    fn meta(&self, key: &str) -> io::Result<Option<Meta>> {
        let m = match std::fs::metadata(self.path_of(key)) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(None),
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let modified = m.modified()?;
        let since = modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Ok(Some(Meta {
            size: m.len(),
            modified,
            etag: format!("\"{:x}-{:x}\"", since.as_micros(), m.len()),
        }))
    }

    fn read(&self, key: &str, range: Option<Range<u64>>) -> io::Result<ReadStream> {
        use std::io::{Seek, SeekFrom};
        let mut file = std::fs::File::open(self.path_of(key))?;
        let len = file.metadata()?.len();
        let range = range.map_or(0..len, |r| r.start.min(len)..r.end.min(len));
        file.seek(SeekFrom::Start(range.start))?;
        let file = tokio::fs::File::from_std(file);
        let left = range.end.saturating_sub(range.start);
        let stream = futures_util::stream::unfold((file, left), |(mut file, left)| async move {
            use tokio::io::AsyncReadExt;
            if left == 0 {
                return None;
            }
            let mut buf = vec![0u8; READ_CHUNK.min(usize::try_from(left).unwrap_or(READ_CHUNK))];
            match file.read(&mut buf).await {
                Ok(0) => Some((
                    Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                    (file, 0),
                )),
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), (file, left - n as u64)))
                }
                Err(e) => Some((Err(e), (file, 0))),
            }
        });
        Ok(Box::pin(stream))
    }

    fn download(&self, key: &str, dest: &Path) -> io::Result<()> {
        std::fs::copy(self.path_of(key), dest).map(|_| ())
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        Some(self.path_of(key))
    }
}

/// Where an S3-compatible bucket is and how to sign for it (PocketBase's `s3` settings).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    pub bucket: String,
    pub region: String,
    /// `https://…` or, for a local server, `http://…`; empty: AWS's endpoint of the region.
    pub endpoint: String,
    pub access_key: String,
    pub secret: String,
    /// Addresses objects as `<endpoint>/<bucket>/<key>` instead of `<bucket>.<endpoint>/<key>`.
    pub force_path_style: bool,
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Options")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key)
            .field("secret", &"<redacted>")
            .field("force_path_style", &self.force_path_style)
            .finish()
    }
}

/// Files in an S3-compatible bucket.
pub struct S3 {
    store: Arc<dyn object_store::ObjectStore>,
    /// The runtime the requests run on (the caller's blocking thread waits for them).
    rt: tokio::runtime::Handle,
    bucket: String,
    /// Uploads in flight at once (each holds up to `PART * (PARTS_IN_FLIGHT + 1)` bytes).
    uploads: Arc<tokio::sync::Semaphore>,
}

impl fmt::Debug for S3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3").field("bucket", &self.bucket).finish()
    }
}

/// Bytes per part of a multipart upload (S3's smallest part is 5 MiB); smaller files are sent
/// in one request.
const PART: usize = 5 * 1024 * 1024;
/// Uploads to the bucket at once: with `PART` and `PARTS_IN_FLIGHT`, at most about 120 MiB of
/// upload buffers whatever the number or size of uploads.
const UPLOADS: usize = 8;
/// After this long since its first attempt a failed request is not retried.
const RETRY_WINDOW_SECS: u64 = 20;
/// Longest single request to the bucket.
const REQUEST_TIMEOUT_SECS: u64 = 120;
/// Parts of one upload in flight at once (memory: about `PART` times this plus one).
const PARTS_IN_FLIGHT: usize = 2;

fn s3_error(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        e => io::Error::other(e),
    }
}

impl S3 {
    /// Connects to the bucket (lazily: nothing is sent until the first call). Must be called
    /// within a tokio runtime, which then runs every request.
    pub fn new(o: &S3Options) -> io::Result<Self> {
        use object_store::aws::AmazonS3Builder;
        if o.bucket.trim().is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no bucket is configured (s3_bucket)",
            ));
        }
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&o.bucket)
            .with_region(if o.region.is_empty() {
                "us-east-1"
            } else {
                &o.region
            })
            .with_access_key_id(&o.access_key)
            .with_secret_access_key(&o.secret)
            .with_virtual_hosted_style_request(!o.force_path_style)
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    // Per request, streaming a download to a slow client included (a timed-out
                    // download resumes from where it stopped, as object_store retries reads).
                    .with_timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS)),
            )
            // A bucket that is down fails requests within seconds instead of minutes.
            .with_retry(object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(RETRY_WINDOW_SECS),
                ..Default::default()
            });
        if !o.endpoint.is_empty() {
            let endpoint = o.endpoint.trim_end_matches('/');
            // Virtual-hosted style against a custom endpoint names the bucket in the host.
            let endpoint = match (o.force_path_style, endpoint.split_once("://")) {
                (false, Some((scheme, host))) if !host.starts_with(&format!("{}.", o.bucket)) => {
                    format!("{scheme}://{}.{host}", o.bucket)
                }
                _ => endpoint.to_string(),
            };
            b = b
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        let store = b.build().map_err(io::Error::other)?;
        let rt = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        Ok(Self {
            store: Arc::new(store),
            rt,
            bucket: o.bucket.clone(),
            uploads: Arc::new(tokio::sync::Semaphore::new(UPLOADS)),
        })
    }

    /// Checks that the bucket takes writes and deletes (`POST /api/settings/test/s3`, as
    /// PocketBase: uploads `pb_settings_test_<random>/test.txt`, then removes the prefix).
    pub async fn check(o: &S3Options) -> io::Result<()> {
        let s3 = Self::new(o)?;
        let suffix: String = {
            use rand::Rng;
            let mut rng = rand::thread_rng();
            (0..5)
                .map(|_| char::from(rng.sample(rand::distributions::Alphanumeric)))
                .collect()
        };
        let prefix = format!("pb_settings_test_{suffix}");
        let path = Self::path(&format!("{prefix}/test.txt"));
        s3.store
            .put(&path, Bytes::from_static(b"test").into())
            .await
            .map_err(|e| io::Error::other(format!("failed to upload a test file: {e}")))?;
        s3.store
            .delete(&path)
            .await
            .map_err(|e| io::Error::other(format!("failed to delete a test file: {e}")))?;
        Ok(())
    }

    /// Runs `fut` on the runtime and waits for it. Never panics, whatever thread calls it (on
    /// an async worker it blocks that worker: callers use the blocking pool).
    fn run<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = io::Result<T>> + Send + 'static,
    ) -> io::Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| io::Error::other("storage request was cancelled"))?
    }

    /// Up to [`LIST_PAGE`] keys in order, after `after` (from the first when `None`).
    fn list_page(&self, after: Option<&str>) -> io::Result<Vec<Listed>> {
        let store = self.store.clone();
        let after = after.map(Self::path);
        self.run(async move {
            let mut listed = match &after {
                Some(a) => store.list_with_offset(None, a),
                None => store.list(None),
            }
            .take(LIST_PAGE);
            let mut out = Vec::new();
            while let Some(m) = listed.next().await {
                let m = m.map_err(s3_error)?;
                out.push(Listed {
                    key: m.location.to_string(),
                    modified: m.last_modified.into(),
                });
            }
            Ok(out)
        })
    }

    fn path(key: &str) -> object_store::path::Path {
        object_store::path::Path::from(key)
    }
}

/// Uploads the local file `src` to `path`: one request for small files, else a multipart
/// upload that holds at most a few parts in memory.
async fn upload(
    store: Arc<dyn object_store::ObjectStore>,
    path: object_store::path::Path,
    src: PathBuf,
) -> io::Result<()> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(&src).await?;
    let size = file.metadata().await?.len();
    if size <= PART as u64 {
        let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(PART));
        (&mut file).take(PART as u64).read_to_end(&mut buf).await?;
        store
            .put(&path, Bytes::from(buf).into())
            .await
            .map_err(s3_error)?;
        return Ok(());
    }
    let upload = store.put_multipart(&path).await.map_err(s3_error)?;
    let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, PART);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match file.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e);
            }
        };
        if n == 0 {
            break;
        }
        if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            return Err(s3_error(e));
        }
        writer.write(&buf[..n]);
    }
    writer.finish().await.map_err(s3_error)?;
    Ok(())
}

impl Storage for S3 {
    fn put(&self, key: &str, src: &Path) -> io::Result<()> {
        let (store, path, src) = (self.store.clone(), Self::path(key), src.to_path_buf());
        let slots = self.uploads.clone();
        self.run(async move {
            let _slot = slots.acquire_owned().await.map_err(io::Error::other)?;
            upload(store, path, src).await
        })
    }

    fn remove(&self, key: &str) -> io::Result<()> {
        let (store, path) = (self.store.clone(), Self::path(key));
        self.run(async move {
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(s3_error(e)),
            }
        })
    }

    fn remove_prefix(&self, prefix: &str) -> io::Result<()> {
        let (store, prefix) = (self.store.clone(), Self::path(prefix.trim_end_matches('/')));
        self.run(async move {
            let keys = store
                .list(Some(&prefix))
                .map(|m| m.map(|m| m.location))
                .boxed();
            let mut deleted = store.delete_stream(keys);
            while let Some(done) = deleted.next().await {
                match done {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(s3_error(e)),
                }
            }
            Ok(())
        })
    }

    fn list(&self, visit: &mut dyn FnMut(Listed) -> io::Result<()>) -> io::Result<()> {
        // In pages (keys come in order), so memory does not grow with the bucket.
        let mut after: Option<String> = None;
        loop {
            let page = self.list_page(after.as_deref())?;
            let full = page.len() >= LIST_PAGE;
            after = page.last().map(|l| l.key.clone());
            for item in page {
                visit(item)?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn meta(&self, key: &str) -> io::Result<Option<Meta>> {
        let (store, path) = (self.store.clone(), Self::path(key));
        self.run(async move {
            match store.head(&path).await {
                Ok(m) => Ok(Some(Meta {
                    size: m.size,
                    modified: m.last_modified.into(),
                    etag: match m.e_tag {
                        Some(t) if t.starts_with('"') || t.starts_with("W/") => t,
                        Some(t) => format!("\"{t}\""),
                        None => {
                            format!("\"{:x}-{:x}\"", m.last_modified.timestamp_micros(), m.size)
                        }
                    },
                })),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(s3_error(e)),
            }
        })
    }

    fn read(&self, key: &str, range: Option<Range<u64>>) -> io::Result<ReadStream> {
        let (store, path) = (self.store.clone(), Self::path(key));
        self.run(async move {
            let opts = object_store::GetOptions {
                range: range.map(object_store::GetRange::Bounded),
                ..Default::default()
            };
            let got = store.get_opts(&path, opts).await.map_err(s3_error)?;
            let stream: ReadStream = Box::pin(got.into_stream().map(|c| c.map_err(s3_error)));
            Ok(stream)
        })
    }

    fn download(&self, key: &str, dest: &Path) -> io::Result<()> {
        let (store, path, dest) = (self.store.clone(), Self::path(key), dest.to_path_buf());
        self.run(async move {
            use tokio::io::AsyncWriteExt;
            let mut stream = store.get(&path).await.map_err(s3_error)?.into_stream();
            let mut out = tokio::fs::File::create(&dest).await?;
            while let Some(chunk) = stream.next().await {
                out.write_all(&chunk.map_err(s3_error)?).await?;
            }
            out.flush().await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(stream: ReadStream) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async move {
            let chunks: Vec<io::Result<Bytes>> = stream.collect().await;
            chunks
                .into_iter()
                .flat_map(|c| c.unwrap().to_vec())
                .collect()
        })
    }

    #[test]
    fn local_puts_reads_lists_and_prunes_empty_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("storage");
        std::fs::create_dir_all(root.join(".tmp")).unwrap();
        let src = root.join(".tmp/up");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let local = Local::new(root.clone());
        for key in ["c/r1/a.bin", "c/r1/thumbs_a.bin/1x1_a.bin", "c/r2/b.bin"] {
            local.put(key, &src).unwrap();
        }
        local.put("c/r1/a.bin", &src).unwrap(); // again: harmless

        let meta = local.meta("c/r1/a.bin").unwrap().unwrap();
        assert_eq!(meta.size, data.len() as u64);
        assert!(meta.etag.starts_with('"') && meta.etag.ends_with('"'));
        assert_eq!(local.meta("c/r1/nope").unwrap(), None);
        assert_eq!(local.meta("c/r1").unwrap(), None, "a folder is no object");
        assert_eq!(collect(local.read("c/r1/a.bin", None).unwrap()), data);
        let part = collect(local.read("c/r1/a.bin", Some(65_530..140_000)).unwrap());
        assert_eq!(part, &data[65_530..140_000]);
        assert!(local.read("c/r1/nope", None).is_err());

        // The staging folder is not listed; a record's keys come together.
        let mut keys = Vec::new();
        local
            .list(&mut |l| {
                keys.push(l.key);
                Ok(())
            })
            .unwrap();
        let r1: Vec<usize> = (0..keys.len())
            .filter(|&i| keys[i].starts_with("c/r1/"))
            .collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert_eq!(r1.len(), 2);
        assert_eq!(r1[1] - r1[0], 1, "{keys:?}");

        // Removing the last file of a record removes its folder; missing keys are fine.
        local.remove("c/r2/b.bin").unwrap();
        local.remove("c/r2/b.bin").unwrap();
        assert!(!root.join("c/r2").exists());
        local.remove_prefix("c/r1/thumbs_a.bin/").unwrap();
        assert!(root.join("c/r1/a.bin").exists());
        local.remove_prefix("c/r1/").unwrap();
        local.remove_prefix("c/r1/").unwrap();
        assert!(!root.join("c").exists(), "empty folders are pruned");
        assert!(root.join(".tmp/up").exists(), "the source stays");
        let dest = dir.path().join("copy");
        local.put("c/r3/x", &src).unwrap();
        local.download("c/r3/x", &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert_eq!(local.local_path("c/r3/x"), Some(root.join("c/r3/x")));
    }

    #[test]
    fn s3_options_build_a_client_without_contacting_the_bucket() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _in = rt.enter();
        let o = S3Options {
            bucket: "b".into(),
            endpoint: "http://127.0.0.1:1".into(),
            force_path_style: true,
            ..S3Options::default()
        };
        assert!(S3::new(&o).is_ok());
        let shown = format!(
            "{:?}",
            S3Options {
                secret: "hunter2".into(),
                ..o.clone()
            }
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        let missing = S3Options {
            bucket: String::new(),
            ..o
        };
        assert!(S3::new(&missing).is_err(), "a bucket is required");
    }
}
