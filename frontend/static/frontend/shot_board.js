// The shot board: job progress of each shot's fix requests arrives live over the production's
// socket (docs/review-protocol.md, "Production events"); a new version links to its review room.
import { jobText, listen, versionLink } from "./live.js";

const table = document.getElementById("shots");
const code = table.dataset.production;
const ACTIVE = new Set(["queued", "running"]);

function rowsOf(fixRequest) {
  return [...table.querySelectorAll("tr[data-fix-requests]")]
    .filter((tr) => tr.dataset.fixRequests.split(" ").includes(String(fixRequest)));
}

function showJob(cell, job) {
  cell.querySelector(".last-job")?.remove(); // a job is live now: no "—" or last job beside it
  let line = cell.querySelector(`[data-job="${job.id}"]`);
  if (!line) {
    line = document.createElement("div");
    line.dataset.job = String(job.id);
    cell.append(line);
  }
  line.dataset.state = job.state;
  const progress = document.createElement("progress");
  progress.max = job.frames_total || 1;
  progress.value = job.frames_done;
  line.replaceChildren(`${jobText(job)} `);
  if (ACTIVE.has(job.state)) line.append(progress);
}

listen(code, {
  job(data) {
    for (const tr of rowsOf(data.fix_request)) showJob(tr.querySelector(".job"), data);
  },
  proposal(data) {
    for (const tr of rowsOf(data.fix_request)) {
      const link = versionLink(data, `${data.version} ready`);
      link.className = "new-version";
      tr.querySelector(".job").append(link);
    }
  },
});
