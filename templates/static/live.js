// live.js: in-place page updates over server-sent events.
//
// Progressive enhancement only: every page works without it; this file merely
// saves a reload. It is loaded as an external, deferred script because the
// Content-Security-Policy forbids inline scripts. The attribute contract is
// documented in templates/doc.go:
//
//   data-live-src="/url"    container; opens an EventSource to that same-origin URL
//   data-live-field="key"   text replaced by the "update" event's data[key]
//   data-live-reveal        (with data-live-field) hidden while the value is empty
//   data-live-reload        (with data-live-field) the page reloads when the value
//                           changes, unless a form on it holds unsaved input
//   data-live-reload-new=".suffix" data-live-reload-new-value="V"
//                           (on the data-live-src element) the page reloads when an
//                           update has a key "<item>.suffix" with value V and no
//                           element shows that key: a new item to list; same rule
//   data-live-state         set by this script: connecting | open | closed
//
// Events: "update" (JSON object), "redirect" (same-origin URL), "reload".
(function () {
  "use strict";

  if (!("EventSource" in window) || !document.querySelectorAll) {
    return;
  }

  // sameOrigin resolves raw against the page and returns it only if it stays on
  // this origin, so neither markup nor an event can send the user elsewhere.
  function sameOrigin(raw) {
    if (typeof raw !== "string" || raw.trim() === "") {
      return null;
    }
    try {
      var u = new URL(raw.trim(), window.location.href);
      return u.origin === window.location.origin ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function fieldsIn(root) {
    var list = Array.prototype.slice.call(root.querySelectorAll("[data-live-field]"));
    if (root.hasAttribute("data-live-field")) {
      list.unshift(root);
    }
    return list;
  }

  // applyUpdate sets the fields of root that data names, and reports whether a
  // field marked data-live-reload changed (the page must be rendered again to
  // show what the new value brings, e.g. a player once a video is published).
  function applyUpdate(root, data) {
    var reload = false;
    fieldsIn(root).forEach(function (el) {
      var key = el.getAttribute("data-live-field");
      if (!Object.prototype.hasOwnProperty.call(data, key)) {
        return;
      }
      var value = data[key];
      var text = value === null || value === undefined ? "" : String(value);
      if (el.textContent !== text) {
        el.textContent = text;
        if (el.hasAttribute("data-live-reload")) {
          reload = true;
        }
      }
      if (el.hasAttribute("data-live-reveal")) {
        el.hidden = text === "";
      }
    });
    return reload;
  }

  // newItem reports whether data names an item root does not show that root asks
  // to be reloaded for (data-live-reload-new: a key suffix; -value: its value).
  function newItem(root, data) {
    var suffix = root.getAttribute("data-live-reload-new");
    if (!suffix) {
      return false;
    }
    var want = root.getAttribute("data-live-reload-new-value") || "";
    var shown = {};
    fieldsIn(root).forEach(function (el) {
      shown[el.getAttribute("data-live-field")] = true;
    });
    for (var key in data) {
      if (
        Object.prototype.hasOwnProperty.call(data, key) &&
        key.length > suffix.length &&
        key.slice(-suffix.length) === suffix &&
        String(data[key]) === want &&
        !shown[key]
      ) {
        return true;
      }
    }
    return false;
  }

  // reloadOnce reloads the page for an update, at most once in a few seconds
  // per page: should the fresh page still not show what the update said (a
  // view that lags, an item the page cannot list), it must not reload again
  // and again.
  function reloadOnce(es) {
    var key = "live-reload:" + window.location.pathname + window.location.search;
    var now = Date.now();
    try {
      var last = Number(window.sessionStorage.getItem(key) || 0);
      if (now - last < 5000) {
        return;
      }
      window.sessionStorage.setItem(key, String(now));
    } catch (e) {
      // No session storage (privacy settings): reload anyway.
    }
    es.close();
    window.location.reload();
  }

  // formsEdited reports whether a form field of the page holds something the
  // user typed or chose and has not sent: a reload would lose it.
  function formsEdited() {
    var fields = document.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden" || f.type === "submit" || f.type === "button") {
        continue;
      }
      if (f.type === "file") {
        if (f.files && f.files.length > 0) {
          return true;
        }
      } else if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) {
          return true;
        }
      } else if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) {
            return true;
          }
        }
      } else if (f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  var sources = [];

  function connect(root) {
    var src = sameOrigin(root.getAttribute("data-live-src"));
    if (!src) {
      return;
    }
    var es = new EventSource(src);
    var everOpened = false;
    sources.push(es);
    root.setAttribute("data-live-state", "connecting");

    es.addEventListener("open", function () {
      if (everOpened) {
        // Reconnected after a drop: events published meanwhile are lost, so
        // fetch the current state once instead of showing stale numbers.
        es.close();
        window.location.reload();
        return;
      }
      everOpened = true;
      root.setAttribute("data-live-state", "open");
    });

    es.addEventListener("error", function () {
      root.setAttribute("data-live-state", es.readyState === EventSource.CLOSED ? "closed" : "connecting");
    });

    es.addEventListener("update", function (event) {
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (data && typeof data === "object" && !Array.isArray(data)) {
        var isNew = newItem(root, data);
        if ((applyUpdate(root, data) || isNew) && !formsEdited()) {
          reloadOnce(es);
        }
      }
    });

    es.addEventListener("redirect", function (event) {
      var target = sameOrigin(event.data);
      if (target) {
        es.close();
        window.location.assign(target);
      }
    });

    es.addEventListener("reload", function () {
      es.close();
      window.location.reload();
    });
  }

  function closeAll() {
    sources.forEach(function (es) {
      es.close();
    });
    sources = [];
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-live-src]"), connect);
  }

  // Close streams when the page goes away so the server frees them at once; a
  // page restored from the back/forward cache reloads to get current state.
  window.addEventListener("pagehide", closeAll);
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && document.querySelector("[data-live-src]")) {
      window.location.reload();
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
