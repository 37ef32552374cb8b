"""Error bodies are ``{"detail": "..."}`` with a message a person can act on."""
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from reviews.errors import ServiceError


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return Response({"detail": str(exc)}, status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if isinstance(exc, ValidationError) and response is not None and isinstance(response.data, dict) \
            and "detail" not in response.data:
        # Field errors stay as DRF gives them; "detail" sums them up for a person to read.
        response.data["detail"] = "; ".join(
            f"{field}: {' '.join(str(m) for m in messages) if isinstance(messages, list) else messages}"
            for field, messages in response.data.items()
        )
    return response
