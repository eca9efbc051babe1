"""Video operations: Rekognition's asynchronous jobs and stream processors, and the
server-sent alert stream of a running processor."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from faceprint.api.images import object_path
from faceprint.api.operations import Call, handler
from faceprint.errors import AlreadyExists, InvalidParameter
from faceprint.store.tokens import decode_token, encode_token
from faceprint.video.alerts import Alert, Broadcast

PROCESSOR_ARN = "arn:aws:rekognition:local:000000000000:streamprocessor/{}"
UPLOADS = "uploads"  # the bucket UploadVideo writes to
UPLOAD_TTL_S = 24 * 3600.0


# -- recorded video: asynchronous jobs ---------------------------------------------
@handler
def start_face_search(call: Call) -> dict[str, Any]:
    path = object_path(_member(call.params, "Video", "S3Object"), call.buckets)
    params = {k: call.params[k] for k in ("CollectionId", "FaceMatchThreshold", "JobTag", "Video") if k in call.params}
    return {"JobId": call.jobs.start("FaceSearch", path, params)}


@handler
def get_face_search(call: Call) -> dict[str, Any]:
    return _job_page(call, "FaceSearch", "Persons", sort=call.get("SortBy", "TIMESTAMP"))


@handler
def start_face_detection(call: Call) -> dict[str, Any]:
    path = object_path(_member(call.params, "Video", "S3Object"), call.buckets)
    params = {k: call.params[k] for k in ("JobTag", "Video") if k in call.params}
    return {"JobId": call.jobs.start("FaceDetection", path, params)}


@handler
def get_face_detection(call: Call) -> dict[str, Any]:
    return _job_page(call, "FaceDetection", "Faces")


def _job_page(call: Call, kind: str, member: str, sort: str | None = None) -> dict[str, Any]:
    job_id = call.params["JobId"]
    status, message, result, params = call.jobs.get(job_id, kind)
    out: dict[str, Any] = {"JobStatus": status, "JobId": job_id, "Video": params["Video"]}
    if "JobTag" in params:
        out["JobTag"] = params["JobTag"]
    if message:
        out["StatusMessage"] = message
    if result is None:
        return out
    items = result[member]
    if sort == "INDEX":
        items = sorted(items, key=lambda p: (p["Person"]["Index"], p["Timestamp"]))
    out["VideoMetadata"] = result["VideoMetadata"]
    return _page(call, items, member, out)


def _page(call: Call, items: list[Any], member: str, out: dict[str, Any]) -> dict[str, Any]:
    """``out`` with one page of ``items`` under ``member`` and, unless it is the last,
    the NextToken (the store's opaque token, here holding the next item's offset)."""
    start, limit = decode_token(call.get("NextToken")), call.get("MaxResults", 1000)
    out[member] = items[start : start + limit]
    if start + limit < len(items):
        out["NextToken"] = encode_token(start + limit)
    return out


def _member(params: dict[str, Any], *path: str) -> Any:
    """A nested member the model leaves optional but this operation needs."""
    value: Any = params
    for i, name in enumerate(path):
        if not isinstance(value, dict) or name not in value:
            raise InvalidParameter(f"{'.'.join(path[: i + 1])} is required")
        value = value[name]
    return value


@handler
def upload_video(call: Call) -> dict[str, Any]:
    """Keep an uploaded video in the ``uploads`` bucket for a day (it shows people's
    faces: it is not kept longer than the jobs over it need)."""
    folder = call.buckets[UPLOADS]
    purge_uploads(folder)
    name = call.params["Name"]
    target = folder / name
    if target.exists():
        raise AlreadyExists(f"an upload named {name} exists; pick another name")
    partial = folder / f".{name}.{uuid.uuid4().hex}.part"
    partial.write_bytes(call.params["Bytes"])
    try:
        with av.open(str(partial)) as container:
            if not container.streams.video:
                raise InvalidParameter("the upload has no video stream")
    except (av.error.FFmpegError, OSError, ValueError):
        partial.unlink(missing_ok=True)
        raise InvalidParameter("the upload is not a video faceprint can read") from None
    except InvalidParameter:
        partial.unlink(missing_ok=True)
        raise
    partial.rename(target)
    return {"Video": {"S3Object": {"Bucket": UPLOADS, "Name": name}}, "ExpiresAt": target.stat().st_mtime + UPLOAD_TTL_S}


def purge_uploads(folder: Path, ttl_s: float = UPLOAD_TTL_S) -> int:
    """Erase uploads older than ``ttl_s``; returns how many."""
    cutoff, n = time.time() - ttl_s, 0
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            n += 1
    return n


# -- live streams: stream processors ------------------------------------------------
@handler
def create_stream_processor(call: Call) -> dict[str, Any]:
    p = call.params
    search = _member(p, "Settings", "FaceSearch")  # faceprint's stream processors search faces
    arn = _member(p, "Input", "KinesisVideoStream", "Arn")
    call.processors.create(p["Name"], arn, _member(p, "Settings", "FaceSearch", "CollectionId"), search.get("FaceMatchThreshold"), p.get("Tags", {}))
    return {"StreamProcessorArn": PROCESSOR_ARN.format(p["Name"])}


@handler
def start_stream_processor(call: Call) -> dict[str, Any]:
    call.processors.start(call.params["Name"])
    return {"SessionId": call.params["Name"]}


@handler
def stop_stream_processor(call: Call) -> dict[str, Any]:
    call.processors.stop(call.params["Name"])
    return {}


@handler
def delete_stream_processor(call: Call) -> dict[str, Any]:
    call.processors.delete(call.params["Name"])
    return {}


@handler
def list_stream_processors(call: Call) -> dict[str, Any]:
    processors = [{"Name": n, "Status": s} for n, s in call.processors.names()]
    return _page(call, processors, "StreamProcessors", {})


@handler
def describe_stream_processor(call: Call) -> dict[str, Any]:
    info = call.processors.describe(call.params["Name"])
    record = info["record"]
    p = record.params
    out: dict[str, Any] = {
        "Name": record.name,
        "StreamProcessorArn": PROCESSOR_ARN.format(record.name),
        "Status": info["status"],
        "CreationTimestamp": record.created,
        "LastUpdateTimestamp": record.updated,
        "Input": {"KinesisVideoStream": {"Arn": p["StreamArn"]}},
        "Output": {"KinesisDataStream": {"Arn": f"arn:aws:kinesis:local:000000000000:stream/{record.name}-alerts"}},
        "RoleArn": "arn:aws:iam::000000000000:role/faceprint",
        "Settings": {"FaceSearch": {"CollectionId": p["CollectionId"], "FaceMatchThreshold": p["FaceMatchThreshold"]}},
    }
    report = info["report"]
    message = record.message or (report or {}).get("error")
    if report:
        message = (message + "; " if message else "") + (
            f"{report['frames_analyzed']} frames analysed, {report['frames_dropped']} dropped, {report['corrupt_packets']} corrupt, "
            f"{report['reconnects']} reconnects, {report['alerts']} alerts"
        )
    if message:
        out["StatusMessage"] = message[:255]
    return out


@dataclass
class EventStream:
    """A handler's answer that is a stream of server-sent events, not a JSON body."""

    queue: Any
    broadcast: Broadcast
    name: str


@handler
def stream_processor_events(call: Call) -> EventStream:  # type: ignore[return-value]
    """Server-sent events: one ``alert`` event per alert of a running processor."""
    q, broadcast = call.processors.subscribe(call.params["Name"])
    return EventStream(q, broadcast, call.params["Name"])


def sse(alert: Alert) -> bytes:
    return b"event: alert\ndata: " + alert.to_json().encode() + b"\n\n"
