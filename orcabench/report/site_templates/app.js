// orcabench static site: sortable tables and the paged sample browser. No dependencies.
"use strict";
var orcabench = (function () {
  function sortTable(table, column, type, button) {
    var body = table.tBodies[0];
    var header = button.closest("th");
    var descending = header.getAttribute("aria-sort") !== "descending";
    // Numbers sort high to low first (a leaderboard's natural order); text a to z first.
    if (type === "text") { descending = header.getAttribute("aria-sort") === "ascending"; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) { cell.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column].getAttribute("data-value"), y = b.cells[column].getAttribute("data-value");
      if (type === "number") {
        // Empty cells (no result) always go last, whichever the direction.
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        return descending ? Number(y) - Number(x) : Number(x) - Number(y);
      }
      // Lower-cased code-unit order: the same in every browser and locale.
      x = x.toLowerCase();
      y = y.toLowerCase();
      return (x < y ? -1 : x > y ? 1 : 0) * (descending ? -1 : 1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function makeSortable() {
    document.querySelectorAll("table.sortable").forEach(function (table) {
      table.tHead.querySelectorAll("button[data-sort]").forEach(function (button) {
        var column = button.closest("th").cellIndex;
        button.addEventListener("click", function () { sortTable(table, column, button.getAttribute("data-sort"), button); });
      });
    });
  }

  var CODES = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";  // orcabench/site.py _RULE_CODES
  var loaded = {};
  function load(src) {
    if (!loaded[src]) {
      loaded[src] = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = resolve;
        script.onerror = function () { reject(new Error("could not load " + src)); };
        document.head.appendChild(script);
      });
    }
    return loaded[src];
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function samplesPage() {
    var params = new URLSearchParams(window.location.search);
    var controls = {task: document.getElementById("task"), subtask: document.getElementById("subtask"),
                    a: document.getElementById("entry-a"), b: document.getElementById("entry-b"),
                    filter: document.getElementById("filter"), rule: document.getElementById("rule")};
    var container = document.getElementById("samples");
    var pageSize = Number(container.getAttribute("data-chunk-size"));
    var state = {index: null, matches: [], page: 0};
    if (params.get("task")) { controls.task.value = params.get("task"); }
    if (params.get("filter")) { controls.filter.value = params.get("filter"); }

    function fill(select, values, keep) {
      var previous = keep ? select.value : "";
      select.textContent = "";
      values.forEach(function (v) { select.appendChild(element("option", {value: v[0]}, v[1])); });
      if (previous && values.some(function (v) { return v[0] === previous; })) { select.value = previous; }
    }

    function openTask() {
      var task = controls.task.value;
      return load("data/" + task + "/index.js").then(function () {
        state.index = window.ORCABENCH_INDEX[task];
        var entries = state.index.entries.map(function (e, k) { return [String(k), e]; });
        fill(controls.a, entries, false);
        fill(controls.b, entries, false);
        controls.a.value = params.get("a") || "0";
        controls.b.value = params.get("b") || String(Math.min(1, entries.length - 1));
        var subtasks = [];
        state.index.samples.forEach(function (s) { if (s[1] !== null && subtasks.indexOf(s[1]) < 0) { subtasks.push(s[1]); } });
        fill(controls.subtask, [["", "all"]].concat(subtasks.map(function (s) { return [s, s]; })), false);
        controls.subtask.disabled = subtasks.length === 0;
        // Extraction rules: each sample's fifth field holds one rule code per entry ("-": not in that run).
        fill(controls.rule, [["", "any rule"]].concat(state.index.rules.map(function (r, k) { return [CODES.charAt(k), r]; })), false);
        if (params.get("rule")) { controls.rule.value = CODES.charAt(state.index.rules.indexOf(params.get("rule"))); }
        params = new URLSearchParams();  // the URL's choices apply to the first task shown only
        return select();
      });
    }

    function keep(sample) {
      var a = sample[2][Number(controls.a.value)], b = sample[2][Number(controls.b.value)];
      if (controls.subtask.value && sample[1] !== controls.subtask.value) { return false; }
      if (controls.rule.value && sample[4].charAt(Number(controls.a.value)) !== controls.rule.value) { return false; }
      switch (controls.filter.value) {
        case "a-right-b-wrong": return a === "1" && b === "0";
        case "a-wrong-b-right": return a === "0" && b === "1";
        case "disagree": return (a === "1" && b === "0") || (a === "0" && b === "1");
        case "both-wrong": return a === "0" && b === "0";
        default: return true;
      }
    }

    function select() {
      state.matches = state.index.samples.filter(keep);
      state.page = 0;
      return show();
    }

    function show() {
      var task = controls.task.value;
      var pages = Math.max(1, Math.ceil(state.matches.length / pageSize));
      var shown = state.matches.slice(state.page * pageSize, (state.page + 1) * pageSize);
      var chunks = shown.map(function (s) { return s[3]; }).filter(function (c, k, all) { return all.indexOf(c) === k; });
      document.getElementById("position").textContent = state.matches.length + " sample(s) · page " + (state.page + 1) + " of " + pages;
      document.getElementById("previous").disabled = state.page === 0;
      document.getElementById("next").disabled = state.page + 1 >= pages;
      return Promise.all(chunks.map(function (c) { return load("data/" + task + "/" + c + ".js"); })).then(function () {
        container.textContent = "";
        shown.forEach(function (s) { container.appendChild(card(task, s)); });
        container.setAttribute("data-ready", "true");
      });
    }

    function card(task, sample) {
      var data = window.ORCABENCH_CHUNKS[task + "/" + sample[3]][sample[0]];
      var entries = state.index.entries;
      var article = element("article", {"class": "sample", "data-id": sample[0], "data-marks": sample[2]});
      article.appendChild(element("h2", {}, sample[0] + (sample[1] ? " · " + sample[1] : "")));
      article.appendChild(element("p", {"class": "gold"}, "gold: " + data.gold));
      data.prompts.forEach(function (prompt, k) {
        var details = element("details", {});
        var users = entries.filter(function (e, j) { return data.answers[j] && data.answers[j].prompt === k; });
        details.appendChild(element("summary", {}, "prompt" + (data.prompts.length > 1 ? " for " + users.join(", ") : "")));
        details.appendChild(element("pre", {}, prompt));
        article.appendChild(details);
      });
      var table = element("table", {"class": "answers"});
      var head = table.createTHead().insertRow();
      ["model", "output", "extracted answer · rule", "correct"].forEach(function (h) { head.appendChild(element("th", {scope: "col"}, h)); });
      var body = table.createTBody();
      entries.forEach(function (entry, j) {
        var answer = data.answers[j];
        var row = body.insertRow();
        var roles = [controls.a.value === String(j) ? "A" : "", controls.b.value === String(j) ? "B" : ""].join("");
        row.appendChild(element("th", {scope: "row"}, entry + (roles ? " (" + roles + ")" : "")));
        if (!answer) { row.appendChild(element("td", {colspan: "3"}, "not in this run")); return; }
        var output = element("td", {});
        output.appendChild(element("pre", {}, answer.output));
        row.appendChild(output);
        row.appendChild(element("td", {"data-rule": answer.method}, (answer.answer === null ? "(unparsed)" : answer.answer) + " · " + answer.method));
        row.appendChild(element("td", {"class": answer.score >= 1 ? "right" : "wrong"}, answer.score >= 1 ? "✓ right" : "✗ wrong"));
      });
      article.appendChild(table);
      return article;
    }

    controls.task.addEventListener("change", openTask);
    [controls.subtask, controls.a, controls.b, controls.filter, controls.rule].forEach(function (c) { c.addEventListener("change", select); });
    document.getElementById("previous").addEventListener("click", function () { state.page -= 1; show(); });
    document.getElementById("next").addEventListener("click", function () { state.page += 1; show(); });
    openTask();
  }

  document.addEventListener("DOMContentLoaded", makeSortable);
  return {samplesPage: samplesPage, sortTable: sortTable};
})();
