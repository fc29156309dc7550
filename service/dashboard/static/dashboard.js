// The dashboard's only script (the Content-Security-Policy allows no inline script):
// sortable tables, and live progress on a job page while the job is queued or running.
"use strict";

(function () {
  const POLL_MS = 1000;

  function sortKey(cell) {
    const raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
    const value = Number.parseFloat(raw);
    return raw !== "" && Number.isFinite(value) && String(value) === String(Number(raw))
      ? { num: value, text: raw } : { num: null, text: raw };
  }

  function compareKeys(a, b) {
    if (a.num !== null && b.num !== null) return a.num - b.num;
    if (a.text === "") return 1;  // blanks last
    if (b.text === "") return -1;
    return a.text.localeCompare(b.text, undefined, { numeric: true });
  }

  function sortBy(table, column, header) {
    const body = table.tBodies[0];
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    const rows = Array.from(body.rows);
    rows.sort(function (x, y) {
      const order = compareKeys(sortKey(x.cells[column]), sortKey(y.cells[column]));
      return ascending ? order : -order;
    });
    table.querySelectorAll("th[aria-sort]").forEach(function (th) {
      th.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function initSorting(root) {
    root.querySelectorAll("table.sortable").forEach(function (table) {
      const headers = table.tHead ? table.tHead.rows[0].cells : [];
      Array.from(headers).forEach(function (th, column) {
        const button = th.querySelector("button.sort");
        if (button) button.addEventListener("click", function () { sortBy(table, column, th); });
      });
    });
  }

  function show(section, status) {
    const state = section.querySelector("#job-state");
    state.textContent = status.state;
    state.className = "state state-" + status.state;
    section.querySelector("#job-progress").value = status.progress;
    section.querySelector("#job-message").textContent = status.message;
    section.dataset.state = status.state;
  }

  // Once the job has finished, the page's job section is fetched again and swapped in, so
  // the result, figures and buttons appear without reloading the page.
  async function refresh() {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("job");
    const current = document.getElementById("job");
    if (fresh && current) {
      current.replaceWith(fresh);
      initSorting(fresh);
    }
  }

  function poll(section) {
    const url = section.dataset.statusUrl;
    async function tick() {
      try {
        const response = await fetch(url, { credentials: "same-origin",
                                            headers: { Accept: "application/json" } });
        if (response.ok && !response.redirected) {
          const status = await response.json();
          show(section, status);
          if (status.finished) {
            await refresh();
            return;
          }
        } else {
          section.querySelector("#job-message").textContent =
            "status unavailable (" + response.status + "); retrying";
        }
      } catch (err) {
        section.querySelector("#job-message").textContent = "lost contact; retrying";
      }
      window.setTimeout(tick, POLL_MS);
    }
    window.setTimeout(tick, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    initSorting(document);
    const job = document.getElementById("job");
    if (job && job.dataset.active === "true") poll(job);
  });
})();
