"""Who is calling, and may they: signature, key, replay window and rate limit.

One ``Guard`` per server process. It holds the state SigV4 alone does not give: the
signatures already seen while their date is still accepted (15 minutes), and a token
bucket per key (over it: ThrottlingException).

A SigV4 signature covers the body, the operation and the time to the second, but AWS
SDKs add their per-call ``amz-sdk-invocation-id`` after signing, so two honest
identical calls in the same second carry the same signature. The rule is the same for
reads and writes: **every signature runs once**.

- A repeat that arrives within seconds of the first copy, with a new invocation id, is
  what an SDK's honest duplicate looks like: it is answered with ThrottlingException
  and ``x-amz-retry-after``, and the SDK retries in the next second under a fresh
  signature. Nothing runs.
- Any other repeat is a replay: InvalidSignatureException. Reads are no exception: a
  captured read replayed later would show what changed since it was captured (new
  alerts, new job results, new collections).
- A request refused before it had any effect with a retryable error (over the rate
  limit, too many calls waiting) is not remembered, so the SDK's retry of it, which
  carries the same signature and invocation id when it falls in the same second, runs.

What is remembered is bounded: 32 bytes of signature and a digest of the invocation id
(whose length is capped) per request, kept only until the request's date expires, and
at most ``RateLimit.max_remembered`` per key, so one key cannot grow the server's
memory and the others are not held back when it fills its share.

A signed nonce was the alternative: it would let identical reads run together, but
only for clients that sign an extra header, which unmodified SDKs do not.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from faceprint.api import roles, sigv4
from faceprint.api.errors import AccessDenied, InvalidSignature, ReplayedRequest, Throttling, UnrecognizedClient
from faceprint.errors import FaceprintError, InvalidParameter, NotFound
from faceprint.store import AccessKey, StoreBackend
from faceprint.store.requests import Limits, Verdict

KEY_CACHE_S = 5.0  # a revoked key is refused within this long (at once via the API)
MAX_INVOCATION_ID = 128  # SDKs send a UUID: 36 characters
# How long after a signature's first copy another copy with a new invocation id is taken
# for an SDK's same-second duplicate (answered Throttling) rather than a replay. Longer
# than a second: the two copies of a large body may finish arriving some time apart.
DUPLICATE_S = 5.0


@dataclass(frozen=True)
class Caller:
    """An authenticated caller."""

    key: AccessKey
    request: bytes = b""  # the request's replay-guard entry (see Guard.release)

    @property
    def key_id(self) -> str:
        return self.key.key_id

    @property
    def role(self) -> str:
        return self.key.role


@dataclass(frozen=True)
class Claim:
    """A request whose Authorization header names an active key, with a fresh date and a
    valid scope: what can be checked before the body is read."""

    signed: sigv4.SignedRequest
    key: AccessKey
    secret: str = field(repr=False)
    invocation: bytes  # a digest of the amz-sdk-invocation-id


@dataclass
class RateLimit:
    """A token bucket: ``per_second`` sustained, ``burst`` at once; and at most
    ``max_remembered`` of one key's requests in the replay window (15 minutes), beyond
    which its requests are throttled."""

    per_second: float = 200.0
    burst: float = 400.0
    max_remembered: int = 100_000


class Guard:
    def __init__(self, store: StoreBackend, *, rate: RateLimit = RateLimit(), clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.rate = rate
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[AccessKey, str, float]] = {}
        # the signatures seen and the buckets live in the store: in this process for the
        # embedded store, in the database (every server's) for the server store
        self._limits = Limits(rate.per_second, rate.burst, rate.max_remembered, DUPLICATE_S)

    def claim(self, headers: Mapping[str, str]) -> Claim:
        """What the headers claim, checked as far as it can be without the body: the
        Authorization header's form, the date, the scope and the key.

        Raises:
            MissingAuthenticationToken, IncompleteSignature, InvalidSignature,
            UnrecognizedClient: the request cannot be from an active key.
            InvalidParameterException: an ``amz-sdk-invocation-id`` over 128 characters.
        """
        signed = sigv4.parse(headers, now=self.clock())
        key, secret = self._key(signed.key_id)
        invocation = headers.get("amz-sdk-invocation-id", "")
        if len(invocation) > MAX_INVOCATION_ID:
            raise InvalidParameter(f"the amz-sdk-invocation-id header must be at most {MAX_INVOCATION_ID} characters")
        return Claim(signed, key, secret, hashlib.blake2b(invocation.encode("utf-8", "replace"), digest_size=16).digest())

    def admit(
        self,
        claim: Claim,
        header_values: Callable[[str], Sequence[str]],
        *,
        method: str,
        path: str,
        query: str,
        body: bytes,
    ) -> Caller:
        """The caller, once the signature is verified over the body.

        Raises:
            InvalidSignatureException: a wrong signature, or a replayed request (see
                the module's notes).
            ThrottlingException: the key is over its rate limit or its share of the
                replay window, or an SDK's same-second duplicate.
        """
        sigv4.verify(claim.signed, claim.secret, method=method, path=path, query=query, header_values=header_values, body=body)
        signature = bytes.fromhex(claim.signed.signature)
        signed_at = sigv4.signed_at(claim.signed)
        expires = signed_at + sigv4.MAX_SKEW_S + 1.0  # after this its date is refused anyway
        key_id = claim.key.key_id
        now = self.clock()
        if abs(now - signed_at) > sigv4.MAX_SKEW_S:
            # The date was fresh when the headers came, but a body trickled in past it: its
            # first copy may already have left the window, so it could not be told from a replay.
            raise InvalidSignature(f"Signature expired: {claim.signed.date} is more than 15 minutes from the server's time (the body arrived too late)")
        _refuse(self.store.requests.admit(key_id, signature, claim.invocation, now=now, expires=expires, limits=self._limits), key_id, self.rate)
        return Caller(claim.key, signature)

    def authenticate(
        self,
        headers: Mapping[str, str],
        header_values: Callable[[str], Sequence[str]],
        *,
        method: str,
        path: str,
        query: str,
        body: bytes,
    ) -> Caller:
        """:meth:`claim` and :meth:`admit` in one step, for a request already read whole."""
        return self.admit(self.claim(headers), header_values, method=method, path=path, query=query, body=body)

    def release(self, caller: Caller) -> None:
        """Forget a request that was refused with a retryable error before it had any
        effect, so the SDK's retry (same signature within the second, same invocation
        id) is not refused as a replay."""
        self.store.requests.release(caller.key_id, caller.request)

    def authorize(self, caller: Caller, operation: str) -> None:
        """Raises AccessDenied: the caller's role may not call ``operation``."""
        if not roles.allows(caller.role, operation):
            raise AccessDenied(f"role {caller.role} of access key {caller.key_id} may not call {operation}")

    def forget_key(self, key_id: str) -> None:
        """Drop a key from the cache: its next use reads the store (after a revocation)."""
        with self._lock:
            self._keys.pop(key_id, None)

    def active(self, key_id: str) -> bool:
        """Whether the key is still active, as the next request would find it (revoked
        through the API: at once; in the store by another process: within KEY_CACHE_S)."""
        try:
            self._key(key_id)
            return True
        except FaceprintError:  # revoked, or the store could not say: the stream ends either way
            return False

    def _key(self, key_id: str) -> tuple[AccessKey, str]:
        now = time.monotonic()
        with self._lock:
            cached = self._keys.get(key_id)
        if cached is None or now - cached[2] > KEY_CACHE_S:
            try:
                key, secret = self.store.keys.secret(key_id)
            except NotFound:
                raise UnrecognizedClient("The security token included in the request is invalid.") from None
            cached = (key, secret, now)
            with self._lock:
                self._keys[key_id] = cached
        key, secret, _ = cached
        if not key.active:
            raise UnrecognizedClient("The security token included in the request is invalid (the access key was revoked).")
        return key, secret


def _refuse(verdict: Verdict, key_id: str, rate: RateLimit) -> None:
    """Raise the API's error for a request the store did not admit."""
    if verdict.outcome == "admitted":
        return
    if verdict.outcome == "duplicate":
        # x-amz-retry-after makes the SDK wait into the next second, so its retry
        # carries a new date and so a new signature.
        raise Throttling("an identical request signed in the same second was already received; retry it (a retry is signed afresh)", retry_after_ms=1100)
    if verdict.outcome == "replayed":
        raise ReplayedRequest("this signed request was already received: a replayed request is refused")
    if verdict.outcome == "window_full":
        raise Throttling(
            f"access key {key_id} has made {verdict.remembered} requests in the last 15 minutes; slow down", retry_after_ms=int(1000 * min(verdict.wait_s, 60.0)) + 1
        )
    raise Throttling(f"Rate exceeded for access key {key_id}: {rate.per_second:g} requests per second", retry_after_ms=int(1000 * verdict.wait_s) + 1)
