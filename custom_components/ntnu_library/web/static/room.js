// The room page without inline script (the CSP allows only this file): the status badge
// follows the room live, and the form is sent once. The page works without it.
(function () {
  "use strict";

  var room = document.getElementById("room");
  var badge = document.getElementById("room-status");
  var form = document.getElementById("room-form") || document.getElementById("activate-form");
  var button = document.getElementById("submit");

  // --- one post per click ------------------------------------------------------------------
  if (form && button) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sent")) {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "1");
      // Disabled after this event: the browser has already taken the form's fields.
      window.setTimeout(function () {
        button.disabled = true;
      }, 0);
    });
    // Back to the page from the browser's history: the form may be sent again.
    window.addEventListener("pageshow", function () {
      form.removeAttribute("data-sent");
      button.disabled = false;
    });
  }

  // --- the live status ---------------------------------------------------------------------
  if (!room || !badge || !window.fetch) {
    return;
  }
  var url = room.getAttribute("data-status-url");
  var siteName = room.getAttribute("data-site");
  var roomId = room.getAttribute("data-room");
  var seconds = parseInt(room.getAttribute("data-poll-seconds"), 10) || 10;
  var busy = false;

  function show(status) {
    var label = badge.getAttribute("data-word-" + status);
    if (!label || badge.getAttribute("data-status") === status) {
      return;
    }
    badge.textContent = label;
    badge.className = "status status-" + status;
    badge.setAttribute("data-status", status);
  }

  function find(data) {
    var sites = (data && data.sites) || [];
    for (var i = 0; i < sites.length; i++) {
      if (sites[i].site !== siteName) {
        continue;
      }
      var rooms = sites[i].rooms || [];
      for (var j = 0; j < rooms.length; j++) {
        if (rooms[j].room === roomId) {
          return rooms[j].status;
        }
      }
    }
    return null;
  }

  function poll() {
    if (busy || document.hidden || !url) {
      return;
    }
    busy = true;
    window
      .fetch(url, {
        cache: "no-store",
        credentials: "omit",
        headers: { Accept: "application/json" },
      })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        var status = find(data);
        if (typeof status === "string") {
          show(status);
        }
      })
      .catch(function () {
        // Offline for a moment: the badge keeps what it showed.
      })
      .then(function () {
        busy = false;
      });
  }

  window.setInterval(poll, seconds * 1000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      poll();
    }
  });
})();
