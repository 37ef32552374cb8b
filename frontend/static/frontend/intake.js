// Bringing in footage and the cut from the production page, through the API: uploads (one
// request per file), server-side paths ingested in place, and cut imports with their conform
// report. Each outcome — the probed facts, or the specific error — is listed under the forms.
// An ingest is run by a worker (the API answers 202 with the ingest's URL): its line follows it
// from the production's socket ("clip_ingest" events) and, as a fallback for a socket that cannot
// reach the worker's events, by reading its URL every few seconds, until it is ready or failed.
import { describe, patch, post } from "./api.js";
import { listen } from "./live.js";
import { logTo } from "./log.js";

const section = document.getElementById("intake");
const code = section.dataset.production;
const say = logTo(document.getElementById("intake-log"));

const clipFacts = (clip) => `${clip.name}: ${clip.codec} ${clip.width}×${clip.height}, ${clip.frame_count} frames, TC ${clip.start_timecode}`;

const FINISHED = ["ready", "failed"];
const following = new Map(); // ingest id → read it again
let listening = false;

const percent = (ingest) => (ingest.step === "checksum" && ingest.bytes_total
  ? ` ${Math.floor((100 * ingest.bytes_done) / ingest.bytes_total)}%` : "");
const stateText = (ingest) => `${ingest.state_label}${ingest.state === "running" && ingest.step_label ? `: ${ingest.step_label}${percent(ingest)}` : ""}`;

// Show how ingest ``accepted`` stands on ``line`` (its log line) and in the ingests table, until it ends.
function follow(label, accepted, line) {
  if (!listening) {
    listening = true;
    listen(code, { clip_ingest: (ingest) => following.get(ingest.id)?.() });
  }
  let finished = false;
  const show = (ingest) => {
    if (finished) return;
    const cell = document.querySelector(`#ingests tr[data-ingest="${ingest.id}"] .state`);
    if (cell) cell.textContent = stateText(ingest);
    if (ingest.state === "ready") line.textContent = `ok ${clipFacts(ingest.clip)}`;
    else if (ingest.state === "failed") line.textContent = `${label}: ${ingest.error}`;
    else line.textContent = `${label} — ${stateText(ingest)}`;
    line.className = ingest.state === "failed" ? "error" : "ok";
    if (FINISHED.includes(ingest.state)) {
      finished = true;
      following.delete(ingest.id);
    }
  };
  const read = async () => {
    const response = await fetch(accepted.url, { credentials: "same-origin" });
    if (response.ok) show(await response.json());
  };
  following.set(accepted.id, read);
  show(accepted);
  (async () => {
    while (!finished) {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      if (!finished) await read();
    }
  })();
}

// Ingests the page was drawn with that had not ended: followed too.
document.querySelectorAll("#ingests tr[data-ingest]").forEach((row) => {
  if (row.dataset.finished) return;
  const id = Number(row.dataset.ingest);
  const label = row.cells[0].textContent;
  follow(label, { id, url: `/api/productions/${code}/ingests/${id}/`, state: "queued", state_label: row.querySelector(".state").textContent },
    say(`${label} — ${row.querySelector(".state").textContent}`, true));
});

document.getElementById("upload-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  for (const file of form.elements.file.files) {
    const body = new FormData();
    body.append("file", file);
    const line = say(`Uploading ${file.name}…`, true);
    const { ok, data } = await post(`/api/productions/${code}/clips/upload/`, body);
    if (ok) follow(file.name, data, line);
    else {
      line.textContent = `${file.name}: ${describe(data)}`;
      line.className = "error";
    }
  }
  form.reset();
});

document.getElementById("path-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const path = event.target.elements.path.value.trim();
  const { ok, data } = await post(`/api/productions/${code}/clips/`, { path });
  if (ok) follow(path, data, say(`${path} — queued`, true));
  else say(`${path}: ${describe(data)}`, false);
});

document.getElementById("cut-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = new FormData();
  body.append("file", form.elements.file.files[0]);
  for (const name of ["sequence", "rate"]) if (form.elements[name].value.trim()) body.append(name, form.elements[name].value.trim());
  const { ok, data } = await post(`/api/productions/${code}/cuts/`, body);
  if (!ok) {
    say(`${form.elements.file.files[0].name}: ${describe(data)}`, false);
    return;
  }
  if (data.kind === "bin") {
    const { counts, rows } = data.report;
    say(`ok ${data.file_name} (bin): metadata on ${counts.matched} of ${counts.rows} rows' clips`, true);
    for (const row of rows) if (!row.clip) say(`unmatched row ${row.row} (${row.name}): ${row.reason}`, false);
    return;
  }
  const { counts, unmatched, warnings } = data.report;
  say(`ok ${data.file_name} → sequence ${data.sequence}: ${counts.created} created, ${counts.matched} matched `
    + `(${counts.trimmed} trimmed, ${counts.moved} moved), ${counts.removed} removed, ${counts.unmatched} unmatched`, true);
  for (const event of unmatched) say(`unmatched event ${event.event} (${event.name || event.reel}): ${event.reason}`, false);
  for (const warning of warnings || []) say(`warning: ${warning}`, false);
});

// A clip's input colour space, changed by the supervisor: the proxy is made again and every fix
// request that has run on the clip gets a new job (the API says so in the clip it returns).
document.querySelectorAll(".colorspace-form").forEach((form) => form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const clip = form.dataset.clip;
  const input_colorspace = form.elements.input_colorspace.value.trim();
  const { ok, data } = await patch(`/api/productions/${code}/clips/${clip}/`, { input_colorspace });
  if (ok) document.querySelector(`.colorspace[data-clip="${clip}"]`).textContent = data.input_colorspace;
  say(ok ? `ok ${data.name} is now read as ${data.input_colorspace}; its proxy and fixes are made again`
    : `${describe(data)}`, ok);
}));
