// Page behaviour, declared in the templates with data- attributes (the Content-Security-Policy
// allows no inline script or on*= handler). Listeners sit on the document, so content that htmx
// swaps in later behaves the same.
//   data-confirm="Question?"        on a button or link: ask first, do nothing on "cancel"
//   data-autosubmit                 on a select: submit its form when the choice changes
//   data-submit-once                on a form: a second submit (double click) is ignored
//   data-week-for="ID"              on an element: show the ISO week of date input ID,
//     data-week-label="Vecka"         prefixed by this label
//   data-slug-from="ID" data-slug-to="ID"   on a form: suggest a subdomain from a name until
//                                   the person edits the subdomain themselves
//   data-focus-on-load              on an element (an error summary): focused and scrolled to
//                                   when the page loads
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var el = event.target.closest("[data-confirm]");
    if (el && !window.confirm(el.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches("select[data-autosubmit]") && el.form) { el.form.submit(); }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-submit-once]")) { return; }
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
  });

  function isoWeek(d) {
    var t = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
    var day = t.getUTCDay() || 7;
    t.setUTCDate(t.getUTCDate() + 4 - day);
    var yearStart = new Date(Date.UTC(t.getUTCFullYear(), 0, 1));
    return Math.ceil(((t - yearStart) / 86400000 + 1) / 7);
  }

  function slug(text) {
    return text.toLowerCase().replace(/[åä]/g, "a").replace(/ö/g, "o").replace(/[éè]/g, "e")
      .normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
  }

  function setUp() {
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) { summary.focus(); summary.scrollIntoView({ block: "start" }); }
    document.querySelectorAll("[data-week-for]").forEach(function (hint) {
      var date = document.getElementById(hint.dataset.weekFor);
      if (!date) { return; }
      function show() {
        hint.textContent = date.value ? hint.dataset.weekLabel + " " + isoWeek(new Date(date.value)) : "";
      }
      date.addEventListener("change", show);
      show();
    });
    document.querySelectorAll("form[data-slug-from][data-slug-to]").forEach(function (form) {
      var name = document.getElementById(form.dataset.slugFrom);
      var sub = document.getElementById(form.dataset.slugTo);
      if (!name || !sub) { return; }
      var touched = sub.value !== "";
      sub.addEventListener("input", function () { touched = true; });
      name.addEventListener("input", function () { if (!touched) { sub.value = slug(name.value); } });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
