// Delivering from the production page (post supervisors): start a delivery job through the API,
// then follow its progress by reading the delivery back until it is delivered or failed.
import { describe, post } from "./api.js";
import { logTo } from "./log.js";

const section = document.getElementById("delivery");
const code = section?.dataset.production;
const say = logTo(document.getElementById("delivery-log"));

async function follow(id, line) {
  for (;;) {
    const response = await fetch(`/api/productions/${code}/deliveries/`, { credentials: "same-origin" });
    // The list is paginated, newest first: a delivery just started is on its first page.
    const delivery = (await response.json()).results.find((d) => d.id === id);
    if (!delivery) return;
    const number = String(delivery.number).padStart(3, "0");
    if (delivery.status === "rendering") {
      line.textContent = `Delivery ${number}: rendered ${delivery.versions_done} of ${delivery.versions_total} versions…`;
    } else {
      line.className = delivery.status === "delivered" ? "ok" : "error";
      line.textContent = delivery.status === "delivered"
        ? `Delivery ${number} delivered into ${delivery.folder} (manifest verified)`
        : `Delivery ${number} failed: ${delivery.error}`;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

document.getElementById("deliver-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const { ok, data } = await post(`/api/productions/${code}/deliveries/`, { format: event.target.elements.format.value });
  if (!ok) {
    say(describe(data), false);
    return;
  }
  await follow(data.id, say(`Delivery ${String(data.number).padStart(3, "0")} started`, true));
});
