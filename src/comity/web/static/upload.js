// Resumable uploads for the page /evidence/upload (see comity.web.api.uploads).
//
// Each chosen file is sent to the node in chunks, one file at a time: POST opens an
// upload, PUT sends each chunk with "Content-Range: bytes START-END/TOTAL", POST
// .../complete has the node ingest it. The upload id is kept in localStorage under the
// file's name, size and modification time, so that choosing the same file again after a
// reload asks the node how much it holds and continues from there. Network failures are
// retried with a growing wait; a chunk the node did not expect (409) resumes from the
// offset the node names. The texts shown come, translated, from the form's data-msg-*.
(function () {
  "use strict";
  var form = document.querySelector("[data-upload-form]");
  if (!form) {
    return;
  }
  var list = document.querySelector("[data-upload-list]");
  var endpoint = form.dataset.endpoint;
  var csrf = form.elements.namedItem("csrf_token").value;
  var STORE = "comity-upload:";
  var FIRST_WAIT = 1000;
  var LONGEST_WAIT = 60000;
  var queue = [];
  var running = null;

  function text(name, values) {
    var found = form.dataset["msg" + name.charAt(0).toUpperCase() + name.slice(1)] || "";
    Object.keys(values || {}).forEach(function (key) {
      found = found.split("{" + key + "}").join(String(values[key]));
    });
    return found;
  }

  function Problem(kind, status, data) {
    this.kind = kind; // "network", "session", "refused" or "aborted"
    this.status = status;
    this.data = data || {};
  }

  async function call(method, url, body, headers, signal) {
    var response;
    try {
      response = await fetch(url, {
        method: method,
        body: body,
        headers: Object.assign({ Accept: "application/json", "X-CSRF-Token": csrf }, headers || {}),
        credentials: "same-origin",
        redirect: "manual",
        signal: signal
      });
    } catch (error) {
      throw new Problem(error && error.name === "AbortError" ? "aborted" : "network", 0);
    }
    if (response.type === "opaqueredirect") {
      throw new Problem("session", response.status);
    }
    var type = response.headers.get("content-type") || "";
    if (type.indexOf("application/json") !== 0) {
      throw new Problem("network", response.status);
    }
    var data = await response.json();
    if (!response.ok) {
      throw new Problem(response.status >= 500 ? "network" : "refused", response.status, data);
    }
    return data;
  }

  function Upload(file, acquisition) {
    this.file = file;
    this.acquisition = acquisition;
    this.key = STORE + [file.name, file.size, file.lastModified].join(":");
    this.id = null;
    this.offset = 0;
    this.chunkSize = parseInt(form.dataset.chunkSize, 10);
    this.paused = false;
    this.waits = 0;
    this.controller = null;
    this.build();
  }

  Upload.prototype.build = function () {
    var item = document.createElement("li");
    item.className = "upload";
    var name = document.createElement("bdi");
    name.className = "upload-name";
    name.textContent = this.file.name;
    this.bar = document.createElement("progress");
    this.bar.max = this.file.size;
    this.bar.value = 0;
    this.bar.setAttribute("aria-label", this.file.name);
    this.status = document.createElement("span");
    this.status.className = "upload-status";
    this.status.setAttribute("role", "status");
    this.button = document.createElement("button");
    this.button.type = "button";
    this.button.className = "button-secondary";
    this.button.textContent = text("pause");
    this.button.addEventListener("click", this.toggle.bind(this));
    this.result = document.createElement("span");
    this.result.className = "upload-result";
    item.append(name, this.bar, this.status, this.button, this.result);
    list.append(item);
    this.say(text("queued"));
  };

  Upload.prototype.say = function (message) {
    this.status.textContent = message;
  };

  Upload.prototype.show = function (received) {
    this.offset = received;
    this.bar.value = received;
    this.say(text("sending", { percent: Math.floor((100 * received) / this.file.size) }));
  };

  Upload.prototype.toggle = function () {
    if (this.paused) {
      this.paused = false;
      this.button.textContent = text("pause");
      enqueue(this);
    } else {
      this.paused = true;
      this.button.textContent = text("resume");
      this.say(text("paused"));
      if (this.controller) {
        this.controller.abort();
      }
    }
  };

  Upload.prototype.open = async function () {
    var known = window.localStorage.getItem(this.key);
    if (known) {
      try {
        var state = await call("GET", endpoint + "/" + known);
        if (state.status === "open") {
          this.id = known;
          this.chunkSize = state.chunk_size;
          this.show(state.received);
          return true;
        }
        if (state.status === "complete" && state.item_id) {
          window.localStorage.removeItem(this.key);
          this.done(text("held"), state.item_id, this.file.name);
          return false;
        }
      } catch (problem) {
        if (!(problem instanceof Problem) || problem.kind !== "refused") {
          throw problem;
        }
      }
      window.localStorage.removeItem(this.key);
    }
    var created = await call(
      "POST",
      endpoint,
      JSON.stringify({ name: this.file.name, size: this.file.size, acquisition: this.acquisition }),
      { "Content-Type": "application/json" }
    );
    this.id = created.id;
    this.chunkSize = created.chunk_size;
    window.localStorage.setItem(this.key, this.id);
    this.show(created.received);
    return true;
  };

  Upload.prototype.send = async function () {
    var end = Math.min(this.offset + this.chunkSize, this.file.size);
    this.controller = new AbortController();
    try {
      var state = await call(
        "PUT",
        endpoint + "/" + this.id,
        this.file.slice(this.offset, end),
        {
          "Content-Type": "application/octet-stream",
          "Content-Range": "bytes " + this.offset + "-" + (end - 1) + "/" + this.file.size
        },
        this.controller.signal
      );
      this.waits = 0;
      this.show(state.received);
    } catch (problem) {
      if (problem instanceof Problem && problem.data.error === "offset_mismatch") {
        this.show(parseInt(problem.data.fields.offset, 10));
        return;
      }
      throw problem;
    } finally {
      this.controller = null;
    }
  };

  Upload.prototype.finish = async function () {
    this.say(text("ingesting"));
    var added = await call("POST", endpoint + "/" + this.id + "/complete");
    window.localStorage.removeItem(this.key);
    this.done(added.created ? text("added") : text("held"), added.id, added.name);
    if (added.near_duplicates && added.near_duplicates.length) {
      var note = document.createElement("span");
      note.className = "upload-near";
      note.append(text("near"));
      added.near_duplicates.forEach(function (other) {
        note.append(" ", itemLink(other, other.slice(0, 8)));
      });
      this.result.append(" ", note);
    }
  };

  function itemLink(itemId, label) {
    var link = document.createElement("a");
    link.href = "/evidence/" + encodeURIComponent(itemId);
    link.textContent = label;
    return link;
  }

  Upload.prototype.done = function (label, itemId, name) {
    this.bar.value = this.file.size;
    this.say(label);
    this.result.replaceChildren(itemLink(itemId, name));
    this.button.remove();
  };

  Upload.prototype.fail = function (problem) {
    var data = problem instanceof Problem ? problem.data : {};
    if (data.fields && data.fields.item_id) {
      window.localStorage.removeItem(this.key);
      this.done(text("held"), data.fields.item_id, this.file.name);
      return;
    }
    if (problem instanceof Problem && problem.kind === "session") {
      this.paused = true;
      this.button.textContent = text("resume");
      this.say(text("session"));
      return;
    }
    if (problem instanceof Problem && problem.status === 404) {
      window.localStorage.removeItem(this.key);
    }
    this.say(text("refused") + " " + (data.message || String(problem)));
    this.button.remove();
  };

  Upload.prototype.run = async function () {
    try {
      if (this.id === null) {
        if (!(await this.open())) {
          return;
        }
      } else {
        var state = await call("GET", endpoint + "/" + this.id);
        this.show(state.received);
      }
      while (this.offset < this.file.size) {
        if (this.paused) {
          return;
        }
        await this.send();
      }
      if (!this.paused) {
        await this.finish();
      }
    } catch (problem) {
      if (this.paused || (problem instanceof Problem && problem.kind === "aborted")) {
        return;
      }
      if (problem instanceof Problem && problem.kind === "network") {
        var wait = Math.min(FIRST_WAIT * Math.pow(2, this.waits), LONGEST_WAIT);
        this.waits += 1;
        this.say(text("retrying", { seconds: Math.round(wait / 1000) }));
        await new Promise(function (resolve) { window.setTimeout(resolve, wait); });
        if (!this.paused) {
          await this.run();
        }
        return;
      }
      this.fail(problem);
    }
  };

  function enqueue(upload) {
    if (queue.indexOf(upload) < 0) {
      queue.push(upload);
    }
    next();
  }

  async function next() {
    if (running !== null || queue.length === 0) {
      return;
    }
    running = queue.shift();
    if (!running.paused) {
      await running.run();
    }
    running = null;
    next();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var acquisition = {};
    ["who", "when", "where", "how", "tool"].forEach(function (name) {
      acquisition[name] = form.elements.namedItem(name).value;
    });
    var input = form.elements.namedItem("files");
    Array.prototype.forEach.call(input.files, function (file) {
      enqueue(new Upload(file, acquisition));
    });
    input.value = "";
  });

  // Files dropped on the form are chosen as if picked in the dialog. A file dropped
  // anywhere else on the page is ignored: the browser would otherwise open it in place
  // of this page, and every upload under way with it.
  window.addEventListener("dragover", function (event) {
    event.preventDefault();
    form.classList.toggle("dropping", form.contains(event.target));
  });
  window.addEventListener("dragleave", function (event) {
    if (!event.relatedTarget) {
      form.classList.remove("dropping");
    }
  });
  window.addEventListener("drop", function (event) {
    event.preventDefault();
    form.classList.remove("dropping");
    var dropped = event.dataTransfer && event.dataTransfer.files;
    if (form.contains(event.target) && dropped && dropped.length) {
      form.elements.namedItem("files").files = dropped;
    }
  });

  document.addEventListener("click", async function (event) {
    var button = event.target.closest("[data-cancel-upload]");
    if (!button) {
      return;
    }
    var id = button.dataset.cancelUpload;
    try {
      await call("DELETE", endpoint + "/" + id);
    } catch (problem) {
      if (!(problem instanceof Problem) || problem.status !== 409) {
        button.textContent = text("refused") + " " + ((problem.data && problem.data.message) || "");
        return;
      }
    }
    Object.keys(window.localStorage).forEach(function (key) {
      if (key.indexOf(STORE) === 0 && window.localStorage.getItem(key) === id) {
        window.localStorage.removeItem(key);
      }
    });
    var row = button.closest("[data-unfinished]");
    row.replaceChildren();
    var cell = document.createElement("td");
    cell.colSpan = 4;
    cell.textContent = text("cancelled");
    row.append(cell);
  });
})();
