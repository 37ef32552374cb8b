"""Benchmark: what a web process costs to start (issue #24, "The web process stays light").

Starts fresh interpreters that set Django up, load every URLconf (the root one and every include)
and the ASGI application (HTTP and WebSocket routing) — what a web process does before its
first request — and prints, per run and as the median and the worst: the start-up time (from the
interpreter's first line to the end of loading; wall clock, and the process's CPU time, which
other load on the machine inflates less) and the resident memory then (VmRSS) and at its peak
(VmHWM). Beside them, the baseline measured in the same run: the same process importing the
worker side too (``reviews.worker.jobs``: the engine with torch and OpenCV), which is what every web
process loaded before the dispatch/execution split. Targets: RSS ≤ 150 MiB, start-up ≤ 2 s.
Prints (not a test); the last line is one JSON object.

    .venv/bin/python bench/web_start.py [--runs 5]
"""
import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.web_load import load_web  # noqa: E402

RSS_TARGET_MIB = 150
START_TARGET_S = 2.0


def start_once(*extra: str) -> dict:
    result = load_web(*extra)
    return result | {"torch": "torch" in result["modules"], "cv2": "cv2" in result["modules"]}


def summary(runs: list[dict], key: str) -> tuple[float, float]:
    values = [run[key] for run in runs]
    return statistics.median(values), max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    web, baseline = [], []
    for i in range(args.runs):  # interleaved, so machine load touches both alike
        web.append(start_once())
        baseline.append(start_once("reviews.worker.jobs"))
        print(f"run {i + 1}: web {web[-1]['start_s']:.2f} s (CPU {web[-1]['cpu_s']:.2f} s) {web[-1]['rss_mib']:.0f} MiB "
              f"(peak {web[-1]['peak_mib']:.0f}) | with the engine {baseline[-1]['start_s']:.2f} s "
              f"(CPU {baseline[-1]['cpu_s']:.2f} s) "
              f"{baseline[-1]['rss_mib']:.0f} MiB (peak {baseline[-1]['peak_mib']:.0f})", flush=True)
    figures = {}
    for name, runs in (("web", web), ("web_with_engine", baseline)):
        start_median, start_worst = summary(runs, "start_s")
        cpu_median, cpu_worst = summary(runs, "cpu_s")
        rss_median, rss_worst = summary(runs, "rss_mib")
        peak_median, peak_worst = summary(runs, "peak_mib")
        figures[name] = {"start_s_median": round(start_median, 2), "start_s_worst": round(start_worst, 2),
                         "cpu_s_median": round(cpu_median, 2), "cpu_s_worst": round(cpu_worst, 2),
                         "rss_mib_median": round(rss_median, 1), "rss_mib_worst": round(rss_worst, 1),
                         "peak_mib_worst": round(peak_worst, 1),
                         "imports_torch": any(run["torch"] for run in runs),
                         "imports_cv2": any(run["cv2"] for run in runs)}
        print(f"{name:16s} start-up median {start_median:.2f} s, worst {start_worst:.2f} s, CPU median "
              f"{cpu_median:.2f} s, worst {cpu_worst:.2f} s (target ≤ {START_TARGET_S}); RSS median {rss_median:.0f} MiB, worst {rss_worst:.0f} MiB, "
              f"peak {peak_worst:.0f} MiB (target ≤ {RSS_TARGET_MIB}); torch {figures[name]['imports_torch']}, "
              f"cv2 {figures[name]['imports_cv2']}")
    web_figures = figures["web"]
    memory_met = web_figures["rss_mib_worst"] <= RSS_TARGET_MIB
    print(f"web process: memory {'meets' if memory_met else 'MISSES'} the target; start-up "
          f"{'meets' if web_figures['start_s_worst'] <= START_TARGET_S else 'MISSES'} it by the wall clock and "
          f"{'meets' if web_figures['cpu_s_worst'] <= START_TARGET_S else 'MISSES'} it in CPU time (load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); the engine would add "
          f"{figures['web_with_engine']['rss_mib_median'] - web_figures['rss_mib_median']:.0f} MiB and "
          f"{figures['web_with_engine']['cpu_s_median'] - web_figures['cpu_s_median']:.2f} s of CPU")
    print(json.dumps({"web_rss_mib": web_figures["rss_mib_worst"], "web_start_s": web_figures["start_s_worst"],
                      "web_start_cpu_s": web_figures["cpu_s_worst"], "load_average": os.getloadavg()[0],
                      **figures}))


if __name__ == "__main__":
    main()
