/* The 消息 badge in the top bar (node/notices): the server pushes "notice" events with the
   signed-in user's unread count; on (re)connection the count is fetched again. */
(function () {
  "use strict";
  function show(n) {
    var badge = document.getElementById("notice-count");
    if (!badge || typeof n !== "number") return;
    badge.textContent = n > 99 ? "99+" : String(n);
    badge.hidden = n === 0;
    badge.parentNode.setAttribute("aria-label", n ? "站内消息，" + n + " 条未读" : "站内消息");
  }
  function refresh() {
    fetch("/notices/unread", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) show(d.unread); })
      .catch(function () {});
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!document.getElementById("notice-count") || !window.hotlinePush) return;
    window.hotlinePush.on("notice", function (d) {
      if (d && typeof d.unread === "number") show(d.unread); else refresh();
    });
    window.hotlinePush.on("open", refresh);
  });
})();
