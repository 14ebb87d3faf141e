// The service's page: the key asked once (sessionStorage, sent only as the Bearer header), then the
// classes, the photos to review, progress, recent decisions and problems, polled from the API it is
// served by. Every value from the service reaches the page through textContent, never as HTML;
// photos are Dropbox's thumbnails, fetched with the key and shown from blob: URLs.
"use strict";

const KEY = "image-categorizer.key";
const JOB = "image-categorizer.job";
const PREVIEW = "image-categorizer.preview";
const POLL_MS = 2000;
const REVIEW_MS = 15000; // the review queue (thumbnails and all) is read again at most this often, or on news
const NEWEST_PER_CLASS = 4;
const THUMBNAILS_PER_CALL = 25;
// The API is where the page came from, stage included: "/" locally, "/api/" on API Gateway.
const BASE = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";

const $ = (id) => document.getElementById(id);
let timer = null;
// file id -> {url: blob: URL of its thumbnail ("" when there is none), path: where Dropbox says it is};
// null while asked
const thumbnails = new Map();
let reviewed = { at: 0, newest: null }; // when the review queue was read, and the newest decision then
let undoCorrection = null; // the body of POST /correct that puts the last correction back

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

// A table row; the cell at index `wide` (if any) wraps, the others keep to one line. A value that
// is an element (a thumbnail, a toggle) is put in its cell as it is.
function row(values, wide) {
  const tr = document.createElement("tr");
  values.forEach((value, i) => {
    const td = document.createElement("td");
    if (value instanceof Node) td.appendChild(value);
    else td.textContent = value === null || value === undefined ? "" : String(value);
    td.className = i === wide ? "wide" : typeof value === "number" ? "number" : "";
    tr.appendChild(td);
  });
  return tr;
}

function element(tag, text, className) {
  const made = document.createElement(tag);
  if (text !== undefined) made.textContent = text;
  if (className) made.className = className;
  return made;
}

// --- thumbnails ------------------------------------------------------------------------------------

function blobUrl(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return URL.createObjectURL(new Blob([bytes], { type: "image/jpeg" }));
}

// An <img> for a photo, filled in when its thumbnail is known (showThumbnails asks for the others).
function photo(fileId, name) {
  const img = element("img", undefined, "thumb");
  img.alt = name || "";
  if (fileId) {
    img.dataset.fileId = fileId;
    const known = thumbnails.get(fileId);
    if (known && known.url) img.src = known.url;
  }
  return img;
}

// Fetch the thumbnails the page shows but has not got (POST /thumbnails, by file id), then show them.
async function showThumbnails() {
  const wanted = [...new Set([...document.querySelectorAll("img.thumb[data-file-id]")]
    .map((img) => img.dataset.fileId).filter((id) => !thumbnails.has(id)))];
  for (let start = 0; start < wanted.length; start += THUMBNAILS_PER_CALL) {
    const chunk = wanted.slice(start, start + THUMBNAILS_PER_CALL);
    chunk.forEach((id) => thumbnails.set(id, null));
    try {
      const answer = await api("POST", "thumbnails", { files: chunk });
      answer.thumbnails.forEach((t) => thumbnails.set(t.file, { url: t.jpeg ? blobUrl(t.jpeg) : "", path: t.path }));
    } catch (e) {
      chunk.forEach((id) => thumbnails.delete(id)); // asked again at the next refresh
    }
  }
  document.querySelectorAll("img.thumb[data-file-id]").forEach((img) => {
    const known = thumbnails.get(img.dataset.fileId);
    if (known && known.url && img.src !== known.url) img.src = known.url;
  });
}

// Forget a photo's thumbnail (it moved): asked again, with where it is now.
function forgetThumbnail(fileId) {
  const known = thumbnails.get(fileId);
  if (known && known.url) URL.revokeObjectURL(known.url);
  thumbnails.delete(fileId);
}

const topFolder = (path) => (path || "").split("/")[1] || "";

function fill(table, rows, empty, wide) {
  const body = $(table).tBodies[0];
  body.replaceChildren(...(rows.length ? rows.map((values) => row(values, wide)) : [row([empty], 0)]));
}

const score = (value) => (typeof value === "number" ? Number(value.toFixed(2)) : "");
const file = (path) => (path || "").split("/").pop();
const when = (iso) => (iso || "").replace("T", " ").replace("+00:00", "");

function showClasses(config) {
  const threshold = config.threshold_is_default ? `${config.threshold} (the default)` : `${config.threshold}`;
  $("threshold-line").textContent = `Threshold ${threshold} for each class without its own; a photo whose ` +
    `best class scores below that class's threshold goes to ${config.unsorted_folder}.`;
  fill("classes",
    config.covers.map((c) => [c.class, c.folder, classThreshold(c), c.examples, c.corrections, covers(c)]),
    "No classes yet: set them below.", 5);
  if (document.activeElement !== $("classes-input")) {
    // A class's own threshold as the field takes it: "receipt:0.6".
    $("classes-input").value = config.classes.map((name, i) => {
      const c = config.covers[i];
      return c && c.threshold_from === "class" ? `${name}:${c.threshold}` : name;
    }).join(", ");
  }
  if (document.activeElement !== $("threshold-input")) {
    $("threshold-input").value = config.threshold_is_default ? "" : String(config.threshold);
  }
  $("duplicates-input").checked = config.duplicates === "folder";
}

// What a class covers, folded to one line: a long list of ImageNet classes opens on request.
function covers(c) {
  const details = element("details");
  const summary = element("summary",
    c.imagenet_classes ? `${c.imagenet_classes} ImageNet class${c.imagenet_classes === 1 ? "" : "es"}` : "by examples");
  details.append(summary, element("span", c.description));
  return details;
}

// The threshold a class's score must reach, and whose it is.
function classThreshold(c) {
  if (c.threshold === undefined) return "";
  const whose = c.threshold_from === "class" ? " (its own)" : c.threshold_is_default ? " (the default)" : "";
  return `${c.threshold}${whose}`;
}

// A class as the form's field has it: "cat", or "receipt:0.6" for a class with its own threshold. A
// threshold that is not a number goes as typed, for the service to name the problem.
function formClass(given) {
  const colon = given.lastIndexOf(":");
  if (colon < 0) return given;
  const typed = given.slice(colon + 1).trim();
  const number = Number(typed);
  return { name: given.slice(0, colon).trim(), threshold: typed !== "" && Number.isFinite(number) ? number : typed };
}

// The classes as the form has them, for POST /configure or a preview.
function formClasses() {
  const body = { classes: $("classes-input").value.split(",").map((c) => c.trim()).filter((c) => c).map(formClass) };
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
    (status.tagged_photos ? `${status.tagged_photos} tagged where they are, ` : "") +
    `${status.unsorted} unsorted, ${status.skipped} skipped, ${status.failed} failed, ${status.gone} gone; ` +
    `${status.queue.waiting} waiting in the queue, ` +
    `${status.queue.dead_letter} dead-lettered.`;
  // "action": "tag": a photo counts under each class it is tagged with.
  fill("counts", Object.entries(status.sorted).map(([folder, n]) => [folder, n]).concat(
    Object.entries(status.tagged || {}).map(([name, n]) => [`tagged ${name}`, n])), "Nothing sorted yet.");
  fill("decisions", status.recent_decisions.map((d) => [
    photo(d.file_id, file(d.path)), file(d.path),
    d.tags ? `tagged ${d.tags.join(", ")}${d.undone ? " (undone: tags taken off)" : ""}`
      : d.undone ? `${d.to} (undone: back in All)` : d.to || d.folder,
    score(d.score),
    d.runner_up ? `${d.runner_up.class} ${score(d.runner_up.score)}` : "", d.by || "", when(d.at),
  ]), "No decisions yet.");
  fill("problems", status.recent_problems.map((p) => [file(p.path), p.kind, p.reason, when(p.at)]),
    "No problems.", 2);
}

// Per class folder, the newest photos the service sorted that are there now (Dropbox says where each
// photo is when it sends its thumbnail: one corrected or moved since shows in its new folder).
function showNewest(decisions) {
  const byFolder = new Map();
  decisions.filter((d) => d.to && d.file_id && !d.undone).forEach((d) => {
    const known = thumbnails.get(d.file_id);
    const path = known && known.path ? known.path : d.to;
    if (known && known.url === "" && !known.path) return; // gone
    const folder = topFolder(path);
    if (folder === "All") return; // back in the inbox
    const shown = byFolder.get(folder) || [];
    if (shown.length < NEWEST_PER_CLASS && !shown.some((s) => s.file_id === d.file_id)) {
      byFolder.set(folder, [...shown, { file_id: d.file_id, path }]);
    }
  });
  const rows = [...byFolder.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([folder, shown]) => {
    const strip = element("div", undefined, "strip");
    strip.append(element("span", folder, "folder"), ...shown.map((d) => {
      const figure = element("figure");
      figure.append(photo(d.file_id, file(d.path)), element("figcaption", file(d.path)));
      return figure;
    }));
    return strip;
  });
  $("newest").replaceChildren(...(rows.length ? rows : [element("p", "Nothing sorted yet.", "hint")]));
}

// --- the review queue ------------------------------------------------------------------------------

async function loadReview() {
  let answer;
  try {
    answer = await api("GET", "review");
  } catch (e) {
    $("review-line").textContent = e.status === 409 ? "Nothing to review before classes are set." : e.message;
    $("review").replaceChildren();
    return;
  }
  reviewed.at = Date.now();
  answer.photos.forEach((p) => {
    const known = thumbnails.get(p.file_id);
    if (!known || known.path !== p.path) {
      if (known) forgetThumbnail(p.file_id);
      thumbnails.set(p.file_id, { url: blobUrl(p.jpeg), path: p.path });
    }
  });
  $("review-line").textContent = answer.photos.length
    ? `${answer.photos.length} photo(s) to look at; ${answer.unsorted} in the unsorted folder.`
    : "Nothing to review: no photo is unsorted or sorted by a small margin.";
  $("review").replaceChildren(...answer.photos.map((p) => reviewCard(p, answer.folders)));
}

function reviewCard(p, folders) {
  const card = element("li", undefined, "card");
  card.dataset.fileId = p.file_id;
  const unsorted = folders[folders.length - 1];
  const why = p.why === "unsorted" ? "left unsorted" : `sorted into ${p.folder} by a small margin`;
  const best = p.top.map((c) => `${c.class} ${score(c.score)}`).join(", ");
  card.append(photo(p.file_id, file(p.path)), element("p", file(p.path), "name"), element("p", why, "why"),
    element("p", best || "no class scored", "scores"));
  const buttons = element("div", undefined, "choices");
  folders.filter((f) => f !== p.folder && f !== unsorted).forEach((folder) => {
    const button = element("button", folder);
    button.type = "button";
    button.addEventListener("click", () => correct({ file_id: p.file_id, to: folder }));
    buttons.appendChild(button);
  });
  if (p.folder !== unsorted) {
    const button = element("button", `Not ${p.folder}`, "not");
    button.type = "button";
    button.addEventListener("click", () => correct({ file_id: p.file_id, to: unsorted }));
    buttons.appendChild(button);
  }
  card.appendChild(buttons);
  return card;
}

async function correct(body) {
  try {
    const answer = await api("POST", "correct", body);
    forgetThumbnail(answer.file_id);
    $("correct-text").textContent = `Moved ${file(answer.from)} from ${answer.from} to ${answer.to}; ` +
      "it is learned as your correction.";
    undoCorrection = answer.undo;
    $("correct-undo").hidden = false;
  } catch (e) {
    $("correct-text").textContent = e.message;
    undoCorrection = null;
    $("correct-undo").hidden = true;
  }
  await loadReview();
  await refresh();
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

// The preview stays on screen until it is stale: a sort or new classes since it was made.
function closePreview() {
  sessionStorage.removeItem(PREVIEW);
  $("preview-result").hidden = true;
}

async function showPreview(jobs) {
  const id = sessionStorage.getItem(PREVIEW);
  if (!id) return;
  const made = jobs.find((j) => j.job_id === id);
  if (!made) return; // not listed yet (the jobs were read as it was made): shown at the next refresh
  if (jobs.some((j) => !j.dry_run && j.at > made.at)) return closePreview();
  const job = await api("GET", "jobs/" + encodeURIComponent(id));
  // Closed while its job was being read (a Sort clicked meanwhile): it stays closed.
  if (sessionStorage.getItem(PREVIEW) !== id) return;
  $("preview-result").hidden = false;
  $("preview-line").textContent = job.finished
    ? `Preview made ${when(made.at)} (UTC): where the ${job.total} photo(s) in All would go with ` +
      `${job.classes.join(", ")}; nothing was moved.`
    : `Preview made ${when(made.at)} (UTC): looking at the photos in All, ${job.done} of ${job.total}.`;
  fill("previewed", job.preview.map((p) => [p.path, p.tags ? `${p.to}, tagged ${p.tags.join(", ")}` : p.to,
    `${p.class || "no class"} ${score(p.score)}` + (p.detail ? `; ${p.detail}` : "")]), "No photos in All.");
}

let refreshing = null; // the refresh under way: a poll that finds one waits for it rather than start another

function refresh() {
  if (!refreshing) refreshing = refreshOnce().finally(() => { refreshing = null; });
  return refreshing;
}

async function refreshOnce() {
  try {
    const [status, jobs] = await Promise.all([api("GET", "status"), api("GET", "jobs"), showJob()]);
    await showPreview(jobs);
    showStatus(status);
    showJobs(jobs);
    $("service-error").textContent = "";
    const newest = status.recent_decisions.length ? status.recent_decisions[0].at : null;
    if (newest !== reviewed.newest || Date.now() - reviewed.at > REVIEW_MS) {
      reviewed.newest = newest;
      await loadReview();
    }
    await showThumbnails();
    showNewest(status.recent_decisions);
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
  reviewed = { at: 0, newest: null };
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
  [...thumbnails.keys()].forEach(forgetThumbnail);
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
    closePreview(); // made with other classes
    await loadReview();
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

$("preview-close").addEventListener("click", closePreview);

$("correct-undo").addEventListener("click", () => {
  if (undoCorrection) correct(undoCorrection);
  $("correct-undo").hidden = true;
});

$("sort").addEventListener("click", async () => {
  try {
    const job = await api("POST", "sort", {});
    closePreview(); // the photos it showed are being moved: it is stale now
    sessionStorage.setItem(JOB, job.job_id);
    $("sort-error").textContent = "";
    await refresh();
  } catch (e) {
    $("sort-error").textContent = e.message;
  }
});

if (sessionStorage.getItem(KEY)) signIn();
