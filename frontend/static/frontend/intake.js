// Bringing in footage and the cut from the production page, through the API: uploads (one
// request per file), server-side paths ingested in place, and cut imports with their conform
// report. Each outcome — the probed facts, or the specific error — is listed under the forms.
import { describe, patch, post } from "./api.js";
import { logTo } from "./log.js";

const section = document.getElementById("intake");
const code = section.dataset.production;
const say = logTo(document.getElementById("intake-log"));

const clipFacts = (clip) => `${clip.name}: ${clip.codec} ${clip.width}×${clip.height}, ${clip.frame_count} frames, TC ${clip.start_timecode}`;

document.getElementById("upload-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  for (const file of form.elements.file.files) {
    const body = new FormData();
    body.append("file", file);
    say(`Uploading ${file.name}…`, true);
    const { ok, data } = await post(`/api/productions/${code}/clips/upload/`, body);
    say(ok ? `ok ${clipFacts(data)}` : `${file.name}: ${describe(data)}`, ok);
  }
  form.reset();
});

document.getElementById("path-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const path = event.target.elements.path.value.trim();
  const { ok, data } = await post(`/api/productions/${code}/clips/`, { path });
  say(ok ? `ok ${clipFacts(data)}` : `${path}: ${describe(data)}`, ok);
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
