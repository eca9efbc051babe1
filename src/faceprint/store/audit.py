"""The audit log: who did what, when, to which collection, for which purpose.

Entries never hold an embedding, an image or a subject's id: only the action, the
collection, the purpose and how many faces it touched. Each entry carries an HMAC over
its content and the previous entry's HMAC (keyed by the store key), and the newest
entry's position is kept, signed, in ``meta``: editing, removing or reordering an entry
breaks the chain, and cutting the tail off leaves the signed head pointing past it;
:func:`verify` says where. SQLite triggers refuse UPDATE and DELETE on the table, so
only a deliberate edit of the file can try.

What the file alone cannot show: someone who can write it may cut the tail and put
back a head saved before (or restore an older copy of the whole file); chain and head
then agree. Only a copy of the head kept outside the store shows that cut
(``anchor.py``: a witness file, syslog, a hook), and :func:`verify` checks the copies
it is given.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Sequence

from faceprint.store.crypto import Cipher

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """One logged operation."""

    seq: int
    ts: float
    actor: str
    action: str
    collection: str | None
    purpose: str | None
    count: int
    detail: str


@dataclass(frozen=True)
class AuditReport:
    """The result of :func:`verify`: ``ok`` and, when not, the first problems found."""

    ok: bool
    entries: int
    problems: list[str]
    anchored: bool = False  # a head kept outside the store was checked


def default_actor() -> str:
    """``FACEPRINT_ACTOR`` if set (the HTTP layer sets the caller), else the OS user."""
    if os.environ.get("FACEPRINT_ACTOR"):
        return os.environ["FACEPRINT_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def append(
    conn: sqlite3.Connection,
    cipher: Cipher,
    action: str,
    *,
    actor: str,
    collection: str | None = None,
    purpose: str | None = None,
    count: int = 0,
    detail: dict[str, object] | None = None,
) -> str:
    """Append one entry; call inside the write transaction of the operation it records,
    so the entry exists exactly when the operation does. Returns the new signed head
    (``SEQ:MAC:SIG``), to be published outside the store once the transaction commits."""
    seq, prev = _head(conn)
    entry = AuditEntry(seq + 1, time.time(), actor, action, collection, purpose, int(count), json.dumps(detail or {}, sort_keys=True))
    mac = cipher.mac(prev.encode() + _canonical(entry))
    conn.execute(
        "INSERT INTO audit(seq, ts, actor, action, collection, purpose, count, detail, mac) VALUES (?,?,?,?,?,?,?,?,?)",
        (entry.seq, entry.ts, entry.actor, entry.action, entry.collection, entry.purpose, entry.count, entry.detail, mac),
    )
    head = f"{entry.seq}:{mac}"
    signed = f"{head}:{cipher.mac(b'head:' + head.encode())}"
    conn.execute("INSERT INTO meta(key, value) VALUES ('audit_head', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (signed,))
    return signed


def verify(conn: sqlite3.Connection, cipher: Cipher, outside: Sequence[tuple[str, str | None]] = ()) -> AuditReport:
    """Recompute the chain; report edited, missing or reordered entries and a cut tail.

    Args:
        outside: heads kept outside the store, as ``(where, head)``; ``head`` is None
            when the place holds none (a witness file that is missing). The log must
            still hold each one's entry, unchanged.
    """
    problems: list[str] = []
    wanted = {head_seq(text) for _, text in outside if text is not None}
    seen: dict[int, str] = {}
    prev, expected_seq, n = GENESIS, 1, 0
    for row in conn.execute("SELECT seq, ts, actor, action, collection, purpose, count, detail, mac FROM audit ORDER BY seq"):
        entry, mac = AuditEntry(*row[:8]), row[8]
        n += 1
        if entry.seq in wanted:
            seen[entry.seq] = mac
        if entry.seq != expected_seq:
            problems.append(f"entries {expected_seq}..{entry.seq - 1} are missing")
        if cipher.mac(prev.encode() + _canonical(entry)) != mac:
            problems.append(f"entry {entry.seq} was altered (or the one before it was)")
        prev, expected_seq = mac, entry.seq + 1
        if len(problems) >= 20:
            break
    row = conn.execute("SELECT value FROM meta WHERE key='audit_head'").fetchone()
    if row is None:
        if n:
            problems.append("the signed head of the log is missing")
    elif row[0].count(":") != 2 or not row[0].split(":")[0].isdigit():
        problems.append("the signed head of the log was altered")
    else:
        seq_s, head_mac, sig = row[0].split(":")
        if cipher.mac(b"head:" + f"{seq_s}:{head_mac}".encode()) != sig:
            problems.append("the signed head of the log was altered")
        elif int(seq_s) != expected_seq - 1 or head_mac != prev:
            problems.append(f"the log ends at entry {expected_seq - 1} but its signed head is entry {seq_s}: entries were cut off")
    for where, text in outside:
        problems.extend(_check_outside_head(cipher, where, text, seen, last=expected_seq - 1, entries=n))
    return AuditReport(ok=not problems, entries=n, problems=problems, anchored=bool(outside))


def _check_outside_head(cipher: Cipher, where: str, text: str | None, seen: dict[int, str], *, last: int, entries: int) -> list[str]:
    if text is None:
        return [f"{where} is missing although the log has entries: it was deleted, or no entry was appended since it was configured"] if entries else []
    parts = text.split(":")
    if len(parts) != 3 or not parts[0].isdigit():
        return [f"{where} does not hold a head (SEQ:MAC:SIG)"]
    seq, mac, sig = int(parts[0]), parts[1], parts[2]
    if cipher.mac(b"head:" + f"{seq}:{mac}".encode()) != sig:
        return [f"{where} is not signed by this store's key (forged, altered, or from another store)"]
    if seq > last:
        return [f"{where} names entry {seq} but the log ends at entry {last}: entries were cut off (or an older copy of the database was put back)"]
    if seen.get(seq) != mac:
        return [f"entry {seq} is not the entry {where} recorded: the log was rewritten up to there"]
    return []


def head_seq(head: str) -> int:
    """The sequence number a signed head names (-1 for text that is not a head)."""
    first = head.split(":", 1)[0]
    return int(first) if first.isdigit() else -1


def query(
    conn: sqlite3.Connection,
    *,
    collection: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    since: float | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The newest ``limit`` entries matching every filter given, oldest first."""
    where, args = [], []
    for column, value in (("collection", collection), ("action", action), ("actor", actor)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if since is not None:
        where.append("ts >= ?")
        args.append(since)
    sql = "SELECT seq, ts, actor, action, collection, purpose, count, detail FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC LIMIT ?"
    rows = conn.execute(sql, (*args, int(limit))).fetchall()
    return [AuditEntry(*r) for r in reversed(rows)]


def _head(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def _canonical(e: AuditEntry) -> bytes:
    return json.dumps([e.seq, repr(e.ts), e.actor, e.action, e.collection, e.purpose, e.count, e.detail]).encode()
