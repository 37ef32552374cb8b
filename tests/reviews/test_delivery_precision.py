"""Delivery at source precision (issue #22 after #21): a LogC3 camera original (real footage made
10-bit ProRes 4444 in the test), a real shot-match job on two of its frames, approved, delivered
through the services as ProRes 4444, DPX and EXR. No 8-bit step anywhere: the deliverable holds
far more than 256 codes per channel, every frame is the source's decoded codes (the rest of the
shot and the handles) or the version's stored 16-bit frames (the fix's frames), in the source's
colour encoding, and the delivery notes state the precision."""
from pathlib import Path

import av
import cv2
import numpy as np
import OpenImageIO as oiio
import pytest
from av.video.reformatter import ColorRange, Colorspace

from engine.media.decode import FrameSource
from engine.media.images import quantise
from engine.media.probe import probe
from reviews.media import rendered_frame_path
from reviews.models import Job
from reviews.services.clips import clip_ingest
from reviews.services.deliveries import delivery_create
from reviews.services.fix_requests import fix_request_create
from reviews.services.proposals import proposal_decide
from reviews.services.shots import shot_create
from reviews.worker.jobs import job_execute
from tests.camera_originals import LOGC3, camera_original

pytestmark = pytest.mark.django_db

HANDLES = 2
FRAMES = 8  # the camera original: shot 2–5, its handles 0–1 and 6–7
FIXED = (3, 5)  # the fix's frames [in, out)


@pytest.fixture(scope="module")
def originals(footage, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("originals")
    return {code: camera_original(footage / "clips" / name, folder / f"{code}.mov", frames=FRAMES)
            for code, name in (("CUPS_LOG", "sam2_02_cups.mp4"), ("COFFEE_LOG", "sam2_04_coffee.mp4"))}


@pytest.fixture
def approved(production, people, originals, settings):
    """A shot match of CUPS_LOG (frames 2–5) to COFFEE_LOG on frames 3–4, rendered by the real
    engine in this process and approved by the director."""
    settings.LOUPE_DELIVERY_HANDLES = HANDLES
    supervisor = people["supervisor"]
    shot, reference = (shot_create(production=production, code=code, source_in=2, source_out=6, actor=supervisor,
                                   clip=clip_ingest(production=production, actor=supervisor, path=path))
                       for code, path in originals.items())
    fix_request = fix_request_create(production=production, actor=supervisor, shot=shot, kind="color_match",
                                     frame_in=FIXED[0], frame_out=FIXED[1], reference_shot=reference)
    job = Job.objects.create(production=production, fix_request=fix_request, frames_total=2,
                             created_by=people["artist"])
    proposal = job_execute(job_id=job.pk, worker="test")
    proposal_decide(proposal=proposal, director=people["director"], decision="approve")
    return proposal


def expected_frames(proposal) -> dict[int, np.ndarray]:
    """What the deliverable must hold, uint16 RGB: the source's codes as the engine decodes them
    (16-bit RGB), the version's stored 16-bit frames on the fix's frames."""
    clip = proposal.fix_request.shot.clip
    frames = {number: quantise(frame, np.uint16)
              for number, frame in FrameSource(Path(clip.source_path)).frames(as_float=True)}
    for number in range(*FIXED):
        stored = cv2.imread(str(rendered_frame_path(proposal.media_dir, number)), cv2.IMREAD_UNCHANGED)
        assert stored.dtype == np.uint16  # the worker stores a deep source's version at 16 bits
        assert np.abs(stored.astype(int)[..., ::-1] - frames[number]).mean() > 256  # the fix shows
        frames[number] = cv2.cvtColor(stored, cv2.COLOR_BGR2RGB)
    return frames


def prores_4444(frames: list[np.ndarray], out: Path) -> list[np.ndarray]:
    """A plain PyAV encode (prores_ks 4444, 10-bit 4:4:4, BT.709 limited range) of uint16 RGB
    frames, decoded back to 16-bit RGB: the reference a ProRes deliverable is compared to."""
    with av.open(str(out), mode="w", format="mov") as container:
        stream = container.add_stream("prores_ks", rate=24)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv444p10le"
        stream.options = {"profile": "4444", "vendor": "apl0"}
        for index, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb48le").reformat(
                format="yuv444p10le", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)
            picture.pts = index
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
    return decoded(out)


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb48le") for frame in container.decode(video=0)]


def distinct_codes(frames: list[np.ndarray], bits: int) -> list[int]:
    codes = np.rint(np.stack(frames).astype(np.float64) * ((1 << bits) - 1) / 65535)
    return [len(np.unique(codes[..., channel])) for channel in range(3)]


def test_a_deep_original_is_delivered_as_prores_4444_without_an_8_bit_step(production, people, approved, tmp_path):
    expected = expected_frames(approved)
    delivery = delivery_create(production=production, actor=people["supervisor"], out_dir=tmp_path,
                               delivery_format="prores_4444")
    [delivered] = delivery.versions.all()
    media = Path(delivery.folder) / delivered.files[0]
    facts = probe(media)
    assert (facts.codec, facts.width, facts.height, facts.frame_count) == ("prores", 320, 180, FRAMES)
    assert facts.bit_depth > 8 and facts.colorspace_tag == LOGC3  # the source's colour space, named again
    assert (facts.color_primaries, facts.color_transfer, facts.color_matrix, facts.color_range) == (
        "bt709", "bt709", "bt709", "limited")  # the source's tags
    frames = decoded(media)
    assert min(distinct_codes(frames, 10)) > 256
    # Every frame is the plain 10-bit ProRes 4444 encode of the source's 16-bit codes (the
    # version's on the fix's frames): the same encoder on the same input, so the same pictures.
    reference = prores_4444([expected[number] for number in range(FRAMES)], tmp_path / "reference.mov")
    for number, (got, wanted) in enumerate(zip(frames, reference, strict=True)):
        assert np.array_equal(got, wanted), number
    # An 8-bit step on the way would show: the same encode of 8-bit-rounded frames differs.
    rounded = prores_4444([quantise(quantise(expected[n] / np.float32(65535), np.uint8) / np.float32(255), np.uint16)
                           for n in range(FRAMES)], tmp_path / "rounded.mov")
    assert np.abs(rounded[0].astype(int) - frames[0]).mean() > 32  # 16-bit units: over half a 10-bit code
    assert f"{delivered.name}.mov" in delivery.notes
    assert (f"precision: source 12-bit integer, delivered 10-bit (reduced to 10 bits: Apple ProRes 4444's encoder "
            f"takes no deeper input); colour encoding the source's ({LOGC3}, tags bt709/bt709/bt709/limited), "
            f"not converted") in delivery.notes


@pytest.mark.parametrize("name", ["dpx", "exr"])
def test_a_deep_original_is_delivered_as_an_image_sequence_bit_for_bit(production, people, approved, tmp_path,
                                                                         name):
    """DPX holds the nearest 12-bit code of every 16-bit RGB sample (ProRes 4444 decodes at 12
    bits, so the source is 12-bit), EXR the nearest half: exactly, frame by frame."""
    expected = expected_frames(approved)
    delivery = delivery_create(production=production, actor=people["supervisor"], out_dir=tmp_path,
                               delivery_format=name)
    [delivered] = delivery.versions.all()
    assert len(delivered.files) == FRAMES
    frames = []
    for number, file in enumerate(delivered.files):
        image = oiio.ImageInput.open(str(Path(delivery.folder) / file))
        spec = image.spec()
        if name == "dpx":
            assert spec.get_int_attribute("oiio:BitsPerSample") == 12
            codes = np.rint(image.read_image("uint16").astype(np.float64) * 4095 / 65535)
            assert np.array_equal(codes, np.rint(expected[number].astype(np.float64) * 4095 / 65535)), number
            frames.append(codes * 65535 / 4095)
        else:
            assert spec.format == "half" and spec.get_string_attribute("colorInteropID") == LOGC3
            pixels = image.read_image("half")
            assert np.array_equal(pixels, (expected[number] / np.float32(65535)).astype(np.float16)), number
            frames.append(pixels.astype(np.float64) * 65535)
        image.close()
    assert min(distinct_codes(frames, 10)) > 256
    precision = "delivered 12-bit" if name == "dpx" else (
        "delivered half float (codes beyond 10 bits rounded to half's 11 significant bits)")
    assert f"precision: source 12-bit integer, {precision}; colour encoding the source's ({LOGC3}" in delivery.notes
