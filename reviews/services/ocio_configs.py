"""A production's own OpenColorIO config (issue #21): uploaded by a producer or post supervisor,
checked, stored under ``MEDIA_ROOT`` and used for everything colour of the production — its
clips' colour spaces, the fixes' working spaces, review views and measurements. Without one, the
ACES studio config built into OCIO (``ocio://studio-config-latest``)."""
import hashlib

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from reviews import authz
from reviews.errors import ServiceError
from reviews.media import media_path, write_bytes_atomically
from reviews.models import Production
from .audit import audit_record

DEFAULT_CONFIG = "ocio://studio-config-latest"
#: The largest config accepted (bytes): a config is YAML text; LUTs it names are not uploaded.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


class OcioConfigError(ServiceError):
    """An uploaded OCIO config cannot be used; the message says why (OCIO's words or what it lacks)."""


def production_ocio_config(production: Production) -> str:
    """The OCIO config of ``production``: the absolute path of its own, else :data:`DEFAULT_CONFIG`."""
    return str(media_path(production.ocio_config)) if production.ocio_config else DEFAULT_CONFIG


def ocio_config_check(text: str):
    """The config in ``text`` (an ``.ocio`` file), read and validated by OpenColorIO (imported
    on first use: web processes start without it), with what Loupe needs of it: the colour
    spaces the fixes work in (``ACEScct``, ``ACEScg``; names or aliases), Rec.709 video
    (``Gamma 2.4 Encoded Rec.709``) and the displays of ``LOUPE_REVIEW_VIEWS`` and of the
    measurements (``sRGB - Display``). Returns the ``PyOpenColorIO.Config``.

    Raises ``OcioConfigError`` naming OCIO's error, or what the config lacks.
    """
    import PyOpenColorIO as ocio

    from engine.media import colour

    try:
        config = ocio.Config.CreateFromStream(text)
        config.validate()
    except ocio.Exception as error:
        raise OcioConfigError(f"OpenColorIO cannot use this config: {error}") from None
    missing = [f"colour space {name!r}" for name in (colour.GRADING_SPACE, colour.COMPOSITING_SPACE,
                                                     colour.DEFAULT_INPUT)
               if config.getColorSpace(name) is None]
    displays = set(config.getDisplays())
    missing += [f"display {name!r}" for name in dict.fromkeys(
        [colour.MEASUREMENT_DISPLAY, *(view["display"] for view in settings.LOUPE_REVIEW_VIEWS)]) if name not in displays]
    if missing:
        raise OcioConfigError(f"This OCIO config lacks what Loupe uses: {', '.join(missing)} "
                              f"(add them, or aliases of them, to the config).")
    return config


def production_set_ocio_config(*, production: Production, data: bytes, actor: User) -> Production:
    """Make the OCIO config in ``data`` (an ``.ocio`` file's bytes) ``production``'s, or go back
    to the ACES studio config with empty ``data``. The file is stored (content-addressed,
    written through a temporary file) before the production points at it; audited as
    ``production.ocio_config`` with its SHA-256 and name. Versions already made keep the frames
    they were rendered with; clips keep their colour space names (re-check them).

    Raises ``NotAllowed`` unless ``actor`` is a producer or post supervisor, and
    ``OcioConfigError`` for a file that is too large, not UTF-8 text, or not a usable config
    (nothing is stored then).
    """
    authz.require(actor, production, authz.SET_OCIO_CONFIG)
    if not data:
        relative, payload = "", {"config": DEFAULT_CONFIG}
    else:
        if len(data) > MAX_CONFIG_BYTES:
            raise OcioConfigError(f"An OCIO config is at most {MAX_CONFIG_BYTES // 1024 ** 2} MiB of text.")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise OcioConfigError("An OCIO config is a UTF-8 text file (.ocio).") from None
        config = ocio_config_check(text)
        digest = hashlib.sha256(data).hexdigest()
        relative = f"productions/{production.pk}/ocio/{digest[:16]}.ocio"
        write_bytes_atomically(media_path(relative), data)
        payload = {"config": config.getName() or relative, "sha256": digest}
    with transaction.atomic():
        Production.objects.filter(pk=production.pk).update(ocio_config=relative)
        production.ocio_config = relative
        audit_record(production=production, actor=actor, action="production.ocio_config", target=production,
                     payload=payload)
    return production


def colorspace_names_of(production: Production) -> list[str]:
    """The colour space names offered for ``production``'s clips (``colour.colorspace_names`` of
    its config)."""
    from engine.media import colour  # OpenColorIO, on first use

    return colour.colorspace_names(colour.load_config(production_ocio_config(production)))
