//! Uploads staged on disk while the request streams in: bounded in size, fsynced, their MIME
//! type sniffed from the content (never the client's header), and removed when dropped unless
//! placed in storage first (placing links the staged file, so dropping is always safe).

use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Bytes kept from the start of an upload for sniffing its type.
const HEAD: usize = 8 * 1024;
/// Bytes read and written at a time (each write is one hop to tokio's blocking pool).
const CHUNK: usize = 256 * 1024;

/// An upload on disk, not yet part of any record.
#[derive(Debug)]
pub struct StagedFile {
    path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// The sniffed MIME type (`image/png`, `text/plain`, `application/octet-stream`…).
    pub mime: String,
    /// The name the client gave the part (may be empty).
    pub original: String,
}

impl StagedFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Why an upload could not be staged.
#[derive(Debug)]
pub enum StageError {
    /// More than the limit arrived; nothing is kept.
    TooLarge {
        limit: u64,
    },
    Io(std::io::Error),
}

impl From<std::io::Error> for StageError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// Streams `reader` into a new file in `dir`, refusing more than `limit` bytes, and fsyncs it.
pub async fn stage(
    dir: &Path,
    original: &str,
    mut reader: impl AsyncRead + Unpin,
    limit: u64,
) -> Result<StagedFile, StageError> {
    let path = dir.join(format!("up_{}", crate::schema::random_id()));
    let mut file = tokio::fs::File::create(&path).await?;
    // From here on the guard removes the file on every early return.
    let mut staged = StagedFile {
        path,
        size: 0,
        mime: String::new(),
        original: original.to_string(),
    };
    let mut head = Vec::with_capacity(HEAD);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = fill(&mut reader, &mut buf).await?;
        if n == 0 {
            break;
        }
        staged.size += n as u64;
        if staged.size > limit {
            return Err(StageError::TooLarge { limit });
        }
        if head.len() < HEAD {
            let take = n.min(HEAD - head.len());
            head.extend_from_slice(&buf[..take]);
        }
        file.write_all(&buf[..n]).await?;
    }
    file.sync_data().await?;
    staged.mime = sniff(&head).to_string();
    Ok(staged)
}

/// Reads until `buf` is full or the input ends (multipart hands out small pieces).
async fn fill(reader: &mut (impl AsyncRead + Unpin), buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let got = reader.read(&mut buf[n..]).await?;
        if got == 0 {
            break;
        }
        n += got;
    }
    Ok(n)
}

/// The MIME type of content starting with `head`: magic numbers first, then SVG and text by
/// inspection, else `application/octet-stream`.
pub fn sniff(head: &[u8]) -> &'static str {
    let lead = String::from_utf8_lossy(&head[..head.len().min(512)]).to_ascii_lowercase();
    let lead = lead.trim_start();
    if lead.starts_with("<svg") || (lead.starts_with("<?xml") && lead.contains("<svg")) {
        return "image/svg+xml";
    }
    if let Some(t) = infer::get(head) {
        return t.mime_type();
    }
    let text = match std::str::from_utf8(head) {
        Ok(s) => s,
        // A multi-byte character cut at the end of the head is still text.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return "application/octet-stream",
    };
    if head.is_empty() {
        return "text/plain";
    }
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return "application/octet-stream";
    }
    "text/plain"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content_not_name() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), "image/jpeg");
        assert_eq!(sniff(b"hello, world\n"), "text/plain");
        assert_eq!(sniff("grüß".as_bytes()), "text/plain");
        assert_eq!(sniff(&"grüß".as_bytes()[..4]), "text/plain");
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?><svg xmlns=\"\"/>"),
            "image/svg+xml"
        );
        assert_eq!(sniff(b"\0\x01\x02\x03binary"), "application/octet-stream");
        assert_eq!(sniff(b""), "text/plain");
    }

    #[tokio::test]
    async fn staging_is_bounded_and_cleans_up() {
        let dir = std::env::temp_dir().join(format!("fb-stage-{}", crate::schema::random_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = stage(&dir, "a.txt", &b"hello"[..], 5).await.unwrap();
        assert_eq!((ok.size, ok.mime.as_str()), (5, "text/plain"));
        assert_eq!(std::fs::read(ok.path()).unwrap(), b"hello");
        let path = ok.path().to_path_buf();
        drop(ok);
        assert!(!path.exists());
        let big = stage(&dir, "a.txt", &b"hello!"[..], 5).await;
        assert!(matches!(big, Err(StageError::TooLarge { limit: 5 })));
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "nothing left behind"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
