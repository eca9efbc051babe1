"""Opaque pagination tokens (NextToken), one scheme for every listing.

A token names its listing and where the next page starts: a row id, an offset or a
name, as the listing orders itself. It is the cursor base64-wrapped, so clients treat
it as opaque; a token from one listing is refused by another, and anything this server
did not issue is ``InvalidPaginationToken``.

Example:
    >>> token = encode_token("faces", 41)
    >>> decode_token(token, "faces")
    41
    >>> decode_token(None, "faces") is None
    True
"""

from __future__ import annotations

import base64
import binascii

from faceprint.errors import InvalidPaginationToken

MAX_TOKEN = 512  # characters; a collection name is at most 255


def encode_token(listing: str, after: int | str) -> str:
    """The token of the page that follows ``after`` in ``listing``."""
    kind = "i" if isinstance(after, int) else "s"
    return base64.urlsafe_b64encode(f"{listing}:{kind}:{after}".encode()).decode()


def decode_token(token: str | None, listing: str) -> int | str | None:
    """Where the page starts (after this row id / name, or at this offset); ``None``
    for the first page. No token, or an empty one, is the first page (AWS SDK examples
    send ``NextToken=''`` on their first call).

    Raises:
        InvalidPaginationToken: not a token this server issued for ``listing``.
    """
    if token is None or token == "":
        return None
    try:
        if not isinstance(token, str) or len(token) > MAX_TOKEN:
            raise ValueError
        name, kind, value = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode().split(":", 2)
        if name != listing or kind not in ("i", "s") or not value:
            raise ValueError
        if kind == "s":
            return value
        number = int(value)
        if not 0 <= number < 2**63:
            raise ValueError
        return number
    except (ValueError, UnicodeError, TypeError, binascii.Error):
        raise InvalidPaginationToken(f"NextToken is not a token this server issued for this {listing} listing") from None


def decode_int(token: str | None, listing: str) -> int:
    """:func:`decode_token` for listings that page by row id or offset (0: the first page)."""
    value = decode_token(token, listing)
    if isinstance(value, str):
        raise InvalidPaginationToken(f"NextToken is not a token this server issued for this {listing} listing")
    return value or 0
