"""File fields through PocketBase's Python SDK (PyPI `pocketbase`), unchanged: create and update
with FileUpload values, `field+` / `field-` modifiers, pb.files.get_url() with a thumb, and
protected files with pb.files.get_token().

Usage: FERROBASE_URL=http://127.0.0.1:PORT SU_EMAIL=… SU_PASSWORD=… python files_py_test.py
"""
import base64
import os
import re
import urllib.error
import urllib.request

from pocketbase import PocketBase
from pocketbase.client import ClientResponseError
from pocketbase.models import FileUpload

URL = os.environ["FERROBASE_URL"]
# A 2x1 PNG (one red, one blue pixel).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAADUlEQVR4nGP4zwAE/wEHAAH/4iOeWQAAAABJRU5ErkJggg=="
)


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read(), r.headers.get("content-type", "")
    except urllib.error.HTTPError as e:
        return e.code, b"", ""


def main() -> None:
    su = PocketBase(URL)
    su.collection("_superusers").auth_with_password(os.environ["SU_EMAIL"], os.environ["SU_PASSWORD"])
    su.collections.create({
        "name": "py_files",
        "type": "base",
        "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "docs", "type": "file", "maxSelect": 5, "maxSize": 1024},
            {"name": "image", "type": "file", "maxSelect": 1, "mimeTypes": ["image/png"]},
            {"name": "secret", "type": "file", "maxSelect": 1, "protected": True},
        ],
    })
    pb = PocketBase(URL)
    rec = pb.collection("py_files").create({
        "title": "from python",
        "docs": FileUpload(("a.txt", b"alpha"), ("b.txt", b"beta")),
        "image": FileUpload(("dot.png", PNG, "image/png")),
    })
    assert len(rec.docs) == 2, rec.docs
    assert re.fullmatch(r"a[a-z0-9]{10}_[a-z0-9]{10}\.txt", rec.docs[0]), rec.docs
    assert re.fullmatch(r"dot_[a-z0-9]{10}\.png", rec.image), rec.image

    status, body, _ = fetch(pb.files.get_url(rec, rec.docs[1]))
    assert (status, body) == (200, b"beta"), (status, body)
    status, body, ctype = fetch(pb.files.get_url(rec, rec.image, {"thumb": "100x100"}))
    assert status == 200 and ctype == "image/png" and body[1:4] == b"PNG", (status, ctype)

    more = pb.collection("py_files").update(rec.id, {"docs+": FileUpload(("c.txt", b"gamma"))})
    assert len(more.docs) == 3, more.docs
    less = pb.collection("py_files").update(rec.id, {"docs-": rec.docs[0]})
    assert less.docs == more.docs[1:], less.docs
    assert fetch(pb.files.get_url(rec, rec.docs[0]))[0] == 404

    try:
        pb.collection("py_files").update(rec.id, {"image": FileUpload(("x.png", b"no image"))})
        raise AssertionError("a text file passed the image MIME check")
    except ClientResponseError as e:
        assert e.status == 400 and e.data["data"]["image"]["code"] == "validation_invalid_mime_type", e.data

    # Protected files need the view rule: with a public one anyone may download them (as in
    # PocketBase), so the rule asks for auth; the token comes from an authenticated client.
    su.collections.update("py_files", {"viewRule": "@request.auth.id != ''"})
    sec = su.collection("py_files").update(rec.id, {"secret": FileUpload(("hush.txt", b"hush"))})
    assert fetch(pb.files.get_url(sec, sec.secret))[0] == 404
    token = su.files.get_token()
    status, body, _ = fetch(pb.files.get_url(sec, sec.secret, {"token": token}))
    assert (status, body) == (200, b"hush"), status
    print("python sdk files: ok")


if __name__ == "__main__":
    main()
