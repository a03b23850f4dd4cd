/* The page's one push stream (node/push): screen-pops, the phone bar, the wallboard and badges
   all listen here. hotlinePush.on(kind, fn) registers a handler for server events of that kind;
   the kind "open" fires on every (re)connection so a module can reload what it shows. */
(function () {
  "use strict";
  var handlers = {};
  var bound = {};
  var es = null;

  function dispatch(kind, data, ev) {
    (handlers[kind] || []).forEach(function (fn) {
      try { fn(data, ev); } catch (err) { if (window.console) console.error(err); }
    });
  }
  function bind(kind) {
    if (!es || bound[kind] || kind === "open") return;
    bound[kind] = true;
    es.addEventListener(kind, function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (err) { return; }
      dispatch(kind, data, ev);
    });
  }
  function connect() {
    var url = document.body && document.body.dataset.push;
    if (es || !url || !window.EventSource) return;
    es = new EventSource(url);
    bound = {};
    Object.keys(handlers).forEach(bind);
    es.onopen = function () { document.body.dataset.pushState = "open"; dispatch("open", {}); };
    es.onerror = function () {
      // CLOSED: the server refused (signed out, session expired); the browser retries otherwise
      document.body.dataset.pushState = es && es.readyState === EventSource.CLOSED ? "closed" : "retrying";
    };
  }
  window.hotlinePush = {
    on: function (kind, fn) {
      (handlers[kind] = handlers[kind] || []).push(fn);
      bind(kind);
      connect();
    }
  };
  document.addEventListener("DOMContentLoaded", connect);
})();
