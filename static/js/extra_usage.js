/* Extra usage: the daily digest links to Settings > Usage#review-requests; open the review modal there by
   pressing the "Review requests" button once htmx is ready (the modal is fetched, then app.js opens it).
   A static file: the page carries no inline script (strict CSP). */
(function () {
  "use strict";
  function openReviewFromHash() {
    if (window.location.hash !== "#review-requests") { return; }
    if (document.querySelector("dialog#review-requests")) { return; }
    var button = document.getElementById("review-requests-button");
    if (button) { button.click(); }
  }
  window.addEventListener("load", openReviewFromHash);
  window.addEventListener("hashchange", openReviewFromHash);
})();
