"""What only the server store has to get right: an unreachable or lost database, a
newer schema, and several stores (servers) on one database. The store's behaviour
itself is tested on both backends by test_store.py and test_interface.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest

from faceprint.errors import DatabaseUnavailable, StorageError
from faceprint.store import Store

from .conftest import MODEL, new_faces, unit_vectors

UNREACHABLE = "postgresql://faceprint@127.0.0.1:9/faceprint?connect_timeout=2"


def test_an_unreachable_database_is_a_clear_error_at_start(tmp_path):
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="cannot reach the database at postgresql://faceprint@127.0.0.1:9"):
        Store(tmp_path, database=UNREACHABLE)
    assert time.monotonic() - started < 15


def test_the_command_line_says_so_in_one_line_and_exits_non_zero(tmp_path):
    env = {**os.environ, "FACEPRINT_HOME": str(tmp_path), "FACEPRINT_STORE": UNREACHABLE}
    done = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "collection", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 10
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot reach the database" in lines[0], done.stderr


def test_a_password_never_appears_in_messages(tmp_path):
    with pytest.raises(DatabaseUnavailable) as caught:
        Store(tmp_path, database="postgresql://faceprint:hunter2@127.0.0.1:9/x?connect_timeout=2")
    assert "hunter2" not in str(caught.value)


def test_a_folder_is_not_a_database_url(tmp_path):
    from faceprint.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="postgresql://"):
        Store(tmp_path, database=str(tmp_path / "somewhere"))


def test_a_server_with_another_key_is_refused(tmp_path, database_url):
    from faceprint.errors import EncryptionKeyError

    with Store(tmp_path / "a", database=database_url):
        pass
    with pytest.raises(EncryptionKeyError):
        Store(tmp_path / "b", database=database_url)  # a new key file of its own


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path, database_url):
    with Store(tmp_path, database=database_url):
        pass
    with psycopg.connect(database_url, autocommit=True) as c:
        c.execute("UPDATE meta SET value='99' WHERE key='schema'")
    with pytest.raises(StorageError, match="newer than this faceprint"):
        Store(tmp_path, database=database_url)


def test_a_connection_lost_mid_write_leaves_nothing_and_the_store_reconnects(tmp_path, database_url):
    with Store(tmp_path, database=database_url) as store:
        store.collections.create("c", purpose="p", model=MODEL, consent_required=False)
        pid = store._tx.conn.info.backend_pid
        with pytest.raises(DatabaseUnavailable):
            with store._tx.write() as c:
                c.execute("INSERT INTO meta(key, value) VALUES ('half', 'written')")
                with psycopg.connect(database_url, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                c.execute("SELECT 1")
        # the next call connects again and sees only what was committed
        assert store.collections.names() == ["c"]
        with store._tx.read() as c:
            assert c.execute("SELECT value FROM meta WHERE key='half'").fetchone() is None
        store.faces.add("c", new_faces(unit_vectors(2)), model=MODEL)
        assert store.collections.describe("c").face_count == 2


def test_a_face_acknowledged_by_one_server_is_found_by_another_at_once(tmp_path, database_url, monkeypatch):
    """No search may miss a face whose IndexFaces returned before the search began, on
    whichever server it was indexed. The two servers have their own folders and share
    the key through the environment, as two machines would."""
    monkeypatch.setenv("FACEPRINT_KEY", os.urandom(32).hex())
    v = unit_vectors(200, seed=3)
    with Store(tmp_path / "a", database=database_url) as a, Store(tmp_path / "b", database=database_url) as b:
        a.collections.create("c", purpose="p", model=MODEL, consent_required=False)
        b.faces.search("c", v[0], max_faces=1, min_cosine=-1)  # b loads its index (empty)
        for i in range(0, 200, 20):
            stored = a.faces.add("c", new_faces(v[i : i + 20]), model=MODEL)
            for j, face in enumerate(stored):
                hits = b.faces.search("c", v[i + j], max_faces=1, min_cosine=0.99)
                assert hits and hits[0].face.face_id == face.face_id
        gone = [f.face_id for f in b.faces.page("c", max_results=10)[0]]
        b.faces.delete("c", gone)
        assert not {h.face.face_id for h in a.faces.search("c", v[0], max_faces=200, min_cosine=-1)} & set(gone)


def test_every_command_honours_faceprint_store(tmp_path, database_url, monkeypatch):
    """Commands run on another machine (another folder, the shared key) read and write the
    server store when FACEPRINT_STORE names it."""
    key = os.urandom(32).hex()
    env = {**os.environ, "FACEPRINT_HOME": str(tmp_path / "machine-b"), "FACEPRINT_STORE": database_url, "FACEPRINT_KEY": key}
    cli = [sys.executable, "-m", "faceprint.cli.main"]
    for args in (["collection", "create", "lobby", "--purpose", "visitor badges"], ["consent", "add", "alice", "--basis", "consent", "--purpose", "visitor badges"]):
        done = subprocess.run(cli + args, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    monkeypatch.setenv("FACEPRINT_KEY", key)
    with Store(tmp_path / "machine-a", database=database_url) as store:
        assert store.collections.names() == ["lobby"]
        assert [r.subject for r in store.governance.consent_records()] == ["alice"]
    assert not (tmp_path / "machine-b" / "faceprint.db").exists()  # nothing went to an embedded store


def test_text_with_a_nul_character_is_bad_input_not_a_database_error(tmp_path, database_url):
    """PostgreSQL's text cannot hold U+0000 (the fuzz test's find: a 500 on
    ListAuditEvents with Actor "\\u0000"); it is InvalidParameter, as any bad input."""
    from faceprint.errors import InvalidParameter

    with Store(tmp_path, database=database_url) as store:
        with pytest.raises(InvalidParameter, match="NUL"):
            store.audit.entries(actor="\x00")
        with pytest.raises(InvalidParameter):
            store.governance.add_consent("alice", basis="consent", purpose="door\x00access")
        assert store.audit.verify().ok


def test_a_server_resumes_only_the_video_jobs_queued_on_its_machine(tmp_path, database_url, monkeypatch):
    """A restarted server used to run every IN_PROGRESS job again: on a shared store that
    would run again the jobs another server is running (or could not, their uploads being
    on the other machine)."""
    from types import SimpleNamespace

    from faceprint.video.jobs import VideoJobs

    monkeypatch.setenv("FACEPRINT_KEY", os.urandom(32).hex())
    with Store(tmp_path / "a", database=database_url) as a, Store(tmp_path / "b", database=database_url) as b:
        assert a.node_id != b.node_id and a.node_id == Store(tmp_path / "a", database=database_url).node_id
        a.jobs.create_job("mine", "FaceDetection", {"Video": {}, "Node": a.node_id}, owner="k")
        a.jobs.create_job("theirs", "FaceDetection", {"Video": {}, "Node": b.node_id}, owner="k")
        jobs = VideoJobs(SimpleNamespace(store=a, engine=None), render=lambda result: {})  # type: ignore[arg-type]
        try:
            deadline = time.time() + 20
            while a.jobs.job("mine")[0].status == "IN_PROGRESS" and time.time() < deadline:
                time.sleep(0.1)
        finally:
            jobs.close()
        assert a.jobs.job("mine")[0].status == "FAILED"  # resumed here (and failed: there is no video)
        assert a.jobs.job("theirs")[0].status == "IN_PROGRESS"  # left to its own machine


def test_an_older_database_is_migrated_once(tmp_path, database_url, caplog):
    """A database a faceprint of schema 1 made (its tables, no shared-state tables) is
    brought to this faceprint's schema on open, its rows kept; opening again changes
    nothing."""
    import logging

    from faceprint.store.postgres_schema import MIGRATIONS, SCHEMA_VERSION

    with psycopg.connect(database_url, autocommit=True) as c:
        c.execute(MIGRATIONS[0][1])
        c.execute("INSERT INTO meta(key, value) VALUES ('schema', '1')")
        c.execute("INSERT INTO collections(name, purpose, consent_required, model, created) VALUES ('old', 'p', 0, %s, 0)", (MODEL,))
    caplog.set_level(logging.INFO, logger="faceprint.store.postgres")
    with Store(tmp_path, database=database_url) as store:
        assert store.collections.names() == ["old"]
        assert [r.getMessage() for r in caplog.records].count("store schema migrated") == SCHEMA_VERSION - 1
        assert store.liveness is not None and store.requests is not None
    with psycopg.connect(database_url, autocommit=True) as c:
        assert c.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == str(SCHEMA_VERSION)
        assert c.execute("SELECT to_regclass('liveness_sessions') IS NOT NULL AND to_regclass('seen_requests') IS NOT NULL").fetchone()[0]
    caplog.clear()
    with Store(tmp_path, database=database_url):
        pass
    assert "store schema migrated" not in [r.getMessage() for r in caplog.records]


def test_a_job_is_taken_over_only_once_its_process_stops_renewing_its_lease(tmp_path, database_url, monkeypatch):
    """Two processes of one machine (one folder) over the server store, as with
    ``--processes``: a job under a live process's lease is left alone; once the lease is
    no longer renewed (that process died), the other takes it over."""
    from types import SimpleNamespace

    import faceprint.video.jobs as jobs_module
    from faceprint.video.jobs import VideoJobs

    monkeypatch.setattr(jobs_module, "JOB_LEASE_S", 1.0)
    monkeypatch.setattr(jobs_module, "JOB_HEARTBEAT_S", 0.2)
    with Store(tmp_path, database=database_url) as store:
        lease = {"Id": "a-live-process", "Heartbeat": time.time() + 3600}  # renewed as long as we like
        store.jobs.create_job("held", "FaceDetection", {"Video": {}, "Node": store.node_id, "Runner": lease}, owner="k")
        jobs = VideoJobs(SimpleNamespace(store=store, engine=None), render=lambda result: {})  # type: ignore[arg-type]
        try:
            time.sleep(1.0)  # several of its rounds
            record = store.jobs.job("held")[0]
            assert record.status == "IN_PROGRESS" and record.params["Runner"]["Id"] == "a-live-process"
            store.jobs.update_job("held", lambda p: {**p, "Runner": {**lease, "Heartbeat": time.time() - 10}})  # it died
            deadline = time.time() + 10
            while store.jobs.job("held")[0].status == "IN_PROGRESS" and time.time() < deadline:
                time.sleep(0.1)
        finally:
            jobs.close()
        assert store.jobs.job("held")[0].status == "FAILED"  # taken over, run here (and failed: there is no video)
