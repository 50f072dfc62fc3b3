#!/usr/bin/env python3
"""Webhook delivery benchmark (issue 14), Ferrobase only (PocketBase has no webhooks).

    python3 bench/webhooks.py [--duration 10] [--events 20000]

1. Durable creates (wrk, the harness's create scenario) with no webhook, with five webhooks whose
   filter matches nothing (the cost of reading and judging the change log), then with five webhooks
   on the collection: three to a fast receiver, one always failing (500), one slow (2 s per
   answer): the ratio shows what dispatch costs the write path.
2. Delivery throughput: one webhook to the fast receiver, `--events` records loaded through
   /api/batch; rate = events / (time from the first batch until the receiver has seen every
   distinct webhook-id).
The receiver is Node (bench/webhooks/receiver.mjs) so it is not the bottleneck. Timings are
reported, never asserted. Writes bench/out/webhooks.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def stats(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as r:
        return json.loads(r.read())


def wrk_create(srv: h.Server, authors_file: Path, duration: int, logdir: Path, tag: str) -> float:
    cmd = ["wrk", "-t2", "-c32", f"-d{duration}s", "--timeout", "10s", "--latency",
           "-s", str(h.LUA / "create.lua"), f"http://127.0.0.1:{srv.port}", "--",
           h.POSTS, str(authors_file)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    (logdir / f"wrk.create.{tag}.txt").write_text(r.stdout + r.stderr)
    line = next(l for l in r.stdout.splitlines() if l.startswith("BENCH_JSON "))
    return float(json.loads(line[len("BENCH_JSON "):])["rps"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--binary", default=str(h.ROOT / "target/release/ferrobase"))
    ap.add_argument("--hooks", default="ok1,ok2,ok3,fail,slow",
                    help="receiver paths of the loaded phase's webhooks (ok*, fail*, slow*)")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wh-bench-"))
    logdir = h.BENCH / "out" / "webhooks"
    logdir.mkdir(parents=True, exist_ok=True)
    rport = h.free_port()
    receiver = subprocess.Popen(["node", str(h.BENCH / "webhooks/receiver.mjs"), str(rport)],
                                stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    receiver.stdout.readline()
    os.environ["FERROBASE_WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "true"
    srv = h.Server("ferrobase", Path(a.binary), work / "fb", logdir, work / "pids")
    result: dict = {}
    try:
        srv.superuser()
        srv.start()
        srv.login()
        h.setup_schema(srv)
        authors = h.create_authors(srv)
        authors_file = work / "authors.txt"
        authors_file.write_text("\n".join(authors) + "\n")
        c = srv.client()
        base = f"http://127.0.0.1:{rport}"

        def cpu() -> tuple[float, float]:
            assert srv.proc is not None
            return h.cpu_seconds(srv.proc.pid), h.cpu_seconds(receiver.pid)

        h.log("creates without webhooks")
        c0 = cpu()
        result["creates_no_webhooks"] = wrk_create(srv, authors_file, a.duration, logdir, "none")
        c1 = cpu()
        result["server_cpu_s_no_webhooks"] = round(c1[0] - c0[0], 2)
        hooks = []
        for i in range(5):
            st, w = c.request("POST", "/api/webhooks", {
                "url": f"{base}/never{i}", "collections": [h.POSTS], "filter": "n < 0"})
            if st != 200:
                raise h.BenchError(f"create webhook: {st} {w}")
            hooks.append(w["id"])
        h.log("creates with 5 webhooks whose filter matches nothing (reading and judging only)")
        result["creates_5_webhooks_no_match"] = wrk_create(srv, authors_file, a.duration, logdir,
                                                           "nomatch")
        for wid in hooks:
            c.request("DELETE", f"/api/webhooks/{wid}")
        hooks = []
        for path in ["/" + p for p in a.hooks.split(",") if p]:
            st, w = c.request("POST", "/api/webhooks",
                              {"url": base + path, "collections": [h.POSTS]})
            if st != 200:
                raise h.BenchError(f"create webhook: {st} {w}")
            hooks.append(w["id"])
        h.log(f"creates with webhooks to {a.hooks}")
        result["webhooks"] = a.hooks
        c0 = cpu()
        result["creates_with_webhooks"] = wrk_create(srv, authors_file, a.duration, logdir, "with")
        c1 = cpu()
        # Where the two cores went: the server (creates + dispatch) and the receiver.
        result["server_cpu_s_with_webhooks"] = round(c1[0] - c0[0], 2)
        result["receiver_cpu_s_with_webhooks"] = round(c1[1] - c0[1], 2)
        result["creates_ratio"] = result["creates_with_webhooks"] / result["creates_no_webhooks"]
        time.sleep(2)
        result["fast_receiver_distinct_after_run"] = stats(rport).get("/ok1", {}).get("distinct")
        for wid in hooks:
            c.request("DELETE", f"/api/webhooks/{wid}")

        h.log(f"delivery throughput: {a.events} events to one webhook")
        st, w = c.request("POST", "/api/webhooks", {"url": base + "/tput", "collections": [h.POSTS]})
        if st != 200:
            raise h.BenchError(f"create webhook: {st} {w}")
        t0 = time.time()
        for start in range(0, a.events, 1000):
            reqs = [{"method": "POST", "url": f"/api/collections/{h.POSTS}/records",
                     "body": {"title": f"t{i}", "n": i % 1000, "cat": f"c{i % 50}",
                              "author": authors[i % len(authors)]}}
                    for i in range(start, min(a.events, start + 1000))]
            st, _ = c.request("POST", "/api/batch", {"requests": reqs})
            if st != 200:
                raise h.BenchError(f"batch: HTTP {st}")
        loaded = time.time()
        deadline = time.time() + 600
        while True:
            s = stats(rport).get("/tput", {})
            if s.get("distinct", 0) >= a.events or time.time() > deadline:
                break
            time.sleep(0.05)
        done = s.get("last", 0) / 1000.0
        result.update({
            "events": a.events,
            "delivered_distinct": s.get("distinct", 0),
            "load_s": round(loaded - t0, 3),
            "deliver_s": round(done - t0, 3),
            "deliveries_per_s": round(s.get("distinct", 0) / max(done - t0, 1e-9), 1),
        })
    finally:
        srv.stop()
        receiver.terminate()
        shutil.rmtree(work, ignore_errors=True)
    out = h.BENCH / "out" / "webhooks.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
