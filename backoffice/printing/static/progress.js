// Print job page: poll the JSON status endpoint and move the <progress> bar (no inline styles: CSP); reload once the job has ended so the
// server renders the download buttons (or the error). No inline script: the CSP allows scripts from 'self' only.
(function () {
  "use strict";
  // The print job and bulk invoicing pages (#print-job), or any block that names a status URL (an invoice being
  // issued by the worker: no counts, only its status).
  var box = document.getElementById("print-job") || document.querySelector("[data-status-url]");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = box.querySelector("[data-field=bar]");
  var done = box.querySelector("[data-field=done]");
  var total = box.querySelector("[data-field=total]");
  var percent = box.querySelector("[data-field=percent]");
  var failures = 0;

  function show(job) {
    if (done) { done.textContent = job.done; }
    if (total) { total.textContent = job.total; }
    if (bar) { bar.value = job.percent; bar.textContent = job.percent + " %"; }
    if (percent) { percent.textContent = job.percent + " %"; }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (job) {
        failures = 0;
        show(job);
        if (job.status === "done" || job.status === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        failures += 1;  // e.g. the server restarting: back off, give up after about a minute
        if (failures < 12) { window.setTimeout(poll, 5000); }
      });
  }

  window.setTimeout(poll, 1000);
}());
