// Compose: choosing a category ticks that category's channels (its option's data-channels).
// Without this script the "カテゴリの既定に戻す" button does the same through the server.
"use strict";
(() => {
  const select = document.getElementById("compose-category");
  if (!select) return;
  select.addEventListener("change", () => {
    const option = select.selectedOptions[0];
    const wanted = new Set(((option && option.dataset.channels) || "").split(" ").filter(Boolean));
    for (const box of document.querySelectorAll('input[type="checkbox"][name="channels"]')) {
      box.checked = wanted.has(box.value);
    }
  });
})();
