"""The faceprint error tree.

Every error the library raises on purpose is a :class:`FaceprintError` with a stable
``code`` (used by the CLI's exit status and the HTTP layer), a ``retryable`` flag and
the name of the Rekognition error it corresponds to (``aws_code``), so that the HTTP
layer can map errors in one place without the library knowing about HTTP.
"""

from __future__ import annotations

from typing import Any


class FaceprintError(Exception):
    """Base class of every error faceprint raises on purpose."""

    code: str = "internal"
    aws_code: str = "InternalServerError"
    retryable: bool = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class InvalidImage(FaceprintError):
    """The bytes are not an image we can decode (empty, truncated, unknown format)."""

    code = "invalid_image"
    aws_code = "InvalidImageFormatException"


class ImageTooLarge(FaceprintError):
    """The image is larger than the configured byte or pixel limit."""

    code = "image_too_large"
    aws_code = "ImageTooLargeException"


class InvalidParameter(FaceprintError):
    """An argument is out of range or of the wrong kind."""

    code = "invalid_parameter"
    aws_code = "InvalidParameterException"


class NoFaceFound(InvalidParameter):
    """An operation needed a face (for example the source of a comparison) and found none."""

    code = "no_face"


class InvalidPaginationToken(InvalidParameter):
    """A NextToken this store did not issue (or one for another listing)."""

    aws_code = "InvalidPaginationTokenException"


class NotFound(FaceprintError):
    code = "not_found"
    aws_code = "ResourceNotFoundException"


class AlreadyExists(FaceprintError):
    code = "already_exists"
    aws_code = "ResourceAlreadyExistsException"


class Conflict(AlreadyExists):
    """The resource exists already (or is changing under another call): Rekognition
    answers ConflictException for users where it answers ResourceAlreadyExistsException
    for collections."""

    aws_code = "ConflictException"


class ResourceInUse(FaceprintError):
    """The resource is busy (a running stream processor cannot be started twice or deleted)."""

    code = "resource_in_use"
    aws_code = "ResourceInUseException"


class LimitExceeded(FaceprintError):
    code = "limit_exceeded"
    aws_code = "LimitExceededException"


class ServiceQuotaExceeded(LimitExceeded):
    """A per-resource quota is full (a user's faces); Rekognition's name for it where
    the operation declares ServiceQuotaExceededException rather than LimitExceededException."""

    aws_code = "ServiceQuotaExceededException"


class IdempotentParameterMismatch(FaceprintError):
    """A ClientRequestToken reused with other parameters than the call it first came with."""

    code = "idempotent_parameter_mismatch"
    aws_code = "IdempotentParameterMismatchException"


class Overloaded(FaceprintError):
    code = "overloaded"
    aws_code = "ThrottlingException"
    retryable = True


class SessionNotFound(NotFound):
    """No liveness session with that id (for this caller)."""

    code = "session_not_found"
    aws_code = "SessionNotFoundException"


class TooManyFailures(FaceprintError):
    """Too many failed liveness sessions from one caller in a short time."""

    code = "too_many_failures"
    aws_code = "ThrottlingException"
    retryable = True


class ConsentRequired(FaceprintError):
    """The collection requires consent and the subject has no valid record for its purpose."""

    code = "consent_required"
    aws_code = "AccessDeniedException"


class EncryptionKeyError(FaceprintError):
    """The store's encryption key is missing or is not the key the store was made with."""

    code = "encryption_key"
    aws_code = "AccessDeniedException"


class StorageError(FaceprintError):
    """The store could not be written (disk full, read-only, locked too long); nothing was
    changed by the failed operation."""

    code = "storage"
    aws_code = "InternalServerError"
    retryable = True


class DatabaseUnavailable(StorageError):
    """The store's database server cannot be reached (at start, or lost mid-request);
    the interrupted transaction left nothing behind. Retry, or point faceprint at a
    promoted replica (docs/cluster.md)."""

    code = "database_unavailable"
    aws_code = "ServiceUnavailableException"
    retryable = True


class ModelError(FaceprintError):
    """Base class of model registry and loading errors."""

    code = "model_error"


class UnknownModel(ModelError):
    """No model card has that name."""

    code = "unknown_model"
    aws_code = "InvalidParameterException"


class ModelNotAvailable(ModelError):
    """The model's file is not installed; the message names the package to install."""

    code = "model_not_available"


class ModelChecksumError(ModelError):
    """The model file on disk does not match the checksum on its card."""

    code = "model_checksum"


class LicenseError(ModelError):
    """A model's licence does not allow the requested use."""

    code = "model_license"
    aws_code = "InvalidParameterException"


__all__ = [
    "FaceprintError",
    "InvalidImage",
    "ImageTooLarge",
    "InvalidParameter",
    "NoFaceFound",
    "InvalidPaginationToken",
    "NotFound",
    "AlreadyExists",
    "Conflict",
    "LimitExceeded",
    "ServiceQuotaExceeded",
    "IdempotentParameterMismatch",
    "ResourceInUse",
    "Overloaded",
    "ConsentRequired",
    "EncryptionKeyError",
    "StorageError",
    "DatabaseUnavailable",
    "ModelError",
    "UnknownModel",
    "ModelNotAvailable",
    "ModelChecksumError",
    "LicenseError",
]
