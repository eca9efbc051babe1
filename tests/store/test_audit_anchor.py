"""The audit log's head anchored outside the store: a witness file, checked by verify.

The attack these tests replay: someone who can write the store's database (but not the
witness) saves the signed head, lets the log grow, then deletes the newer entries and
puts the saved head back, or restores an older copy of the whole database. The chain
and its in-file head agree with each other afterwards; only a head kept elsewhere can
tell that entries are gone.
"""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from faceprint.errors import InvalidParameter
from faceprint.store import Store
from tests.store.conftest import MODEL, new_faces, unit_vectors


def _grow(home, witness=None, *, searches: int) -> None:
    with Store(home, audit_witness=witness) as s:
        if "c" not in s.collections.names():
            s.collections.create("c", purpose="p", model=MODEL, consent_required=False)
            s.faces.add("c", new_faces(unit_vectors(2)), model=MODEL)
        for _ in range(searches):
            s.faces.search("c", unit_vectors(1)[0], max_faces=1, min_cosine=-1)


def _cut_tail_and_restore_head(home, saved_head: str, keep: int) -> None:
    with sqlite3.connect(home / "faceprint.db") as raw:
        raw.execute("DROP TRIGGER audit_no_delete")
        raw.execute("DELETE FROM audit WHERE seq > ?", (keep,))
        raw.execute("UPDATE meta SET value=? WHERE key='audit_head'", (saved_head,))


def _head(home) -> str:
    with sqlite3.connect(home / "faceprint.db") as raw:
        return raw.execute("SELECT value FROM meta WHERE key='audit_head'").fetchone()[0]


def test_without_an_anchor_a_cut_tail_with_its_old_head_restored_passes(tmp_path):
    """What the chain alone can see (and why verify says it is unanchored)."""
    home = tmp_path / "home"
    _grow(home, searches=0)
    saved = _head(home)
    _grow(home, searches=3)
    _cut_tail_and_restore_head(home, saved, keep=2)
    with Store(home) as s:
        report = s.audit.verify()
    assert report.ok and report.entries == 2
    assert not report.anchored


def test_witness_detects_a_cut_tail_with_its_old_head_restored(tmp_path):
    home, witness = tmp_path / "home", tmp_path / "elsewhere" / "audit.witness"
    _grow(home, witness, searches=0)
    saved = _head(home)
    _grow(home, witness, searches=3)
    with Store(home, audit_witness=witness) as s:
        assert s.audit.verify().ok and s.audit.verify().anchored
    _cut_tail_and_restore_head(home, saved, keep=2)
    with Store(home, audit_witness=witness) as s:
        report = s.audit.verify()
    assert not report.ok
    assert any("the witness" in p and "entry 5" in p and "cut off" in p for p in report.problems), report.problems


def test_witness_detects_an_older_copy_of_the_database(tmp_path):
    home, witness = tmp_path / "home", tmp_path / "elsewhere" / "audit.witness"
    _grow(home, witness, searches=1)
    with Store(home) as s:
        s._tx.checkpoint()
    old = tmp_path / "old.db"
    shutil.copy(home / "faceprint.db", old)
    _grow(home, witness, searches=2)
    for suffix in ("-wal", "-shm"):
        (home / f"faceprint.db{suffix}").unlink(missing_ok=True)
    shutil.copy(old, home / "faceprint.db")
    with Store(home, audit_witness=witness) as s:
        report = s.audit.verify()
    assert not report.ok and any("cut off" in p for p in report.problems), report.problems


def test_witness_detects_a_forged_or_missing_witness_and_a_rewritten_chain(tmp_path):
    home, witness = tmp_path / "home", tmp_path / "elsewhere" / "audit.witness"
    _grow(home, witness, searches=2)
    with sqlite3.connect(home / "faceprint.db") as raw:
        seq, mac = raw.execute("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    good = witness.read_text()
    assert good.startswith(f"{seq}:{mac}:")

    # A head from the wire (syslog, the hook's destination) is checked the same way.
    with Store(home) as s:
        assert s.audit.verify(heads=[good.strip()]).ok
        assert not s.audit.verify(heads=[f"{seq}:{'0' * 64}:{'0' * 64}"]).ok

    witness.write_text(good.replace(f"{seq}:", f"{seq + 7}:", 1))  # a later head, but unsigned for it
    with Store(home, audit_witness=witness) as s:
        report = s.audit.verify()
    assert not report.ok and any("not signed" in p for p in report.problems), report.problems

    witness.unlink()
    with Store(home, audit_witness=witness) as s:
        report = s.audit.verify()
    assert not report.ok and any("missing" in p for p in report.problems), report.problems

    witness.write_text(good)
    _rewrite_chain_with_the_key(home, actor="someone-else")  # chain and in-file head agree again
    with Store(home) as s:
        assert s.audit.verify().ok
    with Store(home, audit_witness=witness) as s:
        report = s.audit.verify()
    assert not report.ok and any(f"entry {seq} is not the entry the witness" in p for p in report.problems), report.problems


def _rewrite_chain_with_the_key(home, *, actor: str) -> None:
    """What an attacker holding the store key can do: rewrite entries and re-sign all."""
    from faceprint.store import audit

    with Store(home) as s:
        cipher = s._cipher
    with sqlite3.connect(home / "faceprint.db") as raw:
        raw.execute("DROP TRIGGER IF EXISTS audit_no_update")
        prev = audit.GENESIS
        for row in raw.execute("SELECT seq, ts, actor, action, collection, purpose, count, detail FROM audit ORDER BY seq").fetchall():
            entry = audit.AuditEntry(row[0], row[1], actor, *row[3:])
            prev = cipher.mac(prev.encode() + audit._canonical(entry))
            raw.execute("UPDATE audit SET actor=?, mac=? WHERE seq=?", (actor, prev, entry.seq))
            head = f"{entry.seq}:{prev}"
        raw.execute("UPDATE meta SET value=? WHERE key='audit_head'", (f"{head}:{cipher.mac(b'head:' + head.encode())}",))


def test_witness_follows_every_append_and_never_goes_back(tmp_path):
    home, witness = tmp_path / "home", tmp_path / "elsewhere" / "audit.witness"
    with Store(home, audit_witness=witness) as a, Store(home, audit_witness=witness) as b:
        a.collections.create("c", purpose="p", model=MODEL, consent_required=False)
        b.audit.record("Probe")
        a.audit.record("Probe")
        assert witness.read_text().startswith("3:")
        a._anchor.publish("2:" + "0" * 64 + ":" + "0" * 64)  # a late, older head from a slow process
        assert witness.read_text().startswith("3:")
        assert a.audit.verify().ok


def test_witness_inside_the_store_folder_is_refused(tmp_path):
    home = tmp_path / "home"
    with pytest.raises(InvalidParameter, match="outside the store folder"):
        Store(home, audit_witness=home / "witness")


def test_witness_from_the_environment(tmp_path, monkeypatch):
    home, witness = tmp_path / "home", tmp_path / "w" / "head"
    monkeypatch.setenv("FACEPRINT_AUDIT_WITNESS", str(witness))
    _grow(home, searches=1)
    assert witness.read_text().startswith("3:")  # create, index, search


def test_hook_gets_each_new_head(tmp_path):
    home, out = tmp_path / "home", tmp_path / "heads.txt"
    hook = f"sh -c 'echo \"$1\" >> {out}' hook"
    with Store(home, audit_hook=hook) as s:
        s.audit.record("Probe")
        s._anchor.flush()
        assert out.read_text().split()[-1].startswith("1:")
        s.audit.record("Probe")
        s.audit.record("Probe")
        s._anchor.flush()
        last = out.read_text().split()[-1]
        assert last.startswith("3:")
        assert s.audit.verify(heads=[last]).ok


def test_cli_verify_checks_the_witness_and_says_when_nothing_was(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from faceprint.cli.main import cli

    home, witness = tmp_path / "home", tmp_path / "elsewhere" / "audit.witness"
    monkeypatch.setenv("FACEPRINT_HOME", str(home))
    _grow(home, witness, searches=0)
    saved = _head(home)
    _grow(home, witness, searches=3)
    _cut_tail_and_restore_head(home, saved, keep=2)
    plain = CliRunner().invoke(cli, ["audit", "verify"])
    assert plain.exit_code == 0 and "no head kept outside the store was checked" in plain.stderr
    anchored = CliRunner().invoke(cli, ["audit", "verify", "--witness", str(witness)])
    assert anchored.exit_code == 1 and "cut off" in anchored.stderr


def test_syslog_gets_each_new_head(tmp_path):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as collector:
        collector.bind(("127.0.0.1", 0))
        collector.settimeout(5)
        with Store(tmp_path / "home", audit_syslog=f"127.0.0.1:{collector.getsockname()[1]}") as s:
            s.audit.record("Probe")
            line = collector.recv(4096).decode()
            head = line.split("faceprint audit head ")[1].split()[0]
            assert head.startswith("1:") and s.audit.verify(heads=[head]).ok


def test_a_server_refuses_to_start_with_a_witness_it_cannot_write(tmp_path):
    """The store only logs an unwritable witness (an auditor may verify against a
    read-only copy); a server running that way would leave its log unanchored."""
    import os
    import subprocess
    import sys

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    env = {**os.environ, "FACEPRINT_AUDIT_WITNESS": str(blocker / "witness")}
    done = subprocess.run(
        [sys.executable, "-m", "faceprint.cli.main", "serve", "--port", "9", "--data", str(tmp_path / "home")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "audit witness" in done.stderr, done.stderr[-500:]
