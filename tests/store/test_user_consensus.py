"""AssociateFaces: a user's first batch of faces must agree with itself.

A user with no faces has no template to check a new face against, so a first batch
holding another person's face was taken whole, and that person then matched the user.
Real faces: two photos of Barack Obama and one of Joe Biden from face_recognition's
examples.
"""

from __future__ import annotations

from faceprint.matching import FaceBar

import numpy as np
import pytest

import faceprint as fp
from faceprint.engine import DEFAULT_MIN_SIMILARITY
from tests.store.conftest import MODEL, new_faces

pytestmark = [pytest.mark.models, pytest.mark.data]
EXAMPLES = ("people", "face_recognition", "examples")


def test_a_first_batch_with_another_persons_face_keeps_it_out(tmp_path, engine, data):
    folder = data.joinpath(*EXAMPLES)
    with fp.Service(tmp_path / "home", engine=engine, purge_every_s=None) as svc:
        svc.create_collection("people", purpose="tests", consent_required=False)
        ids = {}
        for photo in ("obama.jpg", "obama2.jpg", "biden.jpg"):
            ids[photo] = svc.index_faces("people", folder / photo, external_image_id=photo.split(".")[0]).indexed[0].record.face_id
        svc.store.users.create("people", "u-obama")
        done, failed = svc.associate_faces("people", "u-obama", list(ids.values()), min_similarity=DEFAULT_MIN_SIMILARITY)
        assert sorted(done) == sorted([ids["obama.jpg"], ids["obama2.jpg"]])
        assert [(f[0], f[3]) for f in failed] == [(ids["biden.jpg"], "LOW_MATCH_CONFIDENCE")]
        assert failed[0][2] < DEFAULT_MIN_SIMILARITY  # the similarity it reached, reported
        # and Biden does not find the user
        hits = svc.search_users("people", face_id=ids["biden.jpg"], min_similarity=DEFAULT_MIN_SIMILARITY).matches
        assert not hits
        assert svc.search_users("people", face_id=ids["obama2.jpg"], min_similarity=DEFAULT_MIN_SIMILARITY).matches[0].user.user_id == "u-obama"


def test_first_batch_rules_on_vectors(store):
    """Two faces that disagree are both refused (which is the person?); one face alone
    is taken; a batch of one person's faces is taken whole."""
    rng = np.random.default_rng(3)
    a, b = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 128)).astype(np.float32))
    same = np.stack([a + 0.2 * rng.normal(size=128).astype(np.float32) / np.sqrt(128) * 4 for _ in range(3)])
    same /= np.linalg.norm(same, axis=1, keepdims=True)
    store.collections.create("c", purpose="p", model=MODEL, consent_required=False)
    stored = store.faces.add("c", new_faces(np.vstack([same, b[None], a[None]])), model=MODEL)
    fid = [s.face_id for s in stored]
    store.users.create("c", "two")
    done, failed = store.users.associate("c", "two", [fid[3], fid[4]], bar=FaceBar.fixed(0.4))
    assert done == [] and {f[0] for f in failed} == {fid[3], fid[4]} and {f[3] for f in failed} == {"LOW_MATCH_CONFIDENCE"}
    done, failed = store.users.associate("c", "two", [fid[3]], bar=FaceBar.fixed(0.4))
    assert done == [fid[3]] and not failed
    store.users.create("c", "three")
    done, failed = store.users.associate("c", "three", fid[:3], bar=FaceBar.fixed(0.4))
    assert sorted(done) == sorted(fid[:3]) and not failed
