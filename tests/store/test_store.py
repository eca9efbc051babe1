"""Store: collections, faces, users, consent, retention, pagination, bad input."""

from __future__ import annotations

from faceprint.matching import FaceBar

import time

import numpy as np
import pytest

from faceprint.errors import AlreadyExists, ConsentRequired, InvalidParameter, NotFound
from faceprint.store import Store
from tests.store.conftest import MODEL, new_faces, unit_vectors


def make(store: Store, name: str = "c", **kw) -> None:
    store.collections.create(name, purpose=kw.pop("purpose", "testing"), model=MODEL, consent_required=kw.pop("consent_required", False), **kw)


def test_collection_lifecycle(store):
    make(store, "b")
    make(store, "a")
    assert store.collections.names() == ["a", "b"]
    with pytest.raises(AlreadyExists):
        make(store, "a")
    store.faces.add("a", new_faces(unit_vectors(3)), model=MODEL)
    info = store.collections.describe("a")
    assert (info.face_count, info.user_count, info.purpose, info.model) == (3, 0, "testing", MODEL)
    assert store.collections.delete("a") == 3
    assert store.collections.names() == ["b"]
    with pytest.raises(NotFound):
        store.collections.describe("a")


@pytest.mark.parametrize("name", ["", "has space", "x" * 256, "semi;colon", None, 5])
def test_bad_collection_names(store, name):
    with pytest.raises(InvalidParameter):
        store.collections.create(name, purpose="p", model=MODEL)


def test_bad_arguments(store):
    make(store)
    v = unit_vectors(1)[0]
    with pytest.raises(InvalidParameter):
        store.faces.search("c", v, max_faces=0, min_cosine=0)
    with pytest.raises(InvalidParameter):
        store.faces.search("c", v, max_faces=4097, min_cosine=0)
    with pytest.raises(InvalidParameter):
        store.faces.delete("c", ["not-a-uuid"])
    with pytest.raises(InvalidParameter):
        store.faces.delete("c", [])
    with pytest.raises(InvalidParameter):
        store.faces.page("c", next_token="garbage!")
    with pytest.raises(InvalidParameter):
        store.faces.add("c", new_faces(unit_vectors(1)), model="other-model")
    with pytest.raises(NotFound):
        store.faces.search("nope", v, max_faces=1, min_cosine=0)
    with pytest.raises(InvalidParameter):
        store.collections.create("d", purpose="  ", model=MODEL)


def test_search_is_exact_and_ordered(store):
    make(store)
    v = unit_vectors(200)
    stored = store.faces.add("c", new_faces(v), model=MODEL)
    hits = store.faces.search("c", v[17], max_faces=5, min_cosine=-1)
    assert hits[0].face.face_id == stored[17].face_id
    assert hits[0].cosine == pytest.approx(1.0, abs=1e-5)
    assert [h.cosine for h in hits] == sorted((h.cosine for h in hits), reverse=True)
    assert len(store.faces.search("c", v[17], max_faces=5, min_cosine=0.99)) == 1


def test_list_faces_pages_cover_everything_once(store):
    make(store)
    stored = store.faces.add("c", new_faces(unit_vectors(25)), model=MODEL)
    seen, token = [], None
    while True:
        page, token = store.faces.page("c", max_results=10, next_token=token)
        seen += [f.face_id for f in page]
        if token is None:
            break
    assert seen == [f.face_id for f in stored]


def test_delete_faces_reports_each_failure(store):
    make(store)
    stored = store.faces.add("c", new_faces(unit_vectors(3)), model=MODEL)
    store.users.create("c", "u")
    store.users.associate("c", "u", [stored[2].face_id])
    missing = "00000000-0000-4000-8000-000000000000"
    deleted, failed = store.faces.delete("c", [stored[0].face_id, missing, stored[2].face_id])
    assert deleted == [stored[0].face_id]
    assert failed == [(missing, None, "FACE_NOT_FOUND"), (stored[2].face_id, "u", "ASSOCIATED_TO_AN_EXISTING_USER")]
    assert store.collections.describe("c").face_count == 2
    assert all(h.face.face_id != stored[0].face_id for h in store.faces.search("c", unit_vectors(3)[0], max_faces=10, min_cosine=-1))


def test_users_group_faces_and_search_by_template(store):
    make(store)
    rng = np.random.default_rng(5)
    centres = unit_vectors(3, seed=9)
    v = np.repeat(centres, 4, axis=0) + 0.15 * rng.normal(size=(12, 128)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    stored = store.faces.add("c", new_faces(v), model=MODEL)
    for u in range(3):
        store.users.create("c", f"user{u}")
        done, failed = store.users.associate("c", f"user{u}", [s.face_id for s in stored[4 * u : 4 * u + 4]], bar=FaceBar.fixed(0.3))
        assert len(done) == 4 and not failed
    with pytest.raises(AlreadyExists):
        store.users.create("c", "user0")
    # a face of another person is refused by the template check
    store.users.create("c", "x")
    store.users.associate("c", "x", [stored[0].face_id])  # already user0's
    _, failed = store.users.associate("c", "user1", [stored[0].face_id])
    assert failed[0][3] == "ASSOCIATED_TO_A_DIFFERENT_USER"
    extra = store.faces.add("c", new_faces(unit_vectors(1, seed=77)), model=MODEL)
    _, failed = store.users.associate("c", "user1", [extra[0].face_id], bar=FaceBar.fixed(0.3))
    assert failed[0][3] == "LOW_MATCH_CONFIDENCE" and failed[0][2] < 0.3
    hits = store.users.search("c", centres[1], max_users=3, min_cosine=-1)
    assert hits[0].user.user_id == "user1" and hits[0].user.face_count == 4
    users, _ = store.users.page("c")
    assert {u.user_id: u.status for u in users} == {"user0": "ACTIVE", "user1": "ACTIVE", "user2": "ACTIVE", "x": "CREATED"}
    done, failed = store.users.disassociate("c", "user1", [stored[4].face_id, stored[0].face_id])
    assert done == [stored[4].face_id] and failed[0][2] == "ASSOCIATED_TO_A_DIFFERENT_USER"
    store.users.delete("c", "user2")
    assert store.faces.page("c", user_id="user2")[0] == []
    assert store.collections.describe("c").face_count == 13  # faces outlive their user


def test_consent_is_required_by_default(store):
    store.collections.create("w", purpose="find missing people", model=MODEL)
    faces = new_faces(unit_vectors(1), ["alice"])
    with pytest.raises(ConsentRequired):
        store.faces.add("w", faces, model=MODEL)
    with pytest.raises(ConsentRequired):
        store.faces.add("w", new_faces(unit_vectors(1)), model=MODEL)  # no subject at all
    store.governance.add_consent("alice", basis="consent", purpose="another purpose")
    with pytest.raises(ConsentRequired):
        store.faces.add("w", faces, model=MODEL)
    store.governance.add_consent("alice", basis="consent", purpose="find missing people", collection="elsewhere")
    with pytest.raises(ConsentRequired):
        store.faces.add("w", faces, model=MODEL)
    store.governance.add_consent("alice", basis="consent", purpose="find missing people", collection="w")
    assert len(store.faces.add("w", faces, model=MODEL)) == 1
    refused = store.audit.entries(action="IndexFacesRefused")
    assert len(refused) == 4 and all(e.collection == "w" for e in refused)



def test_consent_for_a_collection_ends_with_it(store):
    """A record limited to one collection must not cover a new collection that merely
    reuses the name: the person agreed to the collection that was deleted."""
    store.collections.create("w", purpose="door access", model=MODEL)
    store.governance.add_consent("alice", basis="consent", purpose="door access", collection="w")
    store.governance.add_consent("bob", basis="consent", purpose="door access")  # any collection with the purpose
    store.faces.add("w", new_faces(unit_vectors(2), ["alice", "bob"]), model=MODEL)
    store.collections.delete("w")
    store.collections.create("w", purpose="door access", model=MODEL)
    with pytest.raises(ConsentRequired):
        store.faces.add("w", new_faces(unit_vectors(1), ["alice"]), model=MODEL)
    assert len(store.faces.add("w", new_faces(unit_vectors(1), ["bob"]), model=MODEL)) == 1
    ended = store.governance.consent_records("alice")[0]
    assert ended.revoked is not None and not ended.valid_at(time.time())
    # consent gathered before a collection exists still covers it once it is created
    store.governance.add_consent("carol", basis="consent", purpose="door access", collection="later")
    store.collections.create("later", purpose="door access", model=MODEL)
    assert len(store.faces.add("later", new_faces(unit_vectors(1), ["carol"]), model=MODEL)) == 1


def test_a_consent_refusal_says_how_to_record_consent(store):
    store.collections.create("w", purpose="door access", model=MODEL)
    with pytest.raises(ConsentRequired) as refused:
        store.faces.add("w", new_faces(unit_vectors(1), ["alice"]), model=MODEL)
    message = str(refused.value)
    assert "AddConsent" in message and "faceprint consent add alice --basis" in message and "--purpose 'door access'" in message
    with pytest.raises(ConsentRequired) as refused:
        store.faces.add("w", new_faces(unit_vectors(1)), model=MODEL)
    assert "ExternalImageId" in str(refused.value) and "AddConsent" in str(refused.value)

def test_consent_bad_input(store):
    with pytest.raises(InvalidParameter):
        store.governance.add_consent("bob", basis="because", purpose="p")
    with pytest.raises(InvalidParameter):
        store.governance.add_consent("bob", basis="consent", purpose="p", expires=time.time() - 10)
    with pytest.raises(NotFound):
        store.governance.revoke_consent("nobody")


def test_revoking_consent_erases_the_subject(store):
    store.collections.create("w", purpose="p", model=MODEL)
    store.governance.add_consent("bob", basis="consent", purpose="p")
    store.governance.add_consent("eve", basis="consent", purpose="p")
    store.faces.add("w", new_faces(unit_vectors(3), ["bob", "bob", "eve"]), model=MODEL)
    assert store.governance.revoke_consent("bob") == 2
    assert [f.external_image_id for f in store.faces.page("w")[0]] == ["eve"]
    assert store.governance.consent_records("bob")[0].revoked is not None
    with pytest.raises(ConsentRequired):
        store.faces.add("w", new_faces(unit_vectors(1), ["bob"]), model=MODEL)


def test_lapsed_consent_and_retention_are_purged(open_store):
    with open_store() as s:
        s.collections.create("w", purpose="p", model=MODEL)
        s.collections.create("short", purpose="p", model=MODEL, consent_required=False, max_age_days=1.5 / 86400)
        s.governance.add_consent("bob", basis="consent", purpose="p", expires=time.time() + 1.0)
        s.governance.add_consent("eve", basis="consent", purpose="p")
        s.faces.add("w", new_faces(unit_vectors(2), ["bob", "eve"]), model=MODEL)
        s.faces.add("short", new_faces(unit_vectors(2)), model=MODEL)
        assert s.purge_expired() == 0
    time.sleep(1.6)
    with open_store() as s:  # purged on open
        assert [f.external_image_id for f in s.faces.page("w")[0]] == ["eve"]
        assert s.collections.describe("short").face_count == 0
        purges = s.audit.entries(action="Purge")
        assert sum(e.count for e in purges) == 3


def test_search_must_be_for_the_declared_purpose(store):
    make(store, purpose="door access")
    store.faces.add("c", new_faces(unit_vectors(2)), model=MODEL)
    with pytest.raises(InvalidParameter):
        store.faces.search("c", unit_vectors(1)[0], max_faces=1, min_cosine=0, purpose="marketing")
    store.faces.search("c", unit_vectors(1)[0], max_faces=1, min_cosine=-1, purpose="door access")
    last = store.audit.entries(action="SearchFacesByImage")[-1]
    assert (last.collection, last.purpose, last.count) == ("c", "door access", 1)


def test_a_second_store_on_the_same_database_sees_changes(open_store):
    """Two processes of one machine over SQLite, or two servers of one PostgreSQL."""
    v = unit_vectors(20)
    with open_store() as a, open_store() as b:
        make(a)
        stored = a.faces.add("c", new_faces(v[:10]), model=MODEL)
        assert len(b.faces.search("c", v[0], max_faces=20, min_cosine=-1)) == 10  # b builds its index
        a.faces.add("c", new_faces(v[10:]), model=MODEL)
        a.faces.delete("c", [stored[0].face_id])
        hits = b.faces.search("c", v[15], max_faces=50, min_cosine=-1)
        assert len(hits) == 19 and hits[0].cosine == pytest.approx(1.0, abs=1e-5)
        a.collections.delete("c")
        with pytest.raises(NotFound):
            b.faces.search("c", v[0], max_faces=1, min_cosine=-1)


def test_retention_runs_on_a_schedule(store):
    make(store, "short", max_age_days=0.5 / 86400)
    store.faces.add("short", new_faces(unit_vectors(3)), model=MODEL)
    store.start_retention(every_s=0.2)
    deadline = time.time() + 5
    while store.collections.describe("short").face_count and time.time() < deadline:
        time.sleep(0.1)
    assert store.collections.describe("short").face_count == 0


def test_erasing_a_subject_frees_its_users_other_faces(store):
    make(store)
    stored = store.faces.add("c", new_faces(unit_vectors(2), ["alice", "alice-at-work"]), model=MODEL)
    store.users.create("c", "alice")
    store.users.associate("c", "alice", [f.face_id for f in stored])
    assert store.governance.erase_subject("alice") == 1
    assert store.users.page("c")[0] == []
    left = store.faces.page("c")[0]
    assert [(f.external_image_id, f.user_id) for f in left] == [("alice-at-work", None)]
    assert store.faces.delete("c", [left[0].face_id])[0] == [left[0].face_id]


def test_user_face_limit_counts_only_new_faces(store, monkeypatch):
    import faceprint.store.users as users_mod

    monkeypatch.setattr(users_mod, "MAX_FACES_PER_USER", 2)
    make(store)
    a, b, c = store.faces.add("c", new_faces(unit_vectors(3)), model=MODEL)
    store.users.create("c", "u")
    store.users.associate("c", "u", [a.face_id, a.face_id])  # duplicates count once
    done, failed = store.users.associate("c", "u", [a.face_id, b.face_id])
    assert done == [a.face_id, b.face_id] and not failed
    from faceprint.errors import LimitExceeded

    with pytest.raises(LimitExceeded):
        store.users.associate("c", "u", [c.face_id])
    assert len(store.faces.page("c", user_id="u")[0]) == 2


@pytest.mark.parametrize("token", ["YWZ0ZXI6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "x" * 100, "YmVmb3JlOjM=", 17])
def test_foreign_tokens_are_refused(store, token):
    make(store)
    with pytest.raises(InvalidParameter):
        store.faces.page("c", next_token=token)


def test_large_collections_search_through_the_approximate_index(open_store, monkeypatch):
    import faceprint.store.vectors as vectors_mod

    monkeypatch.setattr(vectors_mod, "APPROXIMATE_FROM", 1000)
    v = unit_vectors(1600, seed=11)
    with open_store() as a, open_store() as b:
        make(a)
        stored = a.faces.add("c", new_faces(v[:1200]), model=MODEL)
        assert a.faces.search("c", v[5], max_faces=1, min_cosine=-1)[0].face.face_id == stored[5].face_id
        assert a._indexes.loaded[next(iter(a._indexes.loaded))].approximate
        b.faces.search("c", v[0], max_faces=1, min_cosine=-1)  # b has its own index
        more = a.faces.add("c", new_faces(v[1200:]), model=MODEL)
        a.faces.delete("c", [f.face_id for f in stored[:300]])
        for s in (a, b):
            assert s.faces.size("c") == 1300
            assert s.faces.search("c", v[1500], max_faces=1, min_cosine=-1)[0].face.face_id == more[300].face_id
            assert all(h.face.face_id not in {f.face_id for f in stored[:300]} for h in s.faces.search("c", v[10], max_faces=20, min_cosine=-1))


def test_threads_can_share_a_store(store):
    import threading

    make(store)
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        try:
            for i in range(15):
                store.faces.add("c", new_faces(unit_vectors(2, seed=seed * 100 + i)), model=MODEL)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def reader() -> None:
        try:
            for i in range(30):
                store.faces.search("c", unit_vectors(1, seed=i)[0], max_faces=5, min_cosine=-1)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)] + [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.collections.describe("c").face_count == 60 == store.faces.size("c")


def test_events_reach_every_listener_until_it_stops(open_store):
    """Alerts are fanned out through the store's events: in the process for the embedded
    store, to every server (here: a second store on the same database) for the server store."""
    with open_store() as a, open_store() as b:
        heard: list[tuple[str, bytes]] = []
        stop = b.events.listen(lambda topic, payload: heard.append((topic, payload)))
        a_heard: list[tuple[str, bytes]] = []
        a.events.listen(lambda topic, payload: a_heard.append((topic, payload)))
        a.events.publish("processor:door", b"first")
        deadline = time.time() + 5
        while (not a_heard or (a.shared and not heard)) and time.time() < deadline:
            time.sleep(0.05)
        assert a_heard == [("processor:door", b"first")]
        if a.shared:  # another server hears it too; an embedded store is one process
            assert heard == [("processor:door", b"first")]
        stop()
        a.events.publish("processor:door", b"second")
        deadline = time.time() + 2
        while len(a_heard) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert a_heard[-1] == ("processor:door", b"second") and ("processor:door", b"second") not in heard
