// An outcome log under a form: each line says what happened, marked ok or error (the list is
// aria-live, so screen readers hear it too).
export function logTo(list) {
  return function say(text, ok) {
    const item = document.createElement("li");
    item.className = ok ? "ok" : "error";
    item.textContent = text;
    list.append(item);
    return item;
  };
}
