"""Who is calling, and may they: signature, key, replay window and rate limit.

One ``Guard`` per server process. It holds the state SigV4 alone does not give:
signatures already seen within the 15-minute window, and a token bucket per key (over
it: ThrottlingException).

A SigV4 signature covers the body, the operation and the time to the second, but AWS
SDKs add their per-call ``amz-sdk-invocation-id`` after signing, so two honest
identical calls in the same second carry the same signature. So:

- a request that changes state never runs twice under one signature. A repeat within
  the second it was signed, with a new invocation id, is what an SDK's honest
  duplicate looks like: it is answered with ThrottlingException, which SDKs retry with
  a fresh signature. Any other repeat is a replay: InvalidSignatureException.
- a read repeated with a new invocation id runs (replaying a read gives an
  eavesdropper nothing the captured traffic did not); a byte-for-byte repeat, same
  invocation id, is a replay.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from faceprint.api import roles, sigv4
from faceprint.api.errors import AccessDenied, ReplayedRequest, Throttling, UnrecognizedClient
from faceprint.errors import NotFound
from faceprint.store import AccessKey, Store

KEY_CACHE_S = 5.0  # a revoked key is refused within this long (at once via the API)
MAX_REMEMBERED = 2_000_000


@dataclass(frozen=True)
class Caller:
    """An authenticated caller."""

    key: AccessKey
    request: str = ""  # the request's replay-guard entry (see Guard.release)

    @property
    def key_id(self) -> str:
        return self.key.key_id

    @property
    def role(self) -> str:
        return self.key.role


@dataclass
class RateLimit:
    """A token bucket: ``per_second`` sustained, ``burst`` at once."""

    per_second: float = 200.0
    burst: float = 400.0


@dataclass
class _Bucket:
    tokens: float
    at: float = field(default_factory=time.monotonic)


class Guard:
    def __init__(self, store: Store, *, rate: RateLimit = RateLimit(), clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.rate = rate
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[AccessKey, str, float]] = {}
        self._seen: dict[str, tuple[str, float]] = {}
        self._seen_order: collections.deque[tuple[float, str]] = collections.deque()
        self._buckets: dict[str, _Bucket] = {}

    def authenticate(
        self,
        headers: Mapping[str, str],
        header_values: Callable[[str], Sequence[str]],
        *,
        method: str,
        path: str,
        query: str,
        body: bytes,
        read_only: bool = False,
    ) -> Caller:
        """The caller of a signed request.

        Raises:
            MissingAuthenticationToken, IncompleteSignature, InvalidSignature,
            UnrecognizedClient: the request is not validly signed by an active key.
            ThrottlingException: the key is over its rate limit.
            InvalidSignatureException: a replayed request (see the module's notes).
        """
        now = self.clock()
        claim = sigv4.parse(headers, now=now)
        key, secret = self._key(claim.key_id)
        sigv4.verify(claim, secret, method=method, path=path, query=query, header_values=header_values, body=body)
        entry = self._remember(claim, headers.get("amz-sdk-invocation-id", ""), read_only, now)
        self._spend(key.key_id)
        return Caller(key, entry)

    def release(self, caller: Caller) -> None:
        """Forget a request that was refused with a retryable error before it had any
        effect, so the SDK's retry (same signature within the second, same invocation
        id) is not refused as a replay."""
        with self._lock:
            self._seen.pop(caller.request, None)

    def authorize(self, caller: Caller, operation: str) -> None:
        """Raises AccessDenied: the caller's role may not call ``operation``."""
        if not roles.allows(caller.role, operation):
            raise AccessDenied(f"role {caller.role} of access key {caller.key_id} may not call {operation}")

    def forget_key(self, key_id: str) -> None:
        with self._lock:
            self._keys.pop(key_id, None)

    def _key(self, key_id: str) -> tuple[AccessKey, str]:
        now = time.monotonic()
        with self._lock:
            cached = self._keys.get(key_id)
        if cached is None or now - cached[2] > KEY_CACHE_S:
            try:
                key, secret = self.store.key_secret(key_id)
            except NotFound:
                raise UnrecognizedClient("The security token included in the request is invalid.") from None
            cached = (key, secret, now)
            with self._lock:
                self._keys[key_id] = cached
        key, secret, _ = cached
        if not key.active:
            raise UnrecognizedClient("The security token included in the request is invalid (the access key was revoked).")
        return key, secret

    def _remember(self, claim: sigv4.SignedRequest, invocation: str, read_only: bool, now: float) -> str:
        key = f"{claim.signature}|{invocation}" if read_only else claim.signature
        with self._lock:
            horizon = now - 2 * sigv4.MAX_SKEW_S  # a date can be 15 min old or ahead
            while self._seen_order and self._seen_order[0][0] < horizon:
                _, old = self._seen_order.popleft()
                self._seen.pop(old, None)
            seen = self._seen.get(key)
            if seen is not None:
                first_invocation, _ = seen
                if invocation and invocation != first_invocation and now - sigv4.signed_at(claim) < 2.0:
                    # x-amz-retry-after makes the SDK wait into the next second, so its
                    # retry carries a new date and so a new signature.
                    raise Throttling(
                        "an identical request signed in the same second was already received; retry it (a retry is signed afresh)", retry_after_ms=1100
                    )
                raise ReplayedRequest("this signed request was already received: a replayed request is refused")
            if len(self._seen) >= MAX_REMEMBERED:
                raise Throttling("too many requests in the replay window; slow down")
            self._seen[key] = (invocation, now)
            self._seen_order.append((now, key))
            return key

    def _spend(self, key_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = _Bucket(self.rate.burst, now)
            bucket.tokens = min(self.rate.burst, bucket.tokens + (now - bucket.at) * self.rate.per_second)
            bucket.at = now
            if bucket.tokens < 1.0:
                raise Throttling(
                    f"Rate exceeded for access key {key_id}: {self.rate.per_second:g} requests per second",
                    retry_after_ms=int(1000 * (1.0 - bucket.tokens) / self.rate.per_second) + 1,
                )
            bucket.tokens -= 1.0
