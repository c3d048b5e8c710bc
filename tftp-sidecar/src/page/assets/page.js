// The operator's page without full reloads: the filter box and a periodic refresh fetch the
// page's main part (server-rendered, escaped HTML) for the current query and swap it in.
// Without script the page is the same table; filter with the form, refresh with the browser.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var form = document.getElementById("filter-form");
  var input = document.getElementById("filter");
  var status = document.getElementById("refresh-status");
  if (!main || !form || !input || !window.fetch) return;
  var every = parseInt(document.body.getAttribute("data-refresh-ms"), 10) || 5000;
  var inFlight = false;
  var timer = null;
  // Only the answer to the newest request is shown (a filter typed while a refresh is out).
  var latest = 0;

  function refresh() {
    if (inFlight) return;
    inFlight = true;
    var mine = ++latest;
    // A request that never answers must not stop the refreshes: give up after a while.
    var abort = window.AbortController ? new AbortController() : null;
    var limit = setTimeout(function () { if (abort) abort.abort(); }, Math.max(3 * every, 10000));
    fetch("/page/fragment" + window.location.search, { cache: "no-store", signal: abort ? abort.signal : undefined })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        if (mine !== latest) return;
        main.innerHTML = html;
        status.textContent = "Updated " + new Date().toLocaleTimeString() + "; refreshes every " + every / 1000 + " s.";
        document.body.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function (e) {
        status.textContent = "Refresh failed (" + e.message + "); retrying.";
      })
      .then(function () {
        clearTimeout(limit);
        if (mine === latest) inFlight = false;
      });
  }

  function applyFilter() {
    var params = new URLSearchParams(window.location.search);
    if (input.value) params.set("q", input.value); else params.delete("q");
    params.delete("page");
    var qs = params.toString();
    window.history.replaceState(null, "", qs ? "?" + qs : window.location.pathname);
    inFlight = false;
    refresh();
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(applyFilter, 200);
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    applyFilter();
  });
  setInterval(refresh, every);
})();
