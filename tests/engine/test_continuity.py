"""engine.fixes.continuity on real footage: take B is take A of a real clip seen with a small
camera shift, then one change (continuity_cases.py; bench/continuity.py runs every scene). A real
object (a cat cut out along its real mask) that appeared in B, disappeared from B, or moved is
one finding naming the take that holds it, whose mask is the whole object; a real exposure
change is a "light" finding; the shift alone gives no finding."""
import json

import cv2
import pytest

from engine.__main__ import main as cli_main
from engine.errors import ParameterError
from engine.fixes import continuity
from engine.media.decode import FrameSource

from .continuity_cases import CASES, mask_iou

CASE = {case.name: case for case in CASES}


@pytest.fixture(scope="module")
def made(footage, tmp_path_factory):
    """Make a case's takes once per module: ``made(name) -> Made``."""
    from .continuity_cases import make_case

    cache = {}

    def make(name):
        if name not in cache:
            cache[name] = make_case(footage, CASE[name], tmp_path_factory.mktemp(name.replace(" ", "_")))
        return cache[name]

    return make


def _check(made):
    return continuity.run(shot=FrameSource(made.take_b), reference=FrameSource(made.take_a))


def test_an_object_that_appears_in_take_b_is_found_with_its_whole_mask(made):
    case = made("juggle appeared")
    result = _check(case)
    assert [f.kind for f in result.findings] == ["appeared"]
    finding = result.findings[0]
    assert finding.take == "b" and finding.mask.shape == (270, 480)
    assert mask_iou(finding.mask, case.mask_b) >= 0.7
    x, y, w, h = cv2.boundingRect(finding.mask.astype("uint8"))
    assert finding.box == (x, y, w, h)
    # Every frame of B shows it, none of A does: the ranges cover both takes (6 frames each).
    assert finding.frames_b == (0, 5) and finding.frames_a == (0, 5)
    # The man juggling moves and is ignored, not reported.
    assert result.measurements["moving_fraction"] > 0.05


def test_an_object_gone_from_take_b_is_disappeared_where_it_was(made):
    case = made("juggle disappeared")
    result = _check(case)
    assert [f.kind for f in result.findings] == ["disappeared"]
    finding = result.findings[0]
    assert finding.take == "a"
    assert mask_iou(finding.mask, case.mask_b) >= 0.7  # where it was in A, in B's framing


def test_command_line_writes_one_moved_finding_with_both_masks(made, tmp_path, capsys):
    # In-process through the command line's own main(); one JSON line on standard output.
    case = made("juggle moved")
    out = tmp_path / "report" / "FINDINGS.json"
    status = cli_main(["continuity", "--a", str(case.take_a), "--b", str(case.take_b), "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert json.loads(captured.out)["samples_aligned_b"] == 6
    findings = json.loads(out.read_text())["findings"]
    assert [f["kind"] for f in findings] == ["moved"]
    finding = findings[0]
    assert set(finding) >= {"kind", "frames_a", "frames_b", "box", "confidence", "details", "crop_a", "crop_b",
                            "take", "mask", "box_a", "mask_a"}
    assert finding["take"] == "both" and 0 < finding["confidence"] <= 1
    assert (out.parent / finding["crop_a"]).is_file() and (out.parent / finding["crop_b"]).is_file()
    mask = cv2.imread(str(out.parent / finding["mask"]), cv2.IMREAD_UNCHANGED)
    mask_a = cv2.imread(str(out.parent / finding["mask_a"]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == mask_a.shape == (270, 480) and set(mask.ravel().tolist()) == {0, 255}
    assert mask_iou(mask > 127, case.mask_b) >= 0.7  # where it is in B
    assert mask_iou(mask_a > 127, case.mask_a) >= 0.7  # where it was in A
    assert finding["box_a"][0] == finding["details"]["moved_from_x"]
    assert finding["box_a"][0] < 100 < finding["box"][0]  # from the left of the frame to the right


def test_a_change_of_exposure_is_one_light_finding(made):
    result = _check(made("juggle light"))
    assert [f.kind for f in result.findings] == ["light"]
    finding = result.findings[0]
    assert finding.box == (0, 0, 480, 270) and finding.take is None and finding.mask is None
    # B was exposed at 1.6 times the light: log2(1.6) = 0.68 stop.
    assert 0.5 < result.measurements["exposure_difference_stops"] < 0.8
    assert finding.to_dict()["take"] is None and "box_a" not in finding.to_dict()


def test_a_small_camera_shift_alone_gives_no_finding(made):
    result = _check(made("juggle clean shift"))
    assert result.findings == []
    assert result.measurements["samples_aligned_a"] == result.measurements["samples_aligned_b"] == 6


def test_takes_of_different_setups_are_refused(footage):
    with pytest.raises(ParameterError, match="same setup"):
        continuity.run(shot=FrameSource(footage / "clips" / "sam2_05_default_juggle.mp4", first=0, stop=3),
                       reference=FrameSource(footage / "clips" / "sam2_03_blocks.mp4", first=0, stop=3),
                       params=continuity.ContinuityParams(samples=3))
    with pytest.raises(ParameterError, match="unknown continuity check parameter"):
        continuity.ContinuityParams.from_dict({"sample": 3})
