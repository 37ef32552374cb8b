// The production page: job progress and new versions arrive live over the production's socket.
import { jobText, listen, versionLink } from "./live.js";

const table = document.getElementById("fix-requests");
const code = table.dataset.production;

function row(fixRequestId) {
  return table.querySelector(`tr[data-fix-request="${fixRequestId}"]`);
}

// A clip's review proxy: its progress while the default queue makes it, then a link to it.
function showProxy({ clip, state, frames_done, frames_total, error }) {
  const span = document.querySelector(`.proxy[data-clip="${clip}"]`);
  if (!span) return;
  if (state === "ready") {
    const link = document.createElement("a");
    link.href = span.dataset.href;
    link.textContent = "Review proxy";
    span.replaceChildren(link);
  } else {
    span.textContent = `Proxy ${state} ${frames_done}/${frames_total}${error ? `: ${error}` : ""}`;
  }
}

listen(code, {
  "clip.proxy": showProxy,
  "fix_request.classified"(data) {
    const item = document.createElement("li");
    item.className = "notice";
    item.textContent = data.message;
    document.getElementById("notices").prepend(item);
  },
  job(data) {
    const tr = row(data.fix_request);
    if (tr) tr.querySelector(".job").textContent = jobText(data);
  },
  // A training's progress, then its version and held-out figures (reloaded with the page).
  learned_model(data) {
    const tr = document.querySelector(`tr[data-learned-model="${data.id}"]`);
    if (!tr) return;
    tr.cells[0].textContent = data.label;
    tr.querySelector(".training").textContent =
      `${data.state_label} ${data.steps_done}/${data.steps_total} steps${data.error ? `: ${data.error}` : ""}`;
    if (data.state !== "queued" && data.state !== "running") tr.querySelector("button[data-cancel-training]")?.remove();
  },
  proposal(data) {
    const tr = row(data.fix_request);
    if (!tr) return;
    tr.querySelector(".versions").append(versionLink(data), " ");
  },
});

// Run a fix request's job. One key per intent: a double click or a retry of the same click sends
// the same Idempotency-Key, so the server makes one job; the key is dropped once it answers.
const pendingKeys = new Map();

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

table.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-run]");
  if (!button) return;
  const id = button.dataset.run;
  if (!pendingKeys.has(id)) pendingKeys.set(id, newKey());
  const response = await fetch(`/api/productions/${code}/fix-requests/${id}/jobs/`, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Idempotency-Key": pendingKeys.get(id),
      "X-CSRFToken": document.querySelector("[name=csrfmiddlewaretoken]").value,
    },
  });
  const body = await response.json();
  document.getElementById("run-error").textContent = response.ok ? "" : body.detail;
  if (response.ok) {
    pendingKeys.delete(id);
    row(id).querySelector(".job").textContent = `${body.state_label} ${body.frames_done}/${body.frames_total}`;
  }
});

