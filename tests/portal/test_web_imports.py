"""Web processes stay light (issue #24, docs/adr/0010-light-web-processes.md): a fresh
interpreter that loads every URLconf and the ASGI application imports neither torch nor OpenCV
nor the engine's heavy modules — only workers run the engine. Fix specifications (kinds and
their parameter types) stay importable there."""
import pytest
from django.conf import settings

from bench.web_load import load_web
from reviews.fixes import FIXES, clean_parameters

#: Modules a web process must not hold: the deep-learning and image libraries the engine runs on.
HEAVY_LIBRARIES = ("torch", "cv2", "OpenImageIO", "PyOpenColorIO", "reportlab", "kornia", "scipy", "sklearn",
                   "twisted")  # Twisted: daphne's reactor, for `manage.py runserver` only
#: The engine modules a web process may hold: contracts, the fixes' parameter types, probing and
#: decoding a video (PyAV) and the forensic mark (numpy).
LIGHT_ENGINE_MODULES = frozenset({
    "engine", "engine.errors", "engine.params", "engine.fixes", "engine.fixes.params", "engine.fixes.reframe",
    "engine.models", "engine.models.params", "engine.media", "engine.media.probe", "engine.media.decode", "engine.ops", "engine.ops.watermark",
})


def modules_after_loading_the_web(*extra: str, then: str = "") -> set[str]:
    return set(load_web(*extra, then=then)["modules"])


def heavy(modules: set[str]) -> list[str]:
    return sorted(name for name in modules
                  if name.split(".")[0] in HEAVY_LIBRARIES
                  or (name.split(".")[0] == "engine" and name not in LIGHT_ENGINE_MODULES))


def test_loading_every_urlconf_and_the_asgi_app_imports_no_heavy_module():
    modules = modules_after_loading_the_web()
    assert "portal.asgi" in modules and "reviews.api.urls" in modules and "frontend.views" in modules
    assert heavy(modules) == []


def test_serving_frames_needs_no_opencv(footage):
    """What a web process does per frame — decode an original's frame (a video: PyAV), encode a
    review JPEG, burn in the reviewer's name and embed the forensic mark — loads nothing heavy."""
    serve = (f"from engine.media.decode import read_frame\n"
             f"from reviews.media import encode_review_jpeg\n"
             f"from reviews.watermark import for_reader\n"
             f"jpeg = encode_review_jpeg(read_frame({str(footage / 'clips' / 'sam2_02_cups.mp4')!r}, 12))\n"
             f"assert for_reader(jpeg, 'Dana Director', 0x1234ABCD)[:2] == b'\\xff\\xd8'\n")
    modules = modules_after_loading_the_web(then=serve)
    assert "av" in modules and "PIL.Image" in modules  # it did decode and encode
    assert heavy(modules) == []


def test_the_check_sees_the_engine_when_a_worker_module_is_imported():
    """The same check on a process that imports the worker side finds torch and OpenCV: the
    test above would fail if a web module imported it."""
    found = heavy(modules_after_loading_the_web("reviews.worker.jobs"))
    assert "torch" in found and "cv2" in found and "engine.fixes.match" in found


def test_every_fix_kind_has_a_run_on_the_worker_and_checks_its_parameters_on_the_web():
    from reviews.worker.fixes import RUNS

    assert set(RUNS) == set(FIXES)
    # The web side's parameter types are the engine's own (moved, not copied).
    from engine.fixes import match, remove

    assert FIXES["color_match"].params_type is match.MatchParams
    assert FIXES["object_removal"].params_type is remove.RemovalParams
    assert clean_parameters("color_match", {"method": "reinhard"}, frame_in=0, frame_out=10)["method"] == "reinhard"


def test_asking_for_an_ingest_reads_no_media_and_loads_nothing_heavy(footage):
    """What a web process checks before it records an ingest (``media_source``: the path, its
    type by name, not empty; a sequence folder or pattern) loads nothing heavy and no worker
    module: the probe, decode, colour space and checksum are the worker's
    (``reviews.worker.ingest``). Nor do the services that queue a delivery or a screening."""
    check = (f"from reviews.services.clips import media_source\n"
             f"assert not media_source({str(footage / 'clips' / 'sam2_02_cups.mp4')!r}).is_sequence\n"
             f"assert media_source({str(footage / 'vos' / 'tennis' / 'frames')!r}).is_sequence\n"
             f"assert media_source({str(footage / 'vos' / 'bmx-trees' / 'frames' / '%05d.jpg')!r}).is_sequence\n")
    modules = modules_after_loading_the_web("reviews.services.deliveries", "reviews.services.consent",
                                            "reviews.tasks", then=check)
    assert heavy(modules) == []
    assert not {name for name in modules if name.startswith("reviews.worker")}
    assert "ascmhl" not in modules  # the delivery's manifest is written by the worker


@pytest.mark.skipif(not settings.CHANNEL_LAYER_IS_SHARED, reason="needs Redis (REDIS_URL) as the broker")
@pytest.mark.timeout(600)  # a hang guard
def test_only_a_worker_of_the_engine_queue_loads_the_engine_before_it_consumes(process_env):
    """A worker that consumes the engine jobs' queue has torch loaded once it answers a ping (its
    first job does not pay for it); a worker of the other queue (ingest, proxies, report PDFs) never
    loads it, so a report's memory stays its own."""
    import socket
    import subprocess
    import time
    from pathlib import Path

    from portal.celery import app
    from portal.processes import celery_worker_command

    from tests.conftest import REPO

    engine_queue = settings.CELERY_TASK_ROUTES["reviews.tasks.job_run"]["queue"]
    other_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    assert engine_queue != other_queue
    workers = {name: subprocess.Popen(celery_worker_command(queues=queue, pool="solo", hostname=f"{name}@%h",
                                                            loglevel="WARNING")
                                      + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
                                      cwd=REPO, env=process_env)
               for name, queue in (("engine", engine_queue), ("reports", other_queue))}
    try:
        for name, process in workers.items():
            deadline = time.monotonic() + 300  # a hang guard
            while not app.control.ping(destination=[f"{name}@{socket.gethostname()}"], timeout=1.0):
                if process.poll() is not None:
                    pytest.fail(f"worker {name} exited at start-up")
                if time.monotonic() > deadline:
                    pytest.fail(f"worker {name} did not answer a ping: hung?")
        loaded = {name: "libtorch" in Path(f"/proc/{process.pid}/maps").read_text()
                  for name, process in workers.items()}
        assert loaded == {"engine": True, "reports": False}
    finally:
        for process in workers.values():
            process.terminate()
            process.wait(timeout=60)
