"""Rekognition's wire format: the JSON response shapes built from faceprint's typed
results, for the HTTP service and the command line's ``--json``.

Only the edges (``api``, ``cli``) import this package; the core returns typed results
and never builds these dicts (docs/architecture.md).

Example:
    >>> from faceprint.rekognition import shapes
    >>> shapes.collection_arn("staff")
    'arn:aws:rekognition:local:000000000000:collection/staff'
"""
