// The district picker and the live reach of the compose and correction forms (district_picker.py).
//
// Picker: 「市内全域」 is ticked exactly when no district is; ticking it unticks every district. A
// shape on the map ticks and unticks its district's box (click, Enter or Space). The search box
// hides the districts whose terms (name, reading, towns, their kana and postal codes, normalised
// as district_picker.searchable does) neither contain what is typed nor are contained in it (an
// address typed in full, the city and 丁目 included, contains its town's name).
//
// Reach: whenever the form changes, the form is posted to the reach URL and the table shows how
// many people each channel would reach. Without this script the preview shows the same table.
"use strict";
(() => {
  const form = document.querySelector("form.compose-form");
  if (!form) return;
  const picker = document.getElementById("district-picker");
  const reach = document.getElementById("live-reach");

  // -- the picker ----------------------------------------------------------------------
  const boxes = picker ? [...picker.querySelectorAll('input[name="districts"]')] : [];
  const whole = picker ? picker.querySelector('input[name="whole_city"]') : null;
  const shapes = picker ? [...picker.querySelectorAll("[data-district-shape]")] : [];
  const summary = picker ? picker.querySelector("[data-district-summary]") : null;
  const boxOf = (id) => boxes.find((b) => b.value === id);

  function showTicks() {
    const picked = boxes.filter((b) => b.checked);
    if (whole) whole.checked = picked.length === 0;
    for (const shape of shapes) {
      const box = boxOf(shape.dataset.districtShape);
      const on = Boolean(box && box.checked);
      shape.classList.toggle("picked", on);
      shape.setAttribute("aria-checked", on ? "true" : "false");
    }
    if (summary) {
      summary.textContent = picked.length
        ? picked.map((b) => b.dataset.name).join(picker.dataset.sep)
        : picker.dataset.whole;
    }
  }

  for (const box of boxes) box.addEventListener("change", showTicks);
  if (whole) {
    whole.addEventListener("change", () => {
      if (whole.checked) for (const box of boxes) box.checked = false;
      showTicks();
    });
  }
  for (const shape of shapes) {
    const toggle = () => {
      const box = boxOf(shape.dataset.districtShape);
      if (!box) return;
      box.checked = !box.checked;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    };
    shape.addEventListener("click", toggle);
    shape.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        toggle();
      }
    });
  }

  // what district_picker.searchable does on the server
  function searchable(text) {
    return text
      .normalize("NFKC")
      .toLowerCase()
      .replace(/ヶ/g, "ケ")
      .replace(/[\s〒\-‐－−]/g, "")
      .replace(/[ァ-ヶ]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x60));
  }

  const search = document.getElementById("district-search");
  if (search && picker) {
    const items = [...picker.querySelectorAll("li[data-terms]")];
    const none = picker.querySelector(".district-no-match");
    search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") event.preventDefault(); // Enter here must not submit the form
    });
    search.addEventListener("input", () => {
      const wanted = searchable(search.value);
      let shown = 0;
      for (const item of items) {
        const terms = item.dataset.terms.split(" ");
        const hit = !wanted || terms.some((t) => t.includes(wanted) || (t.length >= 2 && wanted.includes(t)));
        item.hidden = !hit;
        if (hit) shown += 1;
      }
      if (none) none.hidden = shown > 0;
    });
  }

  // -- the live reach ------------------------------------------------------------------------
  if (!reach) return;
  const failed = reach.querySelector("[data-reach-error]");
  let asked = 0;
  let timer = 0;

  async function refresh() {
    const mine = ++asked;
    const body = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (typeof value === "string" && key !== "do") body.append(key, value);
    }
    let answer;
    try {
      const response = await fetch(reach.dataset.url, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      answer = { ok: response.ok, data: await response.json() };
    } catch (error) {
      return; // offline or logged out: the preview still shows the reach
    }
    if (mine !== asked) return; // a newer question is on its way
    if (!answer.ok) {
      if (failed) {
        failed.textContent = answer.data.detail || "";
        failed.hidden = false;
      }
      return;
    }
    if (failed) failed.hidden = true;
    let total = 0;
    for (const row of reach.querySelectorAll("[data-reach-channel]")) {
      const channel = row.dataset.reachChannel;
      row.hidden = !(channel in answer.data);
      const cell = row.querySelector("[data-reach-n]");
      if (cell && channel in answer.data) {
        cell.textContent = String(answer.data[channel]);
        total += answer.data[channel];
      }
    }
    const sum = reach.querySelector("[data-reach-total]");
    if (sum) sum.textContent = String(total);
    reach.dataset.asked = String(mine); // tests wait for this
  }

  function soon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 150);
  }

  form.addEventListener("change", soon);
  showTicks();
  refresh();
})();
