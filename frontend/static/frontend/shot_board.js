// The shot board: job progress of each shot's fix requests arrives live over the production's
// socket (docs/review-protocol.md, "Production events"); a new version links to its review room.
import { socketUrl } from "./frames.js";

const table = document.getElementById("shots");
const code = table.dataset.production;
const ACTIVE = new Set(["queued", "running"]);

function rowsOf(fixRequest) {
  return [...table.querySelectorAll("tr[data-fix-requests]")]
    .filter((tr) => tr.dataset.fixRequests.split(" ").includes(String(fixRequest)));
}

function showJob(cell, job) {
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
  const eta = job.eta_seconds !== null ? ` · ${Math.round(job.eta_seconds)} s left` : "";
  line.replaceChildren(`${job.state_label} ${job.frames_done}/${job.frames_total}${eta}${job.error ? `: ${job.error}` : ""} `);
  if (ACTIVE.has(job.state)) line.append(progress);
}

function connect() {
  const socket = new WebSocket(socketUrl(`/ws/productions/${code}/`));
  socket.addEventListener("message", (event) => {
    const { event: name, data } = JSON.parse(event.data);
    for (const tr of rowsOf(data.fix_request)) {
      const cell = tr.querySelector(".job");
      if (name === "job") showJob(cell, data);
      if (name === "proposal") {
        const link = document.createElement("a");
        link.href = `/review/${data.id}/`;
        link.textContent = `${data.version} ready`;
        link.className = "new-version";
        cell.append(link);
      }
    }
  });
  socket.addEventListener("close", (event) => {
    if (event.code !== 4403 && event.code !== 4401) setTimeout(connect, 3000);
  });
}

connect();
