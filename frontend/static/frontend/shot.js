// The shot page: supervisors classify fix requests for guild consent, and one click turns a
// continuity finding into the fix request it calls for (an object removal with the finding's
// box as its mask, or a relight to the other take). Both go through the API; the page reloads
// to show what the server stored. Jobs of its fix requests update live; a finished continuity
// check reloads the page to show its findings.
import { describe, post } from "./api.js";
import { jobText, listen, versionLink } from "./live.js";

const list = document.getElementById("findings");
const code = list.dataset.production;

list.addEventListener("click", async (event) => {
  const button = event.target.closest("button.file-from-finding");
  if (!button) return;
  const item = button.closest("li.finding");
  item.querySelectorAll("button").forEach((each) => { each.disabled = true; });
  const { ok, data } = await post(`/api/productions/${code}/continuity-findings/${item.dataset.finding}/fix-request/`,
                                  { kind: button.dataset.kind, run: true });
  if (ok) {
    window.location.reload();
    return;
  }
  item.querySelector(".error").textContent = describe(data);
  item.querySelectorAll("button").forEach((each) => { each.disabled = false; });
});

document.querySelectorAll("form.classify").forEach((form) => {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      alteration: form.elements.alteration.value,
      performers: [...form.querySelectorAll("input[name=performers]:checked")].map((box) => Number(box.value)),
      reason: form.elements.reason.value,
    };
    const { ok, data } = await post(`/api/productions/${code}/fix-requests/${form.dataset.fixRequest}/classification/`,
                                    body);
    if (ok) {
      window.location.reload();
      return;
    }
    form.querySelector(".error").textContent = describe(data);
  });
});

const fixRows = document.getElementById("fix-requests");
const rowOf = (fixRequest) => fixRows.querySelector(`tr[data-fix-request="${fixRequest}"]`);
listen(code, {
  job(data) {
    const tr = rowOf(data.fix_request);
    if (!tr) return;
    tr.querySelector(".job").textContent = jobText(data);
    if (data.state === "succeeded" && tr.dataset.kind === "continuity_check") window.location.reload();
  },
  proposal(data) {
    const tr = rowOf(data.fix_request);
    if (!tr) return;
    tr.querySelector(".versions").append(" ", versionLink(data));
  },
});
