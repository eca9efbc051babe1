"""Opaque pagination tokens (NextToken): the last row id of a page, base64-wrapped."""

from __future__ import annotations

import base64

from faceprint.errors import InvalidPaginationToken


def encode_token(rowid: int) -> str:
    return base64.urlsafe_b64encode(f"after:{rowid}".encode()).decode()


def decode_token(token: str | None) -> int:
    """The row id a page starts after; no token, or an empty one, is the first page (AWS
    SDK examples send ``NextToken=''`` on their first call)."""
    if token is None or token == "":
        return 0
    try:
        if not isinstance(token, str) or len(token) > 64:
            raise ValueError
        kind, value = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        rowid = int(value)
        if kind != "after" or not 0 <= rowid < 2**63:
            raise ValueError
        return rowid
    except (ValueError, UnicodeError, TypeError):
        raise InvalidPaginationToken("NextToken is not a token this store issued") from None
