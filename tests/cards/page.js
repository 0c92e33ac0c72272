// Why: what a card says is only known once Microsoft's renderer has laid it out. This page
// renders one card at a time, as Teams would (its host config, its Markdown), and reports what
// the page shows: the visible text, the links, what overflows or is clipped, the title's lines
// and the colours behind the band's and the title's text.
(function () {
  // Teams renders a subset of Markdown in a card's texts: bold, italic, lists and links; no
  // headings, tables, images, code or quotes, and no HTML.
  // See: <https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-format>
  // Bare and <angle-bracketed> URLs are made links too, the stricter reading: text that a
  // reader could click must not point anywhere the product did not choose. Names without a
  // scheme are not (`fuzzyLink`), or every `train.py` in a traceback would be a link.
  const markdown = window.markdownit("zero", { html: false, linkify: true, breaks: false });
  markdown.enable(["paragraph", "list", "newline", "escape", "entity", "emphasis", "link", "autolink", "linkify"]);
  markdown.linkify.set({ fuzzyLink: false, fuzzyEmail: false });
  AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
    result.outputHtml = markdown.render(text);
    result.didProcess = true;
  };

  let current;

  // Renders `json` (one Adaptive Card) into #card and reports on the page.
  window.renderCard = function (json) {
    const slot = document.getElementById("card");
    slot.replaceChildren();
    const card = new AdaptiveCards.AdaptiveCard();
    card.hostConfig = new AdaptiveCards.HostConfig(window.TEAMS_HOST_CONFIG);
    const context = new AdaptiveCards.SerializationContext();
    card.parse(json, context);
    const problems = [];
    for (let i = 0; i < context.eventCount; i++) problems.push(context.getEventAt(i).message);
    for (const event of card.validateProperties().validationEvents) problems.push(event.message);
    const root = card.render();
    if (!root) return { problems: problems.concat("the renderer rendered nothing") };
    slot.appendChild(root);
    current = { card, root };
    const texts = textElements(root);
    const title = titleOf(texts);
    return {
      problems,
      text: root.innerText,
      anchors: Array.from(root.querySelectorAll("a[href]"), (a) => ({ href: a.href, text: a.innerText })),
      overflows: overflowsIn(root),
      title: title && { ...describe(title), lines: lineCount(title) },
      band: bandOf(root),
      // What Markdown made of the texts (links are in `anchors`).
      markup: Array.from(root.querySelectorAll(".ac-textBlock :is(strong, em, ul, ol)"), (el) => ({
        tag: el.tagName.toLowerCase(),
        text: clip(el.innerText),
      })),
    };
  };

  // Presses each visible button of the card last rendered: what it opens (after the
  // screenshot, since a press could change the card).
  window.pressButtons = function () {
    const { card, root } = current;
    const pressed = [];
    card.onExecuteAction = (action) => pressed.push({ type: action.getJsonTypeName(), url: action.url ?? null });
    return Array.from(root.querySelectorAll("button"))
      .filter(visible)
      .map((button) => {
        pressed.length = 0;
        button.click();
        return { label: button.innerText, actions: pressed.slice() };
      });
  };

  function visible(el) {
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return rect.width > 0 && rect.height > 0 && style.visibility !== "hidden";
  }

  function clip(text) {
    return text.length > 120 ? text.slice(0, 119) + "\u2026" : text;
  }

  // Elements holding text of their own, in document order.
  function textElements(root) {
    const found = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (node.textContent.trim() && visible(el) && found[found.length - 1] !== el) found.push(el);
    }
    return found;
  }

  // The title: the card's most prominent text block (largest, then boldest, then first, as the
  // block is styled: not a word Markdown made bold in it), leaving out a status word in
  // capitals, which a band may set larger still.
  function titleOf(texts) {
    let best;
    for (const el of texts) {
      const block = el.closest(".ac-textBlock, .ac-richTextBlock");
      if (!block || /^[\p{Lu}\p{N} ]+$/u.test(block.innerText.trim())) continue;
      const style = getComputedStyle(block);
      const rank = [parseFloat(style.fontSize), parseInt(style.fontWeight, 10)];
      if (!best || rank[0] > best.rank[0] || (rank[0] === best.rank[0] && rank[1] > best.rank[1])) {
        best = { el: block, rank };
      }
    }
    return best && best.el;
  }

  // Rendered lines: the boxes of the text's pieces (one per line a text node spans), grouped by
  // vertical overlap. Text nodes only: an element's own box spans all its lines.
  function lineCount(el) {
    const rects = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(node);
      rects.push(...Array.from(range.getClientRects()).filter((r) => r.width > 0 && r.height > 0));
    }
    rects.sort((a, b) => a.top - b.top);
    let lines = 0;
    let bottom = -Infinity;
    for (const rect of rects) {
      if (rect.top >= bottom - 1) {
        lines += 1;
        bottom = rect.bottom;
      } else {
        bottom = Math.max(bottom, rect.bottom);
      }
    }
    return lines;
  }

  // The band: the first block with a background of its own (not a button) that holds text.
  function bandOf(root) {
    const cardBackground = background(root);
    for (const el of root.querySelectorAll("div")) {
      if (el.closest("button, .ac-actionSet")) continue;
      const own = rgba(getComputedStyle(el).backgroundColor);
      if (own[3] === 0 || same(background(el), cardBackground) || !el.innerText.trim() || !visible(el)) continue;
      return { text: el.innerText, texts: textElements(el).map(describe) };
    }
    return null;
  }

  // A text element's words, size and colours (opaque, alpha composited as painted).
  function describe(el) {
    const style = getComputedStyle(el);
    const behind = background(el);
    return {
      text: clip(el.innerText),
      fontSize: parseFloat(style.fontSize),
      fontWeight: parseInt(style.fontWeight, 10),
      color: over(rgba(style.color), behind),
      background: behind,
    };
  }

  // The colour painted behind `el`: its and its ancestors' backgrounds over a white page.
  function background(el) {
    const layers = [];
    for (let at = el; at; at = at.parentElement) layers.push(rgba(getComputedStyle(at).backgroundColor));
    return layers.reverse().reduce((below, layer) => over(layer, below), [255, 255, 255]);
  }

  function over([r, g, b, a], below) {
    const alpha = a === undefined ? 1 : a;
    return [r, g, b].map((c, i) => Math.round(c * alpha + below[i] * (1 - alpha)));
  }

  function same(a, b) {
    return a.every((c, i) => Math.abs(c - b[i]) <= 1);
  }

  function rgba(css) {
    const parts = css.match(/[\d.]+/g).map(Number);
    return parts.length === 4 ? parts : [...parts, 1];
  }

  // Elements whose content is wider than their box (scrolled, clipped, cut with an ellipsis
  // or spilling out), cut at the bottom, or reaching outside the card.
  function overflowsIn(root) {
    const edge = root.getBoundingClientRect();
    const found = [];
    for (const el of root.querySelectorAll("*")) {
      const style = getComputedStyle(el);
      if (style.display === "none" || style.display === "inline") continue;
      const rect = el.getBoundingClientRect();
      const clipsY = ["hidden", "clip", "auto", "scroll"].includes(style.overflowY);
      const why = [];
      if (el.scrollWidth > el.clientWidth + 1) why.push(`content ${el.scrollWidth} px wide in ${el.clientWidth} px (overflow-x: ${style.overflowX})`);
      if (clipsY && el.scrollHeight > el.clientHeight + 1) why.push(`content ${el.scrollHeight} px high in ${el.clientHeight} px (overflow-y: ${style.overflowY})`);
      if (rect.width > 0 && (rect.left < edge.left - 1 || rect.right > edge.right + 1)) why.push(`reaches outside the card (${Math.round(rect.left - edge.left)} to ${Math.round(rect.right - edge.left)} px of ${Math.round(edge.width)})`);
      if (why.length) found.push({ element: `${el.tagName.toLowerCase()}.${el.className}`, text: clip(el.innerText || ""), why: why.join("; ") });
    }
    return found;
  }
})();
