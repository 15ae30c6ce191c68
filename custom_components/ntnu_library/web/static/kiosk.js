// The self-checkout station without inline script (the CSP allows only this file): a patron's
// session ends after its idle time (the server ends it too), an idle welcome page renews its
// form, "Print receipt" prints, a form is sent once, and staff's login code is exchanged for
// a token when a station is opened. Every patron form works without it.
(function () {
  "use strict";

  var ACTIVITY = ["keydown", "input", "pointerdown", "touchstart", "wheel"];

  function afterIdle(seconds, action) {
    var timer = null;
    function arm() {
      if (timer) {
        window.clearTimeout(timer);
      }
      timer = window.setTimeout(action, seconds * 1000);
    }
    ACTIVITY.forEach(function (name) {
      document.addEventListener(name, arm, { capture: true, passive: true });
    });
    arm();
  }

  // --- one post per form -------------------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll("form[method=post]"), function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sent")) {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "1");
    });
    window.addEventListener("pageshow", function () {
      form.removeAttribute("data-sent");
    });
  });

  // --- a patron's session: idle time, receipt ----------------------------------------------
  var session = document.getElementById("kiosk-form");
  var done = document.getElementById("done");
  if (session && done) {
    var idle = parseInt(session.getAttribute("data-idle-seconds"), 10);
    if (idle > 0) {
      afterIdle(idle, function () {
        session.removeAttribute("data-sent");
        done.click();
      });
    }
  }
  if (document.querySelector("[data-print]") && window.print) {
    window.addEventListener("load", function () {
      window.print();
    });
  }

  // --- waiting for a card: a fresh form before this one expires -----------------------------
  var start = document.getElementById("start-form");
  if (start) {
    var refresh = parseInt(start.getAttribute("data-refresh-seconds"), 10);
    if (refresh > 0) {
      afterIdle(refresh, function () {
        window.location.replace(start.getAttribute("data-refresh-url"));
      });
    }
  }

  // --- opening the station: Home Assistant's code for an access token -----------------------
  var open = document.getElementById("open-form");
  if (open && window.fetch && window.URLSearchParams) {
    var failed = document.getElementById("open-failed");
    var body = new URLSearchParams();
    body.set("grant_type", "authorization_code");
    body.set("code", open.getAttribute("data-code"));
    body.set("client_id", open.getAttribute("data-client-id"));
    // The code is good once: it leaves the address bar and the history.
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname);
    }
    window
      .fetch("/auth/token", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("token " + response.status);
        }
        return response.json();
      })
      .then(function (tokens) {
        open.elements.namedItem("access_token").value = tokens.access_token;
        open.submit();
      })
      .catch(function () {
        if (failed) {
          failed.hidden = false;
        }
      });
  }
})();
