// watch.js: records a viewing when a video on the watch page starts playing.
//
// The <video> element carries data-record-viewing (the record-viewings URL,
// POST) and data-csrf-token. The first "playing" event of the page load sends
// one request; replays, seeks and pauses send nothing more. It is an external
// script because the Content-Security-Policy forbids inline ones.
(function () {
  "use strict";

  function arm(video) {
    var url = video.getAttribute("data-record-viewing");
    var token = video.getAttribute("data-csrf-token");
    if (!url || !token || !window.fetch) {
      return;
    }
    var sent = false;
    video.addEventListener("playing", function () {
      if (sent) {
        return;
      }
      sent = true;
      video.setAttribute("data-viewing", "sending");
      window
        .fetch(url, {
          method: "POST",
          credentials: "same-origin",
          redirect: "manual",
          headers: { "X-CSRF-Token": token },
        })
        .then(function (res) {
          // record-viewings answers with a redirect; with redirect: "manual"
          // that is an opaque response, which means it worked.
          var ok = res.type === "opaqueredirect" || res.ok;
          video.setAttribute("data-viewing", ok ? "recorded" : "failed");
        })
        .catch(function () {
          video.setAttribute("data-viewing", "failed");
        });
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("video[data-record-viewing]"), arm);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
