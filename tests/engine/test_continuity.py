"""engine.fixes.continuity on real footage: a real object pasted into one of two takes of a real clip
is found where it was put; a prop pasted at two places is one "moved" finding; a real exposure
change is a "light" finding; two takes that differ only by camera motion and people moving give
no finding. The cases are in continuity_cases.py (bench/continuity.py runs all of them)."""
import json

import pytest

from engine.__main__ import main as cli_main
from engine.errors import ParameterError
from engine.fixes import continuity
from engine.media.decode import FrameSource

from .continuity_cases import CASES, make_case, iou

CASE = {case.name: case for case in CASES}


@pytest.fixture(scope="module")
def made(footage, tmp_path_factory):
    """Make a case's takes once per module: ``made(name) -> (take A, take B, box)``."""
    cache = {}

    def make(name):
        if name not in cache:
            cache[name] = make_case(footage, CASE[name], tmp_path_factory.mktemp(name.replace(" ", "_")))
        return cache[name]

    return make


def _check(take_a, take_b):
    return continuity.run(shot=FrameSource(take_b), reference=FrameSource(take_a))


def test_an_object_that_appears_in_take_b_is_found_where_it_was_put(made):
    take_a, take_b, box = made("juggle appeared")
    result = _check(take_a, take_b)
    assert [f.kind for f in result.findings] == ["appeared"]
    finding = result.findings[0]
    assert iou(finding.box, box) >= 0.5, (finding.box, box)
    assert finding.confidence > 0.5
    # Every frame of B shows it, none of A does: the ranges cover both takes (6 frames each).
    assert finding.frames_b == (0, 5) and finding.frames_a == (0, 5)
    assert finding.crop_b.shape[0] >= box[3] and finding.crop_a.shape == finding.crop_b.shape
    # The man juggling moves in both takes and is ignored, not reported.
    assert result.measurements["moving_fraction"] > 0.05


def test_handheld_takes_with_people_moving_give_no_finding(made):
    take_a, take_b, _ = made("dog no change (handheld)")
    result = _check(take_a, take_b)
    assert result.findings == []
    assert result.measurements["samples_aligned_a"] == result.measurements["samples_aligned_b"] == 6


def test_a_prop_at_another_place_is_one_moved_finding(made):
    take_a, take_b, box = made("juggle moved")
    result = _check(take_a, take_b)
    assert [f.kind for f in result.findings] == ["moved"]
    assert iou(result.findings[0].box, box) >= 0.5
    # Where it was in A (pasted at x=60, y=170 with a margin of transparent pixels).
    assert abs(result.findings[0].details["moved_from_x"] - 60) <= 4


def test_command_line_reports_a_change_of_light_with_crops(made, tmp_path, capsys):
    # In-process through the command line's own main() (the other engine commands are also run as
    # subprocesses in their tests); one JSON line on standard output.
    take_a, take_b, _ = made("juggle light")
    out = tmp_path / "report" / "FINDINGS.json"
    status = cli_main(["continuity", "--a", str(take_a), "--b", str(take_b), "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    printed = json.loads(captured.out)
    assert printed["exposure_difference_stops"] > 0.8  # B was exposed at twice the light (1 stop)
    findings = json.loads(out.read_text())["findings"]
    assert [f["kind"] for f in findings] == ["light"]
    assert findings[0]["box"] == [0, 0, 480, 270] and 0 < findings[0]["confidence"] <= 1
    assert (out.parent / findings[0]["crop_a"]).is_file() and (out.parent / findings[0]["crop_b"]).is_file()
    assert set(findings[0]) >= {"kind", "frames_a", "frames_b", "box", "confidence"}


def test_takes_of_different_setups_are_refused(footage):
    with pytest.raises(ParameterError, match="same setup"):
        continuity.run(shot=FrameSource(footage / "clips" / "sam2_05_default_juggle.mp4", first=0, stop=3),
                       reference=FrameSource(footage / "clips" / "sam2_03_blocks.mp4", first=0, stop=3),
                       params=continuity.ContinuityParams(samples=3))
    with pytest.raises(ParameterError, match="unknown continuity check parameter"):
        continuity.ContinuityParams.from_dict({"sample": 3})
