"""Encryption at rest, the audit chain, erasure down to the bytes, and storage failures."""

from __future__ import annotations

import os
import sqlite3
import subprocess

import numpy as np
import pytest

from faceprint.errors import EncryptionKeyError, StorageError
from faceprint.store import Store
from tests.store.conftest import MODEL, new_faces, unit_vectors


def all_bytes(folder) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_embeddings_are_encrypted_and_need_the_right_key(tmp_path, monkeypatch):
    home = tmp_path / "home"
    v = unit_vectors(3)
    with Store(home) as s:
        s.collections.create("c", purpose="p", model=MODEL, consent_required=False)
        s.faces.add("c", new_faces(v), model=MODEL)
        s._tx.checkpoint()
    disk = all_bytes(home)
    for row in v:
        assert row.astype("<f4").tobytes()[:32] not in disk
    monkeypatch.setenv("FACEPRINT_KEY", "11" * 32)
    with pytest.raises(EncryptionKeyError, match="another key"):
        Store(home)
    monkeypatch.delenv("FACEPRINT_KEY")
    (home / "key").rename(tmp_path / "elsewhere.key")
    with pytest.raises(EncryptionKeyError, match="no key was found"):
        Store(home)
    monkeypatch.setenv("FACEPRINT_KEY_FILE", str(tmp_path / "elsewhere.key"))
    with Store(home) as s:
        assert s.faces.search("c", v[1], max_faces=1, min_cosine=0.99)[0].cosine == pytest.approx(1.0, abs=1e-5)


def test_malformed_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEPRINT_KEY", "too-short")
    with pytest.raises(EncryptionKeyError, match="32 bytes"):
        Store(tmp_path / "home")


def test_a_row_copied_onto_another_face_does_not_decrypt(tmp_path):
    home = tmp_path / "home"
    with Store(home) as s:
        s.collections.create("c", purpose="p", model=MODEL, consent_required=False)
        stored = s.faces.add("c", new_faces(unit_vectors(2)), model=MODEL)
    with sqlite3.connect(home / "faceprint.db") as raw:
        blob = raw.execute("SELECT embedding FROM faces WHERE face_id=?", (stored[0].face_id,)).fetchone()[0]
        raw.execute("UPDATE faces SET embedding=? WHERE face_id=?", (blob, stored[1].face_id))
    with Store(home) as s, pytest.raises(EncryptionKeyError, match="tampered"):
        s.faces.search("c", unit_vectors(1)[0], max_faces=1, min_cosine=-1)


def _audited_store(home):
    with Store(home) as s:
        s.collections.create("c", purpose="p", model=MODEL, consent_required=False)
        for i in range(5):
            s.faces.add("c", new_faces(unit_vectors(1, seed=i)), model=MODEL)
        assert s.audit.verify().ok and s.audit.verify().entries == 6


@pytest.mark.parametrize(
    "attack, message",
    [
        ("UPDATE audit SET count = 99 WHERE seq = 3", "entry 3 was altered"),
        ("DELETE FROM audit WHERE seq = 2", "entries 2..2 are missing"),
        ("DELETE FROM audit WHERE seq = 6", "cut off"),
        ("UPDATE audit SET actor = 'someone-else'", "altered"),
    ],
)
def test_audit_log_detects_edits_and_removals(tmp_path, attack, message):
    home = tmp_path / "home"
    _audited_store(home)
    with sqlite3.connect(home / "faceprint.db") as raw:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute(attack)  # the triggers refuse a casual edit
        raw.execute("DROP TRIGGER audit_no_update")
        raw.execute("DROP TRIGGER audit_no_delete")
        raw.execute(attack)
    with Store(home) as s:
        report = s.audit.verify()
    assert not report.ok
    assert any(message in p for p in report.problems), report.problems


def test_erased_faces_leave_no_bytes_behind(tmp_path):
    home = tmp_path / "home"
    v = unit_vectors(40, seed=4)
    with Store(home) as s:
        s.collections.create("c", purpose="p", model=MODEL, consent_required=False)
        s.collections.create("d", purpose="p", model=MODEL, consent_required=False)
        stored = s.faces.add("c", new_faces(v[:20], ["bob"] * 5 + ["eve"] * 15), model=MODEL)
        s.faces.add("d", new_faces(v[20:], ["bob"] * 2 + ["eve"] * 18), model=MODEL)
        s.faces.search("c", v[0], max_faces=3, min_cosine=-1)  # the index holds bob too
        with sqlite3.connect(home / "faceprint.db") as raw:
            rows = raw.execute("SELECT face_id, embedding FROM faces WHERE external_image_id='bob'").fetchall()
        assert len(rows) == 7
        assert s.governance.erase_subject("bob") == 7
        assert all(h.face.external_image_id != "bob" for h in s.faces.search("c", v[0], max_faces=20, min_cosine=-1))
        # an ordinary DeleteFaces erases just as thoroughly
        gone = stored[10]
        with sqlite3.connect(home / "faceprint.db") as raw:
            rows += raw.execute("SELECT face_id, embedding FROM faces WHERE face_id=?", (gone.face_id,)).fetchall()
        s.faces.delete("c", [gone.face_id])
        disk = all_bytes(home)  # while the store is still open: the WAL was checkpointed
    for face_id, blob in rows:
        assert face_id.encode() not in disk
        assert blob[:32] not in disk and blob[-32:] not in disk
    for row in np.concatenate([v[:5], v[20:22], v[10:11]]):
        assert row.astype("<f4").tobytes()[:32] not in disk
    assert stored[11].face_id.encode() in disk  # the scan does see faces that remain


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # SQLite's page limit stands in for a full disk
def test_full_disk_changes_nothing(store):
    store.collections.create("c", purpose="p", model=MODEL, consent_required=False)
    store.faces.add("c", new_faces(unit_vectors(5)), model=MODEL)
    conn = store._tx.conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")  # the database cannot grow: as good as a full disk
    with pytest.raises(StorageError, match="full"):
        store.faces.add("c", new_faces(unit_vectors(300, seed=1)), model=MODEL)
    conn.execute("PRAGMA max_page_count=1073741823")
    assert store.collections.describe("c").face_count == 5
    assert len(store.faces.search("c", unit_vectors(1)[0], max_faces=50, min_cosine=-1)) == 5
    assert store.audit.verify().ok


def _make_read_only(path):
    if os.geteuid() != 0:
        for p in [path, *path.iterdir()]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        return lambda: [p.chmod(0o755 if p.is_dir() else 0o644) for p in [path, *path.iterdir()]]
    files = [path, *path.iterdir()]
    if subprocess.run(["chattr", "+i", *map(str, files)], capture_output=True).returncode != 0:
        pytest.skip("running as root without chattr: cannot make a folder read-only")
    return lambda: subprocess.run(["chattr", "-i", *map(str, files)], check=True)


def test_read_only_store_gives_a_clear_error_and_keeps_its_data(tmp_path):
    home = tmp_path / "home"
    with Store(home) as s:
        s.collections.create("c", purpose="p", model=MODEL, consent_required=False)
        s.faces.add("c", new_faces(unit_vectors(4)), model=MODEL)
    restore = _make_read_only(home)
    try:
        with pytest.raises(StorageError, match="read-only|cannot be opened"):
            with Store(home) as s:
                s.faces.add("c", new_faces(unit_vectors(2, seed=3)), model=MODEL)
    finally:
        restore()
    with Store(home) as s:
        assert s.collections.describe("c").face_count == 4
        assert s.audit.verify().ok


def test_a_pre_existing_folder_and_database_are_made_private(tmp_path):
    """A folder made beforehand (mkdir, a volume mount) keeps its mode through mkdir(exist_ok=True),
    and SQLite creates its files with the process umask: both would leave the database
    readable by every user of the machine."""
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    (home / "faceprint.db").touch()
    (home / "faceprint.db").chmod(0o644)
    old = os.umask(0o022)
    try:
        with Store(home) as s:
            s.collections.create("c", purpose="p", model=MODEL, consent_required=False)
            modes = {p.name: p.stat().st_mode & 0o777 for p in home.iterdir()}
    finally:
        os.umask(old)
    assert home.stat().st_mode & 0o777 == 0o700
    assert modes["faceprint.db"] == 0o600 and modes["faceprint.db-wal"] == 0o600, modes
    assert all(m & 0o077 == 0 for m in modes.values()), modes
    fresh = tmp_path / "fresh"
    old = os.umask(0o022)
    try:
        Store(fresh).close()
    finally:
        os.umask(old)
    assert (fresh / "faceprint.db").stat().st_mode & 0o777 == 0o600
