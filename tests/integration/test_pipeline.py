"""The real models on real photos (needs the shared data)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import faceprint as fp
from faceprint import errors as fp_errors
from faceprint.analysis.align import align_face
from faceprint.models import card, locate
from tests.factories import encode, gradient

pytestmark = pytest.mark.models

EX = Path("people/face_recognition/examples")


def test_detects_one_face_with_quality(engine: fp.Engine, data: Path) -> None:
    faces = engine.detect(data / EX / "obama.jpg")
    assert len(faces) == 1
    f = faces[0]
    x1, y1, x2, y2 = f.xyxy
    h, w = engine.load(data / EX / "obama.jpg").shape[:2]
    assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
    assert f.score > 0.8
    q = f.quality
    assert q is not None and q.size_px > 100 and 0 < q.brightness < 100 and q.sharpness > 20
    assert abs(q.yaw) < 25 and abs(q.roll) < 15
    # landmarks in order: the first eye is on the image's left
    assert f.landmarks[0, 0] < f.landmarks[1, 0]


def test_multi_face_and_no_face(engine: fp.Engine, data: Path) -> None:
    assert len(engine.detect(data / EX / "two_people.jpg")) == 2
    assert len(engine.detect(gradient(320, 240))) == 0
    assert len(engine.detect(np.zeros((1, 1, 3), np.uint8))) == 0


def test_score_threshold_trades_recall_for_false_positives(data: Path) -> None:
    """YuNet scores one dog in dlib's dogs.jpg 0.84: the default threshold (0.6, for
    small faces in crowds) returns it; a strict one does not, and still finds people."""
    dogs = data / "detection/dlib_faces/dogs.jpg"
    with fp.Engine(score_threshold=0.6) as loose, fp.Engine(score_threshold=0.88) as strict:
        assert len(loose.detect(dogs)) >= 1
        assert len(strict.detect(dogs)) == 0
        assert len(strict.detect(data / EX / "two_people.jpg")) == 2


def test_mirrored_faces_have_opposite_yaw_and_roll(engine: fp.Engine, data: Path) -> None:
    """Five-point pose is coarse, so this is checked over deepface's portraits: the
    mirrored photo's yaw and roll should be the negatives of the original's."""
    pairs = []
    for f in sorted((data / "people/deepface").glob("img*.jpg")):
        img = engine.load(f)
        a, b = engine.detect(img), engine.detect(np.ascontiguousarray(img[:, ::-1]))
        if len(a) == 1 and len(b) == 1:
            pairs.append((a[0].quality.yaw, b[0].quality.yaw, a[0].quality.roll, b[0].quality.roll))
    yaw_a, yaw_b, roll_a, roll_b = np.array(pairs).T
    assert len(pairs) >= 40
    assert np.median(np.abs(yaw_a + yaw_b)) < 5.0
    assert np.median(np.abs(roll_a + roll_b)) < 3.0
    assert np.corrcoef(yaw_a, -yaw_b)[0, 1] > 0.7


def test_tiny_faces_do_not_break_pose(data: Path) -> None:
    with fp.Engine(min_face_px=8) as e:
        faces = e.detect(data / "people/deepface/selfie-many-people.jpg")
    assert len(faces) > 0 and faces.quality is not None


def test_exif_rotated_photo_is_detected_upright(engine: fp.Engine, data: Path) -> None:
    im = Image.open(data / EX / "obama.jpg").convert("RGB")
    upright = engine.detect(np.asarray(im))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": store the pixels rotated the other way
    stored = im.transpose(Image.Transpose.ROTATE_90)
    rotated = engine.detect(encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert len(rotated) == 1
    assert rotated[0].xyxy == pytest.approx(upright[0].xyxy, abs=12)


def test_verify_same_and_different_people(engine: fp.Engine, data: Path) -> None:
    same = engine.verify(data / EX / "obama.jpg", data / EX / "obama2.jpg")
    other = engine.verify(data / EX / "obama.jpg", data / EX / "biden.jpg")
    assert same.is_match and same.similarity > 60
    assert not other.is_match and other.false_match_rate > 1e-3
    assert same.cosine > other.cosine


def test_compare_finds_the_right_face_in_a_group(engine: fp.Engine, data: Path) -> None:
    res = engine.compare(data / EX / "biden.jpg", data / EX / "knn_examples/test/obama_and_biden.jpg")
    assert len(res.matches) == 1 and len(res.unmatched) >= 1  # Obama, and a small face behind them
    assert all(res.matches[0].match.similarity > u.match.similarity for u in res.unmatched)
    assert all(not u.match.is_match for u in res.unmatched)


def test_compare_without_a_source_face_is_a_typed_error(engine: fp.Engine, data: Path) -> None:
    with pytest.raises(fp.NoFaceFound):
        engine.compare(gradient(200, 200), data / EX / "obama.jpg")
    with pytest.raises(fp.InvalidParameter):
        engine.compare(data / EX / "obama.jpg", data / EX / "obama2.jpg", min_similarity=150)


def test_resolution_robustness(engine: fp.Engine, data: Path) -> None:
    vecs = [engine.analyze(data / EX / f"obama-{r}.jpg").embedding[0] for r in ("240p", "480p", "720p", "1080p")]
    sims = np.array(vecs) @ np.array(vecs).T
    assert sims.min() > 0.6


def test_optimised_sface_matches_opencv(engine: fp.Engine, data: Path) -> None:
    """Folding the quantized weights and rewriting PRelu must not change the model."""
    img = engine.load(data / EX / "obama.jpg")
    faces = engine.detect(img)
    crop = align_face(img, faces.landmarks[0])
    ours = engine.analyzer.embedder.embed_crops(crop[None])[0]
    ref = cv2.FaceRecognizerSF.create(str(locate(card("sface.2021dec"))), "")
    theirs = ref.feature(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)).ravel()
    theirs /= np.linalg.norm(theirs)
    assert float(ours @ theirs) > 0.9999


def test_accurate_mode_fuses_two_models(accurate_engine: fp.Engine, data: Path) -> None:
    faces = accurate_engine.analyze(data / EX / "obama.jpg")
    assert faces.embedding.shape == (1, 256)
    assert np.linalg.norm(faces.embedding[0]) == pytest.approx(1.0, abs=1e-5)
    assert "fusion" in faces.meta.embedder
    assert accurate_engine.verify(data / EX / "obama.jpg", data / EX / "obama2.jpg").is_match
    assert not accurate_engine.verify(data / EX / "obama.jpg", data / EX / "biden.jpg").is_match


def test_accurate_mode_batches_run_in_worker_processes(accurate_engine: fp.Engine, data: Path) -> None:
    """dlib holds the GIL, so accurate-mode batches go to worker processes; their
    results must equal the in-process ones, in input order, with errors passed back."""
    items = [data / EX / "obama.jpg", b"not an image", data / EX / "two_people.jpg"]
    with fp.Engine("accurate", workers=2) as pooled:
        assert pooled.analyzer.gil_bound
        out = list(pooled.analyze_many(items))
    assert isinstance(out[1], fp.InvalidImage)
    for got, path in ((out[0], items[0]), (out[2], items[2])):
        want = accurate_engine.analyze(path)
        assert len(got) == len(want)
        assert np.allclose(got.embedding, want.embedding, atol=1e-5)


def test_analyze_many_keeps_order_and_reports_errors(engine: fp.Engine, data: Path) -> None:
    items = [data / EX / "obama.jpg", b"not an image", data / EX / "two_people.jpg"]
    out = list(engine.analyze_many(items))
    assert len(out[0]) == 1 and isinstance(out[1], fp.InvalidImage) and len(out[2]) == 2


def test_stale_calibration_table_is_refused(engine: fp.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    import faceprint.engine as engine_mod

    good = engine_mod.load_calibration("sface.2021dec")
    monkeypatch.setattr(engine_mod, "load_calibration", lambda name: replace(good, contract="sface.2021dec/other-weights"))
    with fp.Engine() as fresh:
        with pytest.raises(fp_errors.ModelNotAvailable, match="re-measure"):
            fresh.calibration  # noqa: B018


def test_gallery_refuses_empty_folders_and_other_engines(engine: fp.Engine, data: Path, tmp_path: Path) -> None:
    (tmp_path / "nobody").mkdir()
    Image.fromarray(gradient(120, 120)).save(tmp_path / "nobody" / "blank.png")
    with pytest.raises(fp.InvalidParameter, match="no face could be enrolled"):
        fp.Gallery.from_folder(engine, tmp_path)
    gallery = fp.Gallery.from_folder(engine, data / EX / "knn_examples/train")
    with fp.Engine(embedder="sface.2021dec+flip") as other:
        with pytest.raises(fp.InvalidParameter, match="gallery"):
            gallery.identify(other, other.analyze(data / EX / "obama.jpg"))


def test_public_verbs(data: Path) -> None:
    faces = fp.detect(data / EX / "obama.jpg")
    assert len(fp.embed(data / EX / "obama.jpg", faces[0]).embedding) == 1
    assert fp.verify(data / EX / "obama.jpg", data / EX / "obama2.jpg").is_match
