// credgate administration: copy buttons, confirmation dialogs, the one-time secret modal,
// and connector-credential fields that follow the chosen protocol and authorization type.
"use strict";

(function () {
  function copyFrom(button) {
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target) { return; }
    var label = button.querySelector("span");
    var done = function () {
      if (label) {
        label.textContent = "Copied";
        window.setTimeout(function () { label.textContent = "Copy"; }, 2000);
      }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(target.value).then(done, function () {
        target.select(); document.execCommand("copy"); done();
      });
    } else {
      target.select();
      document.execCommand("copy");
      done();
    }
  }

  function setupCopy() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () { copyFrom(button); });
    });
  }

  // A form with data-confirm asks first, in an accessible <dialog>.
  function setupConfirm() {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") { return; }
    var message = document.getElementById("confirm-message");
    var ok = document.getElementById("confirm-ok");
    var pending = null;
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        pending = form;
        var text = form.getAttribute("data-confirm");
        // A choice in the form may change what confirming means: say it in the question.
        var choice = form.querySelector("select[data-consequence] option:checked");
        if (choice && choice.getAttribute("data-consequence")) {
          text += " " + choice.getAttribute("data-consequence");
        }
        message.textContent = text;
        ok.textContent = form.getAttribute("data-confirm-label") || "Delete";
        ok.className = "button " + (form.getAttribute("data-confirm-label") ? "primary" : "danger");
        dialog.returnValue = "";
        dialog.showModal();
      });
    });
    dialog.addEventListener("close", function () {
      if (dialog.returnValue === "confirm" && pending) {
        var form = pending;
        pending = null;
        HTMLFormElement.prototype.submit.call(form);
      } else {
        pending = null;
      }
    });
  }

  // The one-time secret: opened as a modal; the address bar no longer names the post, so a
  // reload fetches the list again and the secret is gone for good.
  function setupSecretDialog() {
    var dialog = document.querySelector("dialog[data-show-modal]");
    if (!dialog) { return; }
    var url = dialog.getAttribute("data-replace-url");
    if (url && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", url);
    }
    // Rendered open, so that the secret shows even without script; made modal here. Removing
    // the attribute (rather than close()) fires no close event, which would discard the secret.
    if (typeof dialog.showModal === "function") {
      dialog.removeAttribute("open");
      dialog.showModal();
    }
    var done = dialog.querySelector("#secret-done");
    var confirmed = false;

    // Escape and the close button ask first: closing discards the secret for good.
    var ask = document.createElement("div");
    ask.className = "secret-confirm warning";
    ask.setAttribute("role", "alertdialog");
    ask.setAttribute("aria-labelledby", "secret-confirm-title");
    ask.hidden = true;
    ask.innerHTML = '<p id="secret-confirm-title"><strong>Have you copied it?</strong> ' +
      "Once this window closes the secret cannot be shown again.</p>" +
      '<div class="actions"><button type="button" class="button secondary" id="secret-back">' +
      'Back to the secret</button><button type="button" class="button danger" ' +
      'id="secret-discard">Yes, close</button></div>';
    dialog.appendChild(ask);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "icon-button dialog-close";
    close.setAttribute("aria-label", "Close");
    close.textContent = "\u00d7";
    dialog.insertBefore(close, dialog.firstChild);

    function askFirst() {
      ask.hidden = false;
      document.getElementById("secret-back").focus();
    }
    function finish() {
      confirmed = true;
      dialog.close("close");
    }
    close.addEventListener("click", askFirst);
    document.getElementById("secret-back").addEventListener("click", function () {
      ask.hidden = true;
      var field = dialog.querySelector("input");
      if (field) { field.focus(); }
    });
    document.getElementById("secret-discard").addEventListener("click", finish);
    if (done) {
      // The button says it was copied: it closes at once.
      done.addEventListener("click", function (event) { event.preventDefault(); finish(); });
    }
    // A cancelled keydown raises no close request, so Escape cannot close the dialog unasked.
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && dialog.open && !confirmed) {
        event.preventDefault();
        askFirst();
      }
    }, true);
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      askFirst();
    });
    dialog.addEventListener("close", function () {
      if (!confirmed) {  // closed some other way: keep the secret on screen and ask
        dialog.showModal();
        askFirst();
        return;
      }
      dialog.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      dialog.remove();
    });
  }

  // Connector credentials: show the fields of the chosen protocol and authorization type,
  // disable the hidden ones so that they are not sent.
  function setupConnectorForm() {
    var form = document.getElementById("connector-form");
    if (!form) { return; }
    var protocol = document.getElementById("f-protocol");
    var authType = document.getElementById("f-auth_type");
    var options = JSON.parse(authType.getAttribute("data-options"));
    var urlLabel = form.querySelector("label[for=f-url]");

    function fillTypes() {
      var wanted = options[protocol.value] || [];
      var previous = authType.value;
      var keep = wanted.some(function (o) { return o[0] === previous; });
      authType.innerHTML = "";
      wanted.forEach(function (o) {
        var option = document.createElement("option");
        option.value = o[0];
        option.textContent = o[1];
        authType.appendChild(option);
      });
      authType.value = keep ? previous : (wanted.length ? wanted[0][0] : "");
    }

    function update() {
      var current = protocol.value + ":" + authType.value;
      form.querySelectorAll("[data-shown-by]").forEach(function (block) {
        var shown = block.getAttribute("data-shown-by").split(" ").indexOf(current) !== -1;
        block.hidden = !shown;
        block.querySelectorAll("input[name], textarea[name], select[name]").forEach(function (input) {
          input.disabled = !shown;
        });
      });
      form.querySelectorAll("[data-for-protocol]").forEach(function (el) {
        el.hidden = el.getAttribute("data-for-protocol") !== protocol.value;
      });
      form.querySelectorAll("[data-for-type]").forEach(function (el) {
        el.hidden = el.getAttribute("data-for-type") !== current;
      });
      urlLabel.textContent = protocol.value === "SFTP" ? "Hostname" : "URL";
      var prefix = document.getElementById("f-header_prefix");
      if (prefix && current === "HTTPS:BEARER" && !prefix.value) { prefix.value = "Bearer"; }
    }

    protocol.addEventListener("change", function () { fillTypes(); update(); });
    authType.addEventListener("change", update);
    update();
  }

  function focusErrors() {
    var box = document.getElementById("error-box");
    if (box) { box.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCopy();
    setupConfirm();
    setupSecretDialog();
    setupConnectorForm();
    focusErrors();
  });
})();
