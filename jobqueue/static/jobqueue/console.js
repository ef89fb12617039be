/* The job queue console: copy buttons, and live updates of the console pages and the job list
 * without a full reload (server-rendered fragments, fetched from this site only; no inline script,
 * so the admin's Content-Security-Policy holds). */
(function () {
  "use strict";

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    const field = document.createElement("textarea");
    field.value = text;
    field.setAttribute("readonly", "");
    field.style.position = "absolute";
    field.style.left = "-9999px";
    document.body.appendChild(field);
    field.select();
    document.execCommand("copy");
    field.remove();
    return Promise.resolve();
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button.jq-copy");
    if (!button) return;
    event.preventDefault();
    copy(button.dataset.copy).then(function () {
      button.classList.add("jq-copied");
      button.setAttribute("title", "Copied");
      setTimeout(function () { button.classList.remove("jq-copied"); button.setAttribute("title", "Copy the full id"); }, 1500);
    });
  });

  function busy(root) {
    // Never pull the page from under an operator who is typing, choosing or reading a detail.
    const active = document.activeElement;
    if (active && root.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) return true;
    return Boolean(root.querySelector("details[open], input.action-select:checked"));
  }

  function every(seconds, update) {
    if (!seconds || seconds < 1) return;
    window.setInterval(function () {
      if (!document.hidden) update().catch(function () { /* offline for a moment: try again next time */ });
    }, seconds * 1000);
  }

  function fetchText(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "XMLHttpRequest" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); });
  }

  function markUpdated(node) {
    node.dataset.jqUpdated = String(Date.now());
    document.dispatchEvent(new CustomEvent("jq:updated", { detail: node }));
  }

  function start() {
    // Console pages: <div class="jq-live" data-jq-refresh="15"> is replaced by ?fragment=1.
    document.querySelectorAll("[data-jq-refresh].jq-live").forEach(function (root) {
      every(Number(root.dataset.jqRefresh), function () {
        if (busy(root)) return Promise.resolve();
        const url = new URL(window.location.href);
        url.searchParams.set("fragment", "1");
        return fetchText(url).then(function (html) { root.innerHTML = html; markUpdated(root); });
      });
    });

    // The job list: its rows are replaced by ?_fragment=1 (the same filters), unless rows are selected.
    const list = document.querySelector("[data-jq-list-refresh]");
    if (list) {
      every(Number(list.dataset.jqListRefresh), function () {
        const form = document.getElementById("changelist-form");
        if (!form || busy(form)) return Promise.resolve();
        const url = new URL(window.location.href);
        url.searchParams.set("_fragment", "1");
        return fetchText(url).then(function (html) {
          const parsed = new DOMParser().parseFromString(html, "text/html");
          const fresh = parsed.querySelector("#result_list tbody");
          const current = document.querySelector("#result_list tbody");
          if (busy(form)) return;
          if (fresh && current) {
            fresh.dataset.jqFresh = "1";
            current.replaceWith(document.importNode(fresh, true));
            markUpdated(list);
          } else if (fresh && !current) {
            // The list was empty: the first rows bring their table.
            const results = document.importNode(parsed.querySelector("div.results"), true);
            results.querySelector("tbody").dataset.jqFresh = "1";
            form.insertBefore(results, form.querySelector("p.paginator"));
            markUpdated(list);
          }
        });
      });
      // Django's actions script bound the rows it saw at load; keep selection working on fresh rows.
      document.addEventListener("change", function (event) {
        const box = event.target;
        if (!box.matches("tbody[data-jq-fresh] input.action-select")) return;
        box.closest("tr").classList.toggle("selected", box.checked);
        const counter = document.querySelector(".action-counter");
        if (counter) {
          const all = document.querySelectorAll("#result_list tbody input.action-select");
          const chosen = document.querySelectorAll("#result_list tbody input.action-select:checked");
          counter.textContent = chosen.length + " of " + all.length + " selected";
        }
      });
      const toggle = document.getElementById("action-toggle");
      if (toggle) {
        toggle.addEventListener("click", function () {
          document.querySelectorAll("tbody[data-jq-fresh] input.action-select").forEach(function (box) {
            box.checked = toggle.checked;
            box.closest("tr").classList.toggle("selected", box.checked);
          });
        });
      }
    }
  }

  // The admin loads a model's media in <head>, before the body exists.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
