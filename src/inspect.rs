//! The `inspect` command: measures a stopped server's data dir (the store's [`StoreStats`] plus
//! collection names from the stored schema) and prints a table or JSON. Wiring and rendering
//! only; the scan is `store::Inspector`.

use crate::config::Config;
use crate::schema::Collection;
use crate::store::{Inspector, StoreStats, Usage, META_COLLECTION};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Runs `ferrobase inspect [--json]` on the configured data dir and prints the result.
pub fn inspect(config: &Config, as_json: bool) -> Result<(), String> {
    let dir = &config.server.dir;
    let inspector = Inspector::open(dir, &crate::app::store_options(config))
        .map_err(|e| format!("cannot inspect {}: {e}", dir.display()))?;
    let stats = inspector.stats().map_err(|e| e.to_string())?;
    let names = collection_names(&inspector)?;
    let dir = dir.display().to_string();
    if as_json {
        println!("{}", to_json(&dir, &stats, &names));
    } else {
        print!("{}", to_text(&dir, &stats, &names));
    }
    Ok(())
}

/// Collection id → name, from the stored definitions.
fn collection_names(inspector: &Inspector) -> Result<BTreeMap<String, String>, String> {
    let mut names = BTreeMap::new();
    for (key, bytes) in inspector
        .scan_meta(META_COLLECTION)
        .map_err(|e| e.to_string())?
    {
        let c = Collection::from_storage(&bytes).map_err(|e| format!("{key}: {e}"))?;
        names.insert(c.id.0, c.name);
    }
    Ok(names)
}

/// The stats as JSON, each collection with its `name` (null if no definition is stored).
pub fn to_json(dir: &str, stats: &StoreStats, names: &BTreeMap<String, String>) -> Value {
    let mut v = serde_json::to_value(stats).unwrap_or_default();
    if let Some(cols) = v.get_mut("collections").and_then(Value::as_array_mut) {
        for c in cols {
            let name = c["collection"]
                .as_str()
                .and_then(|id| names.get(id))
                .cloned();
            c["name"] = json!(name);
        }
    }
    v["dir"] = json!(dir);
    v
}

/// The stats as an aligned text report.
pub fn to_text(dir: &str, stats: &StoreStats, names: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let row = |out: &mut String, label: &str, prefix: &str, u: &Usage| {
        let _ = writeln!(
            out,
            "{label:<30} {prefix:<6} {:>12} {:>11} {:>11} {:>11} {:>9}",
            thousands(u.entries),
            bytes(u.key_bytes),
            bytes(u.value_bytes),
            bytes(u.bytes()),
            bytes(u.avg_entry_bytes().round() as u64),
        );
    };
    let _ = writeln!(out, "data dir {dir}\n");
    let _ = writeln!(
        out,
        "{:<30} {:<6} {:>12} {:>11} {:>11} {:>11} {:>9}",
        "key kind", "prefix", "entries", "keys", "values", "total", "avg"
    );
    for k in &stats.kinds {
        row(&mut out, k.kind, &k.prefix, &k.usage);
    }
    row(&mut out, "logical total", "", &stats.logical);
    if stats.other_trees.entries > 0 {
        row(&mut out, "other sled trees", "", &stats.other_trees);
    }
    let _ = writeln!(out, "\nrecords per collection");
    for c in &stats.collections {
        let label = match names.get(c.collection.as_str()) {
            Some(name) => format!("{name} ({})", c.collection),
            None => c.collection.to_string(),
        };
        row(&mut out, &label, "r/", &c.records);
    }
    let _ = writeln!(out, "\non disk (allocated; apparent size in brackets)");
    for e in &stats.disk.entries {
        let _ = writeln!(
            out,
            "{:<37} {:>11} ({})",
            e.name,
            bytes(e.bytes),
            bytes(e.apparent_bytes)
        );
    }
    let _ = writeln!(out, "{:<37} {:>11}", "total", bytes(stats.disk.total_bytes));
    match stats.sled_overhead {
        Some(x) => {
            let _ = writeln!(
                out,
                "\nsled overhead: {x:.2}× (sled dir on disk / logical bytes)"
            );
        }
        None => {
            let _ = writeln!(out, "\nsled overhead: n/a (the store is empty)");
        }
    }
    out
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Bytes in B/KiB/MiB/GiB with one decimal above bytes.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut x = n as f64 / 1024.0;
    let mut unit = 0;
    while x >= 1024.0 && unit + 1 < UNITS.len() {
        x /= 1024.0;
        unit += 1;
    }
    format!("{x:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_render_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(bytes(3 << 40), "3072.0 GiB");
    }
}
