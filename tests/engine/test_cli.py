"""python -m engine: the command line, run as a real subprocess on real clips."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: A guard against a hung command, not a speed target (those live in bench/): look training
#: takes ~15 s on a quiet 2-core machine and over 110 s on a loaded one.
HANG_TIMEOUT_S = 600


def _engine(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
    )


def test_match_writes_png_frames_and_prints_one_json_line(cups, coffee, tmp_path):
    out = tmp_path / "SC012_0040_v001"

    done = _engine(
        "match",
        "--reference", str(coffee), "--reference-range", "0:8",
        "--shot", str(cups), "--shot-range", "10:16",
        "--out", str(out),
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["frame_count"] == 6
    assert result["delta_e2000_after"] < result["delta_e2000_before"]
    assert all(isinstance(value, float) for key, value in result.items() if key != "frame_count")
    assert sorted(p.name for p in out.iterdir()) == [f"{n:06d}.png" for n in range(10, 16)]


def test_match_with_a_missing_reference_exits_2_and_names_the_file(cups, tmp_path):
    missing = tmp_path / "A003C012_reference.mov"
    out = tmp_path / "never_written"

    done = _engine("match", "--reference", str(missing), "--shot", str(cups), "--out", str(out))

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: ")
    assert "A003C012_reference.mov" in done.stderr
    assert not out.exists()


def test_match_with_a_range_past_the_end_exits_2_with_the_clip_length(cups, coffee, tmp_path):
    done = _engine(
        "match", "--reference", str(coffee), "--shot", str(cups), "--shot-range", "290:310",
        "--out", str(tmp_path / "out"),
    )
    assert done.returncode == 2
    assert "sam2_02_cups.mp4, which has 300 frames" in done.stderr


def test_match_method_reinhard_stays_selectable(cups, coffee, tmp_path):
    done = _engine(
        "match", "--method", "reinhard",
        "--reference", str(coffee), "--reference-range", "0:4",
        "--shot", str(cups), "--shot-range", "0:3",
        "--out", str(tmp_path / "out"),
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["delta_e2000_after"] < result["delta_e2000_before"]


def test_match_balance_on_a_reference_box_reports_exposure_and_refuses_a_bad_box(cups, coffee, tmp_path):
    common = ("match", "--method", "balance", "--reference", str(coffee), "--reference-range", "0:4",
              "--shot", str(cups), "--shot-range", "0:3")
    done = _engine(*common, "--reference-box", "0.1,0.1,0.6,0.9", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # The box (different content in the two clips) sets the balance, so the whole-frame mean need
    # not come closer; the frames are written and the balance is reported.
    assert result["frame_count"] == 3 and len(list((tmp_path / "out").iterdir())) == 3
    assert {"exposure_stops", "white_balance_gain_r", "white_balance_gain_b"} <= result.keys()
    refused = _engine(*common, "--reference-box", "0.6,0.1,0.5,0.9", "--out", str(tmp_path / "never"))
    assert refused.returncode == 2 and "reference_box must satisfy 0 <= left < right <= 1" in refused.stderr
    assert not (tmp_path / "never").exists()


def test_look_apply_of_a_real_lut_prints_measurements(footage, tennis_frames, tmp_path):
    out = tmp_path / "graded"
    done = _engine("look", "apply", "--look", str(footage / "luts" / "ocio_lustre_33x33x33.3dl"),
                   str(tennis_frames), str(out))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["frame_count"] == 70 and len(list(out.iterdir())) == 70
    assert result["apply_frames_per_second"] > 0


def test_look_train_writes_a_cube_that_applies(tennis_frames, tmp_path):
    # The tennis frames against themselves: the learned look must be (nearly) the identity.
    cube = tmp_path / "tennis_identity.cube"
    done = _engine("look", "train", "--pair", str(tennis_frames), str(tennis_frames), "--frames", "3", "--out", str(cube))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["train_delta_e2000_mean"] < 0.5
    assert cube.read_text().splitlines()[1] == "LUT_3D_SIZE 33"


def test_relight_prints_the_cdl(cups, coffee, tmp_path):
    done = _engine("relight", "--reference", str(coffee), "--reference-range", "0:4",
                   "--shot", str(cups), "--shot-range", "0:3", "--out", str(tmp_path / "relit"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["cdl"]["slope"]) == 3 and result["frame_count"] == 3
    assert "exposure_stops" in result
