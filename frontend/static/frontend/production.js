// The production page: job progress and new versions arrive live over the production's socket.
import { socketUrl } from "./frames.js";

const table = document.getElementById("fix-requests");
const code = table.dataset.production;

function row(fixRequestId) {
  return table.querySelector(`tr[data-fix-request="${fixRequestId}"]`);
}

function connect() {
  const socket = new WebSocket(socketUrl(`/ws/productions/${code}/`));
  socket.addEventListener("message", (event) => {
    const { event: name, data } = JSON.parse(event.data);
    const tr = row(data.fix_request);
    if (!tr) return;
    if (name === "job") {
      tr.querySelector(".job").textContent = `${data.state_label} ${data.frames_done}/${data.frames_total}${data.error ? `: ${data.error}` : ""}`;
    }
    if (name === "proposal") {
      const link = document.createElement("a");
      link.href = `/review/${data.id}/`;
      link.textContent = data.version;
      tr.querySelector(".versions").append(link, " ");
    }
  });
  socket.addEventListener("close", (event) => {
    if (event.code !== 4403 && event.code !== 4401) setTimeout(connect, 3000);
  });
}

connect();
