// Drag-and-drop reordering. Every element with class "sortable" and a data-reorder-url posts the
// complete new order (the data-id of its children) after a drop. The server applies it
// atomically; lists that carry data-version send it along and get 409 when someone else changed
// the list meanwhile (then we say so and reload).
(function () {
  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function renumber(list) {
    list.querySelectorAll(":scope > [data-id] .rank").forEach(function (el, i) { el.textContent = (i + 1) + "."; });
  }
  function save(list) {
    var body = new URLSearchParams();
    Array.from(list.children).forEach(function (c) { if (c.dataset.id) { body.append("order", c.dataset.id); } });
    if (list.dataset.version) { body.append("version", list.dataset.version); }
    list.setAttribute("aria-busy", "true");
    fetch(list.dataset.reorderUrl, {method: "POST", body: body, credentials: "same-origin",
                                    headers: {"X-CSRFToken": csrfToken()}})
      .then(function (r) { return r.json().then(function (data) { return {ok: r.ok, data: data}; }); })
      .then(function (res) {
        list.removeAttribute("aria-busy");
        if (!res.ok) { throw new Error(res.data.error || "Error"); }
        if (res.data.version) {
          list.dataset.version = res.data.version;
          list.querySelectorAll("input[name=version]").forEach(function (i) { i.value = res.data.version; });
        }
        renumber(list);
        list.dispatchEvent(new CustomEvent("stagesub:saved", {bubbles: true}));
      })
      .catch(function (err) { alert(err.message); window.location.reload(); });
  }
  // The keyboard's way to reorder (WCAG 2.1.1): a handle is a button, and the arrow keys move its
  // item one step up or down, saved like a drop; the focus stays on the moved handle.
  document.addEventListener("keydown", function (event) {
    var handle = event.target.closest ? event.target.closest(".handle") : null;
    if (!handle || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) { return; }
    var item = handle.closest("[data-id]");
    var list = item && item.parentElement;
    if (!list || !list.matches(".sortable[data-reorder-url]")) { return; }
    event.preventDefault();
    var other = event.key === "ArrowUp" ? item.previousElementSibling : item.nextElementSibling;
    if (!other || !other.dataset.id) { return; }
    list.insertBefore(item, event.key === "ArrowUp" ? other : other.nextElementSibling);
    handle.focus();
    save(list);
  });
  document.querySelectorAll(".sortable[data-reorder-url]").forEach(function (list) {
    Sortable.create(list, {handle: ".handle", animation: 150, draggable: "[data-id]",
                           onEnd: function (evt) { if (evt.oldIndex !== evt.newIndex) { save(list); } }});
  });
})();
