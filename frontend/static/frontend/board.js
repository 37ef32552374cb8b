// The shot board: select shots and assign their open fixes in bulk; file a fix request on a shot
// with a mask drawn on one or more of its frames (a rectangle dragged, or a polygon clicked). Both
// go through the API; the board reloads to show what the server stored. Before running a removal,
// a clean plate or a sky replacement (its sky proposed by the server when nothing is outlined),
// "Preview mask" files it as a draft and segments the outlined object through
// its frames (a mask job): the mask shows over the frame while scrubbing, and add/subtract brush
// strokes painted on any frame are sent to the fix request, which re-propagates the mask from there;
// "Undo stroke" removes the newest one and re-propagates without it.
import { describe, post } from "./api.js";

const table = document.getElementById("shots");
const code = table.dataset.production;

// --- Bulk assign, and continuity checks between the selected shots --------------------------
const bulk = document.getElementById("bulk-assign");
if (bulk) {
  const boxes = () => [...table.querySelectorAll("input.select")];
  const chosen = () => boxes().filter((box) => box.checked).map((box) => Number(box.closest("tr").dataset.shot));
  const refresh = () => {
    const count = chosen().length;
    document.getElementById("selected-count").textContent = `${count} shot${count === 1 ? "" : "s"} selected`;
    bulk.querySelector("button[type=submit]").disabled = count === 0;
    const check = document.getElementById("check-continuity");
    if (check) check.disabled = count < 2;
  };
  table.addEventListener("change", (event) => {
    if (event.target.id === "select-all") boxes().forEach((box) => { box.checked = event.target.checked; });
    refresh();
  });
  bulk.addEventListener("submit", async (event) => {
    event.preventDefault();
    const assignee = bulk.elements.assignee.value;
    const { ok, data } = await post(`/api/productions/${code}/assignments/`,
      { shots: chosen(), assignee: assignee ? Number(assignee) : null });
    document.getElementById("bulk-error").textContent = ok ? "" : describe(data);
    if (ok) window.location.reload();
  });
  document.getElementById("check-continuity")?.addEventListener("click", async () => {
    const { ok, data } = await post(`/api/productions/${code}/continuity-checks/`, { shots: chosen(), run: true });
    document.getElementById("bulk-error").textContent = ok ? "" : describe(data);
    if (ok) window.location.reload();
  });
}

// --- File a fix request with a drawn mask -----------------------------------------------------
// One outline per frame: drawn on one frame it is tracked through the fix's frames; drawn on
// several (keyframes), each is tracked to its neighbours and a frame between two takes both (engine.ops.region).
const dialog = document.getElementById("file-fix");
if (dialog) {
  const form = document.getElementById("file-fix-form");
  const image = document.getElementById("mask-frame");
  const canvas = document.getElementById("mask-overlay");
  let shot = null; // the row's dataset
  const drawn = new Map(); // frame number → { shape, points (in the clip's pixels), closed }
  let drag = null; // rectangle being dragged: its first corner
  let filed = null; // the fix request's id once filed (as a draft) to preview its mask
  let sequence = null; // its mask sequence: {strokes, job, frame_url} (GET …/mask/)
  let stroke = null; // the correction stroke being painted: its points in the clip's pixels
  const maskImage = document.getElementById("mask-sequence");
  const maskStatus = document.getElementById("mask-status");
  const painting = () => ["add", "subtract"].includes(shape());
  const radius = () => Math.max(1, Number(form.elements.brush_radius.value) || 1);

  const scale = () => Number(shot.width) / canvas.width; // clip pixels per canvas pixel
  const toClip = (event) => {
    const box = canvas.getBoundingClientRect();
    const x = ((event.clientX - box.left) / box.width) * canvas.width * scale();
    const y = ((event.clientY - box.top) / box.height) * canvas.height * scale();
    return [Math.min(Math.max(x, 0), Number(shot.width)), Math.min(Math.max(y, 0), Number(shot.height))];
  };
  const shape = () => form.elements.mask_shape.value;
  const frameNumber = () => Number(form.elements.mask_frame.value);
  // The outline of the frame shown (started empty, in the chosen shape, when there is none).
  const outline = () => {
    if (!drawn.has(frameNumber())) drawn.set(frameNumber(), { shape: shape(), points: [], closed: false });
    return drawn.get(frameNumber());
  };
  const complete = (o) => (o.shape === "rectangle" ? o.points.length === 2 : o.closed && o.points.length >= 3);
  const keyframes = () => [...drawn.entries()].filter(([, o]) => complete(o)).sort(([a], [b]) => a - b);

  function draw() {
    const context = canvas.getContext("2d");
    context.clearRect(0, 0, canvas.width, canvas.height);
    const { shape: kind, points, closed } = drawn.get(frameNumber()) || { points: [] };
    if (points.length) {
      const s = 1 / scale();
      context.lineWidth = 2;
      context.strokeStyle = "#ffcc00";
      context.fillStyle = "rgba(255, 204, 0, 0.2)";
      context.beginPath();
      if (kind === "rectangle" && points.length === 2) {
        const [[x0, y0], [x1, y1]] = points;
        context.rect(x0 * s, y0 * s, (x1 - x0) * s, (y1 - y0) * s);
      } else {
        points.forEach(([x, y], i) => (i ? context.lineTo(x * s, y * s) : context.moveTo(x * s, y * s)));
        if (closed) context.closePath();
      }
      context.fill();
      context.stroke();
    }
    if (stroke && stroke.length) { // the brush path being painted
      const s = 1 / scale();
      context.lineWidth = 2 * radius() * s;
      context.lineCap = context.lineJoin = "round";
      context.strokeStyle = shape() === "add" ? "rgba(80, 220, 120, 0.6)" : "rgba(240, 80, 80, 0.6)";
      context.beginPath();
      stroke.forEach(([x, y], i) => (i ? context.lineTo(x * s, y * s) : context.moveTo(x * s, y * s)));
      if (stroke.length === 1) context.lineTo(stroke[0][0] * s + 0.1, stroke[0][1] * s);
      context.stroke();
    }
    const listed = keyframes().map(([frame, o]) => `${o.shape} of ${o.points.length} points on frame ${frame}`);
    // A button per keyframe, to go back to it (and see or redraw its outline).
    document.getElementById("mask-keyframes").replaceChildren(...keyframes().map(([frame]) => {
      const go = document.createElement("button");
      go.type = "button";
      go.className = "keyframe";
      go.textContent = `Frame ${frame}`;
      go.disabled = frame === frameNumber();
      go.addEventListener("click", () => {
        form.elements.mask_frame.value = frame;
        loadFrame();
      });
      return go;
    }));
    document.getElementById("mask-summary").textContent = !listed.length ? "No mask drawn."
      : listed.length === 1 ? `${listed[0]}, tracked through the frames.`
      : `Keyframes: ${listed.join("; ")}. Frames between two keyframes take both outlines, tracked.`;
  }

  function clear() {
    drawn.delete(frameNumber());
    drag = null;
    draw();
  }

  // The API's mask: one outline, or a list of outlines on keyframes (null when none is finished).
  function mask() {
    const outlines = keyframes().map(([frame, o]) => ({ frame, shape: o.shape, points: o.points }));
    if (!outlines.length) return null;
    return outlines.length === 1 ? outlines[0] : outlines;
  }

  // Once filed, what was filed is no longer edited here; a new dialog starts unlocked.
  function locked(on) {
    form.querySelectorAll(".fields input, .fields select, #clear-mask, input[name=mask_shape][value=rectangle], "
      + "input[name=mask_shape][value=polygon]").forEach((element) => { element.disabled = on; });
  }

  // The mask over the frame shown, once the fix request's newest mask job has made it.
  function showMask() {
    const url = sequence?.frame_url;
    const frame = frameNumber();
    const inside = filed && frame >= Number(form.elements.frame_in.value) && frame <= Number(form.elements.frame_last.value);
    maskImage.hidden = !url || !inside;
    if (url && inside) maskImage.src = url.replace("{frame}", String(frame));
  }

  // "Undo stroke" is offered while the mask has a correction stroke.
  function showUndo() {
    document.getElementById("mask-undo-stroke").disabled = !filed || !sequence?.strokes.length;
  }

  function describeMask() {
    const job = sequence?.job;
    if (!job) return "";
    const strokes = sequence.strokes.length;
    if (job.state === "succeeded") {
      return `Mask propagated through the frames (${strokes} correction stroke${strokes === 1 ? "" : "s"}). `
        + "Scrub to check it; paint an add or subtract stroke where it is wrong: it re-propagates from that frame.";
    }
    if (job.state === "failed") return `The mask could not be propagated: ${job.error}`;
    if (job.state === "cancelled") return "Mask job cancelled.";
    return `Mask: ${job.state_label.toLowerCase()} ${job.frames_done}/${job.frames_total}`;
  }

  // Follow the newest mask job until it has ended, then show its mask.
  async function follow() {
    showUndo();
    maskStatus.textContent = describeMask();
    while (sequence?.job && ["queued", "running"].includes(sequence.job.state)) {
      await new Promise((resolve) => setTimeout(resolve, 700));
      const response = await fetch(`/api/productions/${code}/fix-requests/${filed}/mask/`, { credentials: "same-origin" });
      if (!response.ok) break;
      sequence = await response.json();
      maskStatus.textContent = describeMask();
    }
    showMask();
  }

  function loadFrame() {
    image.src = `/media/clips/${shot.clip}/frames/${form.elements.mask_frame.value}.jpg`;
    showMask();
    drag = null;
    const shown = drawn.get(frameNumber());
    if (shown && !painting()) form.elements.mask_shape.value = shown.shape;
    draw();
  }

  image.addEventListener("load", () => {
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    draw();
  });

  canvas.addEventListener("pointerdown", (event) => {
    if (painting()) {
      if (!sequence?.frame_url) {
        document.getElementById("file-fix-error").textContent = "Preview the mask first: strokes correct it.";
        return;
      }
      stroke = [toClip(event)];
      canvas.setPointerCapture(event.pointerId);
      draw();
      return;
    }
    if (shape() !== "rectangle") return;
    drag = toClip(event);
    outline().points = [drag, drag];
    canvas.setPointerCapture(event.pointerId);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (stroke) {
      stroke.push(toClip(event));
      draw();
      return;
    }
    if (!drag) return;
    outline().points = [drag, toClip(event)];
    draw();
  });
  canvas.addEventListener("pointerup", async () => {
    if (!stroke) return;
    const body = { frame: frameNumber(), mode: shape(), radius: radius(), points: stroke.map(([x, y]) => [x, y]) };
    stroke = null;
    const { ok, data } = await post(`/api/productions/${code}/fix-requests/${filed}/mask/strokes/`, body);
    document.getElementById("file-fix-error").textContent = ok ? "" : describe(data);
    draw();
    if (ok) {
      sequence = data;
      follow();
    }
  });
  // "Undo stroke": the newest stroke is removed and a new mask job re-propagates without it.
  document.getElementById("mask-undo-stroke").addEventListener("click", async () => {
    const { ok, data } = await post(`/api/productions/${code}/fix-requests/${filed}/mask/strokes/last/`, {}, "DELETE");
    document.getElementById("file-fix-error").textContent = ok ? "" : describe(data);
    if (ok) {
      sequence = data;
      follow();
    }
  });
  canvas.addEventListener("pointerup", (event) => {
    if (!drag) return;
    outline().points = [drag, toClip(event)];
    drag = null;
    draw();
  });
  canvas.addEventListener("click", (event) => {
    if (shape() !== "polygon" || outline().closed) return;
    outline().points.push(toClip(event));
    draw();
  });
  canvas.addEventListener("dblclick", () => {
    if (shape() !== "polygon") return;
    // The double-click's own two clicks added its point twice: keep it once.
    const { points } = outline();
    const same = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]) < 2 * scale();
    while (points.length > 1 && same(points.at(-1), points.at(-2))) points.pop();
    outline().closed = points.length >= 3;
    draw();
  });
  // What the chosen fix kind needs, in a sentence (reviews/fixes.py), under the kind.
  const showNeeds = () => {
    document.getElementById("kind-needs").textContent = form.elements.kind.selectedOptions[0].dataset.needs;
  };
  form.elements.kind.addEventListener("change", showNeeds);
  showNeeds();
  form.elements.mask_frame.addEventListener("change", loadFrame);
  // A new outline shape starts this frame's outline again; the brushes leave it.
  form.querySelectorAll("input[name=mask_shape]").forEach((radio) => radio.addEventListener("change", () => {
    if (!painting()) clear();
  }));
  document.getElementById("clear-mask").addEventListener("click", clear);

  table.addEventListener("click", (event) => {
    const button = event.target.closest("button.file-fix");
    if (!button) return;
    const row = button.closest("tr");
    shot = { id: Number(row.dataset.shot), ...row.dataset };
    dialog.querySelector(".shot-code").textContent = row.querySelector(".code").textContent;
    form.elements.frame_in.value = shot.sourceIn;
    form.elements.frame_last.value = Number(shot.sourceOut) - 1;
    form.elements.mask_frame.value = shot.sourceIn;
    drawn.clear();
    filed = null;
    sequence = null;
    locked(false);
    maskStatus.textContent = "";
    showUndo();
    form.elements.mask_shape.value = "rectangle";
    document.getElementById("file-fix-error").textContent = "";
    loadFrame();
    dialog.showModal();
  });

  // The fix request as the form describes it (null, with the error shown, when it cannot be sent).
  function fixRequestBody(run) {
    const error = document.getElementById("file-fix-error");
    let parameters;
    try {
      parameters = JSON.parse(form.elements.parameters.value || "{}");
    } catch {
      error.textContent = "Parameters must be a JSON object, e.g. {\"method\": \"mkl\"}.";
      return null;
    }
    const value = (name) => form.elements[name].value;
    return {
      shot: shot.id,
      kind: value("kind"),
      frame_in: Number(value("frame_in")),
      frame_out: Number(value("frame_last")) + 1,
      reference_shot: value("reference_shot") ? Number(value("reference_shot")) : null,
      assignee: value("assignee") ? Number(value("assignee")) : null,
      due_date: value("due_date") || null,
      parameters,
      description: value("description"),
      mask: mask(),
      run,
    };
  }

  // "Preview mask": file the fix request as a draft (once), then segment its object (a mask job).
  document.getElementById("mask-propagate").addEventListener("click", async () => {
    const error = document.getElementById("file-fix-error");
    if (!filed) {
      const body = fixRequestBody(false);
      if (!body) return;
      const { ok, data } = await post(`/api/productions/${code}/fix-requests/`, body);
      error.textContent = ok ? "" : describe(data);
      if (!ok) return;
      filed = data.id;
      locked(true); // filed: its kind, frames and outlines are stored; strokes correct its mask now
      form.elements.mask_shape.value = "add";
    }
    const { ok, data } = await post(`/api/productions/${code}/fix-requests/${filed}/mask/`, {});
    error.textContent = ok ? "" : describe(data);
    if (ok) {
      sequence = data;
      follow();
    }
  });

  // Closed after a preview: the draft stays filed (with its mask); the board shows it.
  dialog.addEventListener("close", () => {
    if (filed) window.location.reload();
  });

  form.addEventListener("submit", async (event) => {
    if (event.submitter && event.submitter.value === "cancel") return;
    event.preventDefault();
    const error = document.getElementById("file-fix-error");
    const run = event.submitter?.value !== "draft"; // filing runs it; "Save as draft" waits for Run
    let reply;
    if (filed) { // filed already to preview its mask: run it (with its mask sequence), or leave it a draft
      reply = run ? await post(`/api/productions/${code}/fix-requests/${filed}/jobs/`, {}) : { ok: true };
    } else {
      const body = fixRequestBody(run);
      if (!body) return;
      reply = await post(`/api/productions/${code}/fix-requests/`, body);
    }
    error.textContent = reply.ok ? "" : describe(reply.data);
    if (reply.ok) {
      dialog.close();
      window.location.reload();
    }
  });
}
