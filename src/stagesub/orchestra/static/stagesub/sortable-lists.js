// Drag-and-drop reordering: every element with class "sortable" and a data-reorder-url posts
// the complete new order (data-id of its children) after a drop; the server applies it
// atomically and answers 409 when the list changed meanwhile.
(function () {
  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function post(url, ids, onError) {
    var body = new URLSearchParams();
    ids.forEach(function (id) { body.append("order", id); });
    Object.entries(extraFields(url)).forEach(function (kv) { body.append(kv[0], kv[1]); });
    fetch(url, {method: "POST", body: body, headers: {"X-CSRFToken": csrfToken()}, credentials: "same-origin"})
      .then(function (r) { return r.json().then(function (data) { return {ok: r.ok, data: data}; }); })
      .then(function (res) { if (!res.ok) { onError(res.data.error || "Error"); } else { document.dispatchEvent(new CustomEvent("stagesub:reordered", {detail: res.data})); } })
      .catch(function () { onError("Network error"); });
  }
  function extraFields(url) {
    var el = document.querySelector('[data-reorder-url="' + url + '"]');
    var out = {};
    if (el && el.dataset.version) { out.version = el.dataset.version; }
    return out;
  }
  document.querySelectorAll(".sortable[data-reorder-url]").forEach(function (list) {
    Sortable.create(list, {
      handle: ".handle",
      animation: 150,
      draggable: "[data-id]",
      onEnd: function () {
        var ids = Array.from(list.children).filter(function (c) { return c.dataset.id; }).map(function (c) { return c.dataset.id; });
        post(list.dataset.reorderUrl, ids, function (message) { alert(message); window.location.reload(); });
      }
    });
  });
})();
