"""Content credentials (C2PA, through c2pa-python) on deliverable media: a signed manifest saying
the picture is the source footage (its parent ingredient) edited with trained algorithmic models
(IPTC digital source type ``compositeWithTrainedAlgorithmicMedia``), and a Loupe assertion
(``LOUPE_ASSERTION``) with the fix, the engine method and parameters, the approving director
and the consent records where consent was required.

Signed with the certificate chain and private key named by ``LOUPE_C2PA_SIGNING_CERT`` and
``LOUPE_C2PA_SIGNING_KEY`` (PEM; ES256 — an EC P-256 key). Read back against
``LOUPE_C2PA_TRUST_ANCHORS`` (the CA that issued it). C2PA binds QuickTime/MP4 media; EXR and DPX
sequences get none (the delivery notes say so).
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import c2pa
from django.conf import settings

#: The label of Loupe's own assertion in a deliverable's manifest.
LOUPE_ASSERTION = "com.loupe.fix"
#: IPTC digital source type of media edited with trained algorithmic models (an AI-assisted fix
#: on captured footage). https://cv.iptc.org/newscodes/digitalsourcetype/
AI_EDITED = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
_MIME = {".mov": "video/quicktime", ".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg",
         ".jpeg": "image/jpeg", ".tif": "image/tiff", ".tiff": "image/tiff"}


class CredentialError(Exception):
    """Content credentials cannot be signed or read (the message says why)."""


def signing_configured() -> bool:
    """Whether a signing certificate and key are configured."""
    return bool(settings.LOUPE_C2PA_SIGNING_CERT and settings.LOUPE_C2PA_SIGNING_KEY)


def mime_type(path: Path) -> str | None:
    """The media type C2PA binds for ``path``, or None where it binds none (EXR, DPX)."""
    return _MIME.get(path.suffix.lower())


def credentials_sign(*, media: Path, source: Path, title: str, fix: dict, software: str) -> str:
    """Sign ``media`` in place (through a temporary file and a rename) with a manifest: the
    ``source`` footage as its parent ingredient, the actions *opened* and *edited* (by
    ``software``, with ``AI_EDITED``) and ``fix`` as the ``LOUPE_ASSERTION``. Returns the
    manifest's label (``urn:c2pa:…``). Raises ``CredentialError``."""
    media_type, source_type = mime_type(media), mime_type(source)
    if media_type is None:
        raise CredentialError(f"C2PA binds no manifest to {media.suffix} files")
    try:
        chain = Path(settings.LOUPE_C2PA_SIGNING_CERT).read_bytes()
        key = Path(settings.LOUPE_C2PA_SIGNING_KEY).read_bytes()
    except OSError as error:
        raise CredentialError(f"the signing certificate or key cannot be read: {error}") from error
    manifest = {
        "claim_generator_info": [{"name": "Loupe", "version": settings.LOUPE_VERSION}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [
                {"action": "c2pa.opened", "parameters": {"ingredientIds": ["source"]}},
                {"action": "c2pa.edited", "digitalSourceType": AI_EDITED, "softwareAgent": {"name": software},
                 "parameters": {"description": f"{fix['fix_label']} ({fix['fix']}), {fix['version']}"}},
            ]}},
            {"label": LOUPE_ASSERTION, "data": fix},
        ],
    }
    temp = media.with_name(f".{media.name}.c2pa-{uuid.uuid4().hex[:12]}{media.suffix}")
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None))
        builder = c2pa.Builder(json.dumps(manifest))
        with source.open("rb") as stream:
            builder.add_ingredient({"title": source.name, "relationship": "parentOf", "label": "source"},
                                   source_type or "application/octet-stream", stream)
        with media.open("rb") as unsigned, temp.open("w+b") as signed:
            builder.sign(signer, media_type, unsigned, signed)
        temp.replace(media)
    except (c2pa.C2paError, OSError) as error:
        temp.unlink(missing_ok=True)
        raise CredentialError(f"{media.name} could not be signed: {error}") from error
    return credentials_read(media)["active_manifest"]


def credentials_read(media: Path) -> dict:
    """The manifest store of ``media`` as c2pa's Reader gives it (``active_manifest``,
    ``manifests``, ``validation_state``: ``Trusted`` when its chain ends at one of
    ``LOUPE_C2PA_TRUST_ANCHORS``). Raises ``CredentialError`` when there is none or it cannot be read."""
    context = None
    if settings.LOUPE_C2PA_TRUST_ANCHORS:
        anchors = Path(settings.LOUPE_C2PA_TRUST_ANCHORS).read_text()
        context = c2pa.Context(settings=c2pa.Settings.from_json(json.dumps(
            {"trust": {"trust_anchors": anchors}, "verify": {"verify_trust": True}})))
    try:
        with media.open("rb") as stream:
            reader = c2pa.Reader(mime_type(media), stream, context=context) if context else \
                c2pa.Reader(mime_type(media), stream)
            return json.loads(reader.json())
    except (c2pa.C2paError, OSError) as error:
        raise CredentialError(f"{media.name}: no readable content credentials ({error})") from error
