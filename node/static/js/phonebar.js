/* 话务条: the agent's state, softphone registration and call controls on every screen
   (node/templates/telephony/phone_bar.html). Reloads its state from /telephony/agent/me whenever
   the push channel announces a change for this agent; screen-pops fill the workstation form. */
(function () {
  "use strict";
  var bar, url, me = null, stateSince = 0, callSince = 0;

  function $(name) { return bar.querySelector('[data-pb="' + name + '"]'); }
  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }
  function post(path, body) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body || {})
    }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, status: r.status, body: j }; }); });
  }
  function say(text, ok) {
    var m = $("message");
    m.textContent = text || "";
    m.classList.toggle("ok", !!ok);
  }
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    return (h ? h + ":" : "") + (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }
  function parse(iso) { return iso ? new Date(iso + "+08:00").getTime() : 0; }

  function render(data) {
    me = data;
    if (!data.enrolled) { bar.hidden = true; return; }
    $("extension").textContent = data.extension;
    var st = $("state");
    st.dataset.state = data.state;
    st.textContent = data.state_label + (data.state === "not_ready" && data.reason ? "（" + data.reason + "）" : "");
    stateSince = parse(data.since);
    var why = $("why");
    // why the state is what it is: the node's own changes (no answer, softphone gone) in red
    var idle = data.state === "not_ready" || data.state === "offline" || data.state === "ready";
    why.textContent = !idle || !data.changed_by ? "" :
      (data.by_system ? (data.reason ? "系统切换：" + data.reason : "") : "由" + data.changed_by + "设置");
    why.classList.toggle("system", !!data.by_system);
    var reg = $("registered");
    reg.textContent = data.registered === false ? "软电话未注册" : (data.registered ? "软电话已注册" : "");
    reg.classList.toggle("off", data.registered === false);
    var reasons = $("reasons");
    if (reasons.options.length <= 1) {
      data.reasons.forEach(function (r) { var o = document.createElement("option"); o.value = r; o.textContent = "示忙：" + r; reasons.appendChild(o); });
    }
    reasons.value = "";
    var call = data.call, box = $("call");
    box.hidden = !call || (data.state !== "talking" && data.state !== "ringing");
    if (call) {
      $("direction").textContent = call.outbound ? "外呼" : "来电";
      $("caller").textContent = call.caller;
      $("business").textContent = call.business;
      $("hold").hidden = !call.on_hold;
      $("consulting").hidden = !call.consult;
      $("consult-state").textContent = call.consult === "ringing" ? "咨询振铃中" : "咨询中";
      bar.querySelector('[data-pb-action="consult"]').hidden = !!call.consult || call.consulted;
      bar.querySelector('[data-pb-action="hold"]').firstChild.textContent = call.on_hold ? "取回 " : "保持 ";
      callSince = parse(call.since);
    }
    tick();
  }
  function tick() {
    if (!me || !me.enrolled) return;
    if (me.state === "wrapup" && me.wrapup_until && parse(me.wrapup_until) <= Date.now()) {
      me.wrapup_until = null;  // wrap-up ran out: the node counts the agent ready again
      refresh();
    }
    $("state-time").textContent = clock((Date.now() - stateSince) / 1000);
    if (me.call) $("call-time").textContent = clock((Date.now() - callSince) / 1000);
  }
  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) render(d); }).catch(function () { /* the next push retries */ });
  }

  function setState(state, reason, confirmed) {
    var body = { state: state, reason: reason || "" };
    if (confirmed) body.confirm = true;
    return post("/telephony/agent/state", body).then(function (res) {
      if (res.ok) { say(""); refresh(); return; }
      if (res.body.code === "softphone_unregistered" && !confirmed) {
        if (window.confirm(res.body.message)) return setState(state, reason, true);
        return;
      }
      say(res.body.message || "切换失败");
    });
  }
  function callCommand(command, body) {
    if (!me || !me.call) { say("当前没有通话"); return; }
    post("/telephony/calls/" + me.call.call_id + "/" + command, body).then(function (res) {
      if (!res.ok) say(res.body.message || "操作失败"); else { say(""); refresh(); }
    });
  }
  function consult() {
    if (!me || !me.call) { say("当前没有通话"); return; }
    var ext = window.prompt("咨询哪位坐席？请输入分机号（来电将被保持）", "");
    if (ext) callCommand("consult", { extension: ext.trim() });
  }
  function openTransfer() {
    if (!me || !me.call) { say("当前没有通话"); return; }
    var f = $("transfer-form");
    f.hidden = false;
    f.elements.value.focus();
  }
  function transfer(ev) {
    ev.preventDefault();
    var f = ev.target, body = {};
    body[f.elements.kind.value] = f.elements.value.value.trim();
    post("/telephony/calls/" + me.call.call_id + "/transfer", body).then(function (res) {
      if (!res.ok) { say(res.body.message || "转接失败"); return; }
      f.hidden = true; f.reset(); say("已转接", true); refresh();
    });
  }

  // a call bridged to this seat: fill the workstation form, or offer to open the workstation
  function screenPop(data) {
    fetch("/telephony/calls/" + encodeURIComponent(data.call) + "/pop", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (pop) {
        if (!pop) return;
        if (document.getElementById("intake-form") && window.hotlineScreenPop) { window.hotlineScreenPop(pop); return; }
        var m = $("message");
        m.textContent = "";
        var a = document.createElement("a");
        a.href = "/workstation?" + new URLSearchParams({ caller_phone: pop.caller, call_id: pop.call_id, channel: pop.channel, recording_ref: pop.recording_ref });
        a.textContent = "来电 " + pop.caller + " 已接通，打开坐席工作台";
        m.appendChild(a);
      });
  }

  function keys(e) {
    if (!me || !me.enrolled || e.ctrlKey || e.metaKey) return;
    if (e.key === "F4" && !e.altKey) { e.preventDefault(); setState("ready"); }
    else if (e.key === "F8") { e.preventDefault(); $("reasons").focus(); }
    else if (e.key === "F9") { e.preventDefault(); callCommand(me.call && me.call.on_hold ? "unhold" : "hold"); }
    else if (e.altKey && e.shiftKey && e.key.toLowerCase() === "t") { e.preventDefault(); openTransfer(); }
    else if (e.altKey && e.shiftKey && e.key.toLowerCase() === "x") { e.preventDefault(); callCommand("hangup"); }
    else if (e.altKey && e.shiftKey && e.key.toLowerCase() === "c") { e.preventDefault(); consult(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    bar = document.getElementById("phonebar");
    if (!bar) return;
    url = bar.dataset.url;
    bar.addEventListener("click", function (e) {
      var b = e.target.closest ? e.target.closest("[data-pb-action]") : null;
      if (!b) return;
      var a = b.dataset.pbAction;
      if (a === "ready" || a === "offline") setState(a);
      else if (a === "hold") callCommand(me && me.call && me.call.on_hold ? "unhold" : "hold");
      else if (a === "hangup") callCommand("hangup");
      else if (a === "transfer") openTransfer();
      else if (a === "transfer-cancel") { $("transfer-form").hidden = true; }
      else if (a === "consult") consult();
      else if (a === "consult_transfer" || a === "consult_cancel") callCommand(a);
    });
    $("reasons").addEventListener("change", function (e) { if (e.target.value) setState("not_ready", e.target.value); });
    $("transfer-form").addEventListener("submit", transfer);
    document.addEventListener("keydown", keys);
    setInterval(tick, 1000);
    refresh();
    if (window.hotlinePush) {
      window.hotlinePush.on("phone", refresh);
      window.hotlinePush.on("open", refresh);
      window.hotlinePush.on("screen_pop", screenPop);
    }
  });
})();
