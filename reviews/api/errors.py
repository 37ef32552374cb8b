"""Error bodies are ``{"detail": "..."}`` with a message a person can act on."""
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from reviews.errors import ServiceError


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return Response({"detail": str(exc)}, status=exc.status_code)
    return drf_exception_handler(exc, context)
