// Training the production's learned models from its page (post supervisors): start a training
// through the API and cancel one; its progress arrives live over the production's socket
// (production.js), and a new training shows as a row once the page is reloaded.
import { describe, post } from "./api.js";
import { logTo } from "./log.js";

const section = document.getElementById("learned-models");
const code = section.dataset.production;
const say = logTo(document.getElementById("training-log"));

document.getElementById("train-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target.elements;
  const shots = Array.from(form.shots.selectedOptions, (option) => Number(option.value));
  const { ok, data } = await post(`/api/productions/${code}/learned-models/`,
    { kind: form.kind.value, name: form.name.value, shots });
  say(ok ? `Training of ${data.label} queued: reload to follow it here` : describe(data), ok);
});

section.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-cancel-training]");
  if (!button) return;
  const { ok, data } = await post(`/api/productions/${code}/learned-models/${button.dataset.cancelTraining}/cancel/`, {});
  say(ok ? `${data.label}: ${data.state_label.toLowerCase()}` : describe(data), ok);
  if (ok) button.remove();
});
