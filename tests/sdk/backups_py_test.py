"""Backups through PocketBase's Python SDK (PyPI `pocketbase`), unchanged: pb.backups.create(),
get_full_list(), download() / get_download_url() with a file token, upload(FileUpload),
delete() and restore() — after which the server restarts in place (run.sh runs this last).

Usage: FERROBASE_URL=http://127.0.0.1:PORT SU_EMAIL=… SU_PASSWORD=… python backups_py_test.py
"""
import os
import time
import urllib.error
import urllib.request

from pocketbase import PocketBase
from pocketbase.client import ClientResponseError
from pocketbase.models import FileUpload

URL = os.environ["FERROBASE_URL"]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def login() -> PocketBase:
    su = PocketBase(URL)
    su.collection("_superusers").auth_with_password(os.environ["SU_EMAIL"], os.environ["SU_PASSWORD"])
    return su


def main() -> None:
    su = login()
    su.collections.create({
        "name": "py_backups",
        "type": "base",
        "listRule": "", "viewRule": "", "createRule": "",
        "fields": [{"name": "title", "type": "text"}],
    })
    kept = su.collection("py_backups").create({"title": "in the backup"})

    assert su.backups.create("py_one.zip") is True
    try:
        su.backups.create("Bad Name.zip")
        raise AssertionError("a bad name was accepted")
    except ClientResponseError as e:
        assert e.status == 400, e
    keys = [b.key for b in su.backups.get_full_list()]
    assert "py_one.zip" in keys, keys

    data = su.backups.download("py_one.zip")
    assert data[:2] == b"PK", data[:10]
    assert status_of(su.backups.get_download_url("py_one.zip")) == 200
    assert status_of(f"{URL}/api/backups/py_one.zip?token=bogus") == 403

    assert su.backups.upload(FileUpload(("py_two.zip", data, "application/zip"))) is True
    assert su.backups.delete("py_one.zip") is True
    keys = [b.key for b in su.backups.get_full_list()]
    assert "py_two.zip" in keys and "py_one.zip" not in keys, keys

    later = su.collection("py_backups").create({"title": "after the backup"})
    assert su.backups.restore("py_two.zip") is True
    time.sleep(0.3)
    deadline = time.time() + 20
    while True:
        try:
            if su.health.check().code == 200:
                break
        except Exception:  # restarting
            pass
        assert time.time() < deadline, "server did not come back after the restore"
        time.sleep(0.1)
    su = login()
    assert su.collection("py_backups").get_one(kept.id).title == "in the backup"
    try:
        su.collection("py_backups").get_one(later.id)
        raise AssertionError("a record written after the backup survived the restore")
    except ClientResponseError as e:
        assert e.status == 404, e
    su.backups.delete("py_two.zip")
    print("backups_py_test.py: ok")


if __name__ == "__main__":
    main()
