// The review room: before/after of one proposal with a draggable wipe, frames streamed over a
// WebSocket, frame stepping with timecode, and the director's decision.
import { parseFrameMessage, socketUrl } from "./frames.js";

const root = document.getElementById("review");
const proposalId = Number(root.dataset.proposal);
const frameIn = Number(root.dataset.frameIn);
const frameOut = Number(root.dataset.frameOut); // exclusive
const canvas = document.getElementById("viewer");
const context = canvas.getContext("2d");
const PREFETCH = 4; // frames requested on each side of the playhead

const frames = new Map(); // frame number -> {before, after, timecode}
const requested = new Set();
let current = frameIn;
let wipe = 0.5; // fraction of the width showing "before"
let socket;

function entry(frame) {
  if (!frames.has(frame)) frames.set(frame, {});
  return frames.get(frame);
}

function request(frame) {
  if (frame < frameIn || frame >= frameOut || requested.has(frame)) return;
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  requested.add(frame);
  socket.send(JSON.stringify({ type: "frame", frame }));
}

function draw() {
  const shown = frames.get(current);
  if (!shown || !shown.before || !shown.after) return;
  const { width, height } = shown.before;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const split = Math.round(width * wipe);
  context.drawImage(shown.before, 0, 0);
  context.save();
  context.beginPath();
  context.rect(split, 0, width - split, height);
  context.clip();
  context.drawImage(shown.after, 0, 0, width, height);
  context.restore();
  context.fillStyle = "rgba(255, 255, 255, 0.9)";
  context.fillRect(split - 1, 0, 2, height);
  document.getElementById("timecode").textContent = shown.timecode;
  document.getElementById("frame-number").textContent = String(current);
  canvas.dataset.frame = String(current);
  canvas.dataset.wipe = String(split);
}

function show(frame) {
  current = Math.min(frameOut - 1, Math.max(frameIn, frame));
  document.getElementById("scrub").value = String(current);
  for (let f = current - PREFETCH; f <= current + PREFETCH; f += 1) request(f);
  draw();
}

async function onFrame(buffer) {
  const { header, image } = parseFrameMessage(buffer);
  const bitmap = await createImageBitmap(image);
  const item = entry(header.frame);
  item[header.side] = bitmap;
  item.timecode = header.timecode;
  if (header.frame === current) draw();
}

function setStatus(data) {
  const status = document.getElementById("status");
  status.textContent = data.status_label;
  status.dataset.status = data.status;
  const decided = data.status !== "in_review";
  document.querySelectorAll("#decide button").forEach((button) => { button.disabled = decided; });
}

function connect() {
  socket = new WebSocket(socketUrl(`/ws/review/${proposalId}/`));
  socket.binaryType = "arraybuffer";
  const connection = document.getElementById("connection");
  socket.addEventListener("open", () => {
    connection.textContent = "live";
    requested.clear();
    show(current);
  });
  socket.addEventListener("close", (event) => {
    connection.textContent = event.code === 4403 ? "not allowed" : "disconnected — retrying";
    if (event.code !== 4403 && event.code !== 4401) setTimeout(connect, 2000);
  });
  socket.addEventListener("message", (event) => {
    if (event.data instanceof ArrayBuffer) {
      onFrame(event.data);
      return;
    }
    const message = JSON.parse(event.data);
    if (message.event === "proposal" || message.event === "proposal.status") setStatus(message.data);
    if (message.event === "error") connection.textContent = message.data.detail;
  });
}

// The wipe follows the pointer while the button is down.
function wipeTo(event) {
  const box = canvas.getBoundingClientRect();
  wipe = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
  draw();
}
canvas.addEventListener("pointerdown", (event) => { canvas.setPointerCapture(event.pointerId); wipeTo(event); });
canvas.addEventListener("pointermove", (event) => { if (canvas.hasPointerCapture(event.pointerId)) wipeTo(event); });

document.getElementById("prev").addEventListener("click", () => show(current - 1));
document.getElementById("next").addEventListener("click", () => show(current + 1));
document.getElementById("scrub").addEventListener("input", (event) => show(Number(event.target.value)));
document.addEventListener("keydown", (event) => {
  if (event.target.closest("textarea, input")) return;
  if (event.key === "ArrowLeft") show(current - 1);
  if (event.key === "ArrowRight") show(current + 1);
});

const form = document.getElementById("decide");
if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("decide-error");
    error.textContent = "";
    const response = await fetch(root.dataset.decisionsUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRFToken": document.querySelector("[name=csrfmiddlewaretoken]").value,
      },
      body: JSON.stringify({ decision: event.submitter.value, note: form.elements.note.value }),
    });
    const body = await response.json();
    if (!response.ok) {
      error.textContent = body.detail || JSON.stringify(body);
      return;
    }
    setStatus({ status: body.proposal_status, status_label: body.proposal_status_label });
    const item = document.createElement("li");
    item.textContent = `${body.proposal_status_label}${body.note ? `: ${body.note}` : ""}`;
    document.getElementById("decisions").append(item);
  });
}

connect();
