//! sled 0.34.7 alone, writing what Ferrobase's writer writes for each created record, so a write
//! bound can be pinned on sled or on us (issue 13).
//!
//! Per row, like `src/store/writer` for a `posts` create (one relation, one non-unique index):
//! a read of the record key (the `Expect::Absent` check), then the record `r/` (~400 B JSON),
//! its index entry `i/`, the per-value counter `k/` (read-modify-write, one of 50 hot keys),
//! insertion order `o/`, rowid `w/`, the reverse-relation entry `x/` and a change-log entry `l/`
//! carrying a copy of the record. Per group: the record count and the head seq under `m/`
//! (two hot keys), ONE `sled::Batch`, ONE `Db::flush()` (fsync). Nothing is trimmed (the
//! server keeps the log for 72 hours).
//!
//!     sled_micro [ROWS] [--group G] [--value-bytes B] [--cache-mb M] [--no-flush] --dir DIR

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const COLL: &str = "pbc_1125843985";
const AUTHORS: &str = "pbc_2930127743";
const CATS: u64 = 50;
const N_AUTHORS: u64 = 100;
/// Rows per rate window: the rate printed at a checkpoint is over about this many rows before it.
const WINDOW: u64 = 10_000;
const CHECKPOINTS: [u64; 3] = [WINDOW, 100_000, 1_000_000];

struct Args {
    rows: u64,
    group: u64,
    value_bytes: usize,
    cache_mb: u64,
    flush: bool,
    dir: PathBuf,
}

impl Args {
    fn parse(mut it: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut a = Args {
            rows: 1_000_000,
            group: 32,
            value_bytes: 400,
            cache_mb: 64,
            flush: true,
            dir: PathBuf::new(),
        };
        let num = |v: Option<String>, flag: &str| -> Result<u64, String> {
            v.as_deref()
                .and_then(|s| s.replace('_', "").parse().ok())
                .ok_or_else(|| format!("{flag} needs a number"))
        };
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--group" => a.group = num(it.next(), "--group")?.max(1),
                "--value-bytes" => a.value_bytes = num(it.next(), "--value-bytes")? as usize,
                "--cache-mb" => a.cache_mb = num(it.next(), "--cache-mb")?,
                "--no-flush" => a.flush = false,
                "--dir" => a.dir = it.next().map(PathBuf::from).ok_or("--dir needs a path")?,
                other => a.rows = num(Some(other.to_string()), "ROWS")?,
            }
        }
        if a.dir.as_os_str().is_empty() {
            return Err("--dir DIR is required (an empty directory; run.sh makes one)".into());
        }
        Ok(a)
    }
}

/// xorshift64*: deterministic filler without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A 15-char `[a-z0-9]` id that starts with a time-like component (like Ferrobase's ids).
fn record_id(i: u64, rng: &mut Rng) -> String {
    let mut id = Vec::with_capacity(15);
    let mut x = i;
    for _ in 0..8 {
        id.push(ALPHABET[(x % 36) as usize]);
        x /= 36;
    }
    id.reverse();
    for _ in 0..7 {
        id.push(ALPHABET[(rng.next() % 36) as usize]);
    }
    String::from_utf8(id).unwrap_or_default()
}

/// `memcmp.rs`'s text encoding: tag, bytes (0x00 escaped), terminator.
fn text(out: &mut Vec<u8>, s: &str) {
    out.push(0x05);
    for &b in s.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

fn key(kind: &str, coll: &str, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(kind.len() + coll.len() + 1 + rest.len());
    k.extend_from_slice(kind.as_bytes());
    k.extend_from_slice(coll.as_bytes());
    k.push(b'/');
    k.extend_from_slice(rest);
    k
}

/// A post as JSON, padded with its `body` to about `size` bytes.
fn record(id: &str, i: u64, author: &str, size: usize) -> String {
    let head = format!(
        r#"{{"author":"{author}","cat":"c{}","id":"{id}","n":{},"title":"post number {i} lorem ipsum dolor sit amet","body":""#,
        i % CATS,
        (i * 7919) % 1000
    );
    let pad = size.saturating_sub(head.len() + 2);
    let lorem = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";
    let body: String = lorem
        .chars()
        .cycle()
        .skip((i % 37) as usize)
        .take(pad)
        .collect();
    format!("{head}{body}\"}}")
}

/// Per key kind: entries written and their key + value bytes (the logical volume).
#[derive(Default)]
struct Volume(HashMap<&'static str, (u64, u64)>);

impl Volume {
    fn add(&mut self, kind: &'static str, k: &[u8], v: &[u8]) {
        let e = self.0.entry(kind).or_default();
        e.0 += 1;
        e.1 += (k.len() + v.len()) as u64;
    }
}

fn disk_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let mut n = meta.blocks() * 512;
    if meta.is_dir() {
        for e in std::fs::read_dir(path).into_iter().flatten().flatten() {
            n += disk_bytes(&e.path());
        }
    }
    n
}

fn run(a: &Args) -> Result<(), sled::Error> {
    let path = a.dir.join("data.sled");
    let db = sled::Config::new()
        .path(&path)
        .cache_capacity(a.cache_mb * 1024 * 1024)
        .flush_every_ms(if a.flush { None } else { Some(500) })
        .open()?;
    let tree = db.open_tree("data")?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let authors: Vec<String> = (0..N_AUTHORS).map(|i| record_id(i, &mut rng)).collect();
    let mut idx_name = Vec::new();
    text(&mut idx_name, "idx_cat");
    let mut volume = Volume::default();
    let (mut seq, mut counts) = (0u64, HashMap::<u64, u64>::new());
    println!(
        "sled 0.34.7 alone: {} rows, groups of {} ({}), records ~{} B, cache {} MiB",
        a.rows,
        a.group,
        if a.flush {
            "one batch + one flush each"
        } else {
            "one batch each, sled's 500 ms flush timer"
        },
        a.value_bytes,
        a.cache_mb
    );
    println!(
        "{:>10} {:>18} {:>18} {:>12} {:>10}",
        "rows", "rows/s (window)", "rows/s (overall)", "disk MiB", "B/row"
    );
    let t0 = Instant::now();
    // Group ends (rows, time) of about the last WINDOW rows: the rate printed at a checkpoint.
    let mut history = std::collections::VecDeque::from([(0u64, t0)]);
    let (mut next_cp, progress_every) = (0usize, (a.rows / 20).max(1));
    while seq < a.rows {
        let mut batch = sled::Batch::default();
        let mut touched: HashMap<u64, u64> = HashMap::new();
        let (start, end) = (seq, (seq + a.group).min(a.rows));
        while seq < end {
            seq += 1;
            let i = seq - 1;
            let id = record_id(i + N_AUTHORS, &mut rng);
            let author = &authors[(i % N_AUTHORS) as usize];
            let cat = i % CATS;
            let rkey = key("r/", COLL, id.as_bytes());
            let _absent = tree.get(&rkey)?;
            let rec = record(&id, i, author, a.value_bytes);
            let mut put = |kind: &'static str, k: Vec<u8>, v: Vec<u8>| {
                volume.add(kind, &k, &v);
                batch.insert(k, v);
            };
            let mut values = idx_name.clone();
            text(&mut values, &format!("c{cat}"));
            let mut ikey = values.clone();
            ikey.extend_from_slice(&seq.to_be_bytes());
            ikey.extend_from_slice(id.as_bytes());
            put("i/ index", key("i/", COLL, &ikey), id.clone().into_bytes());
            let ckey = key("k/", COLL, &values);
            let count = match touched.get(&cat) {
                Some(c) => *c,
                // First touch in this group: read it, as the writer's overlay does.
                None => tree
                    .get(&ckey)?
                    .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                    .map_or(0, u64::from_be_bytes),
            } + 1;
            touched.insert(cat, count);
            *counts.entry(cat).or_default() = count;
            put("k/ counter", ckey, count.to_be_bytes().to_vec());
            put(
                "o/ order",
                key("o/", COLL, &seq.to_be_bytes()),
                id.clone().into_bytes(),
            );
            put(
                "w/ rowid",
                key("w/", COLL, id.as_bytes()),
                seq.to_be_bytes().to_vec(),
            );
            let mut x = Vec::new();
            text(&mut x, author);
            text(&mut x, COLL);
            text(&mut x, "author");
            text(&mut x, &id);
            let referrer = format!(r#"{{"collection":"{COLL}","field":"author","id":"{id}"}}"#);
            put("x/ reverse", key("x/", AUTHORS, &x), referrer.into_bytes());
            let event = format!(
                r#"{{"seq":{seq},"ts":1764000000000,"collection":"{COLL}","record":"{id}","action":"create","before":null,"after":{rec}}}"#
            );
            let mut lkey = b"l/".to_vec();
            lkey.extend_from_slice(&seq.to_be_bytes());
            put("l/ change log", lkey, event.into_bytes());
            put("r/ record", rkey, rec.into_bytes());
        }
        let mut put_meta = |name: &str, v: u64| {
            let k = format!("m/{name}").into_bytes();
            let v = v.to_be_bytes().to_vec();
            volume.add("m/ meta", &k, &v);
            batch.insert(k, v);
        };
        put_meta(&format!("_count/{COLL}"), seq);
        put_meta("_seq_head", seq);
        tree.apply_batch(batch)?;
        if a.flush {
            db.flush()?;
        }
        let now = Instant::now();
        history.push_back((seq, now));
        while history.len() > 2 && history[1].0 + WINDOW <= seq {
            history.pop_front();
        }
        let at_checkpoint = CHECKPOINTS.get(next_cp).is_some_and(|&c| seq >= c);
        if at_checkpoint || seq == a.rows {
            while CHECKPOINTS.get(next_cp).is_some_and(|&c| seq >= c) {
                next_cp += 1;
            }
            let (s0, t) = history[0];
            let disk = disk_bytes(&path);
            println!(
                "{:>10} {:>18.0} {:>18.0} {:>12.1} {:>10.0}",
                seq,
                (seq - s0) as f64 / (now - t).as_secs_f64(),
                seq as f64 / (now - t0).as_secs_f64(),
                disk as f64 / 1048576.0,
                disk as f64 / seq as f64
            );
        } else if seq / progress_every != (seq - (end - start)) / progress_every {
            eprintln!("  … {seq} rows");
        }
    }
    db.flush()?;
    let mut kinds: Vec<_> = volume.0.into_iter().collect();
    kinds.sort();
    let total: u64 = kinds.iter().map(|(_, (_, b))| b).sum();
    println!("\nwritten (logical, key + value; hot keys count every rewrite):");
    for (kind, (n, b)) in &kinds {
        println!(
            "  {kind:<14} {n:>12} writes {:>10.1} MiB",
            *b as f64 / 1048576.0
        );
    }
    let disk = disk_bytes(&path);
    println!(
        "  total {:.1} MiB; disk after the final flush {:.1} MiB ({:.0} B/row); sled size_on_disk {:.1} MiB",
        total as f64 / 1048576.0,
        disk as f64 / 1048576.0,
        disk as f64 / a.rows.max(1) as f64,
        db.size_on_disk()? as f64 / 1048576.0
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
