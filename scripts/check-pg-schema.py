#!/usr/bin/env python3
"""Checks that the PostgreSQL migrations (migrations/server-postgres/) build the same schema as
the SQLite ones (migrations/server/), and that their data back-fills do the same thing.

    python3 scripts/check-pg-schema.py [--maintenance-db postgres]

It needs `psql` on PATH and a PostgreSQL server it can reach with the usual libpq settings
(PGHOST, PGPORT, PGUSER, ...; the defaults are the local socket and the current user), with the
right to create databases. Python's standard library only.

What it does:

1. Both folders must hold the same file names (the backends share migration numbering).
2. The SQLite files are applied in order to a scratch SQLite file, each in one transaction
   (foreign keys on, as the server opens its connections).
3. The PostgreSQL files are applied in order to a scratch database, each with
   `psql -v ON_ERROR_STOP=1 --single-transaction`.
4. The two schemas are compared table by table: the columns in order (name, type family,
   nullability, default), the primary key, identity/AUTOINCREMENT ids, UNIQUE constraints,
   foreign keys, the number of CHECK constraints, the named indexes (columns or expressions,
   order, uniqueness, partial WHERE), and that neither side has views or triggers the other lacks.
5. Back-fill parity: on a second pair of scratch databases the first migration is applied, the
   same fixture rows are inserted into both (SQL of the common subset), the remaining migrations
   are applied, and the outbox columns the back-fills write are compared row by row.

Every scratch database is dropped at the end, on failure and on Ctrl-C / SIGTERM too.
Exit status: 0 the schemas match, 1 they diverge (the differences are printed), 2 a migration or
the setup failed.

Intentional differences (not reported):

* Types are compared by family. SQLite's declared type gives an affinity (its rules in
  https://sqlite.org/datatype3.html#determination_of_column_affinity), and each affinity has
  exactly one PostgreSQL type: INTEGER -> bigint (0/1 flags too: the code binds i64 and tests
  `<> 0`; integer, smallint and boolean are reported), TEXT -> text, BLOB -> bytea,
  REAL -> double precision, NUMERIC -> numeric.
* `INTEGER PRIMARY KEY [AUTOINCREMENT]` (a rowid alias) must be `bigint GENERATED ... AS
  IDENTITY` on PostgreSQL; PostgreSQL shows no default for it, SQLite none either.
* A PRIMARY KEY column is NOT NULL on PostgreSQL always; SQLite reports a non-INTEGER PRIMARY
  KEY column without NOT NULL as nullable (a legacy quirk). Such columns are compared as NOT NULL.
* Defaults are compared after dropping PostgreSQL's `::type` casts (`'[]'::text` == `'[]'`).
* Constraint-backing indexes have engine-made names (sqlite_autoindex_* vs *_pkey / *_key), so
  PRIMARY KEY and UNIQUE constraints are compared by their columns, not by index name. Named
  indexes (CREATE INDEX) are compared by name.
* Partial-index predicates and index expressions are compared after lower-casing, dropping
  parentheses and `::type` casts and collapsing whitespace (PostgreSQL prints
  `((a IS NULL) AND (b IS NULL))` for `a IS NULL AND b IS NULL`). Dropping parentheses could make
  `a AND (b OR c)` equal `(a AND b) OR c`; no index here mixes AND and OR.
"""

import argparse
import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SQLITE_DIR = os.path.join(ROOT, "migrations", "server")  # --sqlite-dir
PG_DIR = os.path.join(ROOT, "migrations", "server-postgres")  # --pg-dir


class SetupError(Exception):
    """A migration or the scratch setup failed (exit status 2)."""


# ----------------------------------------------------------------------------------------------
# PostgreSQL through psql


def psql(db, *args, sql=None, file=None, single_transaction=False):
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db]
    if single_transaction:
        cmd.append("--single-transaction")
    if sql is not None:
        cmd += ["-c", sql]
    if file is not None:
        cmd += ["-f", file]
    cmd += list(args)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        what = file or sql
        raise SetupError(f"psql failed on {what}:\n{p.stderr.strip()}")
    return p.stdout


def pg_json(db, sql):
    """Runs a query returning one json value, and decodes it."""
    out = psql(db, "-A", "-t", sql=sql).strip()
    return json.loads(out) if out else None


class Scratch:
    """Scratch PostgreSQL databases, all dropped by close()."""

    def __init__(self, maintenance_db):
        self.maintenance_db = maintenance_db
        self.tag = f"mig_check_{os.getpid()}_{secrets.token_hex(3)}"
        self.created = []

    def create(self, suffix):
        name = f"{self.tag}_{suffix}"
        # No signal between CREATE and remembering the name: a database made by a psql that a
        # signal cut short would be left behind.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            psql(self.maintenance_db, sql=f'CREATE DATABASE "{name}"')
            self.created.append(name)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return name

    def close(self):
        # Ctrl-C / SIGTERM wait until the drops are done (psql inherits the mask, so a Ctrl-C
        # sent to the whole process group does not cut a DROP short either).
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        failed = []
        try:
            for name in reversed(self.created):
                try:
                    psql(self.maintenance_db,
                         sql=f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except SetupError as e:
                    failed.append(f"{name}: {e}")
            self.created = []
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        for f in failed:
            print(f"warning: could not drop scratch database {f}", file=sys.stderr)


# ----------------------------------------------------------------------------------------------
# Normalisation


def sqlite_affinity(declared):
    t = (declared or "").upper()
    if "INT" in t:
        return "integer"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "text"
    if t == "" or "BLOB" in t:
        return "blob"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "real"
    return "numeric"


# The one PostgreSQL type each SQLite affinity maps to.
PG_TYPE_FOR = {
    "integer": "bigint",
    "text": "text",
    "blob": "bytea",
    "real": "double precision",
    "numeric": "numeric",
}
FAMILY_OF_PG = {v: k for k, v in PG_TYPE_FOR.items()}


def pg_family(pg_type):
    return FAMILY_OF_PG.get(pg_type, f"unsupported type {pg_type}")


CAST = re.compile(r"::\s*(?:\"[^\"]+\"|double precision|character varying|"
                  r"time(?:stamp)? with(?:out)? time zone|[a-z_][a-z0-9_]*)(?:\[\])?", re.I)


def norm_expr(text):
    """An expression or predicate, comparable across the engines (see the module doc)."""
    if text is None:
        return None
    out, i, s = [], 0, text
    # Keep string literals as they are; normalise only what is outside them.
    for m in re.finditer(r"'(?:[^']|'')*'", s):
        out.append(("code", s[i:m.start()]))
        out.append(("str", m.group(0)))
        i = m.end()
    out.append(("code", s[i:]))
    res = []
    for kind, part in out:
        if kind == "str":
            res.append(part)
        else:
            part = CAST.sub("", part).replace("(", " ").replace(")", " ")
            part = re.sub(r"\s+", " ", part).lower()
            part = re.sub(r" ?([^\w\s]) ?", r"\1", part)  # no spaces around operators
            res.append(part)
    return "".join(res).strip()


def norm_default(text):
    if text is None:
        return None
    t = text.strip()
    # PostgreSQL: 'x'::text, (0)::bigint, '-1'::integer ... -> the literal.
    t = CAST.sub("", t)
    while t.startswith("(") and t.endswith(")"):
        t = t[1:-1].strip()
    if re.fullmatch(r"'-?\d+(\.\d+)?'", t):
        t = t[1:-1]
    return t


def split_top_level(s):
    parts, depth, cur, quote = [], 0, [], None
    for ch in s:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def sqlite_index_keys_and_where(sql):
    """Key expressions (without ASC/DESC/COLLATE) and WHERE text of a CREATE INDEX."""
    m = re.search(r"\bON\s+[\"`\[]?\w+[\"`\]]?\s*\(", sql, re.I)
    start = m.end()
    depth, i = 1, start
    while depth:
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
        i += 1
    keys = []
    for k in split_top_level(sql[start:i - 1]):
        k = re.sub(r"\s+(ASC|DESC)\s*$", "", k, flags=re.I)
        k = re.sub(r"\s+COLLATE\s+\w+\s*$", "", k, flags=re.I)
        keys.append(k)
    rest = sql[i:]
    w = re.search(r"\bWHERE\b(.*)$", rest, re.I | re.S)
    return keys, (w.group(1).strip().rstrip(";") if w else None)


# ----------------------------------------------------------------------------------------------
# Schema readers. Both return the same shape:
#   {table: {"columns": [(name, family, notnull, default)], "pk": [...], "identity": [...],
#            "unique": sorted [tuple], "fks": sorted [(cols, ref_table, ref_cols, on_update,
#            on_delete)], "checks": n}},
#   {index_name: (table, unique, [keys], [desc flags], predicate)},
#   {"views": [...], "triggers": [...]}

FK_ACTION_PG = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL",
                "d": "SET DEFAULT"}


def read_sqlite(path):
    con = sqlite3.connect(path)
    q = lambda sql, *a: con.execute(sql, a).fetchall()  # noqa: E731
    tables, indexes = {}, {}
    names = [r[0] for r in q("SELECT name FROM sqlite_master WHERE type = 'table' "
                             "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    for t in names:
        create_sql = q("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", t)[0][0]
        info = q(f'PRAGMA table_info("{t}")')  # cid, name, type, notnull, dflt_value, pk
        pk = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        identity = []
        if len(pk) == 1:
            col = next(r for r in info if r[1] == pk[0])
            if col[2].upper() == "INTEGER":  # a rowid alias
                identity = pk[:]
        cols = []
        for cid, name, typ, notnull, dflt, pkpos in info:
            cols.append((name, sqlite_affinity(typ), bool(notnull or pkpos), norm_default(dflt)))
        unique = []
        for _seq, iname, uniq, origin, _partial in q(f'PRAGMA index_list("{t}")'):
            if origin == "u":
                unique.append(tuple(r[2] for r in q(f'PRAGMA index_info("{iname}")')))
        fks = {}
        for fid, seq, ref, frm, to, on_upd, on_del, _match in q(f'PRAGMA foreign_key_list("{t}")'):
            fks.setdefault(fid, [[], ref, [], on_upd, on_del])
            fks[fid][0].append(frm)
            fks[fid][2].append(to)
        fk_list = []
        for cols_, ref, to, on_upd, on_del in fks.values():
            if all(x is None for x in to):  # REFERENCES t without columns: its primary key
                rinfo = q(f'PRAGMA table_info("{ref}")')
                to = [r[1] for r in sorted((r for r in rinfo if r[5]), key=lambda r: r[5])]
            fk_list.append((tuple(cols_), ref, tuple(to), on_upd, on_del))
        # SQLite keeps CHECKs only in the CREATE TABLE text.
        checks = len(re.findall(r"\bCHECK\s*\(", create_sql, re.I))
        tables[t] = {"columns": cols, "pk": pk, "identity": identity,
                     "unique": sorted(unique), "fks": sorted(fk_list), "checks": checks}
    for name, tbl, sql in q("SELECT name, tbl_name, sql FROM sqlite_master "
                            "WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"):
        keys, where = sqlite_index_keys_and_where(sql)
        uniq = bool(re.match(r"\s*CREATE\s+UNIQUE\b", sql, re.I))
        desc = [bool(r[3]) for r in q(f'PRAGMA index_xinfo("{name}")') if r[5]]
        indexes[name] = (tbl, uniq, [norm_expr(k) for k in keys], desc, norm_expr(where))
    other = {
        "views": [r[0] for r in q("SELECT name FROM sqlite_master WHERE type = 'view'")],
        "triggers": [r[0] for r in q("SELECT name FROM sqlite_master WHERE type = 'trigger'")],
    }
    con.close()
    return tables, indexes, other


PG_SCHEMA_SQL = r"""
WITH rels AS (
  SELECT c.oid, c.relname FROM pg_class c
   WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
),
cols AS (
  SELECT r.relname, json_agg(json_build_object(
           'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
           'notnull', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid),
           'identity', a.attidentity <> '') ORDER BY a.attnum) AS cols
    FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   GROUP BY r.relname
),
cons AS (
  SELECT r.relname, json_agg(json_build_object(
           'type', k.contype,
           'cols', (SELECT json_agg(a.attname ORDER BY u.ord) FROM unnest(k.conkey)
                      WITH ORDINALITY u(n, ord) JOIN pg_attribute a
                      ON a.attrelid = k.conrelid AND a.attnum = u.n),
           'ref', k.confrelid::regclass::text,
           'refcols', (SELECT json_agg(a.attname ORDER BY u.ord) FROM unnest(k.confkey)
                      WITH ORDINALITY u(n, ord) JOIN pg_attribute a
                      ON a.attrelid = k.confrelid AND a.attnum = u.n),
           'upd', k.confupdtype, 'del', k.confdeltype)) AS cons
    FROM rels r JOIN pg_constraint k ON k.conrelid = r.oid
   GROUP BY r.relname
),
idx AS (
  SELECT json_object_agg(ic.relname, json_build_object(
           'table', r.relname, 'unique', i.indisunique,
           'keys', (SELECT json_agg(pg_get_indexdef(i.indexrelid, k, true) ORDER BY k)
                      FROM generate_series(1, i.indnkeyatts) k),
           'desc', (SELECT json_agg((i.indoption[k - 1] & 1) = 1 ORDER BY k)
                      FROM generate_series(1, i.indnkeyatts) k),
           'pred', pg_get_expr(i.indpred, i.indrelid, true))) AS idx
    FROM rels r JOIN pg_index i ON i.indrelid = r.oid
    JOIN pg_class ic ON ic.oid = i.indexrelid
   WHERE NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                                                   AND k.conrelid = i.indrelid)
)
SELECT json_build_object(
  'tables', (SELECT json_object_agg(c.relname, json_build_object(
                'cols', c.cols, 'cons', coalesce(k.cons, '[]'::json)))
               FROM cols c LEFT JOIN cons k USING (relname)),
  'indexes', coalesce((SELECT idx FROM idx), '{}'::json),
  'views', (SELECT coalesce(json_agg(viewname), '[]'::json) FROM pg_views
             WHERE schemaname = 'public'),
  'triggers', (SELECT coalesce(json_agg(t.tgname), '[]'::json) FROM pg_trigger t
                 JOIN rels r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal))
"""


def read_pg(db):
    raw = pg_json(db, PG_SCHEMA_SQL)
    tables, indexes = {}, {}
    for t, v in (raw["tables"] or {}).items():
        cons = v["cons"]
        pk = next((c["cols"] for c in cons if c["type"] == "p"), [])
        cols, identity = [], []
        for c in v["cols"]:
            if c["identity"]:
                identity.append(c["name"])
            cols.append((c["name"], pg_family(c["type"]), c["notnull"],
                         None if c["identity"] else norm_default(c["default"])))
        unique = sorted(tuple(c["cols"]) for c in cons if c["type"] == "u")
        fks = sorted((tuple(c["cols"]), c["ref"], tuple(c["refcols"]),
                      FK_ACTION_PG[c["upd"]], FK_ACTION_PG[c["del"]])
                     for c in cons if c["type"] == "f")
        checks = sum(1 for c in cons if c["type"] == "c")
        tables[t] = {"columns": cols, "pk": pk, "identity": identity, "unique": unique,
                     "fks": fks, "checks": checks, "_types": [c["type"] for c in v["cols"]]}
    for name, v in raw["indexes"].items():
        indexes[name] = (v["table"], v["unique"], [norm_expr(k) for k in v["keys"]], v["desc"],
                         norm_expr(v["pred"]))
    return tables, indexes, {"views": raw["views"], "triggers": raw["triggers"]}


# ----------------------------------------------------------------------------------------------
# Comparison


def compare(lite, pg):
    (lt, li, lo), (pt, pi, po) = lite, pg
    diffs = []
    for t in sorted(set(lt) - set(pt)):
        diffs.append(f"table {t}: only in SQLite")
    for t in sorted(set(pt) - set(lt)):
        diffs.append(f"table {t}: only in PostgreSQL")
    for t in sorted(set(lt) & set(pt)):
        a, b = lt[t], pt[t]
        an = [c[0] for c in a["columns"]]
        bn = [c[0] for c in b["columns"]]
        if an != bn:
            diffs.append(f"table {t}: columns differ\n    SQLite:     {an}\n"
                         f"    PostgreSQL: {bn}")
        bcols = {c[0]: c for c in b["columns"]}
        for name, fam, notnull, dflt in a["columns"]:
            if name not in bcols:
                continue
            _, pfam, pnotnull, pdflt = bcols[name]
            if fam != pfam:
                pty = b["_types"][bn.index(name)]
                diffs.append(f"{t}.{name}: type family {fam} (wants {PG_TYPE_FOR[fam]}) "
                             f"but PostgreSQL has {pty}")
            if notnull != pnotnull:
                diffs.append(f"{t}.{name}: NOT NULL {notnull} in SQLite, {pnotnull} in "
                             f"PostgreSQL")
            if dflt != pdflt:
                diffs.append(f"{t}.{name}: default {dflt!r} in SQLite, {pdflt!r} in PostgreSQL")
        for key, label in (("pk", "primary key"), ("identity", "identity/rowid id"),
                           ("unique", "UNIQUE constraints"), ("fks", "foreign keys"),
                           ("checks", "CHECK constraints")):
            if a[key] != b[key]:
                diffs.append(f"table {t}: {label} differ\n    SQLite:     {a[key]}\n"
                             f"    PostgreSQL: {b[key]}")
    for n in sorted(set(li) - set(pi)):
        diffs.append(f"index {n}: only in SQLite")
    for n in sorted(set(pi) - set(li)):
        diffs.append(f"index {n}: only in PostgreSQL")
    for n in sorted(set(li) & set(pi)):
        if li[n] != pi[n]:
            diffs.append(f"index {n}: differs (table, unique, keys, desc, where)\n"
                         f"    SQLite:     {li[n]}\n    PostgreSQL: {pi[n]}")
    for k in ("views", "triggers"):
        if sorted(lo[k]) != sorted(po[k]):
            diffs.append(f"{k} differ: SQLite {sorted(lo[k])}, PostgreSQL {sorted(po[k])}")
    return diffs


# ----------------------------------------------------------------------------------------------
# Back-fill parity: fixtures written in the common subset of both dialects ('..' text literals
# go into BLOB/BYTEA columns as their bytes on both).

FIXTURES = r"""
INSERT INTO shippers (id, name, api_key_hash, webhook_url, webhook_secret, created_at)
VALUES ('s1', 'Shipper one', 'k1', 'https://example.test/hook', 'sec', 1),
       ('s2', 'Shipper two', 'k2', NULL, NULL, 1);
INSERT INTO stops (id, delivery_date, recipient_key, courier_id, recipient_name, phone, email,
                   address, postal_code, lat, lon, sequence, code_required, code_digits,
                   max_attempts, offline_allowed, validity_days, reasons, public_ref,
                   recipient_ref, created_at)
VALUES ('st1', '2026-12-01', 'rk1', NULL, 'Ann', NULL, 'ann@example.test', 'Main St 1', '1000',
        NULL, NULL, 1, 1, 6, 5, 1, 7, '[]', 'PUB1', 'rr1', 1);
INSERT INTO parcels (id, shipper_id, stop_id, barcode_key, barcode_raw, method, age_restricted,
                     recipient_opt_in, shipper_requires_code, code_required, photo_required,
                     offline_allowed, reasons, created_at)
VALUES ('p1', 's1', 'st1', 'B1', 'B1', 'home', 0, 0, 1, 1, 0, 1, '[]', 1),
       ('5',  's2', 'st1', 'B5', 'B5', 'home', 0, 0, 1, 1, 0, 1, '[]', 1);
INSERT INTO codes (id, stop_id, code_hash, created_at, expires_at, superseded_at)
VALUES ('c1', 'st1', 'h1', 100, 9999, 200),
       ('c2', 'st1', 'h2', 200, 9999, NULL);
INSERT INTO outbox (id, channel, recipient, subject, body, headers, stop_id, attempts,
                    next_attempt_at, sent_at, last_error, created_at)
VALUES (1,  'webhook', 'https://example.test/hook', 's', '{"parcel_id":"p1","x":1}', 'sig', NULL, 0, 0, NULL, NULL, 10),
       (2,  'webhook', 'https://example.test/hook', 's', 'not json', 'sig', NULL, 0, 0, NULL, NULL, 10),
       (3,  'webhook', 'https://example.test/hook', 's', '{"parcel_id":"p1"}', 'sig', NULL, 0, 0, 5, NULL, 10),
       (4,  'webhook', 'https://example.test/hook', 's', '{"parcel_id":"nope"}', 'sig', NULL, 0, 0, NULL, NULL, 10),
       (5,  'webhook', 'https://example.test/hook', 's', '[1,2]', 'sig', NULL, 0, 0, NULL, NULL, 10),
       (6,  'webhook', 'https://example.test/hook', 's', NULL, 'sig', NULL, 0, 0, NULL, NULL, 10),
       (7,  'webhook', 'https://example.test/hook', 's', '{"parcel_id":"\u0000"}', 'sig', NULL, 0, 0, NULL, NULL, 10),
       (8,  'webhook', 'https://example.test/hook', 's', '{"parcel_id":"\ud800"}', 'sig', NULL, 0, 0, NULL, NULL, 10),
       (9,  'webhook', 'https://example.test/hook', 's', '{"parcel_id":5}', 'sig', NULL, 0, 0, NULL, NULL, 10),
       (10, 'webhook', 'https://example.test/hook', 's', ' {"a":{"parcel_id":"p1"}} ', 'sig', NULL, 0, 0, NULL, NULL, 10),
       (11, 'webhook', 'https://example.test/hook', 's', '{"parcel_id":null}', 'sig', NULL, 0, 0, NULL, NULL, 10),
       (12, 'webhook', 'https://example.test/hook', 's', '{"parcel_id":"p1"', 'sig', NULL, 0, 0, NULL, NULL, 10),
       (13, 'email', 'ann@example.test', 's', 'code 1', NULL, 'st1', 0, 0, NULL, NULL, 150),
       (14, 'sms', '+100', 's', 'code 2', NULL, 'st1', 0, 0, NULL, NULL, 250),
       (15, 'email', 'ann@example.test', 's', 'early', NULL, 'st1', 0, 0, NULL, NULL, 50),
       (16, 'email', 'ann@example.test', 's', 'no stop', NULL, NULL, 0, 0, NULL, NULL, 300),
       (17, 'webhook', 'https://example.test/hook', 's', '{"parcel_id":"p1"}', NULL, 'st1', 0, 0, NULL, NULL, 300),
       (18, 'email', 'ann@example.test', 's', 'at 200', NULL, 'st1', 0, 0, 7, NULL, 200);
"""
BACKFILL_QUERY = ("SELECT id, shipper_id, headers, code_id FROM outbox ORDER BY id")


def backfill_parity(files, scratch, tmpdir):
    # SQLite
    path = os.path.join(tmpdir, "fill.sqlite3")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA foreign_keys = ON")
    for i, f in enumerate(files):
        with open(os.path.join(SQLITE_DIR, f)) as fh:
            con.executescript("BEGIN;\n" + fh.read() + "\nCOMMIT;")
        if i == 0:
            con.executescript("BEGIN;\n" + FIXTURES + "\nCOMMIT;")
    lite_rows = [list(r) for r in con.execute(BACKFILL_QUERY).fetchall()]
    con.close()
    # PostgreSQL
    db = scratch.create("fill")
    fixture_file = os.path.join(tmpdir, "fixtures.sql")
    with open(fixture_file, "w") as fh:
        fh.write(FIXTURES)
    for i, f in enumerate(files):
        psql(db, file=os.path.join(PG_DIR, f), single_transaction=True)
        if i == 0:
            psql(db, file=fixture_file, single_transaction=True)
    pg_rows = pg_json(db, f"SELECT coalesce(json_agg(json_build_array(id, shipper_id, headers, "
                          f"code_id) ORDER BY id), '[]') FROM outbox")
    diffs = []
    for a, b in zip(lite_rows, pg_rows):
        if a != b:
            diffs.append(f"outbox back-fill row {a[0]}: SQLite (id, shipper_id, headers, "
                         f"code_id) = {a}, PostgreSQL = {b}")
    if len(lite_rows) != len(pg_rows):
        diffs.append(f"outbox back-fill: {len(lite_rows)} rows in SQLite, {len(pg_rows)} in "
                     f"PostgreSQL")
    return diffs, lite_rows


# ----------------------------------------------------------------------------------------------


def main():
    global SQLITE_DIR, PG_DIR
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--maintenance-db", default=os.environ.get("PGDATABASE", "postgres"),
                    help="database to connect to for CREATE/DROP DATABASE (default: "
                         "$PGDATABASE or postgres)")
    ap.add_argument("--sqlite-dir", default=SQLITE_DIR, help="default: migrations/server")
    ap.add_argument("--pg-dir", default=PG_DIR, help="default: migrations/server-postgres")
    args = ap.parse_args()
    SQLITE_DIR, PG_DIR = args.sqlite_dir, args.pg_dir

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    lite_files = sorted(f for f in os.listdir(SQLITE_DIR) if f.endswith(".sql"))
    pg_files = sorted(f for f in os.listdir(PG_DIR) if f.endswith(".sql"))
    if lite_files != pg_files:
        print("migration files differ:")
        for f in sorted(set(lite_files) - set(pg_files)):
            print(f"  only in {SQLITE_DIR}: {f}")
        for f in sorted(set(pg_files) - set(lite_files)):
            print(f"  only in {PG_DIR}: {f}")
        return 1
    print(f"{len(lite_files)} migrations in each backend: {', '.join(lite_files)}")

    scratch = Scratch(args.maintenance_db)
    try:
        with tempfile.TemporaryDirectory(prefix="mig_check_") as tmpdir:
            # SQLite schema
            path = os.path.join(tmpdir, "schema.sqlite3")
            con = sqlite3.connect(path, isolation_level=None)
            con.execute("PRAGMA foreign_keys = ON")
            for f in lite_files:
                with open(os.path.join(SQLITE_DIR, f)) as fh:
                    try:
                        con.executescript("BEGIN;\n" + fh.read() + "\nCOMMIT;")
                    except sqlite3.Error as e:
                        raise SetupError(f"SQLite migration {f} failed: {e}")
            con.close()
            print(f"SQLite {sqlite3.sqlite_version}: applied to a scratch file")

            # PostgreSQL schema
            db = scratch.create("schema")
            version = pg_json(db, "SELECT to_json(current_setting('server_version'))")
            for f in pg_files:
                psql(db, file=os.path.join(PG_DIR, f), single_transaction=True)
            print(f"PostgreSQL {version}: applied to scratch database {db}, one transaction "
                  f"per file")

            lite, pg = read_sqlite(path), read_pg(db)
            diffs = compare(lite, pg)

            try:
                fill_diffs, fill_rows = backfill_parity(lite_files, scratch, tmpdir)
            except (SetupError, sqlite3.Error) as e:
                # Fixtures that load on one engine only: report it with the schema differences.
                fill_diffs = [f"back-fill parity could not run: {e}"]
            diffs += fill_diffs

        if diffs:
            print(f"\nSCHEMAS DIVERGE ({len(diffs)} differences):")
            for d in diffs:
                print(f"  - {d}")
            return 1
        lt, li, _ = lite
        print("\nTable by table (columns in order; name:family, * = NOT NULL):")
        for t in sorted(lt):
            cols = " ".join(f"{c[0]}:{c[1][:3]}{'*' if c[2] else ''}" for c in lt[t]["columns"])
            extra = []
            if lt[t]["identity"]:
                extra.append(f"identity {lt[t]['identity'][0]}")
            extra.append(f"pk {lt[t]['pk']}")
            if lt[t]["unique"]:
                extra.append(f"unique {lt[t]['unique']}")
            if lt[t]["fks"]:
                extra.append(f"{len(lt[t]['fks'])} fk")
            print(f"  ok  {t} ({len(lt[t]['columns'])} columns; {'; '.join(extra)})")
            print(f"        {cols}")
        print(f"\nNamed indexes ({len(li)}), same name, table, keys and WHERE on both:")
        for n in sorted(li):
            tbl, _u, keys, _d, pred = li[n]
            print(f"  ok  {n} ON {tbl}({', '.join(keys)})" + (f" WHERE {pred}" if pred else ""))
        print(f"\nBack-fill parity: {len(fill_rows)} outbox rows, same (shipper_id, headers, "
              f"code_id) on both after the migrations")
        print("\nOK: the PostgreSQL migrations give the SQLite schema (types by family).")
        return 0
    except SetupError as e:
        print(f"\nSETUP FAILED: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        scratch.close()


if __name__ == "__main__":
    sys.exit(main())
