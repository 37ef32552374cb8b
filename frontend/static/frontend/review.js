// The review room (docs/review-protocol.md): before/after frames of a fix request's versions
// streamed over a WebSocket and compared (wipe, side by side, difference, A/B), played at the
// clip's rate with a prefetch window, zoomed to 1:1; a live session in which the presenter
// drives (playhead, versions, compare mode, wipe) and everyone follows, with presence, a laser
// pointer, annotations and notes pinned to frames, job progress, new versions and decisions.
import { parseFrameMessage, retryDelays, socketUrl } from "./frames.js";

const root = document.getElementById("review");
const openedProposal = Number(root.dataset.proposal);
const frameIn = Number(root.dataset.frameIn);
const frameOut = Number(root.dataset.frameOut); // exclusive
const canvas = document.getElementById("viewer");
const context = canvas.getContext("2d");
const overlay = document.getElementById("overlay");
const ink = overlay.getContext("2d");
const viewport = document.getElementById("viewport");
const $ = (id) => document.getElementById(id);

const AHEAD = 8; // frames prefetched ahead of the playhead while paused
const AHEAD_PLAYING = 24; // … and while playing
const BEHIND = 2;
const KEEP = 48; // decoded frames kept either side of the playhead
const DIFFERENCE_GAIN = 8;
const LASER_FADE_MS = 2500;

let socket;
let me = null; // {user, name, roles, may_annotate, may_note, may_decide}
let frameRate = [24, 1];
let room = { presenter: null, presenter_name: "", proposal: openedProposal, versus: null, frame: frameIn,
             mode: "wipe", orientation: "vertical", wipe: 0.5, ab: "b", playing: false, view: null };
// The OCIO display/view frames are shown through: the room's (the presenter's choice) while
// following it, else this viewer's own pick.
let offeredViews = []; // [{name, display, view}], from the room event
let ownView = null;
const followsView = () => isPresenter() || $("follow-view").checked || ownView === null;
const shownView = () => (followsView() ? room.view || offeredViews[0]?.name : ownView);
const versions = new Map(); // id -> version payload
const images = new Map(); // "proposal:frame:side" -> {bitmap, timecode}
const requested = new Set();
let current = frameIn;
let lastRequested = null;
let playing = false;
let loopIn = null;
let loopOut = null;
let zoom = "fit";
let tool = "wipe";
let annotations = [];
let notes = [];
const regions = new Map(); // proposal -> polygons
const lasers = new Map(); // user -> {name, point, at}
let stroke = null; // the drawing in progress
let replyTo = null;

const isPresenter = () => me !== null && room.presenter === me.user;
const key = (proposal, frame, side, view = shownView()) => `${proposal}:${frame}:${side}:${view}`;
const clamp = (frame) => Math.min(frameOut - 1, Math.max(frameIn, frame));

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

// --- frames ---------------------------------------------------------------------------------
// A is the original ("before" of B's version) or another version's "after"; B is a version's "after".
// A can also be the fix request's reference shot ("reference": its frames beside B's, frame for frame).
const REFERENCE = "reference";
const referenceShot = root.dataset.reference || "";
function sources() {
  const a = room.versus === REFERENCE ? [room.proposal, REFERENCE]
    : room.versus ? [room.versus, "after"] : [room.proposal, "before"];
  return { a, b: [room.proposal, "after"] };
}

function request(frame, flush) {
  if (frame < frameIn || frame >= frameOut) return;
  const { a, b } = sources();
  const wanted = [a, b];
  const byProposal = new Map();
  for (const [proposal, side] of wanted) {
    const k = key(proposal, frame, side);
    if (images.has(k) || requested.has(k)) continue;
    requested.add(k);
    if (!byProposal.has(proposal)) byProposal.set(proposal, []);
    byProposal.get(proposal).push(side);
  }
  for (const [proposal, sides] of byProposal) {
    send({ type: "frame", proposal, frame, sides, view: shownView() || undefined, flush: flush || undefined });
    flush = false;
  }
}

function prefetch() {
  const seek = lastRequested === null || Math.abs(current - lastRequested) > 1;
  lastRequested = current;
  request(current, seek);
  const ahead = playing || room.playing ? AHEAD_PLAYING : AHEAD;
  for (let step = 1; step <= ahead; step += 1) {
    let frame = current + step;
    if (loopOut !== null && frame > loopOut) frame = loopIn + (frame - loopOut - 1);
    request(frame, false);
  }
  for (let step = 1; step <= BEHIND; step += 1) request(current - step, false);
  for (const [k, item] of images) { // forget what is far from the playhead
    const frame = Number(k.split(":")[1]);
    if (Math.abs(frame - current) > KEEP) {
      item.bitmap.close();
      images.delete(k);
      requested.delete(k);
    }
  }
}

async function onFrame(buffer) {
  const { header, image } = parseFrameMessage(buffer);
  const bitmap = await createImageBitmap(image);
  images.set(key(header.proposal, header.frame, header.side, header.view), { bitmap, timecode: header.timecode });
  if (header.frame === current && header.view === shownView()) draw();
}

function pictureOf(source, frame) {
  return images.get(key(source[0], frame, source[1]));
}

function ready(frame) {
  const { a, b } = sources();
  return Boolean(pictureOf(a, frame) && pictureOf(b, frame));
}

// --- drawing --------------------------------------------------------------------------------
function pictureRects(width, height) {
  return room.mode === "side" ? [[0, 0, width, height], [width, 0, width, height]] : [[0, 0, width, height]];
}

function drawDifference(a, b, width, height) {
  context.drawImage(a, 0, 0, width, height);
  const pa = context.getImageData(0, 0, width, height);
  context.drawImage(b, 0, 0, width, height);
  const pb = context.getImageData(0, 0, width, height);
  const out = pb.data;
  for (let i = 0; i < out.length; i += 4) {
    out[i] = Math.min(255, Math.abs(out[i] - pa.data[i]) * DIFFERENCE_GAIN);
    out[i + 1] = Math.min(255, Math.abs(out[i + 1] - pa.data[i + 1]) * DIFFERENCE_GAIN);
    out[i + 2] = Math.min(255, Math.abs(out[i + 2] - pa.data[i + 2]) * DIFFERENCE_GAIN);
  }
  context.putImageData(pb, 0, 0);
}

function draw() {
  const { a, b } = sources();
  const A = pictureOf(a, current);
  const B = pictureOf(b, current);
  if (!A || !B) return; // keep the last picture until both sides of this frame are here
  const { width, height } = B.bitmap;
  const canvasWidth = room.mode === "side" ? width * 2 : width;
  if (canvas.width !== canvasWidth || canvas.height !== height) {
    canvas.width = overlay.width = canvasWidth;
    canvas.height = overlay.height = height;
    applyZoom();
  }
  if (room.mode === "side") {
    context.drawImage(A.bitmap, 0, 0, width, height);
    context.drawImage(B.bitmap, width, 0, width, height);
  } else if (room.mode === "difference") {
    drawDifference(A.bitmap, B.bitmap, width, height);
  } else if (room.mode === "ab") {
    context.drawImage(room.ab === "a" ? A.bitmap : B.bitmap, 0, 0, width, height);
  } else {
    const vertical = room.orientation === "vertical";
    const split = Math.round((vertical ? width : height) * room.wipe);
    context.drawImage(A.bitmap, 0, 0, width, height);
    context.save();
    context.beginPath();
    if (vertical) context.rect(split, 0, width - split, height);
    else context.rect(0, split, width, height - split);
    context.clip();
    context.drawImage(B.bitmap, 0, 0, width, height);
    context.restore();
    context.fillStyle = "rgba(255, 255, 255, 0.9)";
    if (vertical) context.fillRect(split - 1, 0, 2, height);
    else context.fillRect(0, split - 1, width, 2);
    canvas.dataset.wipe = String(split);
  }
  $("timecode").textContent = B.timecode;
  $("frame-number").textContent = String(current);
  canvas.dataset.frame = String(current);
  canvas.dataset.mode = room.mode;
  canvas.dataset.view = shownView() || "";
  canvas.dataset.proposal = String(room.proposal);
  canvas.dataset.versus = room.versus ? String(room.versus) : "";
  drawOverlay();
}

function drawShape(shape, rect, color) {
  const [x0, y0, w, h] = rect;
  const at = ([x, y]) => [x0 + x * w, y0 + y * h];
  ink.strokeStyle = ink.fillStyle = color;
  ink.lineWidth = Math.max(2, w / 400);
  ink.lineCap = ink.lineJoin = "round";
  if (shape.kind === "text") {
    const [x, y] = at(shape.points[0]);
    ink.font = `600 ${Math.round(w / 40)}px system-ui, sans-serif`;
    ink.fillText(shape.text, x, y);
    return;
  }
  ink.beginPath();
  shape.points.forEach((point, index) => {
    const [x, y] = at(point);
    if (index === 0) ink.moveTo(x, y); else ink.lineTo(x, y);
  });
  ink.stroke();
  if (shape.kind === "arrow" && shape.points.length === 2) {
    const [tx, ty] = at(shape.points[0]);
    const [hx, hy] = at(shape.points[1]);
    const angle = Math.atan2(hy - ty, hx - tx);
    const size = w / 50;
    ink.beginPath();
    ink.moveTo(hx, hy);
    ink.lineTo(hx - size * Math.cos(angle - 0.45), hy - size * Math.sin(angle - 0.45));
    ink.lineTo(hx - size * Math.cos(angle + 0.45), hy - size * Math.sin(angle + 0.45));
    ink.closePath();
    ink.fill();
  }
}

function drawOverlay() {
  ink.clearRect(0, 0, overlay.width, overlay.height);
  const width = room.mode === "side" ? overlay.width / 2 : overlay.width;
  const rects = pictureRects(width, overlay.height);
  const shown = annotations.filter((a) => a.proposal === room.proposal && a.frame === current);
  for (const rect of rects) {
    if ($("region-toggle").checked && regions.has(room.proposal)) {
      ink.save();
      ink.setLineDash([6, 4]);
      for (const polygon of regions.get(room.proposal)) {
        drawShape({ kind: "freehand", points: [...polygon, polygon[0]] }, rect, "#2fd3ff");
      }
      ink.restore();
    }
    for (const annotation of shown) drawShape(annotation, rect, annotation.color);
    if (stroke) drawShape(stroke, rect, $("annotation-color").value);
    const now = performance.now();
    for (const [, laser] of lasers) {
      if (!laser.point || now - laser.at > LASER_FADE_MS) continue;
      const [x, y] = [rect[0] + laser.point[0] * rect[2], rect[1] + laser.point[1] * rect[3]];
      ink.fillStyle = "rgba(255, 40, 40, 0.9)";
      ink.beginPath();
      ink.arc(x, y, Math.max(5, rect[2] / 150), 0, Math.PI * 2);
      ink.fill();
      ink.font = `${Math.round(rect[2] / 70)}px system-ui, sans-serif`;
      ink.fillText(laser.name, x + 10, y - 10);
    }
  }
  overlay.dataset.annotations = String(shown.length);
}

function applyZoom() {
  const picture = $("picture");
  picture.dataset.zoom = zoom;
  if (zoom === "fit") {
    picture.style.width = "100%";
  } else {
    const scale = zoom === "2" ? 2 : 1;
    picture.style.width = `${(canvas.width * scale) / window.devicePixelRatio}px`;
  }
}

// --- the playhead ---------------------------------------------------------------------------
function show(frame) {
  current = clamp(frame);
  $("scrub").value = String(current);
  prefetch();
  draw();
}

// What the presenter changes goes to the room; everyone (the presenter too) applies room.state.
function drive(changes) {
  if (!isPresenter()) return;
  Object.assign(room, changes);
  if ("frame" in changes) show(changes.frame);
  else { prefetch(); draw(); }
  syncControls();
  send({ type: "state", ...changes });
}

function seek(frame) { drive({ frame: clamp(frame) }); }

let playClock = null;
// Shuttle speed as in RV and editing suites: L plays forward (again: 2×, 4×), J backward, K stops.
let speed = 1;
function tick(now) {
  if (!playing) return;
  const frameMs = (1000 * frameRate[1]) / frameRate[0] / Math.abs(speed);
  const start = loopIn !== null ? loopIn : frameIn;
  const end = loopOut !== null ? loopOut : frameOut - 1;
  let next = current + Math.sign(speed);
  if (next > end) next = start;
  if (next < start) next = end;
  if (playClock === null) playClock = now;
  if (now - playClock >= frameMs && ready(next)) {
    playClock = now - Math.min(frameMs, now - playClock - frameMs); // keep the cadence, don't run to catch up
    seek(next);
  }
  requestAnimationFrame(tick);
}

function shuttle(direction) {
  if (!isPresenter()) return;
  speed = playing && Math.sign(speed) === direction ? Math.max(-8, Math.min(8, speed * 2)) : direction;
  setPlaying(true);
  $("speed").textContent = Math.abs(speed) === 1 && speed > 0 ? "" : `${speed > 0 ? "▶︎" : "◀︎"} ${Math.abs(speed)}×`;
}

function setPlaying(on) {
  if (!on) { speed = 1; $("speed").textContent = ""; }
  playing = on && isPresenter();
  playClock = null;
  $("play").textContent = playing ? "❚❚" : "▶︎";
  $("play").dataset.playing = String(playing);
  if (isPresenter()) send({ type: "state", playing });
  if (playing) requestAnimationFrame(tick);
}

function showLoop() {
  $("loop").textContent = loopIn !== null ? `loop ${loopIn}–${loopOut}` : "";
}

// --- room state, presence -------------------------------------------------------------------
function applyRoomState(incoming) {
  // The echo of this page's own changes carries nothing new (and may lag a drag or playback).
  const state = me && incoming.by === me.user
    ? { presenter: incoming.presenter, presenter_name: incoming.presenter_name } : incoming;
  const before = { proposal: room.proposal, versus: room.versus, mode: room.mode, view: shownView() };
  room = { ...room, ...state };
  if (!isPresenter() && playing) setPlaying(false);
  const changedSources = before.proposal !== room.proposal || before.versus !== room.versus;
  if (changedSources) showVersion();
  if (before.view !== shownView()) { prefetch(); draw(); }
  if (!isPresenter() || changedSources || before.mode !== room.mode) {
    if (state.frame !== undefined && !isPresenter()) show(state.frame); else { prefetch(); draw(); }
  }
  syncControls();
}

function syncControls() {
  const presenting = isPresenter();
  document.querySelectorAll(".drive").forEach((element) => { element.disabled = !presenting; });
  $("mode").value = room.mode;
  $("orientation").value = room.orientation;
  if (shownView()) $("view").value = shownView();
  $("view").dataset.shown = shownView() || "";
  $("follow-view").disabled = presenting;
  $("version").value = String(room.proposal);
  $("versus").value = room.versus ? String(room.versus) : "";
  const labelA = room.versus === REFERENCE ? `Reference ${referenceShot}`
    : room.versus ? versions.get(room.versus)?.version : "Original";
  $("label-a").textContent = `A · ${labelA}`;
  $("label-b").textContent = `B · ${versions.get(room.proposal)?.version || ""}`;
  $("follow").textContent = presenting ? "You present" : `Following ${room.presenter_name || "nobody"}`;
  $("presenter-line").textContent = `Presenter: ${room.presenter_name || "nobody"}`;
  root.dataset.presenter = String(room.presenter);
  renderPresence();
}

let present = [];
function renderPresence() {
  const list = $("presence");
  list.replaceChildren(...present.map((person) => {
    const item = document.createElement("li");
    item.dataset.user = String(person.user);
    item.textContent = `${person.name} · ${person.roles.join(", ")}`;
    if (person.user === room.presenter) item.classList.add("presenter");
    if (isPresenter() && person.user !== me.user) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Hand over";
      button.className = "hand-over";
      button.addEventListener("click", () => send({ type: "presenter", user: person.user }));
      item.append(" ", button);
    }
    return item;
  }));
  const presenterHere = present.some((person) => person.user === room.presenter);
  $("take-control").hidden = !me || isPresenter() || presenterHere;
}

// --- versions, measurements, status ---------------------------------------------------------
function setVersions(list) {
  versions.clear();
  for (const version of list) versions.set(version.id, version);
  const options = (includeOriginal) => [
    ...(includeOriginal ? [new Option("Original", "")] : []),
    ...(includeOriginal && referenceShot ? [new Option(`Reference ${referenceShot}`, REFERENCE)] : []),
    ...list.map((v) => new Option(v.version, String(v.id))),
  ];
  $("version").replaceChildren(...options(false));
  $("versus").replaceChildren(...options(true));
  syncControls();
}

function showVersion() {
  const version = versions.get(room.proposal);
  if (!version) return;
  $("panel-version").textContent = version.version;
  $("crumb-version").textContent = version.version;
  $("method").textContent = version.method;
  $("region-fraction").textContent = `${Math.round(version.region_fraction * 100)} % of the frame`;
  const metrics = $("metrics");
  metrics.replaceChildren(...version.measurements.flatMap(({ key, label, value }) => {
    const dt = document.createElement("dt");
    dt.textContent = label;
    dt.title = key;
    const dd = document.createElement("dd");
    dd.textContent = value;
    return [dt, dd];
  }));
  setStatus(version);
  if ($("region-toggle").checked && !regions.has(room.proposal)) send({ type: "region", proposal: room.proposal });
  renderNotes();
}

// Why a version cannot be decided now (reviews/states.py: only one in review, or whose approval
// was withdrawn, takes a decision); "" when it can.
function undecidableReason(version, status) {
  const label = version?.version || "This version";
  const latest = [...versions.values()].at(-1);
  return {
    approved: `${label} is approved; that decision stands.`,
    rejected: `${label} was rejected; that decision stands.`,
    changes_requested: `Changes were requested on ${label}; the next version is the one to decide.`,
    superseded: `${label} is superseded by a newer version${latest && latest !== version ? ` (${latest.version})` : ""}: pick it as B to decide.`,
  }[status] || "";
}

function setStatus(data) {
  const status = $("status");
  status.textContent = data.status_label;
  status.dataset.status = data.status;
  const reason = undecidableReason(versions.get(room.proposal), data.status);
  document.querySelectorAll("#decide button").forEach((button) => { button.disabled = reason !== ""; });
  const said = $("decide-reason");
  if (said) said.textContent = reason;
}

// The link opened one version; a room someone else presents may be showing another.
function showLanding() {
  const notice = $("landing");
  const asked = versions.get(openedProposal);
  const shown = versions.get(room.proposal);
  notice.hidden = room.proposal === openedProposal || !asked;
  if (!notice.hidden) {
    notice.textContent = `You opened ${asked.version}; the room is showing ${shown?.version || "another version"}, `
      + `presented by ${room.presenter_name || "nobody"}. `
      + (isPresenter() ? `Pick ${asked.version} as B to show it.` : `Take control to show ${asked.version}.`);
  }
}

// --- notes ----------------------------------------------------------------------------------
function renderNotes() {
  const mine = notes.filter((note) => note.proposal === room.proposal);
  const threads = mine.filter((note) => note.parent === null);
  $("notes").replaceChildren(...threads.map((note) => {
    const item = document.createElement("li");
    item.dataset.note = String(note.id);
    const head = document.createElement("button");
    head.type = "button";
    head.className = "note-frame";
    head.textContent = `${note.timecode} · frame ${note.frame}`;
    head.addEventListener("click", () => seek(note.frame));
    const body = document.createElement("p");
    body.textContent = `${note.author}: ${note.text}`;
    const replies = document.createElement("ul");
    replies.replaceChildren(...mine.filter((reply) => reply.parent === note.id).map((reply) => {
      const li = document.createElement("li");
      li.dataset.note = String(reply.id);
      li.textContent = `${reply.author}: ${reply.text}`;
      return li;
    }));
    item.append(head, body, replies);
    if (me && me.may_note) {
      const answer = document.createElement("button");
      answer.type = "button";
      answer.className = "reply";
      answer.textContent = "Reply";
      answer.addEventListener("click", () => { replyTo = note; updateNoteTarget(); });
      item.append(answer);
    }
    return item;
  }));
  updateNoteTarget();
}

function updateNoteTarget() {
  $("note-target").textContent = replyTo
    ? `Reply to ${replyTo.author} on frame ${replyTo.frame}`
    : `On frame ${current} of ${versions.get(room.proposal)?.version || ""}`;
  $("note-cancel-reply").hidden = !replyTo;
}

// --- socket ---------------------------------------------------------------------------------
const handlers = {
  proposal(data) { frameRate = data.frame_rate; },
  room(data) {
    me = data.you;
    present = data.presence;
    annotations = data.annotations;
    notes = data.notes;
    offeredViews = data.views || [];
    $("view").replaceChildren(...offeredViews.map((v) => {
      const option = new Option(v.name, v.name);
      option.title = v.view ? `${v.display} · ${v.view}` : v.display;
      return option;
    }));
    setVersions(data.versions);
    $("note-form").hidden = !me.may_note;
    document.querySelectorAll("#tools .draw").forEach((button) => { button.hidden = !me.may_annotate; });
    applyRoomState(data.state);
    showVersion();
    show(room.frame);
    showLanding();
  },
  "room.state"(data) { applyRoomState(data); showLanding(); },
  presence(data) { present = data.people; renderPresence(); },
  laser(data) {
    if (me && data.user === me.user) return;
    lasers.set(data.user, { name: data.name, point: data.point, at: performance.now() });
    drawOverlay();
  },
  annotation(data) { annotations.push(data); drawOverlay(); },
  note(data) { notes.push(data); renderNotes(); },
  region(data) { regions.set(data.proposal, data.polygons); drawOverlay(); },
  "proposal.status"(data) {
    const version = versions.get(data.id);
    if (version) Object.assign(version, { status: data.status, status_label: data.status_label });
    if (data.id === room.proposal) setStatus(data);
    const item = document.createElement("li");
    item.textContent = `${versions.get(data.id)?.version || ""} ${data.status_label} by ${data.decided_by}${data.note ? `: ${data.note}` : ""}`;
    $("decisions").append(item);
  },
  versions(data) {
    setVersions(data.versions);
    const fresh = versions.get(data.new);
    const notice = $("new-version");
    notice.hidden = false;
    notice.textContent = `${fresh.version} is ready${isPresenter() ? " — pick it as B to review it" : ""}.`;
  },
  job(data) {
    $("job").hidden = false;
    $("job").dataset.state = data.state;
    $("job-state").textContent = `Job ${data.id}: ${data.state_label}, ${data.frames_done}/${data.frames_total} frames`
      + (data.eta_seconds !== null ? `, about ${Math.round(data.eta_seconds)} s left` : "")
      + (data.error ? ` — ${data.error}` : "");
    $("job-progress").max = data.frames_total || 1;
    $("job-progress").value = data.frames_done;
  },
  "job.preview"(data) {
    const img = $("job-preview");
    img.src = data.image;
    img.alt = `frame ${data.frame} as it renders`;
    img.hidden = false;
  },
  error(data) { $("room-error").textContent = data.detail; },
  pong() {},
};

let pinger = null;
const reconnectDelays = retryDelays();
function connect() {
  // In a dailies session (?playlist=), the session's presenter presents the room too.
  const session = root.dataset.playlist ? `?playlist=${root.dataset.playlist}` : "";
  socket = new WebSocket(socketUrl(`/ws/review/${openedProposal}/${session}`));
  socket.binaryType = "arraybuffer";
  const connection = $("connection");
  socket.addEventListener("open", () => {
    connection.textContent = "live";
    reconnectDelays.reset();
    requested.clear();
    lastRequested = null;
    clearInterval(pinger);
    pinger = setInterval(() => send({ type: "ping" }), 15000);
  });
  socket.addEventListener("close", (event) => {
    clearInterval(pinger);
    connection.textContent = event.code === 4403 ? "not allowed" : "disconnected — retrying";
    connection.dataset.code = String(event.code);
    if (event.code !== 4403 && event.code !== 4401) setTimeout(connect, reconnectDelays.next());
  });
  socket.addEventListener("message", (event) => {
    if (event.data instanceof ArrayBuffer) {
      onFrame(event.data);
      return;
    }
    const message = JSON.parse(event.data);
    const handler = handlers[message.event];
    if (handler) handler(message.data);
  });
}

// --- pointer: wipe, pan, laser, drawing -----------------------------------------------------
function pictureAt(event) {
  const box = overlay.getBoundingClientRect();
  const x = ((event.clientX - box.left) / box.width) * overlay.width;
  const y = ((event.clientY - box.top) / box.height) * overlay.height;
  const width = room.mode === "side" ? overlay.width / 2 : overlay.width;
  const rect = pictureRects(width, overlay.height).find(([x0, , w]) => x >= x0 && x < x0 + w)
    || [0, 0, width, overlay.height];
  const point = [(x - rect[0]) / rect[2], (y - rect[1]) / rect[3]];
  return point.map((v) => Math.min(1, Math.max(0, Number(v.toFixed(4)))));
}

let panFrom = null;
let lastLaser = 0;
overlay.addEventListener("pointerdown", (event) => {
  overlay.setPointerCapture(event.pointerId);
  const point = pictureAt(event);
  if (tool === "wipe" && room.mode === "wipe") drive({ wipe: room.orientation === "vertical" ? point[0] : point[1] });
  if (tool === "pan") panFrom = [event.clientX, event.clientY];
  if (tool === "freehand") stroke = { kind: "freehand", points: [point] };
  if (tool === "arrow") stroke = { kind: "arrow", points: [point, point] };
  if (tool === "text") {
    const text = $("annotation-text").value.trim();
    if (!text) { $("room-error").textContent = "Type the text to place first."; return; }
    send({ type: "annotate", proposal: room.proposal, frame: current, kind: "text", points: [point], text,
           color: $("annotation-color").value });
  }
});
overlay.addEventListener("pointermove", (event) => {
  const point = pictureAt(event);
  if (tool === "laser" && performance.now() - lastLaser > 40) {
    lastLaser = performance.now();
    send({ type: "laser", x: point[0], y: point[1] });
  }
  if (!overlay.hasPointerCapture(event.pointerId)) return;
  if (tool === "wipe" && room.mode === "wipe") drive({ wipe: room.orientation === "vertical" ? point[0] : point[1] });
  if (tool === "pan" && panFrom) {
    viewport.scrollLeft -= event.clientX - panFrom[0];
    viewport.scrollTop -= event.clientY - panFrom[1];
    panFrom = [event.clientX, event.clientY];
  }
  if (stroke && stroke.kind === "freehand" && stroke.points.length < 2000) stroke.points.push(point);
  if (stroke && stroke.kind === "arrow") stroke.points[1] = point;
  if (stroke) drawOverlay();
});
overlay.addEventListener("pointerup", () => {
  panFrom = null;
  if (!stroke) return;
  const done = stroke;
  stroke = null;
  const moved = done.points.length >= 2
    && (done.points[0][0] !== done.points.at(-1)[0] || done.points[0][1] !== done.points.at(-1)[1]);
  if (moved) {
    send({ type: "annotate", proposal: room.proposal, frame: current, kind: done.kind, points: done.points,
           color: $("annotation-color").value });
  }
  drawOverlay();
});
overlay.addEventListener("pointerleave", () => { if (tool === "laser") send({ type: "laser", x: null, y: null }); });

$("tools").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-tool]");
  if (!button) return;
  tool = button.dataset.tool;
  document.querySelectorAll("#tools button").forEach((b) => b.classList.toggle("active", b === button));
  overlay.dataset.tool = tool;
});

// --- controls -------------------------------------------------------------------------------
$("prev").addEventListener("click", () => seek(current - 1));
$("next").addEventListener("click", () => seek(current + 1));
$("play").addEventListener("click", () => setPlaying(!playing));
$("scrub").addEventListener("input", (event) => seek(Number(event.target.value)));
$("loop-in").addEventListener("click", () => { loopIn = current; if (loopOut === null || loopOut < current) loopOut = frameOut - 1; showLoop(); });
$("loop-out").addEventListener("click", () => { loopOut = current; if (loopIn === null || loopIn > current) loopIn = frameIn; showLoop(); });
$("loop-clear").addEventListener("click", () => { loopIn = loopOut = null; showLoop(); });
$("mode").addEventListener("change", (event) => drive({ mode: event.target.value }));
// The presenter's view is the room's; anyone else picking one stops following the presenter's.
$("view").addEventListener("change", (event) => {
  if (isPresenter()) { drive({ view: event.target.value }); return; }
  ownView = event.target.value;
  $("follow-view").checked = false;
  syncControls();
  prefetch();
  draw();
});
$("follow-view").addEventListener("change", () => { syncControls(); prefetch(); draw(); });
$("orientation").addEventListener("change", (event) => drive({ orientation: event.target.value }));
$("version").addEventListener("change", (event) => {
  const proposal = Number(event.target.value);
  drive({ proposal, versus: room.versus === proposal ? null : room.versus });
  showVersion();
});
$("versus").addEventListener("change", (event) => {
  const value = event.target.value;
  const versus = value === REFERENCE ? REFERENCE : value ? Number(value) : null;
  drive({ versus: versus === room.proposal ? null : versus });
});
$("ab-toggle").addEventListener("click", () => drive({ mode: "ab", ab: room.ab === "a" ? "b" : "a" }));
$("zoom-fit").addEventListener("click", () => { zoom = "fit"; applyZoom(); });
$("zoom-1").addEventListener("click", () => { zoom = "1"; applyZoom(); });
$("zoom-2").addEventListener("click", () => { zoom = "2"; applyZoom(); });
$("region-toggle").addEventListener("change", (event) => {
  if (event.target.checked && !regions.has(room.proposal)) send({ type: "region", proposal: room.proposal });
  drawOverlay();
});
$("take-control").addEventListener("click", () => send({ type: "presenter", user: me.user }));
// K held: J and L step one frame instead of shuttling (as in RV).
let kHeld = false;
document.addEventListener("keyup", (event) => { if (event.key === "k") kHeld = false; });
const shortcuts = $("shortcuts");
// On a tablet or phone the panel is a drawer (loupe.css); this button opens and closes it.
function showPanel(open) {
  $("panel").classList.toggle("open", open);
  $("panel-toggle").setAttribute("aria-expanded", String(open));
}
$("panel-toggle").addEventListener("click", () => showPanel(!$("panel").classList.contains("open")));
$("panel-close").addEventListener("click", () => showPanel(false));
$("shortcuts-open").addEventListener("click", () => shortcuts.showModal());
document.addEventListener("keydown", (event) => {
  if (event.target.closest("textarea, input, select") || event.ctrlKey || event.metaKey || event.altKey) return;
  const keys = {
    ArrowLeft: () => seek(current - (event.shiftKey ? 10 : 1)),
    ArrowRight: () => seek(current + (event.shiftKey ? 10 : 1)),
    Home: () => seek(loopIn !== null ? loopIn : frameIn),
    End: () => seek(loopOut !== null ? loopOut : frameOut - 1),
    j: () => (kHeld ? seek(current - 1) : shuttle(-1)),
    k: () => { kHeld = true; setPlaying(false); },
    l: () => (kHeld ? seek(current + 1) : shuttle(1)),
    "?": () => (shortcuts.open ? shortcuts.close() : shortcuts.showModal()),
    " ": () => setPlaying(!playing),
    t: () => $("ab-toggle").click(),
    r: () => { if (referenceShot) drive({ versus: room.versus === REFERENCE ? null : REFERENCE }); },
    f: () => $("zoom-fit").click(),
    1: () => $("zoom-1").click(),
    i: () => $("loop-in").click(),
    o: () => $("loop-out").click(),
  };
  if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
});
setInterval(() => { if (lasers.size) drawOverlay(); }, 500); // fade lasers that went quiet

$("note-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = event.target.elements.text.value.trim();
  if (!text) return;
  send({ type: "note", proposal: room.proposal, frame: replyTo ? replyTo.frame : current, text,
         parent: replyTo ? replyTo.id : undefined });
  event.target.elements.text.value = "";
  replyTo = null;
  updateNoteTarget();
});
$("note-cancel-reply").addEventListener("click", () => { replyTo = null; updateNoteTarget(); });

const form = $("decide");
if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("decide-error");
    error.textContent = "";
    const url = root.dataset.decisionsUrl.replace(/\/0\/decisions\/$/, `/${room.proposal}/decisions/`);
    const response = await fetch(url, {
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
    // Everyone in the room, this page too, hears of the decision through the socket.
    setStatus({ status: body.proposal_status, status_label: body.proposal_status_label });
  });
}

connect();
