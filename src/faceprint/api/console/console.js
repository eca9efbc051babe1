// faceprint console: one more API client, in the browser.
//
// Every request is an AWS JSON 1.1 call to POST / signed here with AWS Signature
// Version 4 (WebCrypto HMAC-SHA256 and SHA-256), exactly as an SDK signs it. The key
// id and secret live in this tab's sessionStorage only; signing out clears them.
// No frameworks, no build step, nothing fetched from anywhere but this server.

import { ApiError, call, setCredentials } from "./api.js";

const STORE_ID = "faceprint.accessKeyId";
const STORE_SECRET = "faceprint.secretAccessKey";
const MAX_IMAGE_BYTES = 5 * 1024 * 1024; // Rekognition's inline image limit
const REASONS = {
  EXCEEDS_MAX_FACES: "another face in the photo (only the largest is indexed)",
  LOW_BRIGHTNESS: "too dark",
  LOW_SHARPNESS: "too blurry",
  LOW_CONFIDENCE: "not clearly a face",
  SMALL_BOUNDING_BOX: "face too small",
  EXTREME_POSE: "face turned too far away",
  LOW_FACE_QUALITY: "face quality too low",
};

const $ = (id) => document.getElementById(id);
const state = { who: null, allowed: new Set(), collections: new Map(), purposes: new Map(), purposeEdited: false };

// -- small helpers ------------------------------------------------------------------
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "testid") node.dataset.testid = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const td = (text, props = {}) => el("td", { ...props, text: text === undefined || text === null ? "—" : String(text) });

function showError(err) {
  const code = err instanceof ApiError ? err.code : err.name || "Error";
  $("error-text").replaceChildren(el("strong", { text: code }), `: ${err.message}`);
  $("error").dataset.code = code;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
  delete $("error").dataset.code;
}

const setStatus = (text) => ($("status").textContent = text);

/** Run `work` with `button` disabled, its result as the status line, errors in #error. */
async function run(button, busyText, work) {
  clearError();
  setStatus(busyText);
  if (button) button.disabled = true;
  try {
    setStatus((await work()) || "");
  } catch (err) {
    setStatus("");
    showError(err);
  } finally {
    if (button) button.disabled = false;
  }
}

function when(seconds) {
  if (seconds === undefined || seconds === null) return "—";
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "10,000", "3.2 million": n rounded to two significant figures. */
function bigNumber(n) {
  if (n >= 1e15) return `10^${Math.log10(n).toFixed(1)}`;
  for (const [size, word] of [[1e12, "trillion"], [1e9, "billion"], [1e6, "million"]]) {
    if (n >= size) return `${Number((n / size).toPrecision(2))} ${word}`;
  }
  return Number(n.toPrecision(2)).toLocaleString("en-US");
}

/** Calibrated similarity s means a false-match rate of 10^(-s/10) per comparison. */
const falseMatchRate = (similarity) => Math.pow(10, -similarity / 10);
// Similarity is clipped at 100 (a rate of 10^-10): 100 means that rate or rarer.
const oneIn = (similarity) => `1 in ${bigNumber(1 / falseMatchRate(similarity))}${similarity >= 100 ? " or rarer" : ""}`;

function expectedText(expected) {
  if (expected >= 0.1) return `about ${Number(expected.toPrecision(2))}`;
  if (expected === 0) return "none (the collection is empty)";
  return `about ${Number(expected.toPrecision(2))} (one in ${bigNumber(1 / expected)} searches)`;
}

function readBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(new ApiError("FileReadError", `could not read ${blob.name || "the photo"}`));
    reader.readAsDataURL(blob);
  });
}

/** The photo as base64, re-encoded smaller (JPEG) only when over the 5 MB limit. */
async function imageBase64(file) {
  if (file.size <= MAX_IMAGE_BYTES) return readBase64(file);
  const mb = (file.size / 1048576).toFixed(1);
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new ApiError("ImageTooLargeException", `${file.name} is ${mb} MB, over the 5 MB limit, and this browser cannot decode it to shrink it`);
  }
  for (const [side, quality] of [[2560, 0.9], [1600, 0.85], [1024, 0.8]]) {
    const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
    const canvas = el("canvas", { width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale) });
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
    if (blob && blob.size <= MAX_IMAGE_BYTES) return readBase64(blob);
  }
  throw new ApiError("ImageTooLargeException", `${file.name} is ${mb} MB; the limit is 5 MB`);
}

async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// -- sign in / out ------------------------------------------------------------------
async function signIn(keyId, secret) {
  setCredentials(keyId, secret);
  try {
    state.who = await call("FaceprintService.WhoAmI");
  } catch (err) {
    setCredentials("", "");
    sessionStorage.removeItem(STORE_ID);
    sessionStorage.removeItem(STORE_SECRET);
    throw err;
  }
  sessionStorage.setItem(STORE_ID, keyId);
  sessionStorage.setItem(STORE_SECRET, secret);
  state.allowed = new Set(state.who.Operations || []);
  showApp();
  if (state.allowed.has("ListCollections")) await loadCollections();
  return `Signed in as ${state.who.Role}.`;
}

function signOut() {
  sessionStorage.removeItem(STORE_ID);
  sessionStorage.removeItem(STORE_SECRET);
  setCredentials("", "");
  Object.assign(state, { who: null, allowed: new Set(), collections: new Map(), purposes: new Map() });
  for (const id of ["collections-table", "search-matches", "audit-table"]) $(id).tBodies[0].replaceChildren();
  $("enroll-results").replaceChildren();
  for (const id of ["enroll-results-card", "search-results", "identity", "app"]) $(id).hidden = true;
  $("audit-verify-result").textContent = "";
  for (const form of ["enroll-form", "search-form", "create-form"]) $(form).reset();
  $("signin-secret").value = "";
  $("signin").hidden = false;
  clearError();
  setStatus("Signed out.");
  $("signin-key").focus();
}

const PANELS = { collections: "ListCollections", enroll: "IndexFaces", search: "SearchFacesByImage", audit: "ListAuditEvents" };

function showApp() {
  const who = state.who;
  $("whoami-key").textContent = who.AccessKeyId;
  $("whoami-role").textContent = who.Role;
  $("whoami-purpose").textContent = who.Purpose;
  $("identity").hidden = false;
  $("signin").hidden = true;
  $("app").hidden = false;
  let first = null;
  for (const [panel, op] of Object.entries(PANELS)) {
    const ok = state.allowed.has(op);
    $(`tab-${panel}`).hidden = !ok;
    if (ok && !first) first = panel;
  }
  $("create-card").hidden = !state.allowed.has("CreateCollection");
  $("audit-verify").hidden = !state.allowed.has("VerifyAuditLog");
  $("create-purpose").value = who.Purpose || "";
  $("enroll-purpose").value = who.Purpose || "";
  updateConsentRequirement();
  updateThresholdRate();
  if (first) selectTab(first);
  else setStatus("This key's role may not use any part of this console.");
}

function selectTab(panel) {
  for (const name of Object.keys(PANELS)) {
    const on = name === panel;
    $(`tab-${name}`).setAttribute("aria-selected", String(on));
    $(`tab-${name}`).tabIndex = on ? 0 : -1;
    $(`panel-${name}`).hidden = !on;
  }
  if (panel === "audit") run(null, "Loading the audit log…", loadAudit);
  if (panel === "enroll") prefillPurpose();
}

// -- collections ----------------------------------------------------------------------
async function loadCollections() {
  const names = [];
  let token;
  do {
    const page = await call("RekognitionService.ListCollections", token ? { NextToken: token } : {});
    names.push(...(page.CollectionIds || []));
    token = page.NextToken;
  } while (token);
  const described = await mapLimit(names, 6, async (name) => {
    try {
      return [name, await call("RekognitionService.DescribeCollection", { CollectionId: name })];
    } catch (err) {
      return [name, { error: err }];
    }
  });
  state.collections = new Map(described);
  renderCollections();
  fillCollectionSelects();
  return `${names.length} collection${names.length === 1 ? "" : "s"}.`;
}

function renderCollections() {
  const rows = [...state.collections].map(([name, info]) =>
    el(
      "tr",
      { testid: "collection-row", "data-collection": name },
      td(name, { class: "mono" }),
      info.error ? td(`${info.error.code}: ${info.error.message}`, { colspan: "4", class: "detail" }) : td(info.FaceCount, { class: "num", testid: "collection-faces" }),
      info.error ? null : td(info.UserCount, { class: "num" }),
      info.error ? null : td(when(info.CreationTimestamp)),
      info.error ? null : td(info.FaceModelVersion, { class: "truncate detail", title: info.FaceModelVersion || "" }),
    ),
  );
  $("collections-table").tBodies[0].replaceChildren(...rows);
  $("collections-empty").hidden = rows.length > 0;
}

function fillCollectionSelects() {
  for (const id of ["enroll-collection", "search-collection"]) {
    const select = $(id);
    const current = select.value;
    const options = [...state.collections].map(([name, info]) =>
      el("option", { value: name, text: info.error ? name : `${name} (${info.FaceCount} face${info.FaceCount === 1 ? "" : "s"})` }),
    );
    select.replaceChildren(...(options.length ? options : [el("option", { value: "", text: "No collections" })]));
    if (state.collections.has(current)) select.value = current;
  }
  updateThresholdRate();
}

async function refreshCollection(name) {
  try {
    state.collections.set(name, await call("RekognitionService.DescribeCollection", { CollectionId: name }));
  } catch {
    return; // the counts stay as they were; the call that changed them already succeeded
  }
  renderCollections();
  fillCollectionSelects();
}

async function createCollection() {
  const name = $("create-name").value.trim();
  const purpose = $("create-purpose").value.trim();
  const consent = $("create-consent").checked;
  await call("RekognitionService.CreateCollection", {
    CollectionId: name,
    Tags: { "faceprint:purpose": purpose, "faceprint:consent-required": String(consent) },
  });
  state.purposes.set(name, purpose);
  $("create-name").value = "";
  await loadCollections();
  $("enroll-collection").value = name;
  $("search-collection").value = name;
  updateThresholdRate();
  return `Collection ${name} created for “${purpose}”${consent ? ", consent required" : ""}.`;
}

// -- enroll ------------------------------------------------------------------------
function updateConsentRequirement() {
  const consent = $("enroll-basis").value === "consent";
  $("enroll-agreed").required = consent;
  $("enroll-agreed-label").classList.toggle("muted", !consent);
}

/** The collection's purpose, from its governance tags (ListTagsForResource), else the
 * key's own purpose (the default purpose of collections made through the API). */
async function prefillPurpose() {
  const name = $("enroll-collection").value;
  state.purposeEdited = false;
  let purpose = state.purposes.get(name);
  let source = "the collection's purpose";
  if (purpose === undefined && name && state.allowed.has("ListTagsForResource")) {
    try {
      const r = await call("RekognitionService.ListTagsForResource", { ResourceArn: `arn:aws:rekognition:local:000000000000:collection/${name}` });
      purpose = r.Tags?.["faceprint:purpose"];
      if (purpose !== undefined) state.purposes.set(name, purpose);
    } catch {
      purpose = undefined; // fall back to the key's purpose below
    }
  }
  if (purpose === undefined) {
    purpose = state.who?.Purpose || "";
    source = "your key's purpose; it must equal the collection's purpose";
  }
  if (state.purposeEdited || $("enroll-collection").value !== name) return;
  $("enroll-purpose").value = purpose;
  $("enroll-purpose-hint").textContent = `Pre-filled with ${source}.`;
}

function describeIndexed(result) {
  const faces = result.FaceRecords || [];
  const unindexed = result.UnindexedFaces || [];
  const reasons = unindexed.map((u) => (u.Reasons || []).map((r) => REASONS[r] ? `${r} (${REASONS[r]})` : r).join(", "));
  if (faces.length) {
    const face = faces[0].Face;
    const extra = unindexed.length ? ` · not indexed: ${reasons.join("; ")}` : "";
    return { ok: true, text: `Indexed ${faces.length} face · FaceId ${face.FaceId} · confidence ${face.Confidence.toFixed(1)}${extra}` };
  }
  if (unindexed.length) return { ok: false, text: `No face indexed: ${reasons.join("; ")}` };
  return { ok: false, text: "No face found in this photo" };
}

function thumbnail(file) {
  const src = URL.createObjectURL(file);
  const img = el("img", { src, alt: `Photo ${file.name}` });
  img.addEventListener("load", () => URL.revokeObjectURL(src));
  img.addEventListener("error", () => {
    URL.revokeObjectURL(src);
    img.replaceWith(el("div", { class: "no-preview", text: "no preview" }));
  });
  return img;
}

async function enroll() {
  const collection = $("enroll-collection").value;
  const person = $("enroll-person").value.trim();
  const basis = $("enroll-basis").value;
  const files = [...$("enroll-photos").files];
  const expiry = $("enroll-expiry").value;
  const consent = { Subject: person, Basis: basis, Purpose: $("enroll-purpose").value.trim(), CollectionId: collection };
  if (expiry) consent.ExpiresAt = Math.floor(new Date(`${expiry}T23:59:59`).getTime() / 1000);
  const list = $("enroll-results");
  list.replaceChildren();
  $("enroll-summary").textContent = "";
  $("enroll-results-card").hidden = true;
  // an indexer key may not record consent (a consent officer or admin does): it indexes
  // under consent recorded before, and IndexFaces says how to record it when there is none
  if (state.allowed.has("AddConsent")) await call("FaceprintService.AddConsent", consent);
  $("enroll-results-card").hidden = false;
  let indexed = 0;
  const failures = [];
  for (const file of files) {
    const status = el("span", { text: "Indexing…" });
    const item = el("li", { testid: "enroll-result", "data-file": file.name }, thumbnail(file), el("div", {}, el("div", { class: "file", text: file.name }), status));
    list.append(item);
    try {
      const result = await call("RekognitionService.IndexFaces", { CollectionId: collection, Image: { Bytes: await imageBase64(file) }, ExternalImageId: person, MaxFaces: 1 });
      const { ok, text } = describeIndexed(result);
      indexed += (result.FaceRecords || []).length;
      status.textContent = text;
      status.className = ok ? "ok" : "bad";
      item.dataset.indexed = String((result.FaceRecords || []).length);
    } catch (err) {
      failures.push([file.name, err]);
      status.textContent = `${err.code || err.name}: ${err.message}`;
      status.className = "bad";
      item.dataset.indexed = "0";
    }
  }
  $("enroll-summary").textContent = `${indexed} face${indexed === 1 ? "" : "s"} indexed for ${person} in ${collection} from ${files.length} photo${files.length === 1 ? "" : "s"}; ${basis.replace(/_/g, " ")} recorded.`;
  $("enroll-photos").value = "";
  await refreshCollection(collection);
  if (failures.length) {
    const [name, err] = failures[0];
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more photo${failures.length > 2 ? "s" : ""}; see the results)` : "";
    throw new ApiError(err.code || err.name, `${name}: ${err.message}${more}`);
  }
  return `Enrolled ${person}.`;
}

// -- search --------------------------------------------------------------------------
function updateThresholdRate() {
  const t = Number($("search-threshold").value);
  const out = $("search-threshold-rate");
  if (!Number.isFinite(t) || t < 0 || t > 100) {
    out.textContent = "between 0 and 100";
    return;
  }
  const info = state.collections.get($("search-collection").value);
  let text = `False-match rate ${oneIn(t)} per comparison`;
  if (info && !info.error) text += `\nExpected false matches per search of this collection: ${expectedText(info.FaceCount * falseMatchRate(t))}`;
  out.textContent = text;
}

async function loadBitmap(file) {
  try {
    return await createImageBitmap(file);
  } catch {
    return null;
  }
}

function drawSearchedFace(bitmap, box) {
  const photo = $("search-photo");
  const crop = $("search-face-crop");
  const dpr = window.devicePixelRatio || 1;
  const width = Math.min(340, bitmap.width);
  const height = Math.round((bitmap.height * width) / bitmap.width);
  Object.assign(photo, { width: Math.round(width * dpr), height: Math.round(height * dpr) });
  Object.assign(photo.style, { width: `${width}px`, height: `${height}px` });
  const g = photo.getContext("2d");
  g.drawImage(bitmap, 0, 0, photo.width, photo.height);
  const [x, y, w, h] = [box.Left * photo.width, box.Top * photo.height, box.Width * photo.width, box.Height * photo.height];
  g.lineWidth = 4 * dpr;
  g.strokeStyle = "rgba(0,0,0,0.6)";
  g.strokeRect(x, y, w, h);
  g.lineWidth = 2 * dpr;
  g.strokeStyle = "#ffd400";
  g.strokeRect(x, y, w, h);
  // A square around the face, a little wider than its box, from the full-size photo.
  const side = Math.max(box.Width * bitmap.width, box.Height * bitmap.height) * 1.25;
  const cx = (box.Left + box.Width / 2) * bitmap.width;
  const cy = (box.Top + box.Height / 2) * bitmap.height;
  Object.assign(crop, { width: Math.round(160 * dpr), height: Math.round(160 * dpr) });
  const c = crop.getContext("2d");
  c.fillStyle = "#222";
  c.fillRect(0, 0, crop.width, crop.height);
  c.drawImage(bitmap, cx - side / 2, cy - side / 2, side, side, 0, 0, crop.width, crop.height);
  crop.dataset.drawn = "true";
}

async function search() {
  const collection = $("search-collection").value;
  const file = $("search-photo-input").files[0];
  const threshold = Number($("search-threshold").value);
  $("search-results").hidden = true;
  delete $("search-face-crop").dataset.drawn;
  const result = await call("RekognitionService.SearchFacesByImage", {
    CollectionId: collection,
    Image: { Bytes: await imageBase64(file) },
    FaceMatchThreshold: threshold,
    MaxFaces: Number($("search-max").value),
  });
  await refreshCollection(collection);
  const info = state.collections.get(collection);
  const faceCount = info && !info.error ? info.FaceCount : null;
  const bitmap = await loadBitmap(file);
  if (bitmap && result.SearchedFaceBoundingBox) drawSearchedFace(bitmap, result.SearchedFaceBoundingBox);
  $("search-face-confidence").textContent = result.SearchedFaceConfidence !== undefined ? `detection confidence ${result.SearchedFaceConfidence.toFixed(1)}` : "";
  const matches = result.FaceMatches || [];
  const rows = matches.map((m, i) => {
    const s = m.Similarity;
    const fill = el("span");
    fill.style.width = `${Math.max(0, Math.min(100, s))}%`; // CSSOM: the page's CSP allows no inline styles
    const sim = el("td", { class: "num", testid: "match-similarity" }, s.toFixed(1), el("span", { class: "sim-bar", "aria-hidden": "true" }, fill));
    return el(
      "tr",
      { testid: "match-row", class: i === 0 ? "top" : "" },
      td(i + 1, { class: "num", testid: "match-rank" }),
      td(m.Face.ExternalImageId, { class: "mono", testid: "match-external-id" }),
      sim,
      td(oneIn(s), { testid: "match-false-match-rate", title: `${falseMatchRate(s).toExponential(1)} per comparison` }),
      td(m.Face.FaceId, { class: "mono faceid", testid: "match-face-id" }),
    );
  });
  $("search-matches").tBodies[0].replaceChildren(...rows);
  $("search-matches").hidden = rows.length === 0;
  $("search-none").hidden = rows.length > 0;
  $("search-none").textContent = `No face in ${collection} reached similarity ${threshold}.`;
  const facts = [
    ["Collection", faceCount === null ? collection : `${collection} (${faceCount} face${faceCount === 1 ? "" : "s"})`],
    ["Threshold", `similarity ≥ ${threshold}`],
    ["False-match rate per comparison", oneIn(threshold)],
    faceCount === null
      ? ["Expected false matches in this collection", "unknown (the collection could not be described)"]
      : ["Expected false matches in this collection", expectedText(faceCount * falseMatchRate(threshold)), `${faceCount} faces × 10^(−${threshold}/10)`],
    ["Matches", String(matches.length)],
  ];
  $("search-summary").replaceChildren(
    ...facts.flatMap(([term, value, note]) => [el("dt", { text: term }), el("dd", {}, value, note ? el("span", { class: "note", text: note }) : null)]),
  );
  $("search-results").hidden = false;
  return `Search done: ${matches.length} match${matches.length === 1 ? "" : "es"}.`;
}

// -- audit ---------------------------------------------------------------------------
function detailText(detail) {
  if (!detail) return "";
  try {
    const value = JSON.parse(detail);
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
    }
  } catch {
    // not JSON: shown as it is
  }
  return detail;
}

async function loadAudit() {
  const params = { MaxResults: Number($("audit-max").value) || 100 };
  const collection = $("audit-collection").value.trim();
  const action = $("audit-action").value.trim();
  if (collection) params.CollectionId = collection;
  if (action) params.Action = action;
  const r = await call("FaceprintService.ListAuditEvents", params);
  const events = [...(r.AuditEvents || [])].reverse(); // newest first
  const rows = events.map((e) =>
    el(
      "tr",
      { testid: "audit-row", "data-action": e.Action },
      td(e.Sequence, { class: "num" }),
      td(when(e.Timestamp), { class: "time" }),
      td(e.Actor, { class: "mono" }),
      td(e.Action, { testid: "audit-action-cell" }),
      td(e.CollectionId, { class: "mono" }),
      td(e.Purpose),
      td(e.Count, { class: "num" }),
      td(detailText(e.Detail), { class: "detail" }),
    ),
  );
  $("audit-table").tBodies[0].replaceChildren(...rows);
  $("audit-empty").hidden = rows.length > 0;
  return `${rows.length} audit event${rows.length === 1 ? "" : "s"}, newest first.`;
}

async function verifyAudit() {
  const out = $("audit-verify-result");
  out.textContent = "";
  out.className = "verify";
  delete out.dataset.valid;
  const r = await call("FaceprintService.VerifyAuditLog");
  out.dataset.valid = String(r.Valid);
  out.classList.add(r.Valid ? "valid" : "invalid");
  out.textContent = r.Valid ? `✓ Chain valid: ${r.EntryCount} entries, every link checks.` : `✗ Chain NOT valid (${r.EntryCount} entries): ${r.Problems.length} problem(s).`;
  const problems = $("audit-problems");
  problems.replaceChildren(...(r.Problems || []).map((p) => el("li", { text: p })));
  problems.hidden = !(r.Problems || []).length;
  return r.Valid ? "The audit chain verifies." : "The audit chain does NOT verify.";
}

// -- wiring --------------------------------------------------------------------------
function onSubmit(formId, busyText, work) {
  $(formId).addEventListener("submit", (event) => {
    event.preventDefault();
    run(event.submitter || $(formId).querySelector("button[type=submit]"), busyText, work);
  });
}

function wire() {
  onSubmit("signin-form", "Signing in…", () => signIn($("signin-key").value.trim(), $("signin-secret").value));
  onSubmit("create-form", "Creating the collection…", createCollection);
  onSubmit("enroll-form", "Enrolling…", enroll);
  onSubmit("search-form", "Searching…", search);
  onSubmit("audit-form", "Loading the audit log…", loadAudit);
  $("signout").addEventListener("click", signOut);
  $("error-dismiss").addEventListener("click", clearError);
  $("collections-refresh").addEventListener("click", (e) => run(e.currentTarget, "Loading collections…", loadCollections));
  $("audit-verify").addEventListener("click", (e) => run(e.currentTarget, "Verifying the audit chain…", verifyAudit));
  $("enroll-basis").addEventListener("change", updateConsentRequirement);
  $("enroll-collection").addEventListener("change", prefillPurpose);
  $("enroll-purpose").addEventListener("input", () => (state.purposeEdited = true));
  $("search-threshold").addEventListener("input", updateThresholdRate);
  $("search-collection").addEventListener("change", updateThresholdRate);
  const tabs = [...document.querySelectorAll("[role=tab]")];
  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab.dataset.panel));
    tab.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      const visible = tabs.filter((t) => !t.hidden);
      const step = event.key === "ArrowRight" ? 1 : -1;
      const next = visible[(visible.indexOf(tab) + step + visible.length) % visible.length];
      selectTab(next.dataset.panel);
      next.focus();
    });
  }
}

function start() {
  if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
    $("insecure").hidden = false;
    for (const node of $("signin-form").elements) node.disabled = true;
    return;
  }
  wire();
  const keyId = sessionStorage.getItem(STORE_ID);
  const secret = sessionStorage.getItem(STORE_SECRET);
  if (keyId && secret) {
    $("signin-key").value = keyId;
    run($("signin-submit"), "Signing in…", () => signIn(keyId, secret));
  }
}

start();
