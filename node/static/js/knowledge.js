// Knowledge base: the editor's "采用建议" button, and the workstation's 知识推荐 panel
// (引用答复, or Alt+K for the best one, puts an article's answer into the 答复内容 field and records the use).
(function () {
  "use strict";
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  function feedback(id, kind) {
    return fetch("/api/v1/knowledge/articles/" + encodeURIComponent(id) + "/feedback", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({ kind: kind }),
    });
  }
  function insert(button) {
    var answer = document.getElementById("answer");
    if (!answer) return;
    var text = button.getAttribute("data-kb-answer") || "";
    answer.value = answer.value ? answer.value + "\n" + text : text;
    var radio = document.querySelector('input[name="outcome"][value="answer"]');
    if (radio && !radio.checked) {
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
    }
    answer.dispatchEvent(new Event("input", { bubbles: true }));
    answer.focus();
    button.textContent = "已引用";
    feedback(button.getAttribute("data-kb-insert"), "use");
  }
  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target.closest("[data-kb-insert],[data-kb-feedback],[data-kb-accept]") : null;
    if (!t) return;
    if (t.hasAttribute("data-kb-insert")) {
      insert(t);
    } else if (t.hasAttribute("data-kb-feedback")) {
      feedback(t.getAttribute("data-kb-id"), t.getAttribute("data-kb-feedback")).then(function (r) {
        t.textContent = r.ok ? "已反馈" : "反馈失败";
      });
    } else {
      var d = document.getElementById("kb-domain"), s = document.getElementById("kb-sub");
      if (d) d.value = t.getAttribute("data-domain") || "";
      if (s) s.value = t.getAttribute("data-sub") || "";
      t.textContent = "已采用，保存后生效";
    }
  });
  // Alt+K puts the best suggestion's answer in (Alt+1/2/3 choose the business type on the workstation)
  document.addEventListener("keydown", function (e) {
    if (!e.altKey || e.ctrlKey || e.metaKey || e.key.toLowerCase() !== "k") return;
    var panel = document.getElementById("kb-panel");
    var first = panel ? panel.querySelector("[data-kb-insert]") : null;
    if (first) {
      e.preventDefault();
      insert(first);
    }
  });
})();
