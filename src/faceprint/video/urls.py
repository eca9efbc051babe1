"""URLs of cameras and alert receivers: which webhooks a processor may post to, and
URLs written without the secrets they may carry.

A camera's RTSP URL often holds a user and password (``rtsp://admin:pw@10.0.0.7/live``)
and a webhook's a token (``https://soc.example/hook?key=...``). Anything logged or put
in an error message goes through :func:`redact` first: the user information and the
query are replaced by ``***``.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Collection

from faceprint.errors import InvalidParameter

# scheme://[userinfo@]host-and-path[?query][#fragment], within free text. The user
# information runs to the last @ before the path: FFmpeg takes a password with an
# unencoded @ or quote in it, and every character of it must go.
_URL = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#]*@)?(?P<rest>[^\s?#'\"<>]*)(?P<query>\?[^\s#'\"<>]*)?(?P<fragment>#[^\s'\"<>]*)?")


def _redact_match(m: re.Match[str]) -> str:
    return m["scheme"] + ("***@" if m["userinfo"] else "") + m["rest"] + ("?***" if m["query"] else "")


def redact(text: str) -> str:
    """``text`` with every URL's user information and query replaced by ``***`` (and
    fragments dropped).

    Example:
        >>> redact("cannot open rtsp://admin:pw@cam/live?token=x (refused)")
        'cannot open rtsp://***@cam/live?*** (refused)'
    """
    return _URL.sub(_redact_match, text) if "://" in text else text


def check_webhook(url: str, http_hosts: Collection[str] = ()) -> str:
    """``url`` if alerts may be posted to it: ``https`` to any host, plain ``http`` only to
    a host in ``http_hosts`` (the operator's list). Anything else (another scheme, no host,
    http to an unlisted host such as a cloud metadata address or a local service) would
    let an API caller point the server's requests where they please.

    Raises:
        InvalidParameter: the URL is not allowed (the message names it redacted).
    """
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        raise InvalidParameter(f"the webhook {redact(url)} is not a valid URL") from None
    if parts.scheme.lower() not in ("https", "http") or not host:
        raise InvalidParameter(f"the webhook {redact(url)} must be an https:// URL with a host")
    if parts.scheme.lower() == "http" and host not in {h.lower() for h in http_hosts}:
        raise InvalidParameter(
            f"the webhook {redact(url)} must use https; plain http only reaches hosts the operator lists (faceprint serve --webhook-http-host {host})"
        )
    return url
