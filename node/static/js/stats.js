/* 统计分析 charts: every element with data-chart="<id>" is drawn with ECharts from the JSON in
   <script type="application/json" id="<id>">: {type: line|bar|pie, title, categories, series:
   [{name, data}], percent, links}. Clicking a point opens its drill-down (links[i]). */
(function () {
  "use strict";
  function pct(v) { return v === null || v === undefined ? "—" : (Math.round(v * 10000) / 100) + "%"; }
  function draw(el) {
    var spec = JSON.parse(document.getElementById(el.dataset.chart).textContent);
    var chart = echarts.init(el, null, { renderer: "canvas" });
    var fmt = spec.percent ? pct : function (v) { return v === null ? "—" : v; };
    var option;
    if (spec.type === "pie") {
      option = {
        title: { text: spec.title, left: "center", textStyle: { fontSize: 14 } },
        tooltip: { trigger: "item", formatter: "{b}：{c}（{d}%）" },
        legend: { bottom: 0 },
        series: [{ type: "pie", radius: ["35%", "65%"], data: spec.categories.map(function (c, i) { return { name: c, value: spec.series[0].data[i] }; }) }]
      };
    } else {
      option = {
        title: { text: spec.title, left: "center", textStyle: { fontSize: 14 } },
        tooltip: { trigger: "axis", valueFormatter: fmt },
        legend: { bottom: 0 },
        grid: { left: 50, right: 20, top: 40, bottom: 60 },
        xAxis: { type: "category", data: spec.categories, axisLabel: { interval: "auto", rotate: spec.categories.length > 12 ? 30 : 0 } },
        yAxis: { type: "value", axisLabel: { formatter: spec.percent ? function (v) { return Math.round(v * 100) + "%"; } : "{value}" } },
        series: spec.series.map(function (s) { return { name: s.name, type: spec.type, data: s.data, smooth: true }; })
      };
    }
    chart.setOption(option);
    chart.on("click", function (p) { if (spec.links && spec.links[p.dataIndex]) { window.location.href = spec.links[p.dataIndex]; } });
    window.addEventListener("resize", function () { chart.resize(); });
    el.dataset.ready = "1";
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw);
  });
})();
