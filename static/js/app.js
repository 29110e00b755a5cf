/* billing_portal console behaviour. Loaded as a static file: the pages carry no inline script or handlers,
   so they run under a strict Content-Security-Policy. */
(function () {
  "use strict";

  function focusInto(root) {
    var target = root.querySelector("[aria-invalid=true]") || root.querySelector("[autofocus]") ||
      root.querySelector("input:not([type=hidden]), select, textarea, button");
    if (target) { target.focus(); if (target.select && target.type === "text") { target.select(); } }
  }

  /* A <dialog class="modal"> that arrives from the server opens as a modal: the browser moves focus into it,
     traps it there and closes it on Escape. When it closes it is removed, and a seat select it was asked about
     goes back to the member's current tier. */
  function openDialogs(root) {
    var dialogs = [];
    if (root.matches && root.matches("dialog.modal")) { dialogs.push(root); }
    if (root.querySelectorAll) { dialogs = dialogs.concat(Array.prototype.slice.call(root.querySelectorAll("dialog.modal"))); }
    dialogs.forEach(function (dialog) {
      if (dialog.open || dialog.dataset.bound) { return; }
      dialog.dataset.bound = "1";
      dialog.addEventListener("close", function () {
        var selector = dialog.dataset.revertSelect;
        if (selector) {
          var select = document.querySelector(selector);
          if (select && select.dataset.current) { select.value = select.dataset.current; }
        }
        dialog.remove();
      });
      dialog.showModal();
      focusInto(dialog);
    });
    /* A form re-rendered inside an open dialog (a validation error): put focus on the field in error. */
    if (root.matches && root.matches("form") && root.closest("dialog[open]")) { focusInto(root); }
  }

  function closeDialogs() {
    document.querySelectorAll("dialog.modal[open]").forEach(function (d) { d.close("done"); });
  }

  var OPEN_MENUS = "details.menu[open], details.switcher[open], details.account-menu[open]";

  var toastTimer = null;
  function toast(message) {
    var el = document.getElementById("toast");
    if (!el || !message) { return; }
    el.textContent = message;
    el.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.classList.remove("show"); }, 3500);
  }

  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var dialog = closer.closest("dialog");
      if (dialog) { dialog.close("cancel"); }
      return;
    }
    /* Narrow screens: the menu button shows or hides the sidebar. */
    var toggle = event.target.closest("[data-sidebar-toggle]");
    if (toggle) {
      var sidebar = document.getElementById(toggle.getAttribute("aria-controls"));
      if (sidebar) {
        var open = !sidebar.classList.contains("open");
        sidebar.classList.toggle("open", open);
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      }
    }
    /* Row "…" menus, the switcher and the account menu: choosing an item or clicking elsewhere closes them. */
    document.querySelectorAll(OPEN_MENUS).forEach(function (menu) {
      if (!menu.contains(event.target) || event.target.closest(".menu-items button")) { menu.removeAttribute("open"); }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    document.querySelectorAll(OPEN_MENUS).forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) { summary.focus(); }
    });
  });

  /* Search boxes submit as you type (debounced by htmx); this keeps the Enter key from reloading the page. */
  document.addEventListener("submit", function (event) {
    if (event.target.matches("form[data-live-search]")) { event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.body.addEventListener("closeModal", closeDialogs);
    document.body.addEventListener("toast", function (event) {
      var detail = event.detail || {};
      toast(detail.value || detail.message || "");
    });
    /* htmx does not swap error responses: say what happened instead of doing nothing. */
    document.body.addEventListener("htmx:responseError", function (event) {
      var status = event.detail.xhr ? event.detail.xhr.status : 0;
      toast(status === 403 ? "Only owners can change this." :
        status === 404 ? "That no longer exists. Reload the page." : "Something went wrong. Please try again.");
    });
    document.body.addEventListener("htmx:sendError", function () {
      toast("The server could not be reached. Check your connection and try again.");
    });
    if (window.htmx) {
      window.htmx.onLoad(openDialogs);
    } else {
      openDialogs(document.body);
    }
  });
})();

/* The dashboards' date range (templates/monitoring/_range_picker.html): editing a date chooses "Custom dates";
   choosing a preset shows it at once. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("[data-range-picker]");
    if (!form) { return; }
    if (event.target.type === "date") { form.elements.range.value = "custom"; }
    else if (event.target.name === "range" && event.target.value !== "custom") { form.submit(); }
  });
}());

/* A search box that narrows a table's rows as one types (input[data-filter-rows="#table-id"]; each row's text
   to match is in its [data-filter-text] cell). The rows are all on the page; nothing is fetched. */
(function () {
  "use strict";
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[data-filter-rows]")) { return; }
    var table = document.querySelector(input.dataset.filterRows);
    if (!table) { return; }
    var needle = input.value.trim().toLowerCase();
    table.querySelectorAll("tbody tr").forEach(function (row) {
      var cell = row.querySelector("[data-filter-text]");
      var text = (cell ? cell.dataset.filterText : row.textContent).toLowerCase();
      row.hidden = needle !== "" && text.indexOf(needle) === -1;
    });
  });
}());
