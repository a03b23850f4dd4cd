// Knowledge article body editor: Quill 2 (npm, vendored by scripts/vendor_assets.py) over the form's
// <textarea name="body">, which stays the submitted field. Every change writes the editor's HTML back
// into the textarea; the server sanitises it (node/knowledge/richtext.py) whatever arrives.
// "HTML 源码" switches to the textarea itself (and back), for pasting prepared HTML.
(function () {
  "use strict";
  var area = document.getElementById("kb-body-input");
  if (!area || !window.Quill) return;
  var TITLES = {
    header: "标题级别", bold: "加粗", italic: "倾斜", underline: "下划线", strike: "删除线",
    list: "列表", blockquote: "引用", link: "链接", clean: "清除格式",
    "table-insert": "插入表格（3行×3列）", "row-below": "在下方插入行", "col-right": "在右侧插入列",
    "row-delete": "删除所在行", "col-delete": "删除所在列", "table-delete": "删除表格",
  };
  var host = document.createElement("div");
  host.id = "kb-body-editor";
  host.className = "kb-editor";
  area.parentNode.insertBefore(host, area);
  var toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "btn small";
  toggle.id = "kb-body-source";
  toggle.textContent = "HTML 源码";
  area.parentNode.insertBefore(toggle, area.parentNode.firstChild);
  var quill = new window.Quill(host, {
    theme: "snow",
    placeholder: "答复口径：可分段、列表、表格；可从 Word 粘贴",
    modules: {
      table: true,
      toolbar: {
        container: [
          [{ header: [3, 4, false] }], ["bold", "italic", "underline", "strike"],
          [{ list: "ordered" }, { list: "bullet" }], ["blockquote", "link"],
          ["table-insert", "row-below", "col-right", "row-delete", "col-delete", "table-delete"], ["clean"],
        ],
        handlers: {
          "table-insert": function () { quill.getModule("table").insertTable(3, 3); },
          "row-below": function () { quill.getModule("table").insertRowBelow(); },
          "col-right": function () { quill.getModule("table").insertColumnRight(); },
          "row-delete": function () { quill.getModule("table").deleteRow(); },
          "col-delete": function () { quill.getModule("table").deleteColumn(); },
          "table-delete": function () { quill.getModule("table").deleteTable(); },
        },
      },
    },
  });
  var toolbar = quill.getModule("toolbar").container;
  Object.keys(TITLES).forEach(function (name) {
    toolbar.querySelectorAll(".ql-" + name).forEach(function (b) {
      b.title = TITLES[name];
      b.setAttribute("aria-label", TITLES[name]);
      if (name.indexOf("table") === 0 || name.indexOf("row") === 0 || name.indexOf("col") === 0) {
        b.textContent = { "table-insert": "表", "row-below": "+行", "col-right": "+列", "row-delete": "−行",
          "col-delete": "−列", "table-delete": "×表" }[name];
        b.classList.add("kb-text-btn");
      }
    });
  });
  function load() { quill.setContents(quill.clipboard.convert({ html: area.value || "" }), "silent"); }
  function sync() { area.value = (quill.getText().trim() || host.querySelector("table")) ? quill.getSemanticHTML() : ""; }
  load();
  area.required = false;  // a hidden required field cannot show its message; the server checks it
  area.hidden = true;
  quill.on("text-change", sync);
  toggle.addEventListener("click", function () {
    var toSource = area.hidden;
    if (toSource) { sync(); } else { load(); }
    area.hidden = !toSource;
    host.parentNode.querySelector(".ql-toolbar").hidden = toSource;
    host.hidden = toSource;
    toggle.textContent = toSource ? "可视化编辑" : "HTML 源码";
    toggle.setAttribute("aria-pressed", toSource ? "true" : "false");
    (toSource ? area : quill).focus();
  });
})();
