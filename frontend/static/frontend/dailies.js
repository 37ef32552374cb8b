// A live dailies session (docs/review-protocol.md, "Dailies sessions") around the review room:
// the strip lists the playlist's items; the presenter moves through them (buttons, or Page Up /
// Page Down) and every page follows to the review room of the session's current item, where the
// room makes the session's presenter its presenter, so the frame, compare mode and view follow.
// The presenter hands the session to someone present (the strip's "Hand over"); the current
// item's room follows on the server.
import { socketUrl } from "./frames.js";

const strip = document.getElementById("dailies");
const playlist = Number(strip.dataset.playlist);
const opened = Number(strip.dataset.proposal);
const $ = (id) => document.getElementById(id);
let socket;
let me = null;
let state = { presenter: null, presenter_name: "", item: null };
let items = [];
let people = [];

const presenting = () => me !== null && state.presenter === me.user;
const currentIndex = () => items.findIndex((item) => item.id === state.item);

function renderItems() {
  const list = $("dailies-items");
  list.replaceChildren(...items.map((item, index) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.item = String(item.id);
    button.textContent = `${index + 1}. ${item.shot} ${item.version}`;
    button.title = `${item.fix} · ${item.status_label}`;
    button.addEventListener("click", () => moveTo(item.id));
    li.append(button);
    return li;
  }));
}

function render() {
  const index = currentIndex();
  for (const button of strip.querySelectorAll("[data-item]")) {
    const current = Number(button.dataset.item) === state.item;
    button.classList.toggle("current", current);
    if (current) button.setAttribute("aria-current", "true"); else button.removeAttribute("aria-current");
    button.disabled = !presenting();
  }
  $("dailies-prev").disabled = !presenting() || index <= 0;
  $("dailies-next").disabled = !presenting() || index < 0 || index >= items.length - 1;
  $("dailies-position").textContent = index >= 0 ? `Item ${index + 1} of ${items.length}` : "";
  $("dailies-presenter").textContent = presenting() ? "You present the session"
    : `Following ${state.presenter_name || "nobody"}`;
  strip.dataset.item = String(state.item ?? "");
  renderHandOver();
}

// The presenter's hand-over: everyone else present (once each, though they may hold a page
// that is moving to the next item).
function renderHandOver() {
  const others = [...new Map(people.filter((person) => !me || person.user !== me.user)
    .map((person) => [person.user, person])).values()];
  const select = $("dailies-hand-over-to");
  const chosen = select.value;
  select.replaceChildren(...others.map((person) => {
    const option = document.createElement("option");
    option.value = String(person.user);
    option.textContent = person.name;
    return option;
  }));
  if (others.some((person) => String(person.user) === chosen)) select.value = chosen;
  $("dailies-hand-over").hidden = !presenting() || others.length === 0;
}

// Everyone's page goes where the session is: the review room of the current item's version.
function follow() {
  const item = items.find((entry) => entry.id === state.item);
  if (item && item.proposal !== opened) window.location.assign(`/review/${item.proposal}/?playlist=${playlist}`);
}

function moveTo(itemId) {
  if (presenting() && itemId !== state.item) socket.send(JSON.stringify({ type: "item", item: itemId }));
}

function step(delta) {
  const index = currentIndex() + delta;
  if (index >= 0 && index < items.length) moveTo(items[index].id);
}

$("dailies-hand-over-button").addEventListener("click", () => {
  const user = Number($("dailies-hand-over-to").value);
  if (presenting() && user) socket.send(JSON.stringify({ type: "presenter", user }));
});
$("dailies-prev").addEventListener("click", () => step(-1));
$("dailies-next").addEventListener("click", () => step(1));
document.addEventListener("keydown", (event) => {
  if (event.target.closest("textarea, input, select")) return;
  if (event.key === "PageDown") { event.preventDefault(); step(1); }
  if (event.key === "PageUp") { event.preventDefault(); step(-1); }
});

const handlers = {
  session(data) {
    me = data.you;
    items = data.items;
    state = data.state;
    people = data.presence;
    renderItems();
    render();
    follow();
  },
  "room.state"(data) {
    if (data.items) { items = data.items; renderItems(); }
    state = data;
    render();
    follow();
  },
  presence(data) {
    people = data.people;
    $("dailies-people").textContent = [...new Set(people.map((person) => person.name))].join(", ");
    renderHandOver();
  },
  error(data) { $("dailies-error").textContent = data.detail; },
  pong() {},
};

function connect() {
  socket = new WebSocket(socketUrl(`/ws/dailies/${playlist}/`));
  let pinger = null;
  socket.addEventListener("open", () => { pinger = setInterval(() => socket.send(JSON.stringify({ type: "ping" })), 15000); });
  socket.addEventListener("message", (event) => {
    const { event: name, data } = JSON.parse(event.data);
    handlers[name]?.(data);
  });
  socket.addEventListener("close", (event) => {
    clearInterval(pinger);
    if (event.code !== 4403 && event.code !== 4401) setTimeout(connect, 2000);
  });
}
connect();
