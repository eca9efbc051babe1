"""The HTTP service: Rekognition's AWS JSON 1.1 protocol with SigV4 authentication,
faceprint's own operations under ``FaceprintService.``, health, metrics and a web
console. A thin shell over :class:`faceprint.Service`."""

from faceprint.api.app import create_app
from faceprint.api.config import ServerConfig
from faceprint.api.guard import RateLimit

__all__ = ["create_app", "ServerConfig", "RateLimit"]
