// A report PDF being made by a worker: its progress live from the production's socket
// ("report_export" events), read again every few seconds as a fallback (a socket that cannot
// reach the worker's events: the embedded defaults); the download link once it is ready.
import { listen } from "./live.js";

const section = document.getElementById("report-export");
const code = section.dataset.production;
const id = Number(section.dataset.export);
const bar = document.getElementById("export-progress");
const state = document.getElementById("export-state");
const cancel = document.getElementById("export-cancel");
const download = document.getElementById("export-download");
const FINISHED = ["done", "failed", "cancelled"];
let finished = false;

function show(payload) {
  if (payload.id !== id || finished) return;
  bar.max = Math.max(payload.rows_total, 1);
  bar.value = payload.rows_done;
  state.textContent = `${payload.state_label} ${payload.rows_done}/${payload.rows_total} rows${payload.error ? `: ${payload.error}` : ""}`;
  if (FINISHED.includes(payload.state)) {
    finished = true;
    cancel.hidden = true;
    if (payload.download) {
      download.href = payload.download;
      download.hidden = false;
    }
  }
}

listen(code, { report_export: show });

async function poll() {
  while (!finished) {
    const response = await fetch(`?format=json`, { credentials: "same-origin" });
    if (response.ok) show(await response.json());
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}
poll();
