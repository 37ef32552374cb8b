// Dailies playlists (post supervisors), through the API: build one from the shot board's
// filter, from fix requests or empty; reorder, remove and add versions on the playlist's page.
import { csrf, describe, post } from "./api.js";

const $ = (id) => document.getElementById(id);
const error = $("playlist-error");

async function send(method, url, body) {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: { "X-CSRFToken": csrf(), "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { ok: response.ok, data: await response.json().catch(() => ({ detail: `HTTP ${response.status}` })) };
}

const create = $("playlist-create");
if (create) {
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const form = create.elements;
    const body = { name: form.name.value };
    const source = create.querySelector("input[name=source]:checked").value;
    if (source === "board") {
      body.board_filter = Object.fromEntries(["status", "assignee", "kind", "q"].map((key) => [key, form[key].value]));
    } else if (source === "fix_requests") {
      body.fix_requests = [...create.querySelectorAll("input[name=fix_request]:checked")].map((box) => Number(box.value));
      if (!body.fix_requests.length) { error.textContent = "Tick the fix requests to review first."; return; }
    } else {
      body.proposals = [];
    }
    const { ok, data } = await post(create.dataset.url, body);
    if (!ok) { error.textContent = describe(data); return; }
    window.location.assign(`${window.location.pathname}${data.id}/`);
  });
}

const table = $("items");
if (table) {
  const api = table.dataset.api;
  const order = () => [...table.querySelectorAll("tbody tr[data-item]")].map((row) => Number(row.dataset.item));
  table.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const row = button.closest("tr");
    const id = Number(row.dataset.item);
    let result;
    if (button.dataset.remove !== undefined) {
      result = await send("DELETE", `${api}items/${id}/`);
    } else {
      const items = order();
      const from = items.indexOf(id);
      const to = from + Number(button.dataset.move);
      [items[from], items[to]] = [items[to], items[from]];
      result = await send("PUT", `${api}order/`, { items });
    }
    if (!result.ok) { error.textContent = describe(result.data); return; }
    window.location.reload();
  });
  const add = $("playlist-add");
  add?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { ok, data } = await post(`${api}items/`, { proposals: [Number(add.elements.proposal.value)] });
    if (!ok) { error.textContent = describe(data); return; }
    window.location.reload();
  });
}
