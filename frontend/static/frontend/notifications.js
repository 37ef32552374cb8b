// The bell in the navigation (base.html): the unread count, kept live over /ws/notifications/
// (docs/review-protocol.md, "Notifications"); each new notification also shows for a while in a
// toast. Reconnects unless refused.
import { socketUrl } from "./frames.js";

const bell = document.getElementById("notification-bell");
const count = document.getElementById("notification-count");
const toasts = document.getElementById("notification-toasts");
const seen = new Set();  // ids already counted: the embedded relay may repeat one

function setCount(value) {
  count.textContent = String(value);
  count.hidden = value === 0;
  bell.setAttribute("aria-label", `Notifications: ${value} unread`);
}

function toast(data) {
  const item = document.createElement("a");
  item.className = "toast";
  item.href = `/notifications/${data.id}/`;
  item.textContent = data.text;
  item.dataset.notification = String(data.id);
  toasts.append(item);
  setTimeout(() => item.remove(), 12000);
}

function connect() {
  const socket = new WebSocket(socketUrl("/ws/notifications/"));
  socket.addEventListener("open", () => { bell.dataset.live = "open"; });
  socket.addEventListener("message", (event) => {
    const { event: name, data } = JSON.parse(event.data);
    if (name !== "notification" || seen.has(data.id)) return;
    seen.add(data.id);
    setCount(Number(count.textContent || "0") + 1);
    toast(data);
  });
  socket.addEventListener("close", (event) => {
    delete bell.dataset.live;
    if (event.code !== 4403 && event.code !== 4401) setTimeout(connect, 3000);
  });
}

if (bell) connect();
