"""Copies of the audit log's signed head kept outside the store.

The chain and its signed head live in the same SQLite file, so whoever can write that
file can delete the newest entries and put back a head saved earlier (or restore an
older copy of the whole file), and the chain alone still verifies. A head kept
somewhere that person cannot write shows the cut: the log must still hold the entry
the outside copy names, unchanged. Three places are offered, each optional:

- a **witness file** (``FACEPRINT_AUDIT_WITNESS`` or ``Store(audit_witness=...)``),
  rewritten with the newest head after every commit that appends to the log; it must
  lie outside the store folder, and protects only as far as the attacker cannot write
  it (another volume, host or owner);
- a **syslog line** per new head (``FACEPRINT_AUDIT_SYSLOG``: ``local`` for
  ``/dev/log``, or ``HOST[:PORT]`` for UDP), useful when the log is kept off the host;
- a **hook** (``FACEPRINT_AUDIT_HOOK``): a command run with the newest head as its last
  argument, one at a time, coalescing heads that arrive while it runs.

``verify`` checks the witness file itself; heads from syslog or the hook's destination
are passed to it (``faceprint audit verify --head SEQ:MAC:SIG``). A head is
``SEQ:MAC:SIG``: the entry's sequence number, its chain HMAC, and an HMAC over both
under the store key, so a head cannot be forged without the key.
"""

from __future__ import annotations

import fcntl
import logging
import logging.handlers
import os
import shlex
import subprocess
import threading
from pathlib import Path

from faceprint.errors import InvalidParameter
from faceprint.store.audit import head_seq

log = logging.getLogger(__name__)

WITNESS_ENV = "FACEPRINT_AUDIT_WITNESS"
HOOK_ENV = "FACEPRINT_AUDIT_HOOK"
SYSLOG_ENV = "FACEPRINT_AUDIT_SYSLOG"
HOOK_TIMEOUT_S = 30.0


def require_writable_witness(witness: str | Path | None = None) -> None:
    """For a process that appends to the log for long (a server): refuse to start when a
    witness is configured (``witness`` or ``$FACEPRINT_AUDIT_WITNESS``) but its folder
    cannot be written. :class:`Anchor` only logs that, so that an auditor can verify
    against a read-only copy; a server would otherwise run with its log unanchored.

    Raises:
        InvalidParameter: the witness's folder cannot be made or written.
    """
    configured = witness if witness is not None else os.environ.get(WITNESS_ENV) or None
    if not configured:
        return
    folder = Path(configured).expanduser().absolute().parent
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        writable = os.access(folder, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        raise InvalidParameter(f"the audit witness {configured} cannot be written ({folder} is not writable by this process); fix it or unset {WITNESS_ENV}")


class Anchor:
    """Publishes each new head of one store's audit log to the places configured.

    Args:
        home: the store folder (a witness inside it is refused).
        witness: the witness file, or None.
        hook: a command line (split like a shell would, never run by one), or None.
        syslog: ``local`` or ``HOST[:PORT]``, or None.

    Raises:
        InvalidParameter: the witness lies inside the store folder, the hook is empty, or
            the syslog target is malformed.
    """

    def __init__(self, home: Path, *, witness: str | Path | None, hook: str | None, syslog: str | None) -> None:
        self.witness = Path(witness).expanduser().absolute() if witness else None
        if self.witness is not None:
            _check_outside(self.witness, home)
            try:
                self.witness.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                writable = os.access(self.witness.parent, os.W_OK)
            except OSError:
                writable = False
            if not writable:  # still checkable (an auditor verifying a copy): say so, do not refuse
                log.error("the audit witness %s cannot be written here: new heads will not reach it", self.witness)
        self._hook = shlex.split(hook) if hook else None
        if hook and not self._hook:
            raise InvalidParameter(f"{HOOK_ENV} names no command")
        self._syslog = _syslog_logger(syslog, home) if syslog else None
        self._cv = threading.Condition()
        self._pending: str | None = None
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    @classmethod
    def from_environment(cls, home: Path, *, witness: str | Path | None = None, hook: str | None = None, syslog: str | None = None) -> Anchor | None:
        """The anchor the arguments or, for those not given, the environment ask for;
        None when nothing is configured (then nothing is published)."""
        witness = witness if witness is not None else os.environ.get(WITNESS_ENV) or None
        hook = hook if hook is not None else os.environ.get(HOOK_ENV) or None
        syslog = syslog if syslog is not None else os.environ.get(SYSLOG_ENV) or None
        if not (witness or hook or syslog):
            return None
        return cls(home, witness=witness, hook=hook, syslog=syslog)

    def publish(self, head: str) -> None:
        """Send a committed head everywhere configured. Never raises: the entry is
        already committed, so a failure here is logged, and verify reports the witness
        as behind or missing."""
        if self.witness is not None:
            try:
                self._write_witness(head)
            except OSError as exc:
                log.error("could not write the audit witness %s: %s", self.witness, exc.strerror)
        if self._syslog is not None:
            self._syslog.info("faceprint audit head %s", head)
        if self._hook is not None:
            self._schedule(head)

    def read_witness(self) -> str | None:
        """The head in the witness file, or None when the file does not exist."""
        assert self.witness is not None
        try:
            return self.witness.read_text().strip()
        except FileNotFoundError:
            return None

    def flush(self, timeout_s: float = HOOK_TIMEOUT_S) -> bool:
        """Wait until the hook has been given the newest head; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: self._pending is None and not self._busy, timeout_s)

    def close(self) -> None:
        """Deliver the last head to the hook (waiting at most its timeout), then stop."""
        self.flush()
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._syslog is not None:
            for handler in self._syslog.handlers:
                handler.close()

    # -- the witness file --------------------------------------------------------
    def _write_witness(self, head: str) -> None:
        """Replace the witness atomically, unless it already names a later entry:
        processes sharing a store commit in one order but may publish in another."""
        assert self.witness is not None
        folder = os.open(self.witness.parent, os.O_RDONLY)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)  # one writer at a time, across processes
            current = self.read_witness()
            if current is not None and head_seq(current) >= head_seq(head):
                return
            tmp = self.witness.with_name(f".{self.witness.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, (head + "\n").encode())
            finally:
                os.close(fd)
            os.replace(tmp, self.witness)
        finally:
            os.close(folder)  # releases the lock

    # -- the hook ----------------------------------------------------------------
    def _schedule(self, head: str) -> None:
        with self._cv:
            if self._pending is None or head_seq(head) > head_seq(self._pending):
                self._pending = head
            if self._thread is None:
                self._thread = threading.Thread(target=self._run_hooks, name="faceprint-audit-hook", daemon=True)
                self._thread.start()
            self._cv.notify_all()

    def _run_hooks(self) -> None:
        assert self._hook is not None
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:
                    return
                head, self._pending, self._busy = self._pending, None, True
            try:
                done = subprocess.run([*self._hook, head], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=HOOK_TIMEOUT_S, check=False)
                if done.returncode != 0:
                    log.error("the audit hook exited with status %d: %s", done.returncode, done.stderr[-500:].decode(errors="replace").strip())
            except (OSError, subprocess.SubprocessError) as exc:
                log.error("the audit hook could not run: %s", exc)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()


def _check_outside(witness: Path, home: Path) -> None:
    """A witness in the store folder falls with the store: whoever can replace the
    database can replace it too."""
    w, h = Path(os.path.realpath(witness)), Path(os.path.realpath(home))
    if w == h or h in w.parents:
        raise InvalidParameter(f"the audit witness {witness} must lie outside the store folder {home} (ideally on another volume or host)")


def _syslog_logger(target: str, home: Path) -> logging.Logger:
    """A logger of its own (not in logging's tree, so no global configuration is
    touched) that sends to the local syslog socket or a remote UDP collector."""
    if target == "local":
        address: str | tuple[str, int] = "/dev/log" if os.path.exists("/dev/log") else ("localhost", 514)
    else:
        host, _, port = target.rpartition(":") if ":" in target else (target, "", "514")
        if not host or not port.isdigit():
            raise InvalidParameter(f"{SYSLOG_ENV} must be 'local' or HOST[:PORT], not {target!r}")
        address = (host, int(port))
    handler = logging.handlers.SysLogHandler(address=address, facility=logging.handlers.SysLogHandler.LOG_AUTH)
    handler.setFormatter(logging.Formatter(f"faceprint[{os.getpid()}]: %(message)s store={home}"))
    logger = logging.Logger("faceprint.audit.syslog")
    logger.addHandler(handler)
    logger.propagate = False
    return logger
