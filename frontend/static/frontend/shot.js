// The shot page: one click turns a continuity finding into the fix request it calls for (an
// object removal with the finding's box as its mask, or a relight to the other take), through
// the API; the page reloads to show the fix request the server stored.
import { describe, post } from "./api.js";

const list = document.getElementById("findings");
const code = list.dataset.production;

list.addEventListener("click", async (event) => {
  const button = event.target.closest("button.file-from-finding");
  if (!button) return;
  const item = button.closest("li.finding");
  item.querySelectorAll("button").forEach((each) => { each.disabled = true; });
  const { ok, data } = await post(`/api/productions/${code}/continuity-findings/${item.dataset.finding}/fix-request/`,
                                  { kind: button.dataset.kind });
  if (ok) {
    window.location.reload();
    return;
  }
  item.querySelector(".error").textContent = describe(data);
  item.querySelectorAll("button").forEach((each) => { each.disabled = false; });
});
