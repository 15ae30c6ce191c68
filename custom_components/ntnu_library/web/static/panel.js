/* The status panel, live: server-sent events, polling the JSON when they are missing or fail.
 *
 * The server renders the whole panel; this script only redraws it from the same data, in the
 * same markup, with the page's own words (data-* attributes of #panel). Every piece of data
 * goes in through textContent: a room name is text, never markup.
 */
(function () {
  "use strict";

  var panel = document.getElementById("panel");
  var sitesBox = document.getElementById("sites");
  if (!panel || !sitesBox) {
    return;
  }
  var updatedBox = document.getElementById("updated");
  var staleBox = document.getElementById("stale");
  var apiUrl = panel.getAttribute("data-api");
  var streamUrl = panel.getAttribute("data-stream");

  var POLL_MS = 10000;
  var MAX_STREAM_ERRORS = 3; // in a row: then poll instead
  var STREAM_RETRY_POLLS = 30; // while polling, try the stream again every 5 minutes
  var STALE_AFTER_MS = 20000; // a dropped stream is back within seconds: no warning for that
  var STATUSES = ["idle", "in_use", "reserved", "unavailable"];

  var lastUpdated = 0;
  var source = null;
  var streamErrors = 0;
  var polling = false;
  var pollTimer = null;
  var polls = 0;
  var staleTimer = null;

  function word(key) {
    return panel.getAttribute("data-" + key.replace(/_/g, "-")) || "";
  }

  function freeCount(free, total) {
    return word("free_count").replace("{free}", String(free)).replace("{total}", String(total));
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function knownStatus(status) {
    return STATUSES.indexOf(status) >= 0 ? status : "unavailable";
  }

  function kindWord(kind) {
    return word("kind_" + String(kind)) || String(kind);
  }

  function renderTile(room) {
    var status = knownStatus(room.status);
    var tile = el("li", "tile status-" + status);
    tile.appendChild(el("span", "room-id", room.room));
    if (room.name && room.name !== room.room) {
      tile.appendChild(el("span", "room-name", room.name));
    }
    tile.appendChild(el("span", "room-status", word("status_" + status)));
    return tile;
  }

  function renderCounts(site) {
    var counts = el("ul", "counts");
    var total = el("li", "count count-total");
    total.appendChild(el("strong", "count-free", freeCount(site.counts.idle, site.counts.total)));
    counts.appendChild(total);
    (site.kinds || []).forEach(function (kind) {
      var item = el("li", "count");
      item.appendChild(el("span", "count-kind", kindWord(kind.kind)));
      item.appendChild(document.createTextNode(" "));
      item.appendChild(el("strong", "count-free", freeCount(kind.idle, kind.total)));
      counts.appendChild(item);
    });
    return counts;
  }

  // The rooms come sorted by floor, kind and room: a new floor or kind starts a new group.
  function renderSite(site) {
    var section = el("section", "site");
    var head = el("header", "site-head");
    var names = site.site_names || {};
    head.appendChild(el("h2", "site-name", names[document.documentElement.lang] || site.site));
    head.appendChild(renderCounts(site));
    section.appendChild(head);
    var rooms = site.rooms || [];
    if (!rooms.length) {
      section.appendChild(el("p", "empty", word("no_rooms")));
      return section;
    }
    var floorBox = null;
    var tiles = null;
    var floor = null;
    var kind = null;
    rooms.forEach(function (room) {
      if (floorBox === null || room.floor !== floor) {
        floor = room.floor;
        kind = null;
        floorBox = el("div", "floor");
        if (floor) {
          floorBox.appendChild(el("h3", "floor-name", word("floor") + " " + floor));
        }
        section.appendChild(floorBox);
      }
      if (room.kind !== kind) {
        kind = room.kind;
        floorBox.appendChild(el("h4", "kind-name", kindWord(kind)));
        tiles = el("ul", "tiles");
        floorBox.appendChild(tiles);
      }
      tiles.appendChild(renderTile(room));
    });
    return section;
  }

  function render(data) {
    if (!data || !data.sites) {
      return;
    }
    // A late poll answer must not undo a newer stream message.
    var updated = Date.parse(data.updated) || 0;
    if (updated && updated < lastUpdated) {
      return;
    }
    lastUpdated = updated;
    var fresh = document.createDocumentFragment();
    if (!data.sites.length) {
      fresh.appendChild(el("p", "empty", word("no_rooms")));
    }
    data.sites.forEach(function (site) {
      fresh.appendChild(renderSite(site));
    });
    while (sitesBox.firstChild) {
      sitesBox.removeChild(sitesBox.firstChild);
    }
    sitesBox.appendChild(fresh);
    if (updatedBox && data.updated_time) {
      updatedBox.textContent = String(data.updated_time);
    }
  }

  // Say the panel is not updating only when it has not been for a while.
  function missed() {
    if (staleTimer === null) {
      staleTimer = window.setTimeout(function () {
        if (staleBox) {
          staleBox.hidden = false;
        }
      }, STALE_AFTER_MS);
    }
  }

  function received(data) {
    render(data);
    if (staleTimer !== null) {
      window.clearTimeout(staleTimer);
      staleTimer = null;
    }
    if (staleBox) {
      staleBox.hidden = true;
    }
  }

  // --- polling -----------------------------------------------------------------------------

  function getJson(url, done, failed) {
    var request = new XMLHttpRequest();
    request.open("GET", url, true);
    request.setRequestHeader("Accept", "application/json");
    request.timeout = POLL_MS;
    request.onload = function () {
      if (request.status !== 200) {
        failed();
        return;
      }
      var data;
      try {
        data = JSON.parse(request.responseText);
      } catch (err) {
        failed();
        return;
      }
      done(data);
    };
    request.onerror = failed;
    request.ontimeout = failed;
    request.send();
  }

  function schedulePoll() {
    if (polling && pollTimer === null) {
      pollTimer = window.setTimeout(poll, POLL_MS);
    }
  }

  function poll() {
    pollTimer = null;
    if (!polling) {
      return;
    }
    polls += 1;
    if (source === null && polls % STREAM_RETRY_POLLS === 0) {
      openStream(); // polling goes on until the stream delivers
    }
    getJson(
      apiUrl,
      function (data) {
        received(data);
        schedulePoll();
      },
      function () {
        missed();
        schedulePoll();
      }
    );
  }

  function startPolling() {
    if (!polling) {
      polling = true;
      poll();
    }
  }

  function stopPolling() {
    polling = false;
    if (pollTimer !== null) {
      window.clearTimeout(pollTimer);
      pollTimer = null;
    }
  }

  // --- the stream --------------------------------------------------------------------------

  function openStream() {
    if (!window.EventSource || !streamUrl) {
      return false;
    }
    var stream;
    try {
      stream = new window.EventSource(streamUrl);
    } catch (err) {
      return false;
    }
    source = stream;
    streamErrors = 0;
    stream.onmessage = function (event) {
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      streamErrors = 0;
      stopPolling();
      received(data);
    };
    stream.onerror = function () {
      streamErrors += 1;
      missed();
      // CLOSED: the server said no (busy, 503); else the browser retries on its own a while.
      if (streamErrors >= MAX_STREAM_ERRORS || stream.readyState === 2) {
        stream.close();
        if (source === stream) {
          source = null;
        }
        startPolling();
      }
    };
    return true;
  }

  if (!openStream()) {
    startPolling();
  }
})();
