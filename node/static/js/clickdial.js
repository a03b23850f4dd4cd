/* 外呼回访 on the callback screen: follows the agent's click-to-dial call live over the push
   channel (kind "click_dial": ids and states only) and reads its progress from
   /telephony/click-dial/<call>. While a call is up the button is disabled; once the citizen
   answered, the form carries the call id so the answers are linked to the call and its
   recording; a call that ended unreached (already recorded by the system) reloads the page. */
(function () {
  "use strict";
  function $(id) { return document.getElementById(id); }

  function show(d) {
    var state = $("dial-state"), button = $("click-dial"), callId = $("cb-call-id");
    if (!state) return;
    state.dataset.call = d.call_id;
    state.dataset.ended = d.ended ? "1" : "0";
    state.dataset.state = d.state;
    state.textContent = "回访外呼 " + d.number + "：" + d.text;
    if (button) button.disabled = !d.ended;
    var reason = $("click-dial-reason");
    if (reason) reason.hidden = !!d.ended;
    if (callId && d.reached) {
      callId.value = d.call_id;
      var yes = document.querySelector('input[name="reached"][value="1"]');
      if (yes) yes.checked = true;
    }
    if (d.ended && d.outcome && d.outcome !== "reached") {
      setTimeout(function () { window.location.reload(); }, 1500);
    }
  }

  function load(callId) {
    if (!callId) return;
    fetch("/telephony/click-dial/" + encodeURIComponent(callId), {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) show(d); })
      .catch(function () { /* the next push event retries */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var state = $("dial-state");
    if (!state) return;
    if (state.dataset.call && state.dataset.ended !== "1") {
      var button = $("click-dial");
      if (button) button.disabled = true;
    }
    if (!window.hotlinePush) return;
    window.hotlinePush.on("click_dial", function (data) {
      if (data.order === state.dataset.order) load(data.call);
    });
    window.hotlinePush.on("open", function () { load(state.dataset.call); });
  });
})();
