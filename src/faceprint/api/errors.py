"""Errors of the HTTP edge, and the one place every error becomes an AWS-shaped response.

Library errors already carry the Rekognition error name (``FaceprintError.aws_code``);
this module adds the protocol and authentication errors AWS services answer with, and
the HTTP status of each. Botocore raises ``ClientError`` with ``__type`` as its code,
so unmodified SDKs see the same error codes they see from AWS.
"""

from __future__ import annotations

from faceprint.errors import FaceprintError


class ApiError(FaceprintError):
    """An error raised by the HTTP layer itself, with its HTTP status."""

    status: int = 400


def api_error(aws_code: str, status: int, *, retryable: bool = False) -> type[ApiError]:
    """A named ApiError subclass whose ``aws_code`` is the AWS error name."""
    return type(aws_code, (ApiError,), {"aws_code": aws_code, "code": aws_code, "status": status, "retryable": retryable})


# The request itself.
SerializationException = api_error("SerializationException", 400)
UnknownOperationException = api_error("UnknownOperationException", 400)
UnsupportedMediaType = api_error("UnsupportedMediaTypeException", 415)
RequestTooLarge = api_error("RequestEntityTooLargeException", 413)
RequestTimeout = api_error("RequestTimeoutException", 408)
BodyImageTooLarge = api_error("ImageTooLargeException", 413)
InvalidS3Object = api_error("InvalidS3ObjectException", 400)
# Authentication: the same names and statuses AWS's signature checks answer with.
MissingAuthenticationToken = api_error("MissingAuthenticationTokenException", 403)
IncompleteSignature = api_error("IncompleteSignatureException", 403)
InvalidSignature = api_error("InvalidSignatureException", 403)
UnrecognizedClient = api_error("UnrecognizedClientException", 403)
ReplayedRequest = api_error("InvalidSignatureException", 403)
AccessDenied = api_error("AccessDeniedException", 400)
Throttling = api_error("ThrottlingException", 400, retryable=True)


def status_of(error: FaceprintError) -> int:
    """HTTP status of any faceprint error: the ApiError's own, 500 for server faults,
    400 for everything the caller can fix (as AWS JSON services answer)."""
    if isinstance(error, ApiError):
        return error.status
    return 500 if error.aws_code in ("InternalServerError", "ServiceUnavailableException") else 400


def headers_of(error: FaceprintError) -> dict[str, str]:
    """Extra response headers: ``x-amz-retry-after`` (milliseconds), which AWS SDKs
    honour before retrying a throttled call."""
    wait = error.details.get("retry_after_ms")
    return {"x-amz-retry-after": str(int(wait))} if wait is not None else {}


def body_of(error: FaceprintError) -> dict[str, str]:
    """The AWS JSON 1.1 error body: botocore reads the code from ``__type``."""
    return {"__type": error.aws_code, "message": error.message, "Code": error.aws_code}
