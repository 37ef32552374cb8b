// Binary frame messages of the review protocol (docs/review-protocol.md):
// 4-byte big-endian header length, UTF-8 JSON header, then the encoded image.

export function parseFrameMessage(buffer) {
  const view = new DataView(buffer);
  const headerLength = view.getUint32(0, false);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, headerLength)));
  const image = new Blob([new Uint8Array(buffer, 4 + headerLength)], { type: "image/jpeg" });
  return { header, image };
}

export function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}${path}`;
}

// When to try a lost socket again: at once (100–200 ms, so that a reviewer whose web process
// died is back through the other one well within 2 s), then twice as long each time up to
// 2.5–5 s, with jitter so that a room's browsers do not all knock at the same moment.
// reset() once a socket opens.
export function retryDelays() {
  let attempt = 0;
  return {
    next() {
      const ceiling = Math.min(5000, 200 * 2 ** attempt++);
      return ceiling / 2 + Math.random() * ceiling / 2;
    },
    reset() { attempt = 0; },
  };
}
