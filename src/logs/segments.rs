//! The request log's own storage: append-only JSON-lines segment files, one per UTC hour of the
//! entries' ids (`<data dir>/logs/2026120716.seg`), beside the data store and sharing nothing
//! with it (no page cache, no flusher, no change log).
//!
//! - Writes: the one writer task appends a batch (one line per entry, `\n`-terminated) through a
//!   `BufWriter` per open hour and flushes it to the OS at the end of the batch; no fsync (a
//!   crash may lose the newest entries, as the page cache does).
//! - Reads scan segments newest first, each from its end backwards in fixed-size chunks, so
//!   memory stays bounded whatever a segment's size. A line that does not parse (a torn write
//!   after a crash, garbage) is skipped and counted; a segment that does not end in `\n` is
//!   repaired at open (a `\n` appended) so new entries never glue onto a torn one.
//! - Retention deletes whole segments whose hour ended before the cutoff.
//! - Get by id: the id's timestamp names its segment; lines start with `{"id":"<id>"`, so the
//!   match is a prefix compare, not a parse.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{Datelike, TimeZone, Timelike, Utc};

/// Milliseconds per segment.
const HOUR_MS: u64 = 3_600_000;
/// Bytes read per step when scanning a segment backwards.
const CHUNK: usize = 64 * 1024;
/// Longest line a scan accepts (entries are far smaller: their texts are cut at 2 KiB); a
/// longer run of bytes without `\n` is skipped as corrupt instead of buffered.
const MAX_LINE: usize = 1024 * 1024;
/// Segments the writer keeps open (the current hour and the previous one, for requests that
/// started before the hour turned).
const OPEN_SEGMENTS: usize = 2;
const SUFFIX: &str = ".seg";

/// The hour (ms / 3,600,000) of an entry id (`ms << 12 | seq`, 16 hex digits).
pub fn hour_of_id(id: &str) -> Option<u64> {
    if id.len() != 16 {
        return None;
    }
    let n = u64::from_str_radix(id, 16).ok()?;
    Some((n >> 12) / HOUR_MS)
}

/// `2026120716.seg` for the hour starting 2026-12-07T16:00Z.
fn file_name(hour: u64) -> Option<String> {
    let ms = i64::try_from(hour.checked_mul(HOUR_MS)?).ok()?;
    let t = Utc.timestamp_millis_opt(ms).single()?;
    Some(format!(
        "{:04}{:02}{:02}{:02}{SUFFIX}",
        t.year(),
        t.month(),
        t.day(),
        t.hour()
    ))
}

/// The hour a segment file name stands for (None for other files).
fn hour_of_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| digits.get(r).and_then(|s| s.parse::<u32>().ok());
    let year = i32::try_from(num(0..4)?).ok()?;
    let t = Utc
        .with_ymd_and_hms(year, num(4..6)?, num(6..8)?, num(8..10)?, 0, 0)
        .single()?;
    Some(u64::try_from(t.timestamp_millis()).ok()? / HOUR_MS)
}

/// What a scan skipped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// Lines that are not a JSON object (torn writes, garbage).
    pub corrupt: u64,
}

pub struct Segments {
    dir: PathBuf,
    /// Open segments by hour (the writer's; trims close what they delete).
    open: Mutex<BTreeMap<u64, BufWriter<File>>>,
}

impl Segments {
    /// Opens (creates) `dir` and repairs segments that end in a torn line.
    pub fn open(dir: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        let segments = Self {
            dir,
            open: Mutex::new(BTreeMap::new()),
        };
        for hour in segments.hours()? {
            let path = segments.path(hour);
            if let Err(e) = repair_tail(&path) {
                tracing::warn!(segment = %path.display(), error = %e, "cannot check request log segment");
            }
        }
        Ok(segments)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, hour: u64) -> PathBuf {
        self.dir
            .join(file_name(hour).unwrap_or_else(|| format!("invalid{SUFFIX}")))
    }

    /// The hours that have a segment, oldest first.
    pub fn hours(&self) -> io::Result<Vec<u64>> {
        let mut hours = Vec::new();
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            if let Some(h) = e.file_name().to_str().and_then(hour_of_name) {
                hours.push(h);
            }
        }
        hours.sort_unstable();
        Ok(hours)
    }

    /// Appends entries (id, JSON without a newline), each to the segment of its id's hour, and
    /// hands them to the OS (no fsync). Blocking.
    pub fn append<'a>(
        &self,
        entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> io::Result<()> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mut result = Ok(());
        for (id, line) in entries {
            let Some(hour) = hour_of_id(id) else { continue };
            if let std::collections::btree_map::Entry::Vacant(slot) = open.entry(hour) {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.path(hour));
                match file {
                    Ok(f) => {
                        slot.insert(BufWriter::with_capacity(CHUNK, f));
                    }
                    Err(e) => {
                        result = Err(e);
                        continue;
                    }
                }
                // Keep the newest few open; flush and close the rest.
                while open.len() > OPEN_SEGMENTS {
                    if let Some((_, mut w)) = open.pop_first() {
                        if let Err(e) = w.flush() {
                            result = Err(e);
                        }
                    }
                }
            }
            let Some(w) = open.get_mut(&hour) else {
                continue;
            };
            if let Err(e) = w.write_all(line).and_then(|()| w.write_all(b"\n")) {
                result = Err(e);
            }
        }
        for w in open.values_mut() {
            if let Err(e) = w.flush() {
                result = Err(e);
            }
        }
        result
    }

    /// Deletes the segments whose hour ended at or before `cutoff_ms`; returns how many went.
    pub fn remove_before(&self, cutoff_ms: u64) -> io::Result<u64> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for hour in self.hours()? {
            if (hour + 1).saturating_mul(HOUR_MS) > cutoff_ms {
                break;
            }
            open.remove(&hour);
            match fs::remove_file(self.path(hour)) {
                Ok(()) => n += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// The line of entry `id` (None when its segment or the entry is gone).
    pub fn get(&self, id: &str) -> io::Result<Option<Vec<u8>>> {
        let Some(hour) = hour_of_id(id) else {
            return Ok(None);
        };
        let prefix = format!("{{\"id\":\"{id}\"");
        let mut found = None;
        let mut skipped = Skipped::default();
        scan_file(&self.path(hour), &mut skipped, &mut |line: &[u8]| {
            if line.starts_with(prefix.as_bytes()) {
                found = Some(line.to_vec());
                return Ok::<_, io::Error>(false);
            }
            Ok(true)
        })
        .or_else(not_found_is_empty)?;
        Ok(found)
    }

    /// Calls `visit` with each line, newest segment first and each segment from its end, until
    /// it returns `Ok(false)` or the segments end. Lines a scan skipped are counted in the
    /// result (corrupt ones are not passed on: `visit` gets complete, `\n`-terminated lines).
    /// `io` turns a read error into the caller's error.
    pub fn scan<E>(
        &self,
        mut visit: impl FnMut(&[u8]) -> Result<bool, E>,
        io: impl Fn(io::Error) -> E,
    ) -> Result<Skipped, E> {
        let mut skipped = Skipped::default();
        for hour in self.hours().map_err(&io)?.into_iter().rev() {
            let path = self.path(hour);
            let before = skipped.corrupt;
            let go_on = match scan_file(&path, &mut skipped, &mut visit) {
                Ok(go_on) => go_on,
                Err(ScanError::Io(e)) if e.kind() == io::ErrorKind::NotFound => true,
                Err(ScanError::Io(e)) => return Err(io(e)),
                Err(ScanError::Visit(e)) => return Err(e),
            };
            if skipped.corrupt > before {
                tracing::warn!(
                    segment = %path.display(),
                    lines = skipped.corrupt - before,
                    "skipped corrupt request log lines"
                );
            }
            if !go_on {
                break;
            }
        }
        Ok(skipped)
    }

    /// Flushes and closes the open segments.
    pub fn close(&self) -> io::Result<()> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mut result = Ok(());
        while let Some((_, mut w)) = open.pop_first() {
            if let Err(e) = w.flush() {
                result = Err(e);
            }
        }
        result
    }
}

fn not_found_is_empty(e: ScanError<io::Error>) -> io::Result<bool> {
    match e {
        ScanError::Io(e) | ScanError::Visit(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        ScanError::Io(e) | ScanError::Visit(e) => Err(e),
    }
}

enum ScanError<E> {
    Io(io::Error),
    Visit(E),
}

/// Appends a `\n` to a segment whose last byte is something else (a torn write), so the torn
/// line stays one corrupt line and the next entry starts a line of its own.
fn repair_tail(path: &Path) -> io::Result<()> {
    let mut f = OpenOptions::new().read(true).append(true).open(path)?;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    if last[0] != b'\n' {
        tracing::warn!(segment = %path.display(), "request log segment ends in a torn entry (crash?); it is skipped");
        f.write_all(b"\n")?;
    }
    Ok(())
}

/// Scans one segment from its end backwards (its length when the scan starts: later appends
/// are not seen). Returns whether `visit` wants more.
fn scan_file<E>(
    path: &Path,
    skipped: &mut Skipped,
    visit: &mut impl FnMut(&[u8]) -> Result<bool, E>,
) -> Result<bool, ScanError<E>> {
    let mut f = File::open(path).map_err(ScanError::Io)?;
    let mut pos = f.metadata().map_err(ScanError::Io)?.len();
    let mut chunk = vec![0u8; CHUNK];
    // The bytes right of `pos` up to the next `\n` (the end of a line whose start is not read
    // yet), in file order.
    let mut carry: Vec<u8> = Vec::new();
    // The carry ran past MAX_LINE: the line is skipped when its start is found.
    let mut overlong = false;
    // Nothing ends at a `\n` yet: the carry is the part after the file's last `\n` (a line
    // being written, or torn), never passed on.
    let mut tail = true;
    let mut emit = |line: &[u8], overlong: bool, tail: bool, skipped: &mut Skipped| {
        if tail || (line.is_empty() && !overlong) {
            return Ok(true);
        }
        if overlong || line.first() != Some(&b'{') || line.last() != Some(&b'}') {
            skipped.corrupt += 1;
            return Ok(true);
        }
        visit(line).map_err(ScanError::Visit)
    };
    while pos > 0 {
        let start = pos.saturating_sub(CHUNK as u64);
        let len = usize::try_from(pos - start).unwrap_or(CHUNK);
        let buf = &mut chunk[..len];
        f.seek(SeekFrom::Start(start)).map_err(ScanError::Io)?;
        f.read_exact(buf).map_err(ScanError::Io)?;
        let mut end = len;
        while let Some(nl) = memchr::memrchr(b'\n', &buf[..end]) {
            let piece = &buf[nl + 1..end];
            let go_on = if carry.is_empty() {
                emit(piece, overlong, tail, skipped)?
            } else {
                carry.splice(0..0, piece.iter().copied());
                emit(&carry, overlong, tail, skipped)?
            };
            if !go_on {
                return Ok(false);
            }
            carry.clear();
            overlong = false;
            tail = false;
            end = nl;
        }
        if !overlong {
            if carry.len() + end > MAX_LINE {
                overlong = true;
                carry.clear();
            } else {
                carry.splice(0..0, buf[..end].iter().copied());
            }
        }
        pos = start;
    }
    emit(&carry, overlong, tail, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> String {
        format!("{:016x}", (ms << 12) | seq)
    }

    fn line(id: &str, n: usize) -> Vec<u8> {
        format!("{{\"id\":\"{id}\",\"n\":{n}}}").into_bytes()
    }

    fn all(s: &Segments) -> (Vec<String>, Skipped) {
        let mut out = Vec::new();
        let skipped = s
            .scan(
                |l: &[u8]| {
                    let v: serde_json::Value = serde_json::from_slice(l).unwrap();
                    out.push(v["id"].as_str().unwrap().to_string());
                    Ok::<_, io::Error>(true)
                },
                |e| e,
            )
            .unwrap();
        (out, skipped)
    }

    #[test]
    fn names_round_trip_and_ids_find_their_hour() {
        let ms = Utc
            .with_ymd_and_hms(2026, 12, 7, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        let hour = u64::try_from(ms).unwrap() / HOUR_MS + 16;
        assert_eq!(file_name(hour).unwrap(), "2026120716.seg");
        assert_eq!(hour_of_name("2026120716.seg"), Some(hour));
        assert_eq!(hour_of_name("2026123199.seg"), None);
        assert_eq!(hour_of_name("x.seg"), None);
        assert_eq!(hour_of_id(&id(hour * HOUR_MS + 5, 3)), Some(hour));
        assert_eq!(hour_of_id("zz"), None);
    }

    #[test]
    fn scans_newest_first_across_segments_and_chunks_and_gets_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let s = Segments::open(dir.path().join("logs")).unwrap();
        let base = 1_796_659_200_000u64;
        // 3 hours, enough entries that a segment spans several chunks.
        let ids: Vec<String> = (0..3u64)
            .flat_map(|h| (0..3000u64).map(move |i| id(base + h * HOUR_MS + i, 0)))
            .collect();
        let lines: Vec<Vec<u8>> = ids.iter().enumerate().map(|(n, i)| line(i, n)).collect();
        s.append(
            ids.iter()
                .map(String::as_str)
                .zip(lines.iter().map(Vec::as_slice)),
        )
        .unwrap();
        assert_eq!(s.hours().unwrap().len(), 3);
        let (seen, skipped) = all(&s);
        let mut want = ids.clone();
        want.reverse();
        assert_eq!(seen, want);
        assert_eq!(skipped, Skipped::default());
        assert_eq!(s.get(&ids[4500]).unwrap(), Some(lines[4500].clone()));
        assert_eq!(s.get(&id(base + 9 * HOUR_MS, 0)).unwrap(), None);
        assert_eq!(s.get("nothex").unwrap(), None);
    }

    #[test]
    fn retention_deletes_whole_segments_that_ended_before_the_cutoff() {
        let dir = tempfile::tempdir().unwrap();
        let s = Segments::open(dir.path().to_path_buf()).unwrap();
        let base = 1_796_659_200_000u64;
        let ids: Vec<String> = (0..4u64).map(|h| id(base + h * HOUR_MS + 10, 0)).collect();
        let lines: Vec<Vec<u8>> = ids.iter().map(|i| line(i, 0)).collect();
        s.append(
            ids.iter()
                .map(String::as_str)
                .zip(lines.iter().map(Vec::as_slice)),
        )
        .unwrap();
        // A cutoff inside hour 2: hours 0 and 1 ended before it, hour 2 still has live time.
        assert_eq!(s.remove_before(base + 2 * HOUR_MS + 5).unwrap(), 2);
        assert_eq!(all(&s).0, [ids[3].clone(), ids[2].clone()]);
        // Writing to a segment that was deleted while open reopens it.
        s.append([(ids[0].as_str(), lines[0].as_slice())]).unwrap();
        assert_eq!(s.hours().unwrap().len(), 3);
        assert_eq!(s.remove_before(u64::MAX).unwrap(), 3);
        assert!(all(&s).0.is_empty());
    }

    #[test]
    fn torn_tails_and_garbage_are_skipped_and_repaired_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let base = 1_796_659_200_000u64;
        let (a, b, c) = (id(base + 1, 0), id(base + 2, 0), id(base + 3, 0));
        {
            let s = Segments::open(dir.path().to_path_buf()).unwrap();
            s.append([(a.as_str(), line(&a, 1).as_slice())]).unwrap();
            s.close().unwrap();
        }
        let path = dir.path().join(file_name(base / HOUR_MS).unwrap());
        // A garbage line, then a torn entry (a crash mid-write).
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"\x00\xffgarbage\n{\"id\":\"").unwrap();
        f.write_all(b.as_bytes()).unwrap();
        drop(f);
        // Before a restart, the torn tail is not passed on (it may be a line being written).
        let s = Segments::open(dir.path().to_path_buf()).unwrap();
        s.append([(c.as_str(), line(&c, 3).as_slice())]).unwrap();
        let (seen, skipped) = all(&s);
        assert_eq!(seen, [c.clone(), a.clone()]);
        assert_eq!(skipped.corrupt, 2, "the garbage and the repaired torn line");
        assert_eq!(s.get(&c).unwrap(), Some(line(&c, 3)));
        assert_eq!(s.get(&b).unwrap(), None);
    }

    #[test]
    fn an_overlong_line_is_skipped_without_buffering_it() {
        let dir = tempfile::tempdir().unwrap();
        let base = 1_796_659_200_000u64;
        let a = id(base + 1, 0);
        let s = Segments::open(dir.path().to_path_buf()).unwrap();
        let path = dir.path().join(file_name(base / HOUR_MS).unwrap());
        let mut f = File::create(&path).unwrap();
        f.write_all(&vec![b'{'; 3 * MAX_LINE]).unwrap();
        f.write_all(b"}\n").unwrap();
        drop(f);
        s.append([(a.as_str(), line(&a, 1).as_slice())]).unwrap();
        let (seen, skipped) = all(&s);
        assert_eq!(seen, [a]);
        assert_eq!(skipped.corrupt, 1);
    }
}
