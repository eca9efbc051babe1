"""Liveness over HTTP: Rekognition's CreateFaceLivenessSession and
GetFaceLivenessSessionResults, and faceprint's GetLivenessChallenge and
PutLivenessFrames (Rekognition streams frames over a separate WebSocket API; here
the client posts them)."""

from __future__ import annotations

import base64
from functools import partial
from typing import Any

from faceprint.api.operation_table import operation
from faceprint.api.operations import Call
from faceprint.api.roles import SEARCHERS
from faceprint.errors import ImageTooLarge
from faceprint.imaging import DecodeLimits, box_fractions, encode_jpeg, image_size, load_image
from faceprint.liveness.frames import Measured
from faceprint.liveness.sessions import LivenessSession
from faceprint.rekognition.shapes import bounding_box

MAX_AUDIT_IMAGES = 4
FRAME_LIMITS = DecodeLimits(max_bytes=204_800, max_pixels=1920 * 1080)  # a camera frame, no more
# What one request's frames may add up to, as their headers declare it: the frames a
# session keeps while it is judged (3 bytes a pixel, about 190 MB at most). A 640x480
# camera at 15 frames a second for the longest challenge (11 s) needs 51 MP.
FRAME_PIXEL_BUDGET = 64_000_000


@operation("CreateFaceLivenessSession", roles=SEARCHERS)
def create_face_liveness_session(call: Call) -> dict[str, Any]:
    limit = min(MAX_AUDIT_IMAGES, int(call.get("Settings", {}).get("AuditImagesLimit", 0)))
    session = call.liveness.create(call.caller.key_id, audit_images=limit)
    return {"SessionId": session.session_id}


@operation("GetLivenessChallenge", roles=SEARCHERS)
def get_liveness_challenge(call: Call) -> dict[str, Any]:
    s = call.liveness.challenge(call.params["SessionId"], call.caller.key_id)
    return {"SessionId": s.session_id, "Actions": s.actions, "TimeLimitMillis": int(s.limit_ms), "ExpiresAt": s.expires}


@operation("PutLivenessFrames", roles=SEARCHERS)
def put_liveness_frames(call: Call) -> dict[str, Any]:
    sid, owner = call.params["SessionId"], call.caller.key_id
    call.liveness.open_for_frames(sid, owner)  # refused before a single frame is decoded
    sent = call.params["Frames"]
    total = sum(w * h for w, h in (image_size(f["Bytes"], limits=FRAME_LIMITS) for f in sent))
    if total > FRAME_PIXEL_BUDGET:
        raise ImageTooLarge(
            f"the {len(sent)} frames add up to {total / 1e6:.0f} MP; one request may send {FRAME_PIXEL_BUDGET / 1e6:.0f} MP "
            f"(for example {FRAME_PIXEL_BUDGET // (640 * 480)} frames of 640x480)"
        )
    # decoded one at a time as they are judged: a sequence refused early decodes no more
    frames = [(float(f["TimestampMillis"]), partial(load_image, f["Bytes"], limits=FRAME_LIMITS)) for f in sent]
    s = call.liveness.submit(sid, owner, frames)
    out: dict[str, Any] = {"SessionId": s.session_id, "Status": s.status}
    if s.status == "FAILED" and s.result is not None:
        out["FailureReason"] = s.result.reason  # bad input only; a spoof verdict is not explained to the client
    return out


@operation("GetFaceLivenessSessionResults", roles=SEARCHERS)
def get_face_liveness_session_results(call: Call) -> dict[str, Any]:
    s: LivenessSession = call.liveness.get(call.params["SessionId"], call.caller.key_id)
    out: dict[str, Any] = {"SessionId": s.session_id, "Status": s.status}
    r = s.result
    if s.status == "SUCCEEDED" and r is not None:
        # which check failed is not the client's to know (it would teach an attacker
        # what to change): every attempt not judged live reads 0
        out["Confidence"] = r.confidence if r.live else 0.0
        if r.reference is not None:
            out["ReferenceImage"] = _image(r.reference)
        out["AuditImages"] = [_image(m) for m in r.audit[: s.audit_images]]
    return out


def _image(m: Measured) -> dict[str, Any]:
    """Rekognition's AuditImage: the frame as JPEG and the face's box in it."""
    h, w = m.pixels.shape[:2]
    box = bounding_box(box_fractions(m.box, (w, h)))
    return {"Bytes": base64.b64encode(encode_jpeg(m.pixels)).decode(), "BoundingBox": box}
