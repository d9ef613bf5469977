// Server-sent events over fetch(): EventSource cannot POST, so /api/ask is read by hand.

function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}

/** Server-sent events from a fetch() body (EventSource cannot POST). */
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += value;
    // Hold back a trailing \r: its \n may arrive in the next chunk.
    const cut = pending.endsWith("\r") ? pending.length - 1 : pending.length;
    buffer += pending.slice(0, cut).replace(/\r\n?/g, "\n");
    pending = pending.slice(cut);
    let at;
    while ((at = buffer.indexOf("\n\n")) >= 0) {
      const event = parseEvent(buffer.slice(0, at));
      buffer = buffer.slice(at + 2);
      if (event) yield event;
    }
  }
  const last = parseEvent((buffer + pending).replace(/\r\n?/g, "\n"));
  if (last) yield last;
}
