// packager desk: the little JavaScript the pages need (served from the desk itself; CSP allows no other).
"use strict";

// Refresh while the watcher works: poll a small JSON state and reload when it changes,
// unless someone is typing in a form on this page.
(function poll() {
  const body = document.body;
  const url = body.dataset.poll;
  if (!url) return;
  const key = body.dataset.pollKey;
  const known = body.dataset.pollValue;
  let dirty = false;
  document.addEventListener("input", () => { dirty = true; });
  async function check() {
    try {
      const resp = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (resp.status === 404) { window.location.href = "/"; return; }
      if (resp.ok) {
        const state = await resp.json();
        const busy = dirty || (document.activeElement && document.activeElement.matches("input, select, textarea"));
        if (state[key] !== known && !busy) { window.location.reload(); return; }
      }
    } catch (e) { /* the desk restarting: try again */ }
    window.setTimeout(check, 3000);
  }
  window.setTimeout(check, 3000);
})();

// New case: files or a whole folder dropped on the zone are sent with their relative paths.
(function dropZone() {
  const form = document.getElementById("new-case");
  const zone = document.getElementById("drop");
  if (!form || !zone) return;
  const chosen = document.getElementById("chosen");
  let dropped = null;  // [File, relative path] pairs from a drop, else the inputs are used

  function show(names) {
    chosen.replaceChildren(...names.slice(0, 200).map((n) => {
      const li = document.createElement("li");
      li.textContent = n;
      return li;
    }));
    if (names.length > 200) {
      const li = document.createElement("li");
      li.textContent = `… ${names.length} files`;
      chosen.append(li);
    }
  }
  for (const input of form.querySelectorAll("input[type=file]")) {
    input.addEventListener("change", () => {
      dropped = null;
      const names = [];
      for (const i of form.querySelectorAll("input[type=file]")) {
        for (const f of i.files) names.push(f.webkitRelativePath || f.name);
      }
      show(names);
    });
  }
  function entries(entry, prefix) {
    return new Promise((resolve) => {
      if (entry.isFile) {
        entry.file((f) => resolve([[f, prefix + f.name]]), () => resolve([]));
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        const all = [];
        const more = () => reader.readEntries(async (batch) => {
          if (!batch.length) {
            const nested = await Promise.all(all.map((e) => entries(e, prefix + entry.name + "/")));
            resolve(nested.flat());
          } else { all.push(...batch); more(); }
        }, () => resolve([]));
        more();
      } else { resolve([]); }
    });
  }
  zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    const items = Array.from(ev.dataTransfer.items || []).map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry());
    if (items.length && items.every((e) => e)) {
      dropped = (await Promise.all(items.map((e) => entries(e, "")))).flat();
    } else {
      dropped = Array.from(ev.dataTransfer.files).map((f) => [f, f.name]);
    }
    show(dropped.map(([, path]) => path));
  });
  form.addEventListener("submit", async (ev) => {
    document.getElementById("progress").hidden = false;
    if (!dropped) return;  // the browser sends the file inputs itself
    ev.preventDefault();
    const data = new FormData(form);
    data.delete("files");
    for (const [file, path] of dropped) data.append("files", file, path);
    const resp = await fetch(form.action, { method: "POST", body: data, credentials: "same-origin" });
    const html = await resp.text();
    document.open();
    document.write(html);
    document.close();
  });
})();
