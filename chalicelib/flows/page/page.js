// The service's page: the key asked once (sessionStorage, sent only as the Bearer header), then the
// classes, progress, recent decisions and problems, polled from the API it is served by. Every
// value from the service reaches the page through textContent, never as HTML.
"use strict";

const KEY = "image-categorizer.key";
const JOB = "image-categorizer.job";
const PREVIEW = "image-categorizer.preview";
const POLL_MS = 2000;
// The API is where the page came from, stage included: "/" locally, "/api/" on API Gateway.
const BASE = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";

const $ = (id) => document.getElementById(id);
let timer = null;

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + (sessionStorage.getItem(KEY) || "") };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(BASE + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
  });
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, (data && (data.Message || data.message)) || response.statusText);
  }
  return data;
}

// A table row; the cell at index `wide` (if any) wraps, the others keep to one line.
function row(values, wide) {
  const tr = document.createElement("tr");
  values.forEach((value, i) => {
    const td = document.createElement("td");
    td.textContent = value === null || value === undefined ? "" : String(value);
    td.className = i === wide ? "wide" : typeof value === "number" ? "number" : "";
    tr.appendChild(td);
  });
  return tr;
}

function fill(table, rows, empty, wide) {
  const body = $(table).tBodies[0];
  body.replaceChildren(...(rows.length ? rows.map((values) => row(values, wide)) : [row([empty], 0)]));
}

const score = (value) => (typeof value === "number" ? Number(value.toFixed(2)) : "");
const file = (path) => (path || "").split("/").pop();
const when = (iso) => (iso || "").replace("T", " ").replace("+00:00", "");

function showClasses(config) {
  const threshold = config.threshold_is_default ? `${config.threshold} (the default)` : `${config.threshold}`;
  $("threshold-line").textContent =
    `Threshold ${threshold}; photos below it go to ${config.unsorted_folder}.`;
  fill("classes", config.covers.map((c) => [c.class, c.folder, c.description, c.examples, c.corrections]),
    "No classes yet: set them below.", 2);
  if (document.activeElement !== $("classes-input")) $("classes-input").value = config.classes.join(", ");
  if (document.activeElement !== $("threshold-input")) {
    $("threshold-input").value = config.threshold_is_default ? "" : String(config.threshold);
  }
  $("duplicates-input").checked = config.duplicates === "folder";
}

// The classes as the form has them, for POST /configure or a preview.
function formClasses() {
  const body = { classes: $("classes-input").value.split(",").map((c) => c.trim()).filter((c) => c) };
  const threshold = $("threshold-input").value.trim();
  if (threshold !== "") body.threshold = Number(threshold);
  body.duplicates = $("duplicates-input").checked ? "folder" : "keep";
  return body;
}

function showStatus(status) {
  $("totals-line").textContent =
    // "finished" counts photos, each once; "queued" counts requests (a photo queued twice is two):
    // never shown as a fraction of each other.
    `${status.finished} photos finished: ${Object.values(status.sorted).reduce((a, n) => a + n, 0)} sorted, ` +
    `${status.unsorted} unsorted, ${status.skipped} skipped, ${status.failed} failed, ${status.gone} gone; ` +
    `${status.queue.waiting} waiting in the queue, ` +
    `${status.queue.dead_letter} dead-lettered.`;
  fill("counts", Object.entries(status.sorted).map(([folder, n]) => [folder, n]), "Nothing sorted yet.");
  fill("decisions", status.recent_decisions.map((d) => [
    file(d.path), d.to || d.folder, score(d.score),
    d.runner_up ? `${d.runner_up.class} ${score(d.runner_up.score)}` : "", d.by || "", when(d.at),
  ]), "No decisions yet.");
  fill("problems", status.recent_problems.map((p) => [file(p.path), p.kind, p.reason, when(p.at)]),
    "No problems.", 2);
}

const STARTED_BY = { webhook: "new photos", sort: "Sort what is in All", preview: "Preview (moves nothing)" };

function showJobs(jobs) {
  const rows = jobs.map((j) => {
    const tr = row([STARTED_BY[j.source] || j.source, when(j.at),
      `${j.done ?? 0} of ${j.total ?? 0}`,
      j.state === "undone" ? `undone ${when(j.undone_at)}` : (j.state || "running")]);
    const cell = document.createElement("td");
    if (!j.dry_run && j.state !== "undone") {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Undo";
      button.addEventListener("click", () => undo(j.job_id));
      cell.appendChild(button);
    }
    tr.appendChild(cell);
    return tr;
  });
  $("jobs").tBodies[0].replaceChildren(...(rows.length ? rows : [row(["No jobs yet."], 0)]));
}

async function undo(jobId) {
  try {
    const answer = await api("POST", "undo", { job_id: jobId });
    const left = answer.left.map((l) => `${l.path} (${l.reason})`).join("; ");
    $("undo-line").textContent = `Put back ${answer.moved_back} photo(s) in All` +
      (answer.left.length ? `; left ${answer.left.length} where they are: ${left}` : ".");
  } catch (e) {
    $("undo-line").textContent = e.message;
  }
  await refresh();
}

async function showJob() {
  const id = sessionStorage.getItem(JOB);
  if (!id) return;
  const job = await api("GET", "jobs/" + encodeURIComponent(id));
  $("job").hidden = false;
  $("job-progress").value = job.percent;
  $("job-line").textContent = `${job.done} of ${job.total} photos (${job.percent} %)` +
    (job.finished ? ", finished" : "");
}

async function showPreview() {
  const id = sessionStorage.getItem(PREVIEW);
  if (!id) return;
  const job = await api("GET", "jobs/" + encodeURIComponent(id));
  $("preview-result").hidden = false;
  $("preview-line").textContent = job.finished
    ? `Where the ${job.total} photo(s) in All would go with ${job.classes.join(", ")}; nothing was moved.`
    : `Looking at the photos in All: ${job.done} of ${job.total}.`;
  fill("previewed", job.preview.map((p) => [p.path, p.to,
    `${p.class || "no class"} ${score(p.score)}` + (p.detail ? `; ${p.detail}` : "")]), "No photos in All.");
}

async function refresh() {
  try {
    const [status, jobs] = await Promise.all([api("GET", "status"), api("GET", "jobs"), showJob(), showPreview()]);
    showStatus(status);
    showJobs(jobs);
    $("service-error").textContent = "";
  } catch (e) {
    if (e.status === 401) return signOut("The key was refused.");
    $("service-error").textContent = `The service did not answer: ${e.message}. Trying again.`;
  }
}

async function loadClasses() {
  try {
    showClasses(await api("GET", "configure"));
  } catch (e) {
    if (e.status === 401) return signOut("The key was refused.");
    if (e.status === 409 || e.status === 404) {
      fill("classes", [], "No classes yet: set them below.", 0);
    }
  }
}

function signIn() {
  $("login").hidden = true;
  $("main").hidden = false;
  $("forget").hidden = false;
  loadClasses();
  refresh();
  timer = setInterval(refresh, POLL_MS);
}

function signOut(message) {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(JOB);
  sessionStorage.removeItem(PREVIEW);
  clearInterval(timer);
  $("main").hidden = true;
  $("forget").hidden = true;
  $("login").hidden = false;
  $("key-error").textContent = message || "";
}

$("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("key").value);
  $("key").value = "";
  try {
    await api("GET", "status");
    $("key-error").textContent = "";
    signIn();
  } catch (e) {
    signOut(e.status === 401 ? "The key was refused." : `The service did not answer: ${e.message}`);
  }
});

$("forget").addEventListener("click", () => signOut(""));

$("configure-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    showClasses(await api("POST", "configure", formClasses()));
    $("configure-error").textContent = "";
  } catch (e) {
    $("configure-error").textContent = e.message;
  }
});

$("preview").addEventListener("click", async () => {
  try {
    const job = await api("POST", "sort", { dry_run: true, ...formClasses() });
    sessionStorage.setItem(PREVIEW, job.job_id);
    $("configure-error").textContent = "";
    await refresh();
  } catch (e) {
    $("configure-error").textContent = e.message;
  }
});

$("sort").addEventListener("click", async () => {
  try {
    const job = await api("POST", "sort", {});
    sessionStorage.setItem(JOB, job.job_id);
    $("sort-error").textContent = "";
    await refresh();
  } catch (e) {
    $("sort-error").textContent = e.message;
  }
});

if (sessionStorage.getItem(KEY)) signIn();
