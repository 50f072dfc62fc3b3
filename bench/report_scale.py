"""Scale-mode part of bench/report.py: scale.json -> markdown tables and scale-*.png plots.

Used by `report.py` when the results file says `"kind": "scale"` (written by bench/scale.py).
"""

from __future__ import annotations

from pathlib import Path

from report import COLORS, FB, NAMES, PB, fmt_num, pyplot

BEGIN, END = "<!-- scale:begin -->", "<!-- scale:end -->"
MIB = 2**20


def short(n: int) -> str:
    """1000000 -> 1M, 100000 -> 100k, 2000 -> 2k."""
    for div, suffix in ((1_000_000, "M"), (1000, "k")):
        if n >= div and n % (div // 10) == 0:
            x = n / div
            return f"{x:g}{suffix}"
    return f"{n:,}"


def http(r: dict, sc: str) -> float | None:
    x = (r.get("http") or {}).get(sc) or {}
    return x.get("ok_rps", x.get("rps")) if x.get("status") == "ok" else None


def value(r: dict | None, key: str) -> float | None:
    """A number from one system's checkpoint result (None when not measured)."""
    if not r or r.get("status") != "ok":
        return None
    if key in ("get_by_id", "filter_indexed", "create"):
        return http(r, key)
    if key == "data_dir_mib":
        return r["data_dir_bytes"] / MIB
    if key == "load_rate":
        return (r.get("load") or {}).get("rows_per_s")
    if key == "load_peak_rss_mb":
        return (r.get("load") or {}).get("peak_rss_mb")
    v = r.get(key)
    return v if isinstance(v, (int, float)) else None


# key -> (column label, unit, higher is better)
COLUMNS = {
    "create": ("durable creates", "req/s", True),
    "get_by_id": ("get by id", "req/s", True),
    "filter_indexed": ("indexed list, perPage 20", "req/s", True),
    "data_dir_mib": ("data dir", "MiB", False),
    "bytes_per_row": ("bytes / row", "B", False),
    "startup_ms": ("start-up", "ms", False),
    "rss_idle_mb": ("idle RSS after restart", "MiB", False),
    "load_peak_rss_mb": ("peak RSS during load", "MiB", False),
    "load_rate": ("load rate", "rows/s", True),
}


def cell(r: dict | None, key: str, base: dict | None) -> str:
    if r is None:
        return "not run"
    if r.get("status") in ("capped", "failed"):
        return "—"
    v = value(r, key)
    if v is None:
        x = (r.get("http") or {}).get(key)
        return f"**failed**: {x['error'][:60]}" if x and x.get("status") == "failed" else "–"
    s = f"{fmt_num(v)} {COLUMNS[key][1]}"
    if key == "create" and base is not None and base is not r:
        b = value(base, "create")
        if b:
            s += f" ({100 * v / b:.0f} % of the {short(base['rows'])}-row figure)"
    return s


def ratio(fb: dict | None, pb: dict | None, key: str) -> str:
    f, p = value(fb, key), value(pb, key)
    if not f or not p:
        return "n/a"
    r = f / p if COLUMNS[key][2] else p / f
    return f"**{r:.2f}×**" if r < 1 / 1.05 else f"{r:.2f}×"


def status_note(r: dict | None) -> str:
    if r is None:
        return "not run"
    if r.get("status") == "capped":
        return r.get("error", "capped")
    if r.get("status") == "failed":
        return f"**failed**: {r.get('error', '')[:80]}"
    return f"{r['rows']:,} rows"


def main_table(res: dict) -> str:
    keys = list(COLUMNS)
    head = "| checkpoint | system | " + " | ".join(COLUMNS[k][0] for k in keys) + " |"
    lines = [head, "|" + "---|" * (len(keys) + 2)]
    first: dict[str, dict] = {}
    for row in res["checkpoints"]:
        systems = row["systems"]
        for s in (FB, PB):
            r = systems.get(s)
            if s not in res.get("systems", []):
                continue
            if r and r.get("status") == "ok" and value(r, "create") and s not in first:
                first[s] = r
            label = f"{NAMES[s]} ({status_note(r)})"
            lines.append(f"| {short(row['target'])} | {label} | "
                         + " | ".join(cell(r, k, first.get(s)) for k in keys) + " |")
        if all((systems.get(s) or {}).get("status") == "ok" for s in (FB, PB)):
            lines.append(f"| {short(row['target'])} | ratio (>1 = Ferrobase better) | "
                         + " | ".join(ratio(systems[FB], systems[PB], k) for k in keys) + " |")
    return "\n".join(lines)


def breakdown_table(res: dict) -> str:
    """Ferrobase's bytes per key kind at each checkpoint (from `ferrobase inspect --json`)."""
    cps = [(row["target"], row["systems"].get(FB) or {}) for row in res["checkpoints"]]
    cps = [(t, r, r.get("inspect")) for t, r in cps if isinstance(r.get("inspect"), dict)
           and "kinds" in r["inspect"]]
    if not cps:
        return ""
    lines = ["| key kind | " + " | ".join(f"{short(t)} ({r['rows']:,} rows)" for t, r, _ in cps) + " |",
             "|---|" + "---|" * len(cps)]

    def per_row(b: float, rows: int) -> str:
        return f"{fmt_num(b / MIB)} MiB" + (f", {fmt_num(b / rows)} B/row" if rows else "")

    kinds = [k["kind"] for k in cps[-1][2]["kinds"]]
    for kind in kinds:
        cells = []
        for _, r, ins in cps:
            k = next((k for k in ins["kinds"] if k["kind"] == kind), None)
            cells.append(f"{k['entries']:,} entries, {per_row(k['bytes'], r['rows'])}" if k else "–")
        prefix = next((k["prefix"] for k in cps[-1][2]["kinds"] if k["kind"] == kind), "")
        lines.append(f"| {kind} `{prefix}` | " + " | ".join(cells) + " |")
    lines.append("| **logical total** | " + " | ".join(
        per_row(ins["logical"]["bytes"], r["rows"]) for _, r, ins in cps) + " |")
    lines.append("| **sled dir on disk** | " + " | ".join(
        per_row(ins["disk"]["sled_bytes"], r["rows"]) for _, r, ins in cps) + " |")
    lines.append("| **sled overhead** (disk / logical) | " + " | ".join(
        f"{ins['sled_overhead']:.2f}×" if ins.get("sled_overhead") else "n/a"
        for _, _, ins in cps) + " |")
    return "\n".join(lines)


def header(res: dict) -> str:
    m, cfg = res.get("machine", {}), res.get("config", {})
    v = m.get("versions", {})
    capped = sorted({f"{NAMES.get(s, s)}: {r.get('error', '')}" for row in res["checkpoints"]
                     for s, r in row["systems"].items() if r.get("status") == "capped"})
    out = [
        f"Scale run of {m.get('date', '?')}, commit `{m.get('git_commit', '?')}`. "
        f"Machine: {m.get('nproc', '?')} CPU(s) `{m.get('cpu_model', '?')}`, "
        f"{m.get('mem_total_gib', '?')} GiB RAM. Versions: Ferrobase `{v.get(FB, '?')}`, "
        f"PocketBase `{v.get(PB, '?')}`.",
        f"Checkpoints {', '.join(short(p) for p in cfg.get('points', []))} rows of `posts` "
        f"(the main benchmark's shape plus a {cfg.get('body_bytes', '?')}-byte `body`), loaded "
        f"through `/api/batch` ({cfg.get('batch_size', '?')} per batch). At each checkpoint: "
        f"`{cfg.get('wrk', '?')}` after {cfg.get('warmup_s', 0):g} s warm-up per scenario; "
        f"start-up = restart until `/api/health` is 200 (median of {cfg.get('startup_runs', 1)}); "
        f"idle RSS {cfg.get('idle_wait_s', '?')} s after it. The rows a create run adds stay "
        f"(the run stops at a request cap that keeps them below the next checkpoint).",
    ]
    if capped:
        out.append("Not loaded further: " + "; ".join(capped) + ".")
    return "\n".join(out)


def render(res: dict, plots: list[str], prefix: str) -> str:
    parts = [header(res), "", main_table(res), ""]
    bd = breakdown_table(res)
    if bd:
        parts += ["Ferrobase storage by key kind (`ferrobase inspect --json`, server stopped):",
                  "", bd, ""]
    parts += [f"![{Path(p).stem}]({prefix}{Path(p).name})" for p in plots]
    return "\n".join(parts).rstrip() + "\n"


def plots(res: dict, out: Path) -> list[str]:
    plt = pyplot()
    if plt is None:
        return []
    cps = res["checkpoints"]
    labels = [short(row["target"]) for row in cps]
    systems = [s for s in (FB, PB) if s in res.get("systems", [])]
    written = []

    def line(ax, key: str) -> None:
        for s in systems:
            pts = [(i, value(row["systems"].get(s), key)) for i, row in enumerate(cps)]
            pts = [(i, y) for i, y in pts if y is not None]
            if pts:
                ax.plot([i for i, _ in pts], [y for _, y in pts], marker="o", color=COLORS[s],
                        label=NAMES[s])
                for i, y in pts:
                    ax.annotate(fmt_num(y), (i, y), fontsize=7, xytext=(0, 4),
                                textcoords="offset points", ha="center")
        label, unit, hib = COLUMNS[key]
        ax.set_title(f"{label} ({unit}, {'higher' if hib else 'lower'} is better)", fontsize=9)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels)
        ax.set_xlabel("rows loaded")
        ax.set_ylim(0, ax.get_ylim()[1] * 1.15)  # room for the labels
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=7)

    def figure(name: str, keys: list[str], title: str) -> None:
        fig, axes = plt.subplots(1, len(keys), figsize=(4.3 * len(keys), 4), squeeze=False)
        for ax, key in zip(axes[0], keys):
            line(ax, key)
        fig.suptitle(f"{title} — {res.get('machine', {}).get('date', '')}")
        fig.tight_layout()
        p = out / f"scale-{name}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        written.append(str(p))

    figure("throughput", ["create", "get_by_id", "filter_indexed"], "Throughput as the data grows")
    figure("storage", ["data_dir_mib", "bytes_per_row", "load_rate"], "Storage and loading")
    figure("resources", ["startup_ms", "rss_idle_mb", "load_peak_rss_mb"], "Start-up and memory")

    ins = [(short(row["target"]), (row["systems"].get(FB) or {}).get("inspect")) for row in cps]
    ins = [(t, x) for t, x in ins if isinstance(x, dict) and "kinds" in x]
    if ins:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        kinds = [k["kind"] for k in ins[-1][1]["kinds"]]
        bottom = [0.0] * len(ins)
        cmap = plt.get_cmap("tab10")
        for j, kind in enumerate(kinds):
            ys = [next((k["bytes"] for k in x["kinds"] if k["kind"] == kind), 0) / MIB
                  for _, x in ins]
            ax.bar(range(len(ins)), ys, 0.5, bottom=bottom, label=kind, color=cmap(j % 10))
            bottom = [b + y for b, y in zip(bottom, ys)]
        disk = [x["disk"]["sled_bytes"] / MIB for _, x in ins]
        ax.plot(range(len(ins)), disk, marker="D", color="black", label="sled dir on disk")
        for i, d in enumerate(disk):
            ax.annotate(f"{fmt_num(d)} MiB", (i, d), fontsize=7, xytext=(0, 4),
                        textcoords="offset points", ha="center")
        ax.set_xticks(range(len(ins)))
        ax.set_xticklabels([t for t, _ in ins])
        ax.set_xlabel("rows loaded")
        ax.set_ylabel("MiB")
        ax.set_title("Ferrobase: logical bytes per key kind vs the sled dir on disk", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        p = out / "scale-breakdown.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        written.append(str(p))
    return written
