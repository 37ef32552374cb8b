// The production's live events over its socket (docs/review-protocol.md, "Production events"):
// each event goes to handlers[name](data); the socket reconnects unless it was refused.
import { retryDelays, socketUrl } from "./frames.js";

export function listen(code, handlers) {
  const delays = retryDelays();
  const connect = () => {
    const socket = new WebSocket(socketUrl(`/ws/productions/${code}/`));
    socket.addEventListener("open", () => delays.reset());
    socket.addEventListener("message", (event) => {
      const { event: name, data } = JSON.parse(event.data);
      handlers[name]?.(data);
    });
    socket.addEventListener("close", (event) => {
      if (event.code !== 4403 && event.code !== 4401) setTimeout(connect, delays.next());
    });
  };
  connect();
}

// A job as one line of text: state, frames, time left, error.
export function jobText(job) {
  const eta = job.eta_seconds !== null && job.eta_seconds !== undefined ? ` · ${Math.round(job.eta_seconds)} s left` : "";
  const stage = job.stage === "mask" ? "Mask: " : ""; // a mask job (the fix request's mask sequence)
  return `${stage}${job.state_label} ${job.frames_done}/${job.frames_total}${eta}${job.error ? `: ${job.error}` : ""}`;
}

// A link to a new version's review room (a "proposal" event), labelled ``text``.
export function versionLink(proposal, text = proposal.version) {
  const link = document.createElement("a");
  link.href = `/review/${proposal.id}/`;
  link.textContent = text;
  return link;
}
