#!/usr/bin/env python3
"""Scale mode of the side-by-side benchmark (issue 13): how each system behaves as it grows.

    bash bench/run.sh --scale                                # 0 / 100k / 1M rows -> docs/
    bash bench/run.sh --scale --scale-points 0,2000,5000     # ~2 min check -> bench/out/scale/

A check-sized run (every checkpoint under 100k rows) uses --quick's timings (2 s per wrk run, no
warm-up) and writes to bench/out/scale/ unless --duration / --warmup / --out say otherwise.

Loads posts (the bench's shape plus a ~200-byte `body` text) through /api/batch, 1000 per batch,
with a progress line, into each system up to every checkpoint, and measures there:
durable creates, get by id and the indexed filtered list (wrk, as in the normal run), the data dir
(du, bytes per row), start-up time (stop, start, until /api/health answers 200), idle RSS after that
restart, peak RSS during the load and the load rate; for Ferrobase also `ferrobase inspect --json`
(bytes per key kind) while stopped. PocketBase stops at --scale-pb-max rows (the output says so),
and either system stops growing when one load segment exceeds --scale-load-limit seconds.

The creates measured at a checkpoint stay in the data (they have the same shape), so the next
checkpoint loads only what is missing; each create run stops after a request cap that keeps the
rows it adds below the next checkpoint (the last checkpoint's runs are bounded by time only).
`rows` is always the count the server reported.
Writes scale.json (after every checkpoint, so a long run keeps what it measured), then
bench/report.py draws scale-*.png and the table between `<!-- scale:begin -->` / `<!-- scale:end -->`.
Exit status: 0 if the harness worked (a Ferrobase failure is recorded as failed), 1 if PocketBase
(the reference) failed, 2 on a usage/setup error. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import harness as h

SCENARIOS = ["get_by_id", "filter_indexed", "create"]  # reads first: they see exactly `rows`
SAMPLE_IDS = 20_000  # ids get_by_id draws from


class Subject:
    """One system's way through the checkpoints."""

    def __init__(self, srv: h.Server, authors: list[str]):
        self.srv = srv
        self.authors = authors
        self.use_batch: bool | None = None  # probed with the first row loaded
        self.next_i = 0  # index (h.post_body) of the next loaded post
        self.rows = 0  # posts the server reports
        self.sample: list[str] = []  # reservoir of loaded ids
        self.seen = 0
        self.rng = random.Random(42)
        self.stopped: dict | None = None  # capped/failed: {"status", "error"}

    def keep(self, ids: list[str]) -> None:
        """Reservoir sampling: every loaded id is in the sample with equal probability."""
        for rid in ids:
            self.seen += 1
            if len(self.sample) < SAMPLE_IDS:
                self.sample.append(rid)
            else:
                j = self.rng.randrange(self.seen)
                if j < SAMPLE_IDS:
                    self.sample[j] = rid


class Progress:
    """A progress line for one load segment: in place on a terminal, every 10 s otherwise."""

    def __init__(self, name: str, start_rows: int, total: int, srv: h.Server):
        self.name, self.start_rows, self.total, self.srv = name, start_rows, total, srv
        self.done = 0
        self.t0 = self.last = time.perf_counter()
        self.tty = sys.stdout.isatty()
        self.max_rss = 0.0

    def chunk(self, n: int) -> None:
        self.done += n
        try:
            self.max_rss = max(self.max_rss, self.srv.proc_status("VmRSS"))
        except h.BenchError:
            pass
        now = time.perf_counter()
        if self.done < self.total and now - self.last < (0.5 if self.tty else 10.0):
            return
        self.last = now
        rate = self.done / max(now - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else 0
        width = 30
        bar = "#" * int(width * self.done / self.total) if self.total else ""
        line = (f"[scale] {self.name:<10} [{bar:<{width}}] {self.start_rows + self.done:>9,} rows "
                f"({100 * self.done / max(self.total, 1):5.1f}% of {self.total:,}) "
                f"{rate:>8,.0f} rows/s  ETA {eta:>4.0f}s  RSS {self.max_rss:,.0f} MiB")
        if self.tty:
            end = "\n" if self.done >= self.total else ""
            print("\r" + line, end=end, flush=True)
        else:
            print(line, flush=True)


def reset_peak_rss(srv: h.Server) -> bool:
    """Resets the server's VmHWM (Linux: `5` into /proc/PID/clear_refs) so that it measures the
    load alone. False if the kernel refused (then the sampled maximum is used)."""
    try:
        Path(f"/proc/{srv.proc.pid}/clear_refs").write_text("5")
        return True
    except (OSError, AttributeError):
        return False


def top_up(subj: Subject, target: int, a: argparse.Namespace) -> dict:
    """Loads posts until the collection holds `target`; returns the segment's load figures."""
    srv, need = subj.srv, target - subj.rows
    if need <= 0:
        return {"rows": 0}
    exact_peak = reset_peak_rss(srv)
    progress = Progress(srv.name, subj.rows, need, srv)
    t0 = time.perf_counter()
    start = subj.next_i
    if subj.use_batch is None:
        first = h.post_body(start, subj.authors, a.body_bytes)
        rid = h.probe_batch(srv, first)
        subj.use_batch = rid is not None
        if rid is None:
            c = srv.client()
            rid = h.create_one(c, h.POSTS, first)
            c.close()
        subj.keep([rid])
        progress.chunk(1)
        start += 1

    def landed(ids: list[str]) -> None:
        subj.keep(ids)
        progress.chunk(len(ids))

    h.load_posts(srv, subj.authors, start, subj.next_i + need, subj.use_batch,
                 t0 + a.scale_load_limit, workers=8, body_bytes=a.body_bytes, on_chunk=landed)
    secs = time.perf_counter() - t0
    subj.next_i += need
    h.quiesce(srv)
    rows = h.count_posts(srv)
    if rows != subj.rows + need:
        raise h.BenchError(f"after loading {need} posts onto {subj.rows}, the server counts {rows}")
    subj.rows = rows
    peak = srv.proc_status("VmHWM") if exact_peak else progress.max_rss
    return {"rows": need, "seconds": round(secs, 2), "rows_per_s": round(need / secs, 1),
            "method": "batch" if subj.use_batch else "single creates",
            "peak_rss_mb": round(peak, 1), "peak_rss_source": "VmHWM" if exact_peak else "sampled"}


def inspect(srv: h.Server) -> dict | None:
    """`ferrobase inspect --json` on the stopped server's data dir (None for PocketBase)."""
    if srv.name != "ferrobase":
        return None
    r = subprocess.run(srv.cli("inspect", "--json"), capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise h.BenchError(f"inspect exited {r.returncode}: {r.stderr.strip()[-300:]}")
    return json.loads(r.stdout)


def create_caps(rows: int, next_target: int | None, a: argparse.Namespace) -> dict | None:
    """Request caps for the create runs (warm-up and measured) so the rows they add stay below
    the next checkpoint; None at the last checkpoint (only the duration bounds it). Each run may
    overshoot its cap by the requests in flight, hence the margin."""
    if next_target is None:
        return None
    margin = 2 * a.connections
    runs = 2 if a.warmup > 0 else 1
    per_round = (next_target - rows - 1) // a.rounds - runs * margin  # 1: the preflight create
    if per_round < 2:
        return {"skip": f"fewer than {runs * margin + 2} rows to the next checkpoint"}
    warm = max(1, per_round // 5) if a.warmup > 0 else 0
    return {"warmup": warm, "run": per_round - warm}


def at_checkpoint(subjects: dict, live: list[str], target: int, next_target: int | None,
                  run: h.Run, a: argparse.Namespace, idx: int) -> dict:
    """Tops every live system up to `target` rows and measures it there."""
    res: dict[str, dict] = {}
    for name in live:
        subj = subjects[name]
        try:
            log_rows = f"{subj.rows:,} -> {target:,}" if target > subj.rows else f"{subj.rows:,}"
            h.log(f"{name}: checkpoint {target:,}: loading ({log_rows} rows)")
            res[name] = {"status": "ok", "load": top_up(subj, target, a)}
        except Exception as e:  # noqa: BLE001 - recorded; this system stops here
            (run.logdir / f"{name}.scale.traceback.txt").write_text(traceback.format_exc())
            slow = "time limit" in str(e)
            subj.stopped = {"status": "capped" if slow else "failed",
                            "error": (f"capped: a load segment took over --scale-load-limit "
                                      f"{a.scale_load_limit:g} s"
                                      if slow else f"load: {e}")}
            subj.srv.stop()
            res[name] = dict(subj.stopped)
    measured = [n for n in live if res[n]["status"] == "ok"]
    rest = h.measure_at_rest(run.servers, measured, a.startup_runs, a.idle_wait, inspect)
    for name in measured:
        m, r, subj = rest[name], res[name], subjects[name]
        if m.get("status") == "failed":
            subj.stopped = m
            res[name] = {**m, "load": r["load"]}
            continue
        r.update({"rows": subj.rows, "data_dir_bytes": m["data_bytes"],
                  "bytes_per_row": round(m["data_bytes"] / subj.rows, 1) if subj.rows else None,
                  "startup_ms": round(statistics.median(m["startup_s"]) * 1000, 1),
                  "startup_runs_ms": [round(x * 1000, 1) for x in m["startup_s"]],
                  "rss_idle_mb": m["rss_idle_mb"]})
        if m.get("stopped") is not None:
            r["inspect"] = m["stopped"]
        ids = list(subj.sample)
        random.Random(42).shuffle(ids)
        run.ctx["ids"][name] = {"posts": ids, "authors": subj.authors}
        run.write_ids(name, ids, subj.authors)
    running = [n for n in measured if subjects[n].stopped is None]
    http: dict[str, dict] = {n: {} for n in running}
    caps = {n: create_caps(subjects[n].rows, next_target, a) for n in running}
    run.ctx["create_max"] = caps
    for k, sc in enumerate(SCENARIOS):
        order = running if (idx + k) % 2 == 0 else list(reversed(running))
        skip = {}
        if sc == "get_by_id":
            skip = {n: "no loaded rows yet" for n in order if not subjects[n].sample}
        if sc == "create":
            skip = {n: caps[n]["skip"] for n in order if caps[n] and "skip" in caps[n]}
        for n, why in skip.items():
            http[n][sc] = {"status": "skipped", "error": why}
        order = [n for n in order if n not in skip]
        for n, out in h.measure_http(run.servers, sc, order, run.ctx).items():
            http[n][sc] = out
    for name in running:
        srv, subj = run.servers[name], subjects[name]
        res[name]["http"] = http[name]
        if caps[name]:
            res[name]["create_cap"] = caps[name]
        try:
            res[name]["rss_peak_mb"] = round(srv.proc_status("VmHWM"), 1)
            h.quiesce(srv)  # creates wrk abandoned may still be committing
            rows = h.count_posts(srv)
            res[name]["created_rows"] = rows - subj.rows
            subj.rows = rows
        except Exception as e:  # noqa: BLE001
            subj.stopped = h.failed(f"after the scenarios: {e}")
            res[name].update(subj.stopped)
    return res


def parse_points(text: str) -> list[int]:
    try:
        points = sorted({int(p.replace("_", "")) for p in text.split(",") if p.strip()})
    except ValueError:
        raise SystemExit(f"--scale-points: not a list of integers: {text!r}")
    if not points or points[0] < 0:
        raise SystemExit(f"--scale-points: need row counts >= 0, got {text!r}")
    return points


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", action="store_true", help="(accepted; this is the scale mode)")
    ap.add_argument("--scale-points", default="0,100000,1000000",
                    help="comma list of row counts to measure at (default 0,100000,1000000); "
                         "all under 100k = a check run (2 s runs, output to bench/out/scale)")
    ap.add_argument("--scale-pb-max", type=int, default=1_000_000,
                    help="load PocketBase up to this many rows; later checkpoints say 'capped'")
    ap.add_argument("--scale-load-limit", type=float, default=3600.0,
                    help="seconds one load segment may take before that system stops growing")
    ap.add_argument("--body-bytes", type=int, default=200, help="length of each post's body text")
    ap.add_argument("--idle-wait", type=float, default=3.0,
                    help="seconds idle after the restart before reading the RSS")
    ap.add_argument("--startup-runs", type=int, default=1,
                    help="restarts per checkpoint (start-up time is their median)")
    h.add_common_args(ap)
    a = ap.parse_args(argv)
    points = parse_points(a.scale_points)
    # A check-sized run (every checkpoint under 100k) gets --quick's timings and stays out of docs/.
    small = points[-1] < 100_000
    a.duration = a.duration or (2.0 if small else 10.0)
    a.warmup = a.warmup if a.warmup is not None else (0.0 if small else 2.0)
    systems = a.only or h.SYSTEMS
    if shutil.which("wrk") is None:
        print("wrk not found (run bench/run.sh, which installs it)", file=sys.stderr)
        return 2
    run = h.Run(a, a.out or (h.BENCH / "out" / "scale" if small else h.ROOT / "docs" / "bench"))
    run.ctx.update({"exact_totals": False, "body_bytes": a.body_bytes})
    results: dict = {"kind": "scale", "systems": systems, "points": points, "checkpoints": [],
                     "setup": {}}

    subjects: dict[str, Subject] = {}
    for name in systems:
        why = run.unusable(name, a)
        srv = None if why else run.server(name)
        try:
            if why:
                raise h.BenchError(why)
            srv.superuser()
            srv.start()
            srv.login()
            h.setup_schema(srv, body=True)
            subjects[name] = Subject(srv, h.create_authors(srv))
            results["setup"][name] = {"status": "ok"}
            h.log(f"{name}: up on 127.0.0.1:{srv.port}")
        except Exception as e:  # noqa: BLE001
            if srv is not None:
                srv.stop()
            results["setup"][name] = h.failed(f"setup: {e}")
            h.log(f"{name}: FAILED: setup: {e}")

    results["machine"] = h.machine_info(run.binaries)
    results["config"] = {
        "points": points, "pb_max": a.scale_pb_max, "body_bytes": a.body_bytes,
        "batch_size": h.BATCH_SIZE, "load_limit_s": a.scale_load_limit, "idle_wait_s": a.idle_wait,
        "startup_runs": a.startup_runs, "duration_s": a.duration, "warmup_s": a.warmup,
        "rounds": a.rounds, "authors": h.N_AUTHORS,
        "wrk": f"wrk -t{a.threads} -c{a.connections} -d{a.duration:g}s --timeout 10s --latency",
        "queries": {"filter_indexed": h.list_path("filter_indexed")},
    }
    out_file = run.out / "scale.json"
    for idx, target in enumerate(points):
        row: dict = {"target": target, "systems": {n: r for n, r in results["setup"].items()
                                                   if r["status"] != "ok"}}
        live = []
        for name, subj in subjects.items():
            if subj.stopped is None and name == "pocketbase" and target > a.scale_pb_max:
                subj.stopped = {"status": "capped",
                                "error": f"capped at {a.scale_pb_max:,} rows (--scale-pb-max)"}
                subj.srv.stop()
            if subj.stopped is not None:
                row["systems"][name] = {**subj.stopped, "rows": subj.rows}
            else:
                live.append(name)
        next_target = points[idx + 1] if idx + 1 < len(points) else None
        row["systems"].update(at_checkpoint(subjects, live, target, next_target, run, a, idx))
        results["checkpoints"].append(row)
        out_file.write_text(json.dumps(results, indent=2) + "\n")
        h.log(f"checkpoint {target:,} done; wrote {out_file}")

    rc = 0
    for row in results["checkpoints"]:
        for name, r in row["systems"].items():
            bad = [] if r["status"] in ("ok", "capped") else [r.get("error", "")]
            bad += [f"{sc}: {x['error']}" for sc, x in r.get("http", {}).items()
                    if x["status"] == "failed"]
            for err in bad:
                h.log(f"failed at {row['target']:,}: {name}: {err}")
                rc = 1 if name == "pocketbase" else rc
    if rc:
        h.log("PocketBase (the reference) failed: the harness itself is broken")
    if not a.no_report:
        md = run.out / "benchmarks.md" if a.out or small else h.ROOT / "docs" / "benchmarks.md"
        if not run.report(out_file, ["--markdown", str(md)]):
            rc = rc or 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
