// The page for screen readers and keyboards (issue 31), run once as the js_on_load of the announcer
// (layout.py). `element` is that gr.HTML component: its inner #fx-announcer is a polite live region.
//
// 1. Says a new verdict: when a card with data-verdict appears (the Image tab's verdict, a region's,
//    a clip's or a frame's), its call, P and reasons are announced in one sentence.
// 2. Mends two spots of Gradio's own markup that axe-core flags and no component option reaches:
//    an empty-image placeholder labelled on a bare <div> (aria-prohibited-attr: it gets role="img"),
//    and an upload button whose aria-label does not contain the words it shows
//    (label-content-name-mismatch: the visible words become its name, WCAG 2.5.3).
// 3. Says what each figure shows: Gradio gives every matplotlib plot the same alt text; the
//    announcer's data-plot-alt (views.PLOT_ALT, by the plot's elem_id) replaces it.
(() => {
  if (window.fxAnnounce) return;  // one page, one announcer
  const region = element.querySelector("#fx-announcer");

  window.fxAnnounce = (text) => {
    if (!region || !text) return;
    region.textContent = "";  // a repeated sentence is read again
    setTimeout(() => { region.textContent = text; }, 60);
  };

  // textContent, not innerText: the words as written, not as CSS shows them (upper case labels)
  const words = (node) => (node ? node.textContent.replace(/\s+/g, " ").trim() : "");
  const lastSaid = new Map();  // panel id -> what was last said for it: a redraw is not news

  function verdictSentence(card) {
    if (card.dataset.verdict === "error") {
      return `${words(card.querySelector(".fx-label"))}: ${words(card.querySelector("p"))}`;
    }
    const parts = [words(card.querySelector(".fx-verdict"))];
    const prob = words(card.querySelector(".fx-prob"));
    if (prob) parts.push(`${words(card.querySelector(".fx-label")) || "P(AI-generated)"} ${prob}`);
    const reasons = words(card.querySelector(".fx-reasons"));
    if (reasons) parts.push(reasons);
    return parts.filter(Boolean).join(". ");
  }

  function announceVerdicts() {
    for (const card of document.querySelectorAll(".fx-card[data-verdict]")) {
      const panel = card.closest("[id]")?.id || "";
      const sentence = verdictSentence(card);
      const key = `${sentence}|${words(card.querySelector("code"))}`;  // the file's SHA-256: a new file is news
      if (lastSaid.get(panel) === key) continue;
      lastSaid.set(panel, key);
      if (card.offsetParent !== null) window.fxAnnounce(sentence);  // only what is on screen
    }
  }

  const plotAlt = Object.entries(JSON.parse(region?.dataset.plotAlt || "{}"));

  function mendGradio() {
    for (const [id, alt] of plotAlt) {
      const img = document.querySelector(`#${id} [data-testid=matplotlib] img`);
      if (img && img.getAttribute("alt") !== alt) img.setAttribute("alt", alt);
    }
    for (const empty of document.querySelectorAll("div.empty[aria-label]:not([role])")) {
      empty.setAttribute("role", "img");
    }
    for (const button of document.querySelectorAll("button[aria-label]")) {
      const text = button.querySelector("[data-testid=upload-text]");
      const shown = text ? text.innerText.replace(/\s+/g, " ").trim() : "";  // as drawn
      if (shown && !button.getAttribute("aria-label").includes(shown)) button.setAttribute("aria-label", shown);
    }
  }

  let queued = false;
  const observer = new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; mendGradio(); announceVerdicts(); });
  });
  // New nodes, and Gradio re-setting the attributes mended here (a mend is idempotent: no loop).
  observer.observe(document.body, { childList: true, subtree: true, attributes: true,
                                    attributeFilter: ["alt", "aria-label", "role"] });
  mendGradio();
})();
