"""AWS Signature Version 4, checked on the server.

The canonical request and string to sign are built by botocore's own signer (the code
every AWS SDK for Python signs with), fed only the headers the client says it signed;
this module parses the Authorization header, enforces what a server must (a fresh
date, a matching scope, the operation header signed, a body hash recomputed here),
and compares signatures in constant time.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from faceprint.api.errors import IncompleteSignature, InvalidSignature, MissingAuthenticationToken

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_S = 15 * 60
SERVICES = ("rekognition", "faceprint")
# A server must know the operation and time it verified; the host binds the request to
# this server (behind a proxy, the proxy must pass the client's Host on).
REQUIRED_SIGNED = ("host", "x-amz-date", "x-amz-target")

_AUTH = re.compile(r"AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$")


@dataclass(frozen=True)
class SignedRequest:
    """What the Authorization header claims, before it is verified."""

    key_id: str
    date: str  # the X-Amz-Date value, 20261129T120000Z
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse(headers: Mapping[str, str], *, now: float | None = None) -> SignedRequest:
    """Read and sanity-check the Authorization header and the request date.

    Raises:
        MissingAuthenticationToken: no Authorization header.
        IncompleteSignature: a malformed header, or a required header left unsigned.
        InvalidSignature: a date more than 15 minutes from the server's clock, or a
            credential scope that does not match the date.
    """
    auth = headers.get("authorization")
    if not auth:
        raise MissingAuthenticationToken("Missing Authentication Token: sign the request with AWS Signature Version 4")
    m = _AUTH.match(auth.strip())
    if m is None:
        raise IncompleteSignature(f"Authorization header requires Credential, SignedHeaders and Signature for {ALGORITHM}")
    credential, signed, signature = m.groups()
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise IncompleteSignature("Credential must be KEY/DATE/REGION/SERVICE/aws4_request")
    key_id, scope_date, region, service, _ = parts
    names = tuple(signed.split(";"))
    if list(names) != sorted(set(names)):
        raise IncompleteSignature("SignedHeaders must be lowercase header names, sorted, without repeats")
    for required in REQUIRED_SIGNED:
        if required not in names:
            raise IncompleteSignature(f"the {required} header must be signed")
    date = headers.get("x-amz-date", "")
    try:
        signed_at = _parse_date(date)
    except ValueError:
        raise IncompleteSignature("X-Amz-Date must be a date like 20261129T120000Z") from None
    now = time.time() if now is None else now
    if abs(now - signed_at) > MAX_SKEW_S:
        server = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        raise InvalidSignature(f"Signature expired: {date} is more than 15 minutes from the server's time {server}")
    if scope_date != date[:8]:
        raise InvalidSignature("the credential scope's date is not the request's date")
    if service not in SERVICES:
        raise InvalidSignature(f"the credential scope's service must be one of {', '.join(SERVICES)}")
    return SignedRequest(key_id, date, region, service, names, signature)


def _parse_date(date: str) -> float:
    return float(calendar.timegm(time.strptime(date, "%Y%m%dT%H%M%SZ")))


def signed_at(claim: SignedRequest) -> float:
    """The request's signing time, Unix seconds."""
    return _parse_date(claim.date)


def verify(
    claim: SignedRequest,
    secret: str,
    *,
    method: str,
    path: str,
    query: str,
    header_values: Callable[[str], Sequence[str]],
    body: bytes,
) -> None:
    """Recompute the signature with ``secret`` and compare.

    Raises:
        InvalidSignature: the signature does not match, or a signed body hash is not
            the body's.
    """
    headers: dict[str, str] = {}
    for name in claim.signed_headers:
        values = header_values(name)
        if not values:
            raise InvalidSignature(f"the signed header {name} is missing from the request")
        headers[name] = ",".join(values)
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(body).hexdigest():
        raise InvalidSignature("X-Amz-Content-SHA256 is not the hash of the body")
    # http:// so botocore always hashes the body itself rather than trusting a header.
    url = f"http://{headers['host']}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    request.context["timestamp"] = claim.date
    signer = SigV4Auth(Credentials(claim.key_id, secret), claim.service, claim.region)
    try:
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
    except (ValueError, UnicodeError):
        raise InvalidSignature("the request cannot be canonicalised for signing") from None
    if not hmac.compare_digest(expected, claim.signature):
        raise InvalidSignature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
        )
