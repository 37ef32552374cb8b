"""A fresh web process, measured: a new interpreter sets Django up, loads every URLconf (the root
one and every include) and the ASGI application (HTTP and WebSocket routing) — what a web
process does before its first request — and reports what it imported, how long it took and its
memory. Used by ``bench/web_start.py`` and ``tests/portal/test_web_imports.py``."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_LOAD = """
import time
started, started_cpu = time.monotonic(), time.process_time()
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
import django
django.setup()
from django.urls import get_resolver
def walk(patterns):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            walk(pattern.url_patterns)
walk(get_resolver().url_patterns)
import portal.asgi
for name in sys.argv[2:]:
    __import__(name)
exec(sys.argv[1])
seconds, cpu_seconds = time.monotonic() - started, time.process_time() - started_cpu
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
mib = lambda key: int(status[key].split()[0]) / 1024
print(json.dumps({"start_s": seconds, "cpu_s": cpu_seconds, "rss_mib": mib("VmRSS"), "peak_mib": mib("VmHWM"),
                  "modules": sorted(sys.modules)}))
"""


def load_web(*extra: str, then: str = "", timeout_s: float = 240) -> dict:
    """Start a web process's imports in a new interpreter (then import the modules ``extra``
    names too, then run the Python code ``then``) and return ``{"start_s", "cpu_s", "rss_mib",
    "peak_mib", "modules"}``. Raises ``RuntimeError`` with the interpreter's error output if it
    fails."""
    completed = subprocess.run([sys.executable, "-c", _LOAD, then, *extra], cwd=ROOT, capture_output=True, text=True,
                               env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=timeout_s)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-3000:])
    return json.loads(completed.stdout.strip().splitlines()[-1])
