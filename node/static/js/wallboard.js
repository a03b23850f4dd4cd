/* 运行监控大屏: renders /telephony/wallboard/data, reloads it when the push channel announces a
   floor change (debounced) and every 10 s, and lets a shift leader force an agent's state or
   listen in. Times in state tick locally between reloads. */
(function () {
  "use strict";
  var root, url, data = null, loadedAt = 0, pending = null, lastLoad = 0;

  function $(name) { return root.querySelector('[data-wb="' + name + '"]'); }
  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    return (h ? h + ":" : "") + (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }
  function pct(x) { return x === null || x === undefined ? "—" : Math.round(x * 1000) / 10 + "%"; }
  function tile(name, alert) { var t = root.querySelector('[data-wb-tile="' + name + '"]'); if (t) t.classList.toggle("alert", !!alert); }
  function ago(s) { return s < 60 ? s + " 秒前" : s < 3600 ? Math.floor(s / 60) + " 分钟前" : Math.floor(s / 3600) + " 小时前"; }
  function esc(s) { var d = document.createElement("span"); d.textContent = s == null ? "" : String(s); return d.innerHTML; }

  function render(d) {
    data = d; loadedAt = Date.now();
    root.dataset.version = String((parseInt(root.dataset.version || "0", 10) || 0) + 1);
    $("at").textContent = "数据时间 " + d.at.replace("T", " ");
    $("lines").textContent = d.lines.in_use + " / " + d.lines.capacity;
    $("lines-detail").textContent = "语音导航 " + d.lines.ivr + "，排队 " + d.lines.queued + "，通话 " + d.lines.talking;
    tile("lines", d.lines.alert);
    var waiting = 0, longest = 0, qAlert = false;
    d.queues.forEach(function (q) { waiting += q.waiting; longest = Math.max(longest, q.longest_wait_s); qAlert = qAlert || q.alert; });
    $("queue").textContent = waiting + " / " + clock(longest);
    $("queue-detail").textContent = "阈值：" + d.thresholds.alert_queue + " 人，" + d.thresholds.alert_wait_s + " 秒";
    tile("queue", waiting >= d.thresholds.alert_queue || longest >= d.thresholds.alert_wait_s);
    $("today").textContent = d.today.answered + " / " + d.today.abandoned;
    $("today-detail").textContent = "放弃率 " + pct(d.today.abandon_rate) + "，线路忙 " + d.today.overflow + "，待回电 " + d.today.callbacks_pending;
    tile("today", d.today.alert);
    $("sl-s").textContent = d.thresholds.service_level_s;
    $("sl").textContent = pct(d.today.service_level);
    $("sl-detail").textContent = "目标 ≥ " + pct(d.thresholds.alert_service_level);
    tile("sl", d.today.service_level !== null && d.today.service_level < d.thresholds.alert_service_level);
    $("orders").textContent = d.orders.overdue + " / " + d.orders.due_soon;
    tile("orders", d.orders.alert);
    var s = d.system;
    $("cpu").textContent = "CPU " + Math.round(s.cpu_percent) + "%";
    $("system-detail").textContent = "内存 " + Math.round(s.memory_percent) + "%，磁盘 " + Math.round(s.disk_percent) + "%，数据库 " + (s.database_mb === null ? "—" : s.database_mb + " MB");
    tile("system", s.alert);
    var by = d.agents_by_state;
    $("agents-summary").textContent = "就绪 " + (by.ready || 0) + "，通话 " + ((by.talking || 0) + (by.ringing || 0)) + "，话后 " + (by.wrapup || 0) + "，示忙 " + (by.not_ready || 0) + "，离线 " + (by.offline || 0);
    $("agents").innerHTML = d.agents.map(function (a) {
      var acts = '<button type="button" class="btn small" data-force="ready" data-agent="' + a.agent_id + '">置就绪</button>' +
        '<button type="button" class="btn small" data-force="not_ready" data-agent="' + a.agent_id + '">置示忙</button>' +
        '<button type="button" class="btn small" data-force="offline" data-agent="' + a.agent_id + '">置离线</button>';
      if (a.state === "talking" && a.call) {
        acts = '<button type="button" class="btn small" data-monitor="listen" data-call="' + esc(a.call) + '">监听</button>' +
          '<button type="button" class="btn small" data-monitor="whisper" data-call="' + esc(a.call) + '">耳语</button>' +
          '<button type="button" class="btn small" data-monitor="barge" data-call="' + esc(a.call) + '">强插</button>';
      }
      return '<div class="wb-agent" data-state="' + a.state + '" data-extension="' + esc(a.extension) + '">' +
        '<div class="n">' + esc(a.name) + ' <span class="muted">' + esc(a.extension) + '</span></div>' +
        '<div><span class="st">' + esc(a.state_label) + (a.reason ? "（" + esc(a.reason) + "）" : "") + '</span> ' +
        '<span class="t" data-seconds="' + a.seconds + '">' + clock(a.seconds) + '</span>' +
        (a.registered === false ? ' <span class="badge" style="background:var(--bad-bg);color:var(--bad)">未注册</span>' : "") + '</div>' +
        '<div class="acts">' + acts + '</div></div>';
    }).join("") || (d.system.telephony_enabled ? '<p class="muted">尚无坐席分机（hotline telephony enroll-agent）。</p>'
      : '<p class="muted">本节点未启用电话系统（node.toml 的 [telephony] enabled）。</p>');
    var rows = ['<tr><th>队列</th><th class="right">排队</th><th class="right">最长等待</th><th class="right">接听</th><th class="right">放弃</th><th class="right">服务水平</th></tr>'];
    d.queues.forEach(function (q) {
      rows.push('<tr class="wb-row' + (q.alert ? " alert" : "") + '" data-queue="' + esc(q.queue) + '"><td>' + esc(q.label) + '</td><td class="right" data-col="waiting">' + q.waiting +
        '</td><td class="right">' + clock(q.longest_wait_s) + '</td><td class="right" data-col="answered">' + q.answered + '</td><td class="right" data-col="abandoned">' + q.abandoned +
        '</td><td class="right">' + pct(q.service_level) + '</td></tr>');
    });
    $("queues").innerHTML = rows.join("");
    var ob = s.outbox;
    var w = s.worker, wf = w.last_failure;
    $("processes").innerHTML =
      '<tr class="wb-row' + (w.alive ? "" : " alert") + '" data-process="worker"><td>后台任务</td><td class="right">' +
        (w.age_s === null ? "从未运行" : (w.alive ? "运行（" : "无响应（") + ago(w.age_s) + "）") + '</td></tr>' +
      (wf ? '<tr class="wb-row alert"><td>最近失败任务</td><td class="right">' + esc(wf.job) + " " + esc((wf.at || "").slice(11, 16)) + '</td></tr>' : "") +
      (s.telephony_enabled ?
        '<tr><td>呼叫引擎</td><td class="right">' + s.engines_live + " / " + s.engines_configured + " 运行" + '</td></tr>' +
        '<tr><td>忙音引擎</td><td class="right">' + (s.announcer_live ? "运行" : "未运行") + '</td></tr>' +
        '<tr><td>Kamailio</td><td class="right">' + (s.kamailio ? "运行" : "未运行") + '</td></tr>'
        : '<tr><td>电话系统</td><td class="right">未启用</td></tr>') +
      '<tr><td>负载（' + s.cores + ' 核）</td><td class="right">' + s.load.join(" / ") + '</td></tr>' +
      '<tr><td>内存</td><td class="right">' + s.memory_used_mb + " / " + s.memory_total_mb + ' MB</td></tr>' +
      '<tr><td>磁盘剩余</td><td class="right">' + s.disk_free_gb + ' GB</td></tr>' +
      (ob ? '<tr><td>联网待发 / 搁置</td><td class="right">' + ob.pending + " / " + ob.parked + "（积压 " + clock(ob.lag_s) + "）" + '</td></tr>' : "");
  }
  function tick() {
    if (!data) return;
    var passed = (Date.now() - loadedAt) / 1000;
    root.querySelectorAll(".wb-agent .t").forEach(function (el) { el.textContent = clock(parseInt(el.dataset.seconds, 10) + passed); });
  }
  function load() {
    pending = null; lastLoad = Date.now();
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) render(d); }).catch(function () { /* next push or timer */ });
  }
  function soon() {  // at most one reload per second however many events arrive
    if (pending) return;
    pending = setTimeout(load, Math.max(150, 1000 - (Date.now() - lastLoad)));
  }
  function post(path, body) {
    return fetch(path, { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf() }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) window.alert(j.message || "操作失败"); return j; }); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = document.getElementById("wallboard");
    if (!root) return;
    url = root.dataset.url;
    try { render(JSON.parse(document.getElementById("wallboard-initial").textContent)); } catch (err) { load(); }
    root.addEventListener("click", function (e) {
      var b = e.target.closest ? e.target.closest("button") : null;
      if (!b) return;
      if (b.dataset.force) {
        var reason = "";
        if (b.dataset.force === "not_ready") { reason = window.prompt("示忙原因", "班长置示忙"); if (!reason) return; }
        post("/telephony/agent/state", { agent_id: parseInt(b.dataset.agent, 10), state: b.dataset.force, reason: reason, confirm: true }).then(soon);
      } else if (b.dataset.monitor) {
        post("/telephony/calls/" + b.dataset.call + "/monitor", { mode: b.dataset.monitor }).then(soon);
      }
    });
    setInterval(tick, 1000);
    setInterval(load, 10000);
    if (window.hotlinePush) { window.hotlinePush.on("floor", soon); window.hotlinePush.on("open", soon); }
  });
})();
