// The search page: results arrive one by one over SSE (fetch + a small event-stream parser, so the bearer
// token travels in a header, never in a URL the server logs); availability per platform and region; pages.
"use strict";
const params = new URLSearchParams(location.search);
if (params.get("token")) { sessionStorage.setItem("mgw-token", params.get("token")); }
const token = sessionStorage.getItem("mgw-token");
const PAGE = 10;
let query = "", offset = 0, total = 0;
const $ = (id) => document.getElementById(id);

function resultItem(r) {
  const li = document.createElement("li");
  li.className = "result";
  li.dataset.id = r.id;
  const t = document.createElement("div");
  t.className = "title";
  const year = r.metadata && r.metadata.release_year ? ` (${r.metadata.release_year})` : "";
  t.textContent = r.title + year;
  const d = document.createElement("div");
  d.textContent = r.description || "";
  const a = document.createElement("div");
  a.className = "avail";
  for (const av of r.availability) {
    const s = document.createElement("span");
    s.className = "platform";
    s.textContent = `${av.platform}: ${av.availableRegions.join(", ")}`;
    a.appendChild(s);
  }
  li.append(t, d, a);
  return li;
}

async function run() {
  $("results").innerHTML = "";
  $("status").textContent = "searching…";
  const url = `/api/search/stream?q=${encodeURIComponent(query)}&limit=${PAGE}&offset=${offset}`;
  let res;
  try {
    res = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  } catch (e) { $("status").textContent = `network error: ${e}`; return; }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    $("status").textContent = `error ${res.status}: ${JSON.stringify(body.detail || body)}`;
    return;
  }
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = "message", data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (!data) continue;  // comments: stream open, heartbeats
      const obj = JSON.parse(data);
      if (event === "result") $("results").appendChild(resultItem(obj));
      if (event === "complete") finish(obj);
    }
  }
}

function finish(done) {
  total = done.total;
  const page = Math.floor(offset / PAGE) + 1, pages = Math.max(1, Math.ceil(total / PAGE));
  $("status").textContent = `${total} results (model ${done.model})`;
  $("status").dataset.complete = "true";
  $("page-label").textContent = `page ${page} of ${pages}`;
  $("prev").disabled = offset === 0;
  $("next").disabled = offset + PAGE >= total;
}

$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  query = $("q").value.trim();
  offset = 0;
  if (query) { $("status").dataset.complete = "false"; run(); }
});
$("next").addEventListener("click", () => { offset += PAGE; $("status").dataset.complete = "false"; run(); });
$("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); $("status").dataset.complete = "false"; run(); });
if (!token) { $("status").textContent = "no token: open this page as /?token=<jwt>"; }
