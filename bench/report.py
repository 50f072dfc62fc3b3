#!/usr/bin/env python3
"""Turns bench results.json into a markdown table and PNG plots.

    python bench/report.py RESULTS.json --out DIR [--markdown FILE] [--readme README.md]

--markdown FILE: the table is written between `<!-- bench:begin -->` and `<!-- bench:end -->`
(a file without the markers gets them appended; a missing file is created).
--readme FILE: the headline table is written between the same markers, only if the file already
has them (the harness never adds them to README.md by itself).
A scale-mode file (`"kind": "scale"`, from bench/scale.py) goes through bench/report_scale.py:
scale-*.png and the table between `<!-- scale:begin -->` / `<!-- scale:end -->`.
Plots need matplotlib (bench/run.sh installs it into bench/.venv); without it only the
markdown is written and a note is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

# name -> (label, unit, higher_is_better)
HTTP = {
    "get_by_id": "get by id",
    "list_page": "list perPage=20",
    "list_page_skiptotal": "list perPage=20 skipTotal",
    "filter_unindexed_sorted": "filter+sort, unindexed",
    "filter_indexed": "filter, indexed",
    "filter_substring": "substring filter (~) + sort",
    "expand": "list + expand relation",
    "create": "create (POST, durable)",
    "realtime_fanout": "realtime fan-out",
}
RESOURCES = {
    "startup_time": ("startup time", "ms", False),
    "rss_idle_mb": ("RSS idle", "MiB", False),
    "rss_peak_mb": ("RSS peak", "MiB", False),
    "data_dir_mb": ("data dir size", "MiB", False),
    "binary_mb": ("binary size", "MiB", False),
}
FB, PB = "ferrobase", "pocketbase"
COLORS = {FB: "#d9480f", PB: "#1c7ed6"}
NAMES = {FB: "Ferrobase", PB: "PocketBase"}


def fmt_num(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def cell_http(r: dict | None) -> str:
    if not r:
        return "not run"
    if r["status"] != "ok":
        return f"**failed**: {r['error'][:80]}"
    s = f"{fmt_num(r.get('ok_rps', r['rps']))} req/s<br>p50 {fmt_num(r['p50_ms'])} ms, p99 {fmt_num(r['p99_ms'])} ms"
    bad = r["non2xx"] + r["errors"]
    if bad:
        s += f"<br>⚠ {r['non2xx']} non-2xx, {r['errors']} socket errors"
    return s


def cell_res(r: dict | None, unit: str) -> str:
    if not r:
        return "not run"
    if r["status"] != "ok":
        return f"**failed**: {r['error'][:80]}"
    return f"{fmt_num(r['value'])} {unit}"


def ratio(fb: dict | None, pb: dict | None, key: str, higher_better: bool) -> str:
    """Oriented so that > 1 means Ferrobase is better."""
    if not fb or not pb or fb["status"] != "ok" or pb["status"] != "ok":
        return "n/a"
    f, p = fb.get(key), pb.get(key)
    if key == "ok_rps":
        f, p = (fb.get("rps") if f is None else f), (pb.get("rps") if p is None else p)
    if f is None or p is None or f <= 0 or p <= 0:
        return "n/a"
    r = f / p if higher_better else p / f
    verdict = "Ferrobase better" if r > 1.05 else ("PocketBase better" if r < 1 / 1.05 else "about even")
    s = f"{r:.2f}×"
    return f"**{s}** ({verdict})" if r < 1 / 1.05 else f"{s} ({verdict})"


def table(res: dict) -> str:
    sc = res["scenarios"]
    lines = ["| scenario | Ferrobase | PocketBase | ratio (>1 = Ferrobase better) |",
             "|---|---|---|---|"]
    for name, label in HTTP.items():
        if name not in sc:
            continue
        fb, pb = sc[name].get(FB), sc[name].get(PB)
        lines.append(f"| `{name}` — {label} | {cell_http(fb)} | {cell_http(pb)} | "
                     f"{ratio(fb, pb, 'ok_rps', True)} |")
    for name, (label, unit, hib) in RESOURCES.items():
        if name not in sc:
            continue
        fb, pb = sc[name].get(FB), sc[name].get(PB)
        lines.append(f"| `{name}` — {label} | {cell_res(fb, unit)} | {cell_res(pb, unit)} | "
                     f"{ratio(fb, pb, 'value', hib)} |")
    return "\n".join(lines)


def latency_table(res: dict) -> str:
    sc = res["scenarios"]
    lines = ["| scenario | Ferrobase p50 / p99 (ms) | PocketBase p50 / p99 (ms) | p99 ratio (>1 = Ferrobase better) |",
             "|---|---|---|---|"]
    for name in HTTP:
        if name not in sc:
            continue
        fb, pb = sc[name].get(FB), sc[name].get(PB)

        def c(r):
            return (f"{fmt_num(r['p50_ms'])} / {fmt_num(r['p99_ms'])}"
                    if r and r["status"] == "ok" else "failed" if r else "not run")
        lines.append(f"| `{name}` | {c(fb)} | {c(pb)} | {ratio(fb, pb, 'p99_ms', False)} |")
    return "\n".join(lines)


def machine_block(res: dict) -> str:
    m, cfg = res.get("machine", {}), res.get("config", {})
    v = m.get("versions", {})
    load = ", ".join(f"{NAMES.get(k, k)} {x['seconds']} s via {x['method']}"
                     for k, x in cfg.get("load", {}).items())
    pending = cfg.get("pending_scenarios") or []
    out = [
        f"Run of {m.get('date', '?')} ({cfg.get('mode', '?')} mode), commit `{m.get('git_commit', '?')}`.",
        f"Machine: {m.get('nproc', '?')} CPU(s) `{m.get('cpu_model', '?')}`, "
        f"{m.get('mem_total_gib', '?')} GiB RAM, kernel {m.get('kernel', '?')}, {m.get('os', '')}.",
        f"Versions: Ferrobase `{v.get(FB, '?')}`, PocketBase `{v.get(PB, '?')}`, {m.get('wrk', 'wrk')}.",
        f"Dataset: {cfg.get('records', '?'):,} posts + {cfg.get('authors', '?')} authors "
        f"(load: {load or 'n/a'}). Load: `{cfg.get('wrk', '?')}` after {cfg.get('warmup_s', 0):g} s warm-up, "
        f"{cfg.get('rounds', 1)} round(s); startup median of {cfg.get('startup_runs', '?')} restart(s).",
    ]
    if pending:
        out.append(f"Not measured yet: {', '.join(pending)} (hook in `bench/harness.py`).")
    return "\n".join(out)


def render(res: dict, plots: list[str], plot_prefix: str) -> str:
    parts = [machine_block(res), "", "### Throughput and resources", "", table(res), "",
             "### Latency", "", latency_table(res), ""]
    for p in plots:
        parts.append(f"![{Path(p).stem}]({plot_prefix}{Path(p).name})")
    return "\n".join(parts).rstrip() + "\n"


def splice(path: Path, body: str, create: bool, begin: str = BEGIN, end: str = END) -> bool:
    block = f"{begin}\n{body}{end}"
    if path.exists():
        text = path.read_text()
    elif create:
        text = "# Benchmarks\n\n"
    else:
        return False
    if begin in text and end in text and text.index(begin) < text.index(end):
        pre, rest = text.split(begin, 1)
        _, post = rest.split(end, 1)
        text = pre + block + post
    elif create:
        text = text.rstrip() + "\n\n" + block + "\n"
    else:
        return False
    path.write_text(text)
    return True


def pyplot():
    """matplotlib.pyplot with the file-only backend, or None (with a note) when not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib not installed, skipping plots", file=sys.stderr)
        return None
    return plt


def plots(res: dict, out: Path) -> list[str]:
    plt = pyplot()
    if plt is None:
        return []
    sc = res["scenarios"]
    systems = [s for s in (FB, PB) if s in res.get("systems", [FB, PB])]
    names = [n for n in HTTP if n in sc]
    written = []
    date = res.get("machine", {}).get("date", "")

    def val(n, s, k):
        r = sc[n].get(s)
        if not r or r["status"] != "ok":
            return 0.0
        return r.get(k, r.get("rps", 0.0) if k == "ok_rps" else 0.0)

    def bars(ax, names_, key, ylabel, log=True, fmt=fmt_num):
        w = 0.8 / max(1, len(systems))
        for i, s in enumerate(systems):
            xs = [j + (i - (len(systems) - 1) / 2) * w for j in range(len(names_))]
            ys = [val(n, s, key) for n in names_]
            b = ax.bar(xs, ys, w, label=NAMES[s], color=COLORS[s])
            for rect, y, n in zip(b, ys, names_):
                r = sc[n].get(s)
                txt = fmt(y) if y > 0 else ("failed" if r and r["status"] != "ok" else "n/a")
                ax.annotate(txt, (rect.get_x() + rect.get_width() / 2, max(y, 1e-9)),
                            ha="center", va="bottom", fontsize=7, rotation=90, xytext=(0, 2),
                            textcoords="offset points")
        ax.set_xticks(range(len(names_)))
        ax.set_xticklabels(names_, rotation=25, ha="right", fontsize=8)
        ax.set_ylabel(ylabel)
        if log and any(val(n, s, key) > 0 for n in names_ for s in systems):
            ax.set_yscale("log")
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, hi * 6)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)

    fig, ax = plt.subplots(figsize=(10, 5))
    bars(ax, names, "ok_rps", "successful requests / s (log scale, higher is better)")
    ax.set_title(f"Throughput per scenario — {date}")
    fig.tight_layout()
    p = out / "throughput.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    written.append(str(p))

    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    bars(axes[0], names, "p50_ms", "p50 latency, ms (log, lower is better)")
    axes[0].set_title("p50 latency")
    bars(axes[1], names, "p99_ms", "p99 latency, ms (log, lower is better)")
    axes[1].set_title("p99 latency")
    fig.tight_layout()
    p = out / "latency.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    written.append(str(p))

    # Latency distribution: percentiles per scenario.
    pcts = [("p50_ms", 50), ("p75_ms", 75), ("p90_ms", 90), ("p99_ms", 99), ("p999_ms", 99.9)]
    cols = 4
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(14, 3.2 * rows), squeeze=False)
    for k, n in enumerate(names):
        ax = axes[k // cols][k % cols]
        for s in systems:
            r = sc[n].get(s)
            if r and r["status"] == "ok":
                pts = [(str(q), r[key]) for key, q in pcts if r.get(key) is not None]
                ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o",
                        color=COLORS[s], label=NAMES[s])
        ax.set_title(n, fontsize=9)
        ax.set_yscale("log")
        ax.set_xlabel("percentile", fontsize=8)
        ax.set_ylabel("ms", fontsize=8)
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=7)
    for k in range(len(names), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle("Latency distribution (wrk percentiles, log scale)")
    fig.tight_layout()
    p = out / "latency_distribution.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    written.append(str(p))

    res_names = [n for n in RESOURCES if n in sc]
    fig, axes = plt.subplots(1, len(res_names), figsize=(3 * len(res_names), 4), squeeze=False)
    for ax, n in zip(axes[0], res_names):
        label, unit, _ = RESOURCES[n]
        for i, s in enumerate(systems):
            r = sc[n].get(s)
            y = r["value"] if r and r["status"] == "ok" else 0
            ax.bar(i, y, color=COLORS[s], label=NAMES[s])
            ax.annotate(fmt_num(y) if y else "failed", (i, y), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(systems)))
        ax.set_xticklabels([NAMES[s] for s in systems], fontsize=8)
        ax.set_title(f"{label} ({unit})\nlower is better", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    p = out / "resources.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    written.append(str(p))
    return written


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("results", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--readme", type=Path)
    a = ap.parse_args()
    res = json.loads(a.results.read_text())
    a.out.mkdir(parents=True, exist_ok=True)
    scale = res.get("kind") == "scale"
    if scale:
        import report_scale
        written = report_scale.plots(res, a.out)
    else:
        written = plots(res, a.out)
    if a.markdown:
        try:
            prefix = str(a.out.resolve().relative_to(a.markdown.resolve().parent)) + "/"
        except ValueError:
            prefix = str(a.out.resolve()) + "/"
        prefix = "" if prefix == "./" else prefix
        if scale:
            splice(a.markdown, report_scale.render(res, written, prefix), create=True,
                   begin=report_scale.BEGIN, end=report_scale.END)
        else:
            splice(a.markdown, render(res, written, prefix), create=True)
        print(f"report: wrote {a.markdown}")
    if a.readme and not scale:
        prefix = "docs/bench/"
        headline = machine_block(res).splitlines()[0] + " Details: [docs/benchmarks.md](docs/benchmarks.md).\n\n" + table(res) + "\n"
        if splice(a.readme, headline, create=False):
            print(f"report: updated the headline table in {a.readme}")
        del prefix
    for p in written:
        print(f"report: wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
