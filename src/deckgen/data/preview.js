// deckgen preview: view and mode toggles, search over every deck, MathJax, live reload.
// Works from file:// (no fetch of local files); live reload only when served over http.
(function () {
  "use strict";
  var LABELS = window.DG_LABELS;  // the page's words, in the deck's language (site/labels.py)
  var root = document.documentElement;
  var body = document.body;
  var params = new URLSearchParams(location.search);

  function stored(key, allowed, fallback) {
    var value = params.get(key);
    if (allowed.indexOf(value) < 0) {
      try { value = localStorage.getItem("deckgen-" + key); } catch (e) { value = null; }
    }
    return allowed.indexOf(value) >= 0 ? value : fallback;
  }

  function remember(key, value) {
    try { localStorage.setItem("deckgen-" + key, value); } catch (e) { /* file:// may forbid storage */ }
  }

  // Night mode: the classes Anki desktop (nightMode) and AnkiDroid (night_mode) put on the body.
  function setMode(mode) {
    body.classList.toggle("nightMode", mode === "night");
    body.classList.toggle("night_mode", mode === "night");
    root.dataset.mode = mode;
    document.querySelectorAll(".pv-mode").forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.mode === mode)); });
  }

  function setView(view) {
    root.dataset.view = view;
    document.querySelectorAll(".pv-view").forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.view === view)); });
  }

  setMode(stored("mode", ["day", "night"], "day"));
  setView(stored("view", ["phone", "desktop"], window.innerWidth < 800 ? "phone" : "desktop"));
  document.querySelectorAll(".pv-mode").forEach(function (b) {
    b.addEventListener("click", function () { setMode(b.dataset.mode); remember("mode", b.dataset.mode); });
  });
  document.querySelectorAll(".pv-view").forEach(function (b) {
    b.addEventListener("click", function () { setView(b.dataset.view); remember("view", b.dataset.view); });
  });

  // ---- search: words match the text, tag:x matches a tag or its children (x::y) ----
  var index = window.DG_INDEX || { decks: [], cards: [] };
  var input = document.querySelector(".pv-search");
  var results = document.querySelector(".pv-results");

  function matches(card, words, tags) {
    for (var i = 0; i < words.length; i++) {
      if (card.t.indexOf(words[i]) < 0) return false;
    }
    for (var j = 0; j < tags.length; j++) {
      var want = tags[j];
      var hit = card.g.some(function (g) { return want.test(g.toLowerCase()); });
      if (!hit) return false;
    }
    return true;
  }

  // As in Anki's browser: tag:x matches x and its children x::y; * is a wildcard.
  function tagPattern(tag) {
    var body = tag.split("*").map(function (part) { return part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"); }).join(".*");
    return new RegExp("^" + body + "(::.*)?$");
  }

  function search(query) {
    var words = [], tags = [];
    query.toLowerCase().split(/\s+/).forEach(function (w) {
      if (!w) return;
      if (w.indexOf("tag:") === 0) { if (w.length > 4) tags.push(tagPattern(w.slice(4))); } else words.push(w);
    });
    if (!words.length && !tags.length) { results.hidden = true; results.textContent = ""; return; }
    var found = index.cards.filter(function (c) { return matches(c, words, tags); });
    results.textContent = "";
    var head = document.createElement("p");
    head.className = "pv-results-head";
    head.textContent = LABELS[found.length === 1 ? "match_one" : "match_many"].replace("{n}", found.length).replace("{q}", query.trim());
    results.appendChild(head);
    var list = document.createElement("ol");
    found.slice(0, 200).forEach(function (c) {
      var deck = index.decks[c.d];
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = deck.page + "#" + c.a;
      a.textContent = c.q;
      var where = document.createElement("span");
      where.className = "pv-source";
      where.textContent = deck.name + " \u00b7 " + c.s;
      li.appendChild(a);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(where);
      list.appendChild(li);
    });
    results.appendChild(list);
    results.hidden = false;
  }

  if (input) {
    input.addEventListener("input", function () { search(input.value); });
    if (params.get("q")) { input.value = params.get("q"); search(input.value); }
  }
  document.querySelectorAll(".pv-tag").forEach(function (b) {
    b.addEventListener("click", function () {
      input.value = "tag:" + b.dataset.tag;
      search(input.value);
      window.scrollTo(0, 0);
    });
  });

  // ---- MathJax: typeset once loaded; the state is left on <html data-mathjax> for tests ----
  function typeset() {
    if (!window.MathJax || !window.MathJax.typesetPromise) {
      root.dataset.mathjax = window.DG_MATHJAX || "missing";
      return;
    }
    var ready = window.MathJax.startup && window.MathJax.startup.promise ? window.MathJax.startup.promise : Promise.resolve();
    ready.then(function () { return window.MathJax.typesetPromise([document.querySelector(".pv-main")]); })
      .then(function () { root.dataset.mathjax = "done"; })
      .catch(function (err) { root.dataset.mathjax = "error"; console.error(err); });
  }
  if (document.readyState === "complete") typeset(); else window.addEventListener("load", typeset);

  // ---- live reload: only when served by `deckgen preview --serve` / `deckgen watch --serve` ----
  if (location.protocol === "http:" || location.protocol === "https:") {
    var status = document.querySelector(".pv-status");
    var seen = null;
    var poll = function () {
      fetch("/__deckgen/status", { cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (seen !== null && s.build !== seen && s.ok) { location.reload(); return; }
          seen = s.build;
          status.hidden = s.ok;
          status.textContent = s.ok ? "" : LABELS.build_failed + "\n" + s.errors.join("\n");
        })
        .catch(function () { /* the server stopped; keep the page as it is */ })
        .then(function () { setTimeout(poll, 1000); });
    };
    poll();
  }
})();
