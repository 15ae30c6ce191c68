// The reservation page without inline script (the CSP allows only this file): each page's
// forms are sent once, whichever button is pressed. The page works without it.
(function () {
  "use strict";

  var forms = document.querySelectorAll("form.reserve-form");
  var sent = false;

  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function (event) {
      if (sent) {
        event.preventDefault();
        return;
      }
      sent = true;
      // Disabled after this event: the browser has already taken the form's fields.
      window.setTimeout(function () {
        Array.prototype.forEach.call(form.querySelectorAll("button"), function (button) {
          button.disabled = true;
        });
      }, 0);
    });
  });

  // Back to the page from the browser's history: it may be sent again.
  window.addEventListener("pageshow", function () {
    sent = false;
    Array.prototype.forEach.call(document.querySelectorAll("form.reserve-form button"), function (
      button
    ) {
      button.disabled = false;
    });
  });
})();
