/* backoffice: small progressive enhancements. Every form still works without them (the server checks all). */
(function () {
  "use strict";
  var body = document.body;
  function text(name, fallback) { return body.getAttribute(name) || fallback; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /* Confirmation: a form (or a button) with data-confirm="what will happen" asks in a dialog first. */
  var dialog = null;
  function confirmDialog(message, onYes) {
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.className = "confirm-dialog";
      dialog.setAttribute("aria-labelledby", "confirm-title");
      dialog.innerHTML = '<h2 class="h5" id="confirm-title"></h2><p class="confirm-message"></p>' +
        '<div class="d-flex gap-2 justify-content-end">' +
        '<button type="button" class="btn btn-secondary" data-answer="no"></button>' +
        '<button type="button" class="btn btn-danger" data-answer="yes"></button></div>';
      dialog.querySelector("#confirm-title").textContent = text("data-confirm-title", "Are you sure?");
      dialog.querySelector('[data-answer="no"]').textContent = text("data-confirm-cancel", "Cancel");
      dialog.querySelector('[data-answer="yes"]').textContent = text("data-confirm-ok", "Yes");
      body.appendChild(dialog);
    }
    dialog.querySelector(".confirm-message").textContent = message;
    var yes = dialog.querySelector('[data-answer="yes"]'), no = dialog.querySelector('[data-answer="no"]');
    yes.onclick = function () { dialog.close(); onYes(); };
    no.onclick = function () { dialog.close(); };
    dialog.showModal();
    no.focus();
  }
  document.addEventListener("submit", function (event) {
    var form = event.target, submitter = event.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (!message || form.dataset.confirmed === "1") { return; }
    event.preventDefault();
    confirmDialog(message, function () {
      form.dataset.confirmed = "1";
      if (form.requestSubmit) { form.requestSubmit(submitter || undefined); } else { form.submit(); }
      form.dataset.confirmed = "";
    });
  }, true);

  /* A BSN never travels in an address (server logs keep addresses): a GET form with a nine-digit number in a
     text field (123456782, 1234.56.782, full-width digits...) is not sent; the number goes to "Search by BSN" as
     a POST instead. The server refuses such a GET on its own (request_guards.py); this only spares the log. */
  var NUMBER = /\p{Nd}+(?:[\s.\-]+\p{Nd}+)*/gu;
  function nineDigits(value) {
    var text = value.normalize ? value.normalize("NFKC") : value, found = null;
    /* An invoice or credit-note number (2026-00012, C2026-00012) is nine digits but never a BSN. */
    text = text.replace(/(^|[^\d.\-])C?(?:19|20)\d{2}-\d{5,}(?![\d.\-])/gi, "$1 ");
    (text.match(NUMBER) || []).some(function (number) {
      var sizes = number.split(/[\s.\-]+/).map(function (group) { return group.length; });
      return sizes.some(function (_size, start) {
        var total = 0;
        for (var i = start; i < sizes.length && total < 9; i++) { total += sizes[i]; }
        if (total === 9) { found = number; }
        return total === 9;
      });
    });
    return found;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target, post = document.querySelector("form[data-bsn-post]");
    if ((form.getAttribute("method") || "get").toLowerCase() !== "get" || !post) { return; }
    Array.prototype.some.call(form.querySelectorAll("input[type=search], input[type=text]"), function (input) {
      var number = nineDigits(input.value || "");
      if (!number) { return false; }
      event.preventDefault();
      post.querySelector("input[name=bsn]").value = number;
      input.value = "";
      post.submit();
      return true;
    });
  }, true);

  /* Date and month pickers: the field stays a text input (24-11-2026, november 2026) with a calendar button. */
  var MONTHS = { nl: ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
    "oktober", "november", "december"], en: ["January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December"] };
  var lang = document.documentElement.lang === "en" ? "en" : "nl";
  function toIso(kind, value) {
    var m;
    if (kind === "date" && (m = /^(\d{1,2})[-\/. ](\d{1,2})[-\/. ](\d{4})$/.exec(value))) {
      return m[3] + "-" + pad(+m[2]) + "-" + pad(+m[1]);
    }
    if (kind === "month") {
      if ((m = /^(\d{1,2})[-\/. ](\d{4})$/.exec(value))) { return m[2] + "-" + pad(+m[1]); }
      if ((m = /^(\d{4})-(\d{1,2})$/.exec(value))) { return m[1] + "-" + pad(+m[2]); }
      if ((m = /^([a-z]+)\.? (\d{4})$/i.exec(value))) {
        var i = MONTHS.nl.indexOf(m[1].toLowerCase());
        if (i < 0) { i = MONTHS.en.map(function (n) { return n.toLowerCase(); }).indexOf(m[1].toLowerCase()); }
        if (i >= 0) { return m[2] + "-" + pad(i + 1); }
      }
    }
    return "";
  }
  function fromIso(kind, iso) {
    var parts = iso.split("-");
    if (kind === "date") { return parts[2] + "-" + parts[1] + "-" + parts[0]; }
    return MONTHS[lang][+parts[1] - 1] + " " + parts[0];
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[data-picker]"), function (input) {
    var kind = input.getAttribute("data-picker");
    var native = document.createElement("input");
    native.type = kind;
    if (native.type !== kind || typeof native.showPicker !== "function") { return; }
    native.className = "picker-native";
    native.tabIndex = -1;
    native.setAttribute("aria-hidden", "true");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-outline-secondary";
    button.setAttribute("aria-label", text("data-picker-label", "Open the calendar") + " (" + (input.labels && input.labels[0] ? input.labels[0].textContent.trim() : "") + ")");
    button.textContent = "\uD83D\uDCC5";
    var group = document.createElement("div");
    group.className = "picker-group";
    input.parentNode.insertBefore(group, input);
    group.appendChild(input);
    group.appendChild(button);
    group.appendChild(native);
    button.addEventListener("click", function () {
      native.value = toIso(kind, input.value.trim());
      try { native.showPicker(); } catch (e) { input.focus(); }
    });
    native.addEventListener("change", function () {
      if (native.value) {
        input.value = fromIso(kind, native.value);
        input.dispatchEvent(new Event("change", { bubbles: true }));
      }
      input.focus();
    });
  });

  /* A select whose options depend on another field: <select data-depends-on="id-of-other"> with options carrying
     data-for="value1 value2" (empty: always shown). Options that do not fit are hidden and deselected. */
  Array.prototype.forEach.call(document.querySelectorAll("select[data-depends-on]"), function (select) {
    var other = document.getElementById(select.getAttribute("data-depends-on"));
    if (!other) { return; }
    function keyOf() {
      var option = other.options ? other.options[other.selectedIndex] : null;
      return (option && option.getAttribute("data-key")) || other.value;
    }
    function apply() {
      var key = keyOf();
      Array.prototype.forEach.call(select.querySelectorAll("option"), function (option) {
        var allowed = option.getAttribute("data-for");
        var fits = !allowed || !key || allowed.split(" ").indexOf(key) >= 0;
        option.hidden = !fits;
        option.disabled = !fits;
        if (!fits && option.selected) { option.selected = false; select.value = ""; }
      });
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        group.hidden = !Array.prototype.some.call(group.children, function (o) { return !o.hidden; });
      });
    }
    other.addEventListener("change", apply);
    apply();
  });
})();
