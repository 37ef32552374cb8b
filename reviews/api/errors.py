"""Error bodies are ``{"detail": "..."}`` with a message a person can act on."""
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from reviews.errors import ServiceError
from reviews.throttling import write_refusal


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return Response({"detail": str(exc)}, status=exc.status_code)
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):  # Django's limits, met while parsing the body
        return Response({"detail": f"Too many form fields or files in one request: at most "
                                   f"{settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields and "
                                   f"{settings.DATA_UPLOAD_MAX_NUMBER_FILES} files."}, status=400)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes "
                                   f"(LOUPE_REQUEST_MAX_BYTES)."}, status=413)
    response = drf_exception_handler(exc, context)
    if isinstance(exc, Throttled) and response is not None:
        response.data = {"detail": write_refusal(int(exc.wait or 1))}
    if isinstance(exc, ValidationError) and response is not None and isinstance(response.data, dict) \
            and "detail" not in response.data:
        # Field errors stay as DRF gives them; "detail" sums them up for a person to read.
        response.data["detail"] = "; ".join(
            f"{field}: {' '.join(str(m) for m in messages) if isinstance(messages, list) else messages}"
            for field, messages in response.data.items()
        )
    return response
