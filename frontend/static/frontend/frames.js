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
