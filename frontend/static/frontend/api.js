// Calls to Loupe's API from pages: POST with the session's CSRF token, and API errors as sentences.

export const csrf = () => document.querySelector("[name=csrfmiddlewaretoken]").value;

// POST `body` (JSON, or FormData as it is); resolves to {ok, data} with the parsed reply.
export async function post(url, body, method = "POST") {
  const json = !(body instanceof FormData);
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrf(), ...(json ? { "Content-Type": "application/json" } : {}) },
    body: json ? JSON.stringify(body) : body,
  });
  return { ok: response.ok, data: await response.json().catch(() => ({ detail: `HTTP ${response.status}` })) };
}

// PATCH `body` (JSON); resolves to {ok, data} as post() does.
export const patch = (url, body) => post(url, body, "PATCH");

// An API error as a sentence: {"detail": ...} or DRF's {"field": ["message"]}.
export function describe(data) {
  if (data.detail) return data.detail;
  return Object.entries(data).map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`).join("; ");
}
