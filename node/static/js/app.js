/* Screens of the 12328 node: type-ahead pickers, dialogs, session timer, workstation shortcuts. */
(function () {
  "use strict";

  // ---- CSRF header for htmx requests (forms also carry a hidden field) -------------------------
  document.addEventListener("htmx:configRequest", function (ev) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) ev.detail.headers["X-CSRF-Token"] = meta.content;
  });

  // ---- type-ahead combobox ---------------------------------------------------------------------
  // <div class="combo" data-source="ID of a JSON script" data-fill="field=key,field2=key2">
  //   <input type="text" role="combobox"> <ul role="listbox"></ul> hidden inputs named in data-fill
  // How well an item matches the typed text (lower is better, -1 no match): its name or one of
  // the callers' words for it (`syn`, from the categorisation lexicon) exactly, then containing
  // the text, then a caller's word by its pinyin initials (gj → 公交), then the name's initials
  // or the code. So 公交 / gj offer 公共汽电车 before 国际运输 (gjys).
  function rank(item, q) {
    if (!q) return 0;
    q = q.toLowerCase().replace(/\s+/g, "");
    var label = item.label.toLowerCase().replace(/\s+/g, "");
    var syn = (item.syn || "").toLowerCase().split(" ").filter(Boolean);
    var synpy = (item.synpy || "").split(" ").filter(Boolean);
    var tail = label.split("›").pop();
    if (tail === q || syn.indexOf(q) >= 0) return 0;
    if (label.indexOf(q) >= 0) return 1;
    if (syn.some(function (w) { return w.indexOf(q) >= 0; })) return 2;
    if (synpy.indexOf(q) >= 0) return 3;
    if ((item.py || "").split(" ").some(function (p) { return p.indexOf(q) === 0; })) return 4;
    if (synpy.some(function (p) { return p.indexOf(q) === 0; })) return 5;
    if ((item.code || "").indexOf(q) === 0) return 6;
    return -1;
  }

  function setupCombo(box) {
    if (box.dataset.ready) return;
    box.dataset.ready = "1";
    var src = document.getElementById(box.dataset.source);
    if (!src) return;
    var items = JSON.parse(src.textContent);
    var input = box.querySelector("input[type=text]");
    var list = box.querySelector("ul");
    var fills = (box.dataset.fill || "").split(",").filter(Boolean).map(function (p) { return p.split("="); });
    var shown = [], active = -1;

    function fill(item) {
      fills.forEach(function (pair) {
        var field = box.querySelector('input[name="' + pair[0] + '"]');
        if (field) { field.value = item ? (item[pair[1]] || "") : ""; field.dispatchEvent(new Event("input", { bubbles: true })); }
      });
      var note = box.querySelector(".note");
      if (note) note.textContent = item && item.note ? item.note : "";
    }
    function render() {
      list.innerHTML = "";
      shown.forEach(function (item, i) {
        var li = document.createElement("li");
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", i === active ? "true" : "false");
        var span = document.createElement("span"); span.textContent = item.label;
        var small = document.createElement("small"); small.textContent = item.code;
        li.appendChild(span); li.appendChild(small);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
        list.appendChild(li);
      });
      list.classList.toggle("open", shown.length > 0);
      input.setAttribute("aria-expanded", shown.length > 0 ? "true" : "false");
      var sel = list.children[active];
      if (sel) sel.scrollIntoView({ block: "nearest" });
    }
    function search() {
      var q = input.value.trim();
      shown = items.map(function (it, i) { return { it: it, r: rank(it, q), i: i }; })
        .filter(function (x) { return x.r >= 0; })
        .sort(function (a, b) { return a.r - b.r || a.i - b.i; })
        .map(function (x) { return x.it; }).slice(0, 30);
      active = shown.length ? 0 : -1;
      render();
    }
    function pick(i) {
      var item = shown[i];
      if (!item) return;
      input.value = item.label;
      fill(item);
      close();
    }
    function close() { shown = []; active = -1; render(); }

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("autocomplete", "off");
    input.addEventListener("input", function () {
      if (!input.value.trim()) fill(null);
      search();
    });
    input.addEventListener("focus", function () { if (!input.value) search(); else input.select(); });
    input.addEventListener("blur", function () {
      setTimeout(close, 100);
      // typed text that names exactly one item is taken as a pick
      var exact = items.filter(function (it) { return it.label === input.value.trim(); });
      if (exact.length === 1) fill(exact[0]);
    });
    input.addEventListener("keydown", function (e) {
      var open = list.classList.contains("open");
      if (e.key === "ArrowDown") { if (!open) search(); else active = Math.min(active + 1, shown.length - 1); render(); e.preventDefault(); }
      else if (e.key === "ArrowUp") { active = Math.max(active - 1, 0); render(); e.preventDefault(); }
      else if (e.key === "Enter" && open && active >= 0) { pick(active); e.preventDefault(); }
      else if (e.key === "Tab" && open && active >= 0 && input.value.trim()) { pick(active); }
      else if (e.key === "Escape" && open) { close(); e.preventDefault(); e.stopPropagation(); }
    });
  }

  // ---- dialogs -----------------------------------------------------------------------------
  function setupDialogs(root) {
    root.querySelectorAll("[data-dialog]").forEach(function (btn) {
      if (btn.dataset.ready) return;
      btn.dataset.ready = "1";
      btn.addEventListener("click", function () {
        var dlg = document.getElementById(btn.dataset.dialog);
        if (dlg) { dlg.showModal(); var f = dlg.querySelector("[autofocus], textarea, select, input:not([type=hidden])"); if (f) f.focus(); }
      });
    });
    root.querySelectorAll("dialog [data-close]").forEach(function (btn) {
      btn.addEventListener("click", function () { btn.closest("dialog").close(); });
    });
    var open = document.querySelector("dialog[data-open]");
    if (open && !open.open) open.showModal();
  }

  // ---- session timer: warn before the inactivity timeout, then go to the login page ------------
  function setupSessionTimer() {
    var el = document.getElementById("session-timer");
    if (!el) return;
    var minutes = parseInt(el.dataset.minutes, 10) || 30;
    var deadline = Date.now() + minutes * 60000;
    document.addEventListener("htmx:afterRequest", function () { deadline = Date.now() + minutes * 60000; });
    function tick() {
      var left = Math.round((deadline - Date.now()) / 60000);
      if (left <= 0) {
        window.location.href = "/login?expired=1&next=" + encodeURIComponent(location.pathname + location.search);
        return;
      }
      el.textContent = left <= 5 ? "登录将在 " + left + " 分钟后超时" : "";
      el.classList.toggle("soon", left <= 5);
    }
    tick();
    setInterval(tick, 20000);
  }

  // ---- workstation -------------------------------------------------------------------------
  function setupWorkstation(root) {
    var form = root.querySelector("#intake-form");
    if (!form || form.dataset.ready) return;
    form.dataset.ready = "1";
    function showExtra() {
      var checked = form.querySelector("input[name=outcome]:checked");
      form.querySelectorAll(".outcome-extra").forEach(function (el) {
        el.classList.toggle("show", !!checked && el.dataset.outcome.split(" ").indexOf(checked.value) >= 0);
      });
    }
    form.querySelectorAll("input[name=outcome]").forEach(function (r) { r.addEventListener("change", showExtra); });
    showExtra();
    form.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submitForm(form); }
    });
  }
  function submitForm(form) { if (form.requestSubmit) form.requestSubmit(); else form.submit(); }

  // F2 / 新来电 start a clean form; a half-typed call is only discarded after the agent agrees.
  var DRAFT_FIELDS = ["caller_name", "address", "respondent_name", "respondent_plate", "respondent_route",
    "respondent_vessel", "title", "content", "answer", "transfer_target", "note_transfer", "note_invalid"];
  function hasDraft(form) {
    return DRAFT_FIELDS.some(function (name) {
      var f = form.querySelector('[name="' + name + '"]');
      return f && f.value.trim() !== "";
    });
  }
  function newCall(form) {
    if (hasDraft(form) && !window.confirm("当前来电尚未完成受理，放弃已录入的内容并开始新来电？")) return;
    window.location.href = "/workstation";
  }
  document.addEventListener("click", function (e) {
    var link = e.target.closest ? e.target.closest("[data-new-call]") : null;
    var form = document.getElementById("intake-form");
    if (!link || !form) return;
    e.preventDefault();
    newCall(form);
  });

  var OUTCOME_KEYS = { a: "answer", o: "order", t: "transfer", i: "invalid" };
  var FOCUS_KEYS = { p: "caller_phone", c: "category_text", r: "region_text", n: "content", b: "respondent_plate" };
  document.addEventListener("keydown", function (e) {
    var form = document.getElementById("intake-form");
    if (!form) return;
    if (e.key === "F2") { e.preventDefault(); newCall(form); return; }
    if (!e.altKey || e.ctrlKey || e.metaKey) return;
    var key = e.key.toLowerCase();
    if (OUTCOME_KEYS[key]) {
      var r = form.querySelector('input[name=outcome][value="' + OUTCOME_KEYS[key] + '"]');
      if (r) {
        e.preventDefault(); r.checked = true; r.dispatchEvent(new Event("change", { bubbles: true }));
        var extra = form.querySelector('.outcome-extra.show textarea, .outcome-extra.show input[type=text]');
        (extra || r).focus();
      }
    } else if (key === "1" || key === "2" || key === "3") {
      var t = form.querySelector('input[name=business_type][value="' + key + '"]');
      if (t) { e.preventDefault(); t.checked = true; t.focus(); t.dispatchEvent(new Event("change", { bubbles: true })); }
    } else if (FOCUS_KEYS[key]) {
      var f = form.querySelector('[name="' + FOCUS_KEYS[key] + '"]');
      if (f) { e.preventDefault(); f.focus(); }
    }
  });

  // ---- automatic categorisation: accept the suggestion (button or Alt+S) or one alternative ------
  function acceptCategory(form, domain, sub, label) {
    if (!domain) return;
    var text = form.querySelector("#category_text");
    var box = text ? text.closest(".combo") : null;
    var src = document.getElementById("cat-data");
    var item = null;
    if (src) JSON.parse(src.textContent).forEach(function (it) { if (it.domain === domain && it.sub === (sub || "")) item = it; });
    if (text) text.value = item ? item.label : label;
    [["domain", domain], ["sub_business", sub || ""]].forEach(function (pair) {
      var f = form.querySelector('input[name="' + pair[0] + '"]');
      if (f) { f.value = pair[1]; f.dispatchEvent(new Event("input", { bubbles: true })); }
    });
    var note = box ? box.querySelector(".note") : null;
    if (note) note.textContent = item && item.note ? item.note : "";
  }
  function acceptSuggestion() {
    var form = document.getElementById("intake-form");
    var el = document.querySelector("[data-suggestion]");
    if (!form || !el) return false;
    if (el.dataset.type) {
      var t = form.querySelector('input[name=business_type][value="' + el.dataset.type + '"]');
      if (t) { t.checked = true; t.dispatchEvent(new Event("change", { bubbles: true })); }
    }
    acceptCategory(form, el.dataset.domain, el.dataset.sub, el.dataset.label);
    el.classList.add("accepted");
    var btn = el.querySelector("[data-accept-suggestion]");
    if (btn) btn.textContent = "已采用";
    return true;
  }
  document.addEventListener("keydown", function (e) {
    if (e.altKey && !e.ctrlKey && !e.metaKey && e.key.toLowerCase() === "s" && acceptSuggestion()) e.preventDefault();
  });
  document.addEventListener("click", function (e) {
    var target = e.target.closest ? e.target : null;
    if (!target) return;
    if (target.closest("[data-accept-suggestion]")) { e.preventDefault(); acceptSuggestion(); return; }
    var alt = target.closest("[data-accept-category]");
    var form = document.getElementById("intake-form");
    if (alt && form) { e.preventDefault(); acceptCategory(form, alt.dataset.domain, alt.dataset.sub, alt.dataset.label); }
  });

  // The page's CSP refuses inline handlers and javascript: links, so two small behaviours live here:
  // <a data-back href="fallback">: back in history (the fallback when the page was opened directly);
  // <a data-fill-target="#id" data-fill-value="v">: put v into the field #id (e.g. a suggested number).
  document.addEventListener("click", function (e) {
    var el = e.target.closest ? e.target.closest("[data-back], [data-fill-target]") : null;
    if (!el) return;
    if (el.hasAttribute("data-back")) {
      if (window.history.length > 1 && document.referrer) { e.preventDefault(); window.history.back(); }
      return;
    }
    var field = document.querySelector(el.dataset.fillTarget);
    if (!field) return;
    e.preventDefault();
    field.value = el.dataset.fillValue || "";
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.focus();
  });

  // One-click "关联为重复": record this contact against an existing order.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest("[data-link-order]") : null;
    if (!btn) return;
    var form = document.getElementById("intake-form");
    if (!form) return;
    e.preventDefault();
    form.querySelector("input[name=order_number]").value = btn.dataset.linkOrder;
    var r = form.querySelector('input[name=outcome][value="link"]');
    r.checked = true;
    submitForm(form);
  });

  // Telephony screen-pop: fill the caller number and the call id, then look the caller up
  // (node/static/js/phonebar.js calls it when the push channel announces a bridged call).
  window.hotlineScreenPop = function (data) {
    var form = document.getElementById("intake-form");
    if (!form || !data) return;
    if (data.caller && !data.caller_phone) data.caller_phone = data.caller;
    if (data.business && !data.business_type) data.business_type = data.business;
    if (data.business_type) {
      var t = form.querySelector('input[name=business_type][value="' + data.business_type + '"]');
      if (t) t.checked = true;
    }
    ["caller_phone", "call_id", "contact_id", "channel", "recording_ref"].forEach(function (name) {
      var f = form.querySelector('[name="' + name + '"]');
      if (f && data[name] !== undefined && data[name] !== null) f.value = String(data[name]);
    });
    var phone = form.querySelector("[name=caller_phone]");
    if (phone) phone.dispatchEvent(new Event("input", { bubbles: true }));
    var content = form.querySelector("[name=content]");
    if (content) content.focus();
  };
  function init(root) {
    if (!root.querySelectorAll) root = document;
    root.querySelectorAll(".combo").forEach(setupCombo);
    setupDialogs(root);
    setupWorkstation(root);
  }
  // Dispatch dialog: the lead unit is never offered again as a co-handler.
  document.addEventListener("change", function (e) {
    var sel = e.target.closest ? e.target.closest("[data-lead-select]") : null;
    if (!sel) return;
    var list = sel.closest("form").querySelector("[data-assist-list]");
    if (!list) return;
    list.querySelectorAll("input[name=assist_units]").forEach(function (box) {
      var lead = box.value === sel.value;
      if (lead) box.checked = false;
      box.disabled = lead;
      box.closest("label").hidden = lead;
    });
  });

  // Forms that change something irreversible ask first (data-confirm; no inline script under the CSP).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) e.preventDefault();
  }, true);

  document.addEventListener("DOMContentLoaded", function () { init(document); setupSessionTimer(); });
  document.addEventListener("htmx:load", function (ev) { init(ev.detail.elt.parentNode || document); });
})();
