"""Video operations: Rekognition's asynchronous jobs and stream processors, and the
server-sent alert stream of a running processor."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from faceprint.api.errors import InvalidS3Object
from faceprint.api.images import object_path
from faceprint.api.operation_table import operation
from faceprint.api.operations import Call, check_tags
from faceprint.api.roles import ADMINS, INDEXERS, SEARCHERS
from faceprint.errors import InvalidParameter, NotFound
from faceprint.store.tokens import decode_int, encode_token
from faceprint.store.video import UPLOADS_FOLDER
from faceprint.video.alerts import Alert, Broadcast
from faceprint.video.regions import parse as parse_regions
from faceprint.video.sources import probe_upload

PROCESSOR_ARN = "arn:aws:rekognition:local:000000000000:streamprocessor/{}"
START_GRACE_S = 5.0  # a ProducerTimestamp this far behind the server's clock still means "now" (skew, transit)
MAX_START_AHEAD_S = 24 * 3600.0
UPLOADS = UPLOADS_FOLDER  # the bucket UploadVideo writes to: the store's uploads folder


# -- recorded video: asynchronous jobs ---------------------------------------------
@operation("StartFaceSearch", roles=SEARCHERS, self_audited=True)
def start_face_search(call: Call) -> dict[str, Any]:
    return {"JobId": _start(call, "FaceSearch", ("CollectionId", "FaceMatchThreshold", "JobTag", "Video"))}


@operation("GetFaceSearch", roles=SEARCHERS)
def get_face_search(call: Call) -> dict[str, Any]:
    return _job_page(call, "FaceSearch", "Persons", sort=call.get("SortBy", "TIMESTAMP"))


@operation("StartFaceDetection", roles=SEARCHERS | INDEXERS, self_audited=True)
def start_face_detection(call: Call) -> dict[str, Any]:
    return {"JobId": _start(call, "FaceDetection", ("FaceAttributes", "JobTag", "Video"))}


@operation("GetFaceDetection", roles=SEARCHERS | INDEXERS)
def get_face_detection(call: Call) -> dict[str, Any]:
    return _job_page(call, "FaceDetection", "Faces")


def _start(call: Call, kind: str, members: tuple[str, ...]) -> str:
    """Start a job over a file of a configured bucket or over one of the caller's own
    uploads; a ClientRequestToken makes a retry return the same JobId."""
    obj = _member(call.params, "Video", "S3Object")
    path = object_path(obj, call.buckets)
    params = {k: call.params[k] for k in members if k in call.params}
    owner, token = call.caller.key_id, call.get("ClientRequestToken")
    if obj["Bucket"] != UPLOADS:
        return str(call.jobs.start(kind, params, owner=owner, path=path, token=token))
    try:
        upload = call.service.store.jobs.upload(path.name, owner=owner)
    except NotFound:  # another key's upload is no more visible than a missing one
        raise InvalidS3Object(f"no object {obj['Name']} in bucket {UPLOADS}") from None
    return str(call.jobs.start(kind, params, owner=owner, upload=upload, token=token))


def _job_page(call: Call, kind: str, member: str, sort: str | None = None) -> dict[str, Any]:
    job_id = call.params["JobId"]
    status, message, result, params = call.jobs.get(job_id, kind, reader=None if call.caller.role == "admin" else call.caller.key_id)
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
    the NextToken (the one token scheme, here holding the next item's offset)."""
    start, limit = decode_int(call.get("NextToken"), f"job {member}"), call.get("MaxResults", 1000)
    out[member] = items[start : start + limit]
    if start + limit < len(items):
        out["NextToken"] = encode_token(f"job {member}", start + limit)
    return out


def _member(params: dict[str, Any], *path: str) -> Any:
    """A nested member the model leaves optional but this operation needs."""
    value: Any = params
    for i, name in enumerate(path):
        if not isinstance(value, dict) or name not in value:
            raise InvalidParameter(f"{'.'.join(path[: i + 1])} is required")
        value = value[name]
    return value


@operation("UploadVideo", roles=SEARCHERS | INDEXERS)
def upload_video(call: Call) -> dict[str, Any]:
    """Keep an uploaded video for the jobs of the key that sent it, for a day by default
    (it shows people's faces: it is not kept longer than the jobs over it need).

    The server names it (``Name`` is only the caller's label), seals it with the store
    key, and records the container found in its bytes; jobs open it as that container
    and nothing else."""
    data = call.params["Bytes"]
    upload = call.service.store.jobs.save_upload(data, owner=call.caller.key_id, format=probe_upload(data))
    return {"Video": {"S3Object": {"Bucket": UPLOADS, "Name": upload.name}}, "ExpiresAt": upload.expires}


# -- live streams: stream processors ------------------------------------------------
# Members of Rekognition's stream-processor shapes that a local source cannot honour:
# refused by name, with what to use instead, never accepted and dropped.
CANNOT_APPLY = {
    "NotificationChannel": "faceprint publishes no SNS notifications: give the receiver's URL in the faceprint:webhook tag (alerts signed with FACEPRINT_WEBHOOK_SECRET), or read them from FaceprintService.StreamProcessorEvents",
    "KmsKeyId": "faceprint keeps no video or stream results to encrypt with a KMS key; what it stores is encrypted at rest with the store's own key (FACEPRINT_KEY or the key file)",
    "Settings.ConnectedHome": "faceprint's stream processors search faces, they do not detect labels: give Settings.FaceSearch",
    "Output.S3Destination": "faceprint writes no stream results to S3: alerts are read from FaceprintService.StreamProcessorEvents or sent to the faceprint:webhook tag's URL; give Output.KinesisDataStream",
    "SettingsForUpdate.ConnectedHomeForUpdate": "faceprint's stream processors search faces and have no ConnectedHome (label) settings to update",
    "StartSelector.KVSStreamStartSelector.FragmentNumber": "faceprint's sources are not Kinesis video streams and have no fragments: give ProducerTimestamp (Unix milliseconds, now or later), or leave StartSelector out to start now",
}


def _refuse(params: dict[str, Any], *members: str) -> None:
    for member in members:
        value: Any = params
        for name in member.split("."):
            value = value.get(name) if isinstance(value, dict) else None
        if value is not None:
            raise InvalidParameter(f"{member}: {CANNOT_APPLY[member]}")


def _data_sharing(preference: dict[str, Any] | None, member: str) -> None:
    if preference is not None and preference["OptIn"]:
        raise InvalidParameter(f"{member}.OptIn: faceprint shares nothing with anyone (it runs on your machine and sends no data out); leave it out or set OptIn to false")


@operation("CreateStreamProcessor", roles=ADMINS, self_audited=True)
def create_stream_processor(call: Call) -> dict[str, Any]:
    p = call.params
    _refuse(p, "NotificationChannel", "KmsKeyId", "Settings.ConnectedHome", "Output.S3Destination")
    search = _member(p, "Settings", "FaceSearch")  # faceprint's stream processors search faces
    arn = _member(p, "Input", "KinesisVideoStream", "Arn")
    _member(p, "Output", "KinesisDataStream", "Arn")
    _data_sharing(p.get("DataSharingPreference"), "DataSharingPreference")
    # Output and RoleArn are required by the model and have nothing to act on here
    # (alerts go to StreamProcessorEvents and the webhook): kept and returned as given.
    echo = {k: p[k] for k in ("Output", "RoleArn", "DataSharingPreference") if k in p}
    call.processors.create(
        p["Name"], arn, _member(p, "Settings", "FaceSearch", "CollectionId"), search.get("FaceMatchThreshold"), check_tags(p.get("Tags", {})), regions=p.get("RegionsOfInterest"), echo=echo
    )
    return {"StreamProcessorArn": PROCESSOR_ARN.format(p["Name"])}


@operation("StartStreamProcessor", roles=ADMINS)
def start_stream_processor(call: Call) -> dict[str, Any]:
    """StartSelector's ProducerTimestamp is the wall-clock time a frame reached the
    server (faceprint keeps no video, so it may be now or later, not earlier; a file
    source plays at real time from the session's start, so a later start skips about that
    much of it); StopSelector
    ends the session after that much stream."""
    p = call.params
    _refuse(p, "StartSelector.KVSStreamStartSelector.FragmentNumber")
    starts_at = None
    if "StartSelector" in p:
        selector = _member(p, "StartSelector", "KVSStreamStartSelector")
        if "ProducerTimestamp" not in selector:
            raise InvalidParameter("StartSelector.KVSStreamStartSelector needs ProducerTimestamp (Unix milliseconds); leave StartSelector out to start now")
        starts_at, now = selector["ProducerTimestamp"] / 1000.0, time.time()
        if starts_at < now - START_GRACE_S:
            raise InvalidParameter(
                "StartSelector.KVSStreamStartSelector.ProducerTimestamp is in the past: faceprint keeps no video of a stream, so analysis can start now or later; leave StartSelector out to start now"
            )
        if starts_at > now + MAX_START_AHEAD_S:
            raise InvalidParameter(f"StartSelector.KVSStreamStartSelector.ProducerTimestamp may be at most {MAX_START_AHEAD_S / 3600:g} hours ahead")
    stop = p.get("StopSelector")
    # Rekognition's default when a StopSelector gives no duration
    max_duration = None if stop is None else stop.get("MaxDurationInSeconds", 10)
    call.processors.start(p["Name"], starts_at=starts_at, max_duration_s=max_duration)
    return {"SessionId": p["Name"]}


@operation("UpdateStreamProcessor", roles=ADMINS)
def update_stream_processor(call: Call) -> dict[str, Any]:
    p = call.params
    _refuse(p, "SettingsForUpdate.ConnectedHomeForUpdate")
    deletes = p.get("ParametersToDelete", [])
    if "ConnectedHomeMinConfidence" in deletes:
        raise InvalidParameter("ParametersToDelete: ConnectedHomeMinConfidence is not a setting of faceprint's stream processors, which search faces")
    regions = p.get("RegionsOfInterestForUpdate")
    if regions is not None and "RegionsOfInterest" in deletes:
        raise InvalidParameter("give RegionsOfInterestForUpdate or delete RegionsOfInterest with ParametersToDelete, not both")
    _data_sharing(p.get("DataSharingPreferenceForUpdate"), "DataSharingPreferenceForUpdate")
    if regions is not None:
        parse_regions(regions, "RegionsOfInterestForUpdate")
    echo = {"DataSharingPreference": p["DataSharingPreferenceForUpdate"]} if "DataSharingPreferenceForUpdate" in p else None
    call.processors.update(p["Name"], regions=regions, delete_regions="RegionsOfInterest" in deletes, echo=echo)
    return {}


@operation("StopStreamProcessor", roles=ADMINS)
def stop_stream_processor(call: Call) -> dict[str, Any]:
    call.processors.stop(call.params["Name"])
    return {}


@operation("DeleteStreamProcessor", roles=ADMINS, self_audited=True)
def delete_stream_processor(call: Call) -> dict[str, Any]:
    call.processors.delete(call.params["Name"])
    return {}


@operation("ListStreamProcessors", roles=SEARCHERS)
def list_stream_processors(call: Call) -> dict[str, Any]:
    processors = [{"Name": n, "Status": s} for n, s in call.processors.names()]
    return _page(call, processors, "StreamProcessors", {})


@operation("DescribeStreamProcessor", roles=SEARCHERS)
def describe_stream_processor(call: Call) -> dict[str, Any]:
    """What was configured, as it was given; counters are GetStreamProcessorCounters'."""
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
        "Settings": {"FaceSearch": {"CollectionId": p["CollectionId"], "FaceMatchThreshold": p["FaceMatchThreshold"]}},
    }
    out.update({k: p[k] for k in ("Output", "RoleArn", "RegionsOfInterest", "DataSharingPreference") if k in p})
    message = info["message"] or (info["report"] or {}).get("error")
    if message:
        out["StatusMessage"] = message[:255]
    return out


@operation("GetStreamProcessorCounters", roles=SEARCHERS)
def get_stream_processor_counters(call: Call) -> dict[str, Any]:
    """faceprint's: the counters of the session this server ran last for the processor."""
    info = call.processors.describe(call.params["Name"])
    out: dict[str, Any] = {"Name": info["record"].name, "Status": info["status"]}
    session, report = info["session"], info["report"]
    if session is None or report is None:
        return out
    out.update({k: v for k, v in session.items() if v is not None})
    counters = {member: report[key] for member, key in COUNTERS.items()}
    if report["error"]:
        counters["Error"] = report["error"]
    out["Counters"] = counters
    return out


# GetStreamProcessorCounters' members and the watcher report's keys
COUNTERS = {
    "FramesDecoded": "frames_decoded",
    "FramesBeforeStart": "frames_before_start",
    "FramesAnalyzed": "frames_analyzed",
    "FramesDropped": "frames_dropped",
    "CorruptPackets": "corrupt_packets",
    "Reconnects": "reconnects",
    "Faces": "faces",
    "FacesOutsideRegions": "faces_outside_regions",
    "Embeddings": "embeddings",
    "Tracks": "tracks",
    "Decisions": "decisions",
    "Alerts": "alerts",
    "AnalysisFps": "analysis_fps",
    "ElapsedSeconds": "elapsed_s",
}


@dataclass
class EventStream:
    """A handler's answer that is a stream of server-sent events, not a JSON body."""

    queue: Any
    broadcast: Broadcast
    name: str
    release: Callable[[], None]  # gives the subscription back (the key's count of open streams)


@operation("StreamProcessorEvents", roles=SEARCHERS)
def stream_processor_events(call: Call) -> EventStream:
    """Server-sent events: one ``alert`` event per alert of a running processor."""
    owner = call.caller.key_id
    q, broadcast = call.processors.subscribe(call.params["Name"], owner)
    return EventStream(q, broadcast, call.params["Name"], lambda: call.processors.unsubscribe(broadcast, q, owner))


def sse(alert: Alert) -> bytes:
    return b"event: alert\ndata: " + alert.to_json().encode() + b"\n\n"
