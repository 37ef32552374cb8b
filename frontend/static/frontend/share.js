// A guest's view of a shared version (frontend/templates/frontend/share_review.html): step
// through the shared frames and flip before/after. Frames come from the version's page address
// + frames/ (/share/<token>/frames/, or /share/<token>/versions/<id>/frames/ in a playlist),
// watermarked with the guest's name by the server.
const viewer = document.getElementById("share-viewer");
const image = document.getElementById("share-frame");
const number = document.getElementById("share-frame-number");
const sideButton = document.getElementById("share-side");
const noteFrame = document.getElementById("share-note-frame");
const frames = viewer.dataset.frames;
const first = Number(viewer.dataset.frameIn);
const last = Number(viewer.dataset.frameOut) - 1;
let frame = first;
let side = "after";

function show() {
  image.src = `${frames}${side}/${frame}.jpg`;
  image.alt = `Frame ${frame}, ${side} the fix`;
  number.textContent = String(frame);
  sideButton.textContent = side === "after" ? "Show before" : "Show after";
  noteFrame.value = String(frame);
}

function step(by) {
  frame = Math.min(last, Math.max(first, frame + by));
  show();
}

document.getElementById("share-prev").addEventListener("click", () => step(-1));
document.getElementById("share-next").addEventListener("click", () => step(1));
sideButton.addEventListener("click", () => {
  side = side === "after" ? "before" : "after";
  show();
});
document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, textarea, select")) return;
  if (event.key === "ArrowLeft") step(-1);
  if (event.key === "ArrowRight") step(1);
});
