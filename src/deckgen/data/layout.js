// deckgen layout check: measures every card side of a preview deck page as Chromium laid it out.
// check/layout.py loads it into a deck page at a phone's width, after MathJax has typeset, and
// calls dgLayout.measure(phase, options) once per phase:
//   "closed": <details> collapsed, the height of each back (what a reviewer scrolls through);
//   "open":   <details> open, every box wider than the card, raw TeX, MathJax errors, lines that
//             start with closing punctuation, how wide each figure is shown, clozes highlighted;
//   "night":  in night mode, clozes highlighted and figures again.
// Each card is a `.pv-card` article whose two `.pv-side > .card` elements are front and back.
(function () {
  "use strict";

  const SKIP_TEXT = "mjx-container, mjx-assistive-mml, pre, code, script, style, .pv-label";
  const ATOMIC = "mjx-container, img";
  const BLOCK = new Set(["P", "LI", "DIV", "TD", "TH", "FIGCAPTION", "FIGURE", "BLOCKQUOTE", "SUMMARY", "DETAILS", "H1", "H2", "H3", "H4", "H5", "H6", "UL", "OL", "TABLE", "TR", "HR", "PRE", "BR"]);

  let texOf = new Map();  // mjx-container -> the TeX MathJax typeset there
  let errorsOf = new Map();  // mjx-container -> what went wrong in it (read from MathJax's MathML)

  function indexMath() {
    texOf = new Map();
    errorsOf = new Map();
    if (!window.MathJax || !MathJax.startup || !MathJax.startup.document) return;
    for (const item of MathJax.startup.document.math) {
      if (!item.typesetRoot) continue;
      texOf.set(item.typesetRoot, item.math);
      const found = [];
      item.root.walkTree(function (node) {
        if (node.isKind("merror")) {
          found.push(node.attributes.get("data-mjx-error") || "TeX error");
        } else if (node.isKind("mtext") && node.attributes.get("mathcolor") === "red" && /^\\([A-Za-z]+|.)$/.test(node.getText())) {
          found.push("undefined control sequence " + node.getText());  // the noundefined extension's mark
        }
      });
      if (found.length) errorsOf.set(item.typesetRoot, found);
    }
  }

  function visible(el) {
    const r = el.getBoundingClientRect();
    return r.width > 0 || r.height > 0;
  }

  function contentBox(card) {
    const r = card.getBoundingClientRect(), s = getComputedStyle(card);
    const left = r.left + parseFloat(s.borderLeftWidth) + parseFloat(s.paddingLeft);
    const right = r.right - parseFloat(s.borderRightWidth) - parseFloat(s.paddingRight);
    return { left: left, right: right, width: right - left };
  }

  function clip(text, n) {
    text = text.replace(/\s+/g, " ").trim();
    return text.length > n ? text.slice(0, n - 1) + "\u2026" : text;
  }

  function describe(el) {
    const math = el.matches("mjx-container") ? el : (el.querySelectorAll("mjx-container").length === 1 ? el.querySelector("mjx-container") : null);
    if (math) return { kind: math.getAttribute("display") === "true" ? "display formula" : "inline formula", tex: texOf.get(math) || "" };
    if (el.closest("table") || el.matches("table")) {
      const row = (el.closest("table") || el).querySelector("tr");
      return { kind: "table", text: clip(row ? row.textContent : "", 60) };
    }
    if (el.closest("pre") || el.matches("pre, .codehilite")) {
      const lines = (el.closest("pre") || el).textContent.split("\n");
      const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), "");
      return { kind: "code", text: clip(longest, 80) };
    }
    if (el.matches("img")) return { kind: "image", text: el.getAttribute("src") || "" };
    return { kind: el.tagName.toLowerCase(), text: clip(el.textContent, 60) };
  }

  // Boxes wider than the card: a scroll container whose content is wider than it is, or
  // anything that sticks out of the card's content box (it would widen the page or be cut off).
  function overflow(card) {
    const box = contentBox(card), found = [];
    const walker = document.createTreeWalker(card, NodeFilter.SHOW_ELEMENT, {
      acceptNode: function (el) { return el.matches("mjx-assistive-mml") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT; },
    });
    let el = walker.nextNode();
    while (el) {
      let reported = false;
      if (visible(el)) {
        const style = getComputedStyle(el), r = inkBox(el, style);
        const clips = style.overflowX !== "visible";
        if (clips && el.scrollWidth > el.clientWidth + 1) {
          found.push(Object.assign(describe(el), { width: Math.round(el.scrollWidth), room: Math.round(el.clientWidth), scrolls: style.overflowX === "auto" || style.overflowX === "scroll" }));
          reported = true;
        } else if (r.right > box.right + 1 || r.left < box.left - 1) {
          found.push(Object.assign(describe(el), { width: Math.round(r.width), room: Math.round(box.width), sticksOut: true }));
          reported = true;
        }
      }
      // A reported box's inside is part of it; a formula's inside is MathJax's own layout.
      el = reported || el.matches("mjx-container") ? nextOutside(walker, el) : walker.nextNode();
    }
    return found;
  }

  // Where an element's content is: a formula's padding only gives its glyphs room (card.css).
  function inkBox(el, style) {
    const r = el.getBoundingClientRect();
    if (!el.matches("mjx-container")) return r;
    const left = parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth);
    const right = parseFloat(style.paddingRight) + parseFloat(style.borderRightWidth);
    return { left: r.left + left, right: r.right - right, width: r.width - left - right };
  }

  function nextOutside(walker, el) {
    let node = walker.nextSibling();
    while (!node) {
      const parent = walker.parentNode();
      if (!parent) return null;
      node = walker.nextSibling();
    }
    return node;
  }

  function textNodes(root) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: function (n) { return n.parentElement.closest(SKIP_TEXT) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT; },
    });
    const out = [];
    let n;
    while ((n = walker.nextNode())) if (n.data.trim()) out.push(n);
    return out;
  }

  // TeX a reader would see as TeX: delimiters MathJax did not pair, commands, `d_k`, `x^2`, `$x$`.
  const RAW_TEX = [
    /\\[()[\]]/,
    /\\[A-Za-z]{2,}/,
    /\$[^$\s][^$]*\$/,
    /[A-Za-z0-9\u221a)\]}][_^][A-Za-z0-9{\\]/,
  ];

  function rawTex(card) {
    const found = [];
    for (const node of textNodes(card)) {
      if (!visible(node.parentElement)) continue;
      for (const pattern of RAW_TEX) {
        const m = pattern.exec(node.data);
        if (m) {
          const start = Math.max(0, m.index - 12);
          found.push({ text: clip(node.data.slice(start, m.index + m[0].length + 12), 50), match: m[0] });
          break;
        }
      }
    }
    return found;
  }

  function mathErrors(card) {
    const found = [];
    for (const box of card.querySelectorAll("mjx-container")) {
      for (const message of errorsOf.get(box) || []) found.push({ tex: texOf.get(box) || "", message: message });
    }
    return found;
  }

  function charRect(node, i) {
    const range = document.createRange();
    range.setStart(node, i);
    range.setEnd(node, i + 1);
    const rects = range.getClientRects();
    return rects.length ? rects[0] : null;
  }

  // What comes right before offset i of a text node on the page: its rectangle and what it is.
  function before(node, i) {
    for (let j = i - 1; j >= 0; j--) {
      if (!/\s/.test(node.data[j])) return { rect: charRect(node, j), kind: "text", text: clip(node.data.slice(Math.max(0, j - 10), j + 1), 20) };
    }
    let cur = node;
    for (;;) {
      while (!cur.previousSibling) {
        cur = cur.parentNode;
        if (!cur || (cur.nodeType === 1 && BLOCK.has(cur.tagName))) return null;
      }
      cur = cur.previousSibling;
      const found = lastThing(cur);
      if (found === "block") return null;
      if (found) return found;
    }
  }

  function lastThing(n) {
    if (n.nodeType === 3) {
      for (let j = n.data.length - 1; j >= 0; j--) if (!/\s/.test(n.data[j])) return { rect: charRect(n, j), kind: "text", text: clip(n.data.slice(Math.max(0, j - 10), j + 1), 20) };
      return null;
    }
    if (n.nodeType !== 1) return null;
    if (BLOCK.has(n.tagName)) return "block";
    if (n.matches(ATOMIC)) {
      const rects = n.getClientRects();
      if (!rects.length) return null;
      return { rect: rects[rects.length - 1], kind: n.matches("img") ? "image" : "formula", text: n.matches("img") ? "" : texOf.get(n) || "" };
    }
    for (let c = n.lastChild; c; c = c.previousSibling) {
      const found = lastThing(c);
      if (found) return found;
    }
    return null;
  }

  function punctuation(card, closing) {
    const found = [];
    for (const node of textNodes(card)) {
      for (let i = 0; i < node.data.length; i++) {
        if (closing.indexOf(node.data[i]) < 0) continue;
        const rect = charRect(node, i);
        if (!rect || !rect.width) continue;
        const prev = before(node, i);
        if (!prev || !prev.rect) continue;
        // Below what precedes it: on the next line (a line box holds all of a formula, so the
        // next line starts under its bottom; 4 px spare a formula's padding, see card.css).
        if (rect.top >= prev.rect.bottom - 4) {
          found.push({ char: node.data[i], kind: prev.kind, text: prev.text, after: clip(node.data.slice(i, i + 12), 12) });
        }
      }
    }
    return found;
  }

  function figures(card) {
    return [...card.querySelectorAll("img")].filter(visible).map(function (img) {
      return { src: img.getAttribute("src") || "", width: Math.round(img.getBoundingClientRect().width * 10) / 10 };
    });
  }

  function same(a, b) { return a.color === b.color && a.fontWeight === b.fontWeight; }

  function look(el) {
    const s = getComputedStyle(el);
    return { color: s.color, fontWeight: s.fontWeight };
  }

  // Every deletion of this card drawn like a text deletion (Anki's .cloze): in text, each
  // character of it; in a formula (deckgen's \class{dg-cN} mark), each glyph of it.
  function clozes(card, ordinal, expectMath) {
    const root = card.querySelector(".dg") || card;
    const probe = document.createElement("span");
    probe.className = "cloze";
    probe.textContent = "x";
    root.appendChild(probe);
    const want = look(probe);
    probe.remove();
    const plain = look(root);
    const problems = [];
    if (same(want, plain)) problems.push({ what: "style", text: "a deletion looks like the text around it (the card's CSS has no .cloze rule)" });
    for (const span of card.querySelectorAll(".cloze")) {
      if (span.closest("mjx-container")) continue;
      const bad = [];
      for (const node of textNodes(span)) if (!same(look(node.parentElement), want)) bad.push(clip(node.data, 20));
      for (const glyph of span.querySelectorAll("mjx-container mjx-c")) if (getComputedStyle(glyph).color !== want.color) { bad.push("a formula"); break; }
      if (bad.length) problems.push({ what: "text", text: bad.join(", ") });
    }
    let marked = 0;
    for (const mark of card.querySelectorAll("mjx-container .dg-c" + ordinal)) {
      const glyphs = [...mark.querySelectorAll("mjx-c")];
      if (glyphs.length && glyphs.every(function (g) { return getComputedStyle(g).color === want.color; })) marked += 1;
    }
    if (marked < expectMath) problems.push({ what: "math", missing: expectMath - marked, expected: expectMath });
    return problems;
  }

  function measure(phase, options) {
    indexMath();
    const details = [...document.querySelectorAll(".pv-card details")];
    details.forEach(function (d) { d.open = phase !== "closed"; });
    const cards = [];
    for (const article of document.querySelectorAll(".pv-card")) {
      const sides = article.querySelectorAll(".pv-side > .card");
      const front = sides[0], back = sides[1];
      const expect = (options.clozes || {})[article.id];
      const out = { anchor: article.id };
      if (phase === "closed") {
        out.backHeight = Math.round(back.getBoundingClientRect().height);
      } else {
        if (phase === "open") {
          out.overflow = overflow(back);
          out.rawTex = rawTex(back).concat(rawTex(front));
          out.errors = mathErrors(front).concat(mathErrors(back));
          out.punctuation = punctuation(back, options.closing);
        }
        out.figures = figures(front).concat(figures(back));
        if (expect) {
          out.clozes = clozes(front, expect.ordinal, expect.front).map(function (p) { return Object.assign(p, { side: "front" }); })
            .concat(clozes(back, expect.ordinal, expect.back).map(function (p) { return Object.assign(p, { side: "back" }); }));
        }
      }
      cards.push(out);
    }
    return { width: window.innerWidth, cards: cards };
  }

  window.dgLayout = { measure: measure };
})();
