"""The Engine: models loaded once, a worker pool, and calibrated decisions."""

from __future__ import annotations

import logging
import multiprocessing
import numbers
import os
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator, TypeVar

import numpy as np

from faceprint.analysis import Analyzer
from faceprint.analysis.embed import EMBEDDERS
from faceprint.analysis.pipeline import MODES
from faceprint.analysis.attributes import FaceAttributes
from faceprint.constants import DEFAULT_MIN_SIMILARITY  # 1 false match in 10,000 impostor pairs
from faceprint.errors import FaceprintError, InvalidParameter, ModelNotAvailable, NoFaceFound
from faceprint.imaging import DecodeLimits, ImageSource, load_image
from faceprint.matching import UNREACHABLE, CalibrationTable, FaceBar, RegionCalibration, cosine_matrix, load_calibration, similarity_from_fmr
from faceprint.matching.regions import regions_path
from faceprint.types import Comparison, Face, FaceMatch, Faces, FacesMeta, Match, Verification

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Engine:
    """Detect, embed and compare faces with models loaded once.

    Args:
        mode: ``"fast"`` (YuNet + SFace) or ``"accurate"`` (YuNet + flip-averaged
            SFace fused with dlib's ResNet: about 5x slower, fewer errors).
        embedder: override the mode's embedder (see ``faceprint.analysis.EMBEDDERS``).
        min_face_px: the smallest face of interest; smaller values find smaller faces
            but make detection slower on large images.
        score_threshold: minimum detector confidence, 0-1.
        workers: threads for batch work (default: one per CPU core).
        limits: byte and pixel limits for decoding.

    Example:
        >>> with Engine() as engine:                          # doctest: +SKIP
        ...     faces = engine.detect("group.jpg")
        ...     result = engine.compare("id_card.jpg", "selfie.jpg")
    """

    def __init__(
        self,
        mode: str = "fast",
        *,
        embedder: str | None = None,
        min_face_px: float | None = None,
        score_threshold: float = 0.6,
        workers: int | None = None,
        limits: DecodeLimits = DecodeLimits(),
    ) -> None:
        self.analyzer = Analyzer(mode, embedder=embedder, min_face_px=min_face_px, score_threshold=score_threshold)
        self.mode = mode
        self.limits = limits
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._settings: dict[str, Any] = dict(
            mode=mode, embedder=embedder, min_face_px=min_face_px, score_threshold=score_threshold, workers=1, limits=limits
        )
        self._threads: ThreadPoolExecutor | None = None
        self._processes: ProcessPoolExecutor | None = None
        self._calibration: CalibrationTable | None = None
        self._regions: RegionCalibration | None | bool = False  # False: not looked for yet
        self._lock = threading.Lock()

    @classmethod
    def for_contract(cls, contract: str, **settings: Any) -> Engine:
        """An engine whose embedder makes the vectors of ``contract`` (a collection's
        FaceModelVersion), in the mode whose default embedder it is, else fast mode.

        Args:
            contract: the embedding contract, e.g. ``CollectionInfo.model``.
            settings: further ``Engine`` arguments (workers, limits...).

        Raises:
            ModelNotAvailable: no installed embedder makes these vectors (an unknown
                embedder, or its weights or preprocessing changed since).

        Example:
            >>> engine = Engine.for_contract(store.collections.model("staff"))   # doctest: +SKIP
        """
        name = contract.split("/", 1)[0]
        if name not in EMBEDDERS:
            raise ModelNotAvailable(f"no installed embedder makes {contract} vectors; the embedders are {', '.join(EMBEDDERS)}")
        mode = next((m for m, spec in MODES.items() if spec.embedder == name), "fast")
        engine = cls(mode, embedder=name, **settings)
        made = engine.analyzer.embedder.contract
        if made != contract:
            raise ModelNotAvailable(f"the collection holds {contract} vectors, but the installed {name} makes {made}; re-index its faces with this version")
        return engine

    # -- lifecycle -------------------------------------------------------
    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker pools (models stay loaded until the engine is dropped)."""
        for pool in (self._threads, self._processes):
            if pool is not None:
                pool.shutdown(wait=True)
        self._threads = self._processes = None

    @property
    def embedder_name(self) -> str:
        return self.analyzer.embedder_name

    @property
    def calibration(self) -> CalibrationTable:
        """The embedder's shipped calibration table.

        Raises:
            ModelNotAvailable: there is none, or it was measured with other weights or
                preprocessing than this embedder uses (a stale table).
        """
        if self._calibration is None:
            table = load_calibration(self.embedder_name)
            contract = self.analyzer.embedder.contract
            if table.contract != contract:
                raise ModelNotAvailable(
                    f"the calibration table for {self.embedder_name} was measured with {table.contract}, "
                    f"but the embedder is {contract}; re-measure it with `{table.command}`"
                )
            self._calibration = table
        return self._calibration

    @property
    def regions(self) -> RegionCalibration | None:
        """The embedder's region calibration (per-region tables that keep a false-match
        rate true for faces the global table under-protects), or None when none was
        fitted for it; decisions then use the global table.

        Raises:
            ModelNotAvailable: the shipped regions were fitted with another contract.
        """
        if self._regions is False:
            path = regions_path(self.embedder_name)
            regions = RegionCalibration.load(path) if path.is_file() else None
            contract = self.analyzer.embedder.contract
            if regions is not None and regions.contract != contract:
                raise ModelNotAvailable(
                    f"the region calibration for {self.embedder_name} was fitted with {regions.contract}, "
                    f"but the embedder is {contract}; refit it with `{regions.command}`"
                )
            self._regions = regions
        return self._regions  # type: ignore[return-value]

    # -- single images -----------------------------------------------------
    def load(self, image: ImageSource) -> np.ndarray:
        """Decode an image source with this engine's limits (RGB uint8)."""
        return load_image(image, limits=self.limits)

    def detect(self, image: ImageSource) -> Faces:
        """Detect faces: boxes, five landmarks, confidence and quality, largest first.

        Args:
            image: a path, encoded bytes, or an ``HxWx3`` uint8 RGB array.

        Returns:
            ``Faces`` (empty when there is no face).

        Raises:
            InvalidImage, ImageTooLarge, InvalidParameter: the image cannot be used.
        """
        return self.analyzer.detect(self.load(image))

    def embed(self, image: ImageSource, faces: Faces | Face | None = None) -> Faces:
        """Embeddings (unit vectors) for the given faces, or for every face found.

        Args:
            image: the image the faces were detected in.
            faces: faces from :meth:`detect` on the same image; detected if omitted.

        Returns:
            ``Faces`` with ``embedding`` filled (``meta.embedder`` names the contract).
        """
        pixels = self.load(image)
        if faces is None:
            faces = self.analyzer.detect(pixels)
        elif isinstance(faces, Face):
            faces = _single(faces, pixels)
        if not np.isfinite(faces.landmarks).all():
            raise InvalidParameter("face landmarks must be finite numbers")
        return self.analyzer.embed(pixels, faces)

    def attributes(self, image: ImageSource, faces: Faces | None = None) -> list[FaceAttributes]:
        """Measured attributes of each face: eyes open, mouth open, gaze direction,
        head pose and Rekognition's named landmarks, from the dense face mesh.

        Args:
            image: the image.
            faces: faces from :meth:`detect` on it; detected if omitted.

        Example:
            >>> attrs = engine.attributes("portrait.jpg")                  # doctest: +SKIP
            >>> attrs[0].eyes_open.value, round(attrs[0].pose.yaw)
            (True, -4)
        """
        pixels = self.load(image)
        if faces is None:
            faces = self.analyzer.detect(pixels)
        return self.analyzer.attributes(pixels, faces)

    def analyze(self, image: ImageSource, *, pose: bool = True) -> Faces:
        """Detect and embed every face in one step.

        Args:
            pose: measure each face's head pose for its quality (the face mesh, about
                1 ms a face); without, the quality's yaw, pitch and roll are NaN, for
                callers that only need identities.
        """
        return self.analyzer.analyze(self.load(image), pose=pose)

    def score(self, a: np.ndarray, b: np.ndarray, *, min_similarity: float) -> Match:
        """Score two embeddings: raw cosine, calibrated similarity and false-match rate."""
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        if a.shape[-1] != b.shape[-1]:
            raise InvalidParameter(f"embeddings of different sizes cannot be compared ({a.shape[-1]} and {b.shape[-1]})")
        cos = float(cosine_matrix(a, b)[0, 0])
        if not np.isfinite(cos):
            raise InvalidParameter("the embeddings contain non-finite values")
        return self.rate(cos, a[0], b[0], min_similarity=min_similarity)

    def rate(self, cosine: float, a: np.ndarray, b: np.ndarray, *, min_similarity: float) -> Match:
        """Calibrate the cosine of faces ``a`` and ``b``: similarity 0-100, false-match
        rate and decision at ``min_similarity``.

        With a region calibration the rate depends on where both faces lie, and a pair
        with a face for which no cosine reaches ``min_similarity``'s rate is refused
        (``Match.refusal``) instead of matched.
        """
        regions = self.regions
        if regions is None:
            table = self.calibration
            fmr = float(table.false_match_rate(cosine))
            sim = float(table.similarity(cosine))
            return Match(similarity=sim, false_match_rate=fmr, cosine=float(cosine), is_match=sim >= min_similarity, extrapolated=fmr < table.measured_down_to)
        fmr, extrapolated, decidable = regions.rate(cosine, a, b, min_similarity)
        sim = float(similarity_from_fmr(fmr))
        refusal = None if decidable else UNREACHABLE
        return Match(similarity=sim, false_match_rate=fmr, cosine=float(cosine), is_match=refusal is None and sim >= min_similarity, extrapolated=extrapolated, refusal=refusal)

    def bar(self, similarity: float) -> FaceBar:
        """The cosine each face needs for a match at ``similarity`` (see :class:`FaceBar`).

        Example:
            >>> bar = engine.bar(40)                                      # doctest: +SKIP
            >>> bar.face(probe_embedding)    # stricter for a child's face than an adult's
            0.61
        """
        check_similarity(similarity)
        regions = self.regions
        if similarity <= 0:
            return FaceBar.fixed(-1.0)
        if regions is None:
            return FaceBar.fixed(self.cosine_at(similarity))
        return FaceBar(float(similarity), lambda v: regions.thresholds(v, float(similarity)))

    def cosine_at(self, similarity: float) -> float:
        """The raw cosine at which the global table's similarity reaches ``similarity``
        (an average face; :meth:`bar` gives each face's own)."""
        check_similarity(similarity)
        return float(self.calibration.threshold(min_similarity=float(similarity)))

    def compare(
        self,
        source: ImageSource,
        target: ImageSource,
        *,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ) -> Comparison:
        """Compare the largest face in ``source`` with every face in ``target``.

        Args:
            source: the image whose largest face is the reference.
            target: the image whose faces are scored.
            min_similarity: 0-100; faces at or above it are matches. 40 means one
                false match in 10,000 impostor pairs, 50 one in 100,000.

        Returns:
            ``Comparison`` with matches and unmatched target faces, best first.

        Raises:
            NoFaceFound: the source image has no face.
        """
        check_similarity(min_similarity)
        src = self.analyze(source)
        if len(src) == 0:
            raise NoFaceFound("no face was found in the source image")
        tgt = self.analyze(target)
        ref = src[0:1]
        scored = [FaceMatch(face=tgt[i], match=self.score(ref.embedding, tgt.embedding[i : i + 1], min_similarity=min_similarity)) for i in range(len(tgt))]  # type: ignore[arg-type, index]
        scored.sort(key=lambda fm: (-fm.match.similarity, -fm.match.cosine))
        return Comparison(
            source=src[0],
            matches=[m for m in scored if m.match.is_match],
            unmatched=[m for m in scored if not m.match.is_match],
            min_similarity=min_similarity,
        )

    def verify(self, a: ImageSource, b: ImageSource, *, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> Verification:
        """1:1: are the largest faces of two images the same person?

        Raises:
            NoFaceFound: either image has no face.
        """
        check_similarity(min_similarity)
        fa, fb = self.analyze(a), self.analyze(b)
        for name, f in (("first", fa), ("second", fb)):
            if len(f) == 0:
                raise NoFaceFound(f"no face was found in the {name} image")
        m = self.score(fa.embedding[:1], fb.embedding[:1], min_similarity=min_similarity)  # type: ignore[index]
        return Verification(**vars(m), min_similarity=min_similarity, source=fa[0], target=fb[0])

    # -- batches -------------------------------------------------------------
    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R | FaceprintError]:
        """Apply ``fn`` to items on a thread pool, in order; errors are yielded, not raised.

        Threads suit work that releases the GIL (OpenCV, onnxruntime). For work over
        the whole pipeline use :meth:`map_engine`, which also covers dlib.
        """
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="faceprint")
        return self._threads.map(_Guarded(fn), items)

    def map_engine(self, fn: Callable[[Engine, T], R], items: Iterable[T]) -> Iterator[R | FaceprintError]:
        """Apply a module-level ``fn(engine, item)`` to items on all cores, in order.

        dlib holds Python's GIL while it runs, so when the embedder uses dlib the work
        goes to worker processes, each with its own engine built with these settings
        (``fn`` and the items must then be picklable); otherwise to threads sharing
        this engine. Errors are yielded, not raised.
        """
        if not self.analyzer.gil_bound or self.workers == 1:
            return self.map(lambda item: fn(self, item), items)
        with self._lock:
            if self._processes is None:
                self._processes = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(self._settings,),
                )
        return self._processes.map(_Guarded(_call_in_worker), ((fn, item) for item in items), chunksize=4)

    def analyze_many(self, images: Iterable[ImageSource], *, pose: bool = True) -> Iterator[Faces | FaceprintError]:
        """:meth:`analyze` over many images on all cores, results in input order."""
        return self.map_engine(Engine.analyze if pose else _analyze_without_pose, images)


def _analyze_without_pose(engine: Engine, image: ImageSource) -> Faces:
    return engine.analyze(image, pose=False)  # module level: worker processes pickle it


class _Guarded:
    """Calls a function and returns an error instead of raising it (picklable), so one
    bad item never stops a batch. Unexpected errors become a retryable internal error."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, item: Any) -> Any:
        try:
            return self.fn(item)
        except FaceprintError as exc:
            return exc
        except Exception as exc:  # noqa: BLE001
            log.exception("unexpected error in a batch item")
            err = FaceprintError(f"internal error: {type(exc).__name__}: {exc}")
            err.retryable = True
            return err


_worker_engine: Engine | None = None


def _init_worker(settings: dict[str, Any]) -> None:
    global _worker_engine
    _worker_engine = Engine(**settings)


def _call_in_worker(job: tuple[Callable[[Engine, Any], Any], Any]) -> Any:
    fn, item = job
    assert _worker_engine is not None
    return fn(_worker_engine, item)


def check_similarity(value: float, name: str = "min_similarity") -> None:
    """Raises: InvalidParameter: ``value`` is not a number within 0-100."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 100.0:
        raise InvalidParameter(f"{name} must be within 0-100, got {value!r}")


def _single(face: Face, pixels: np.ndarray) -> Faces:
    h, w = pixels.shape[:2]
    return Faces(
        xyxy=np.array([face.xyxy]),
        score=np.array([face.score]),
        landmarks=face.landmarks[None],
        meta=FacesMeta(image_wh=(w, h)),
    )
