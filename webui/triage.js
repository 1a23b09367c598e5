// Keyboard triage of the Case tab (issue 31), run as the js_on_load of the keys panel (ui_case.py).
// In the triage table Gradio already moves between rows with the arrow keys (Home, End, Ctrl+Home,
// Ctrl+End too) and opens the focused row's item with Enter. This adds single keys on the focused row:
// the status and truth keys go to the server (`trigger("submit", {key, item})`, case.key_act), which
// marks the item and answers with the table and a sentence; `n` moves to the next row whose status is
// still "check", through Gradio's own ArrowDown, so it follows the table as sorted and filtered.
// Column positions and the keys come from the panel's data attributes (case.keys_panel).
(() => {
  const panel = () => element.querySelector(".fx-keys");
  const config = () => {
    const p = panel();
    return { idCol: p?.dataset.idCol, statusCol: p?.dataset.statusCol, keys: (p?.dataset.keys || "").split("") };
  };
  const cellOf = (node) => node?.closest?.("#case-table [role=gridcell]");
  const rowOf = (cell) => cell?.closest("[role=row]");
  const cellText = (row, col) => row?.querySelector(`[role=gridcell][data-col="${col}"]`)?.innerText.trim() ?? "";
  const frame = () => new Promise((done) => requestAnimationFrame(() => done()));
  let restoreCol = null;  // the column focused when a key was sent: focus comes back to it

  function press(cell, key, ctrlKey = false) {
    cell.dispatchEvent(new KeyboardEvent("keydown", { key, ctrlKey, bubbles: true, cancelable: true }));
  }

  async function moved(before) {  // Gradio moves focus a frame or two after the key
    for (let i = 0; i < 30; i++) {
      await frame();
      const now = cellOf(document.activeElement);
      if (now && rowOf(now) !== before) return now;
    }
    return null;
  }

  async function nextToCheck(start) {
    const { statusCol } = config();
    const total = Number(document.querySelector("#case-table [role=grid]")?.getAttribute("aria-rowcount") || 1) - 1;
    const first = rowOf(start).getAttribute("aria-rowindex");
    let cell = start;
    for (let step = 0; step < total; step++) {
      let next = (press(cell, "ArrowDown"), await moved(rowOf(cell)));
      if (!next) next = (press(cell, "Home", true), await moved(rowOf(cell)));  // past the last row: the first
      if (!next) break;
      cell = next;
      const row = rowOf(cell);
      if (row.getAttribute("aria-rowindex") === first) break;  // round the table: none left
      if (cellText(row, statusCol) === "check") return row;
    }
    return null;
  }

  document.addEventListener("keydown", async (event) => {
    const cell = cellOf(event.target);
    if (!cell || event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) return;
    const key = event.key.toLowerCase();
    const { idCol, keys } = config();
    if (key === "n") {
      event.preventDefault();
      event.stopPropagation();
      const row = await nextToCheck(cell);
      window.fxAnnounce?.(row ? `Item ${cellText(row, idCol)}, still to check.` : "No other item is still to check.");
    } else if (keys.includes(key)) {
      event.preventDefault();
      event.stopPropagation();
      restoreCol = cell.dataset.col;
      trigger("submit", { key, item: cellText(rowOf(cell), idCol) });
    }
  }, true);

  // The server answered: say what was done, and keep the focus on the row that was marked (the new
  // table data re-draws the rows).
  watch("value", async () => {
    const p = panel();
    const said = p?.querySelector(".fx-keys-said")?.innerText.trim();
    if (said) window.fxAnnounce?.(said);
    if (restoreCol === null || !p?.dataset.item) return;
    const col = restoreCol;
    restoreCol = null;
    for (let i = 0; i < 30; i++) {
      await frame();
      for (const row of document.querySelectorAll("#case-table [role=row]")) {
        if (cellText(row, config().idCol) === p.dataset.item) {
          const cell = row.querySelector(`[role=gridcell][data-col="${col}"]`);
          if (cell && document.activeElement !== cell) cell.focus();
          if (cell) return;
        }
      }
    }
  });
})();
