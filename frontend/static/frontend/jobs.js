// The jobs page: state, progress, ETA and previews arrive over the production's socket; cancel
// and retry go through the API.
import { listen } from "./live.js";

const table = document.getElementById("jobs");
const code = table.dataset.production;
const ACTIVE = new Set(["queued", "running"]);
const RETRYABLE = new Set(["failed", "cancelled"]);

function update(tr, job) {
  tr.dataset.state = job.state;
  const state = tr.querySelector(".state");
  state.textContent = job.state_label;
  if (job.error) {
    const error = document.createElement("div");
    error.className = "error";
    error.textContent = job.error;
    state.append(error);
  }
  const progress = tr.querySelector("progress");
  progress.max = job.frames_total;
  progress.value = job.frames_done;
  tr.querySelector(".frames").textContent = `${job.frames_done}/${job.frames_total}`;
  tr.querySelector(".eta").textContent = job.eta_seconds === null ? "—" : `${Math.round(job.eta_seconds)} s`;
  tr.querySelector(".worker").textContent = job.worker || "—";
  tr.querySelector(".attempts").textContent = String(job.attempts);
  const cancel = tr.querySelector("[data-action=cancel]");
  const retry = tr.querySelector("[data-action=retry]");
  if (cancel) cancel.hidden = !ACTIVE.has(job.state);
  if (retry) retry.hidden = !RETRYABLE.has(job.state);
}

listen(code, {
  job(data) {
    const tr = table.querySelector(`tr[data-job="${data.id}"]`);
    if (tr) update(tr, data); else window.location.reload(); // a job this page has not listed yet
  },
  "job.preview"(data) {
    const img = table.querySelector(`tr[data-job="${data.id}"] .preview`);
    if (!img) return;
    img.src = data.image;
    img.alt = `frame ${data.frame}`;
    img.hidden = false;
  },
});

table.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const id = button.closest("tr").dataset.job;
  const response = await fetch(`/api/productions/${code}/jobs/${id}/${button.dataset.action}/`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRFToken": document.querySelector("[name=csrfmiddlewaretoken]").value },
  });
  const body = await response.json();
  document.getElementById("jobs-error").textContent = response.ok ? "" : body.detail;
  if (response.ok && button.dataset.action === "retry") window.location.reload();
  else if (response.ok) update(button.closest("tr"), body);
});

