// Compose: choosing a category ticks that category's channels (its option's data-channels), and
// shows the level picker only for a category whose alerts carry a 警戒レベル (data-levels); a hidden
// picker is disabled, so no level is sent. Without this script the "カテゴリの既定に戻す" button
// re-shows the form for the chosen category through the server, which does the same.
// With a 定型文, editing the Japanese shows at once the note the server shows after a preview: the
// other languages will go out as notices. The server decides; this only says it sooner.
"use strict";
(() => {
  const select = document.getElementById("compose-category");
  if (!select) return;
  const level = document.getElementById("compose-level");
  select.addEventListener("change", () => {
    const option = select.selectedOptions[0];
    const wanted = new Set(((option && option.dataset.channels) || "").split(" ").filter(Boolean));
    for (const box of document.querySelectorAll('input[type="checkbox"][name="channels"]')) {
      box.checked = wanted.has(box.value);
    }
    if (level) {
      const levels = !option || option.dataset.levels !== "no";
      const picker = level.querySelector("select");
      level.hidden = !levels;
      picker.disabled = !levels;
      picker.required = levels;
    }
  });
})();
(() => {
  const slots = document.getElementById("phrase-slots");
  const note = document.getElementById("phrase-edited");
  const form = slots && slots.closest("form");
  if (!form || !note) return;
  const parts = ["title", "body", "instruction"].map((name) => form.elements.namedItem(name));
  if (parts.some((el) => !el)) return;
  const filled = parts.map((el) => el.value);
  const check = () => {
    note.hidden = note.hidden && parts.every((el, i) => el.value === filled[i]);
  };
  for (const el of parts) el.addEventListener("input", check);
})();
