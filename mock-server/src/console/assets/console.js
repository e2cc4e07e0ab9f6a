// The console's only script: a drop zone for the send form, and the live audit view.
// Everything works without it (choose files with the file input; reload the audit page).
"use strict";

// Files dropped on a [data-drop] form go into its file input and the form is submitted.
for (const zone of document.querySelectorAll("[data-drop]")) {
  const input = zone.querySelector("input[type=file]");
  for (const ev of ["dragenter", "dragover"]) {
    zone.addEventListener(ev, (e) => { e.preventDefault(); zone.classList.add("over"); });
  }
  for (const ev of ["dragleave", "drop"]) {
    zone.addEventListener(ev, (e) => { e.preventDefault(); zone.classList.remove("over"); });
  }
  zone.addEventListener("drop", (e) => {
    if (!e.dataTransfer || e.dataTransfer.files.length === 0) return;
    input.files = e.dataTransfer.files;
    zone.submit();
  });
}

// The audit table asks for rows newer than the newest it shows; the server answers when there
// are some (or after a while with none), newest first, already rendered.
const live = document.querySelector("[data-live]");
if (live && live.dataset.live) {
  const status = document.querySelector("[data-live-status]");
  let after = Number(live.dataset.after || 0);
  const poll = async () => {
    try {
      const sep = live.dataset.live.includes("?") ? "&" : "?";
      const r = await fetch(live.dataset.live + sep + "after=" + after, { credentials: "same-origin" });
      if (!r.ok) throw new Error(String(r.status));
      status.textContent = status.dataset.on;
      const seq = Number(r.headers.get("X-Audit-Seq") || after);
      const html = await r.text();
      if (html.trim()) live.insertAdjacentHTML("afterbegin", html);
      after = Math.max(after, seq);
      setTimeout(poll, 0);
    } catch (e) {
      status.textContent = status.dataset.off;
      setTimeout(poll, 3000);
    }
  };
  poll();
}
