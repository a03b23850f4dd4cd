// 绩效考核: ECharts charts of rankings and score cards; time-stamped marks on the QA recording.
(function () {
  "use strict";
  function data(el) { try { return JSON.parse(el.getAttribute("data-chart")); } catch (e) { return null; } }
  function chart(id, build) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) return;
    var d = data(el);
    if (!d) return;
    var c = window.echarts.init(el);
    var opt = build(d);
    opt.animation = false;
    c.setOption(opt);
    window.addEventListener("resize", function () { c.resize(); });
  }
  function ready() {
    chart("ranking-chart", function (d) {
      return {
        tooltip: { trigger: "axis" }, legend: { data: ["本期总分", "上期总分"] },
        grid: { left: 40, right: 20, bottom: 70 },
        xAxis: { type: "category", data: d.names, axisLabel: { rotate: 30, interval: 0 } },
        yAxis: { type: "value", min: 0, max: 100 },
        series: [{ name: "本期总分", type: "bar", data: d.totals }, { name: "上期总分", type: "line", data: d.previous }]
      };
    });
    chart("card-items-chart", function (d) {
      return {
        title: { text: "各项得分", textStyle: { fontSize: 14 } }, tooltip: {}, legend: { data: ["得分", "权重"], right: 0, top: 0 },
        grid: { left: 40, right: 20, bottom: 60 },
        xAxis: { type: "category", data: d.items, axisLabel: { rotate: 20, interval: 0 } }, yAxis: { type: "value" },
        series: [{ name: "得分", type: "bar", data: d.points }, { name: "权重", type: "bar", data: d.weights }]
      };
    });
    chart("card-history-chart", function (d) {
      return {
        title: { text: "历次总分", textStyle: { fontSize: 14 } }, tooltip: { trigger: "axis" },
        grid: { left: 40, right: 20, bottom: 40 },
        xAxis: { type: "category", data: d.periods }, yAxis: { type: "value", min: 0, max: 100 },
        series: [{ name: "总分", type: "line", data: d.totals, label: { show: true } }]
      };
    });
    var audio = document.getElementById("qa-audio");
    var list = document.getElementById("qa-marks");
    var field = document.getElementById("qa-marks-field");
    var marks = [];
    try { marks = JSON.parse(field ? field.value : (document.getElementById("qa-marks-initial") || {}).textContent || "[]"); } catch (e) { marks = []; }
    function fmt(t) { var m = Math.floor(t / 60), s = Math.floor(t % 60); return m + ":" + (s < 10 ? "0" : "") + s; }
    function draw() {
      if (!list) return;
      list.textContent = "";
      marks.forEach(function (m, i) {
        var li = document.createElement("li");
        var jump = document.createElement("a");
        jump.href = "#"; jump.textContent = fmt(m.t);
        jump.addEventListener("click", function (ev) { ev.preventDefault(); if (audio) { audio.currentTime = m.t; audio.play(); } });
        li.appendChild(jump);
        li.appendChild(document.createTextNode(" " + m.note + " "));
        if (field) {
          var del = document.createElement("button");
          del.type = "button"; del.className = "btn small"; del.textContent = "删除";
          del.addEventListener("click", function () { marks.splice(i, 1); draw(); });
          li.appendChild(del);
        }
        list.appendChild(li);
      });
      if (field) field.value = JSON.stringify(marks);
    }
    var add = document.getElementById("qa-mark");
    if (add) add.addEventListener("click", function () {
      var note = document.getElementById("qa-mark-note");
      marks.push({ t: Math.round((audio ? audio.currentTime : 0) * 10) / 10, note: note ? note.value : "" });
      marks.sort(function (a, b) { return a.t - b.t; });
      if (note) note.value = "";
      draw();
    });
    draw();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready); else ready();
})();
