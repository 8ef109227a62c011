// The lookalike web page: search by image, upload a batch, review duplicates.
// One ES module, no build step, no dependencies. It only talks to the JSON API under /v1.

import { dedupTools } from './dedup.js';

const RESULTS_K = 24;     // matches asked for per search; the slider filters them here
const DUP_PAGE = 12;      // duplicate groups per page
const UPLOAD_CHUNK = 10;  // files per upload request (the server caps a request at 100)
const KEY_STORAGE = 'lookalike.apiKey';

const FEATURE_NAMES = {
  ahash: 'Average hash', dhash: 'Difference hash', phash: 'Perceptual hash',
  whash: 'Wavelet hash', color: 'Colour histogram', lbp: 'Texture (LBP)',
  effnet_lite0: 'Neural embedding',
};

// What each failure means to a person at the counter; the server's detail is added to it.
const MESSAGES = {
  0: 'Cannot reach the lookalike server. Is it still running?',
  401: 'This collection is protected: enter its API key (top right) and try again.',
  404: 'That image is no longer in the collection.',
  410: "That image's file is no longer on the server's disk.",
  413: 'That is too large for the server.',
  415: 'That file is not an image lookalike can read (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF or camera RAW).',
  422: 'The server could not read that image: the file may be damaged or cut short.',
};
const SHORT = { 413: 'Too large', 415: 'Not a supported image', 422: 'Damaged or unreadable' };

const state = {
  key: localStorage.getItem(KEY_STORAGE) || '',
  view: 'search',
  results: [],
  searchTicket: 0,
  searchFailed: false,
  uploadFiles: [],
  dupOffset: 0,
  viewer: null,      // {image, match} shown in the viewer
  viewerBlob: null,  // object URL to revoke when the viewer closes
};

const $ = (selector) => document.querySelector(selector);

// ---------- small helpers ----------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : value);
  }
  node.append(...children.flat().filter((child) => child != null && child !== false));
  return node;
}

const plural = (n, word, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;
const formatScore = (score) => (Math.floor(score * 1000) / 1000).toFixed(3); // never rounds up to 1.000
const formatSize = (image) => `${image.width} × ${image.height}`;
const formatDate = (iso) => new Date(iso).toLocaleString();

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

function tierBadge(tier) {
  return el('span', { class: `badge tier-${tier}` }, tier);
}

// ---------- talking to the API ----------

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

const authHeaders = () => (state.key ? { 'X-API-Key': state.key } : {});

function serverDetail(data) {
  if (!data) return '';
  if (typeof data.detail === 'string') return data.detail;
  if (Array.isArray(data.detail)) return data.detail.map((item) => item.msg).join('; ');
  if (data.errors?.length) return data.errors.map((e) => `${e.filename}: ${e.error}`).join('; ');
  return '';
}

function explain(status, data) {
  const base = MESSAGES[status] || `The server answered with an error (${status}).`;
  const detail = status === 401 ? '' : serverDetail(data);
  return detail ? `${base} (${detail})` : base;
}

async function api(path, { method = 'GET', body, json } = {}) {
  const init = { method, headers: authHeaders(), body };
  if (json) {
    init.body = JSON.stringify(json);
    init.headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, MESSAGES[0]);
  }
  const data = await response.json().catch(() => null); // 204 has no body
  if (!response.ok) throw new ApiError(response.status, explain(response.status, data));
  return data;
}

// An URL an <img> can show. <img> cannot send headers, so with a key the bytes are fetched
// here and shown from a blob: URL.
async function imageUrl(url) {
  if (!state.key) return url;
  const response = await fetch(url, { headers: authHeaders() });
  if (!response.ok) throw new ApiError(response.status, explain(response.status));
  return URL.createObjectURL(await response.blob());
}

function showImage(img, url) {
  imageUrl(url)
    .then((src) => {
      if (src.startsWith('blob:')) img.addEventListener('load', () => URL.revokeObjectURL(src), { once: true });
      img.src = src;
    })
    .catch(() => img.classList.add('broken'));
}

const thumbnail = (image, size = 320) => `${image.thumbnail_url}?size=${size}`;

// ---------- messages, status and the API key ----------

function notify(message, kind = 'error') {
  $('#notice-text').textContent = message;
  $('#notice').className = `notice ${kind}`;
  $('#notice').hidden = false;
}

function clearNotice() {
  $('#notice').hidden = true;
}

function fail(error) {
  notify(error.message || String(error));
  if (error.status === 401) askForKey();
}

function askForKey(message) {
  if (message) notify(message, 'warning');
  $('#key-panel').open = true;
  $('#key-input').focus();
}

function showKeyState() {
  $('#key-summary').textContent = state.key ? 'API key ✓' : 'API key';
  $('#key-input').value = state.key;
}

async function refreshStatus() {
  try {
    const health = await api('healthz');
    // Without a key a protected server only says it is up, not how big the collection is.
    if (health.images === undefined) $('#status').textContent = 'Connected';
    else $('#status').replaceChildren(plural(health.images, 'image'), el('span', { class: 'wide-only' }, ' in the collection'));
    $('#status').classList.remove('offline');
  } catch {
    $('#status').textContent = 'Server unreachable';
    $('#status').classList.add('offline');
  }
}

// Reads need a key on some servers: find out at once rather than on the first search.
async function checkAccess() {
  try {
    await api('v1/images?limit=1');
    return true;
  } catch (error) {
    if (error.status !== 401) fail(error);
    else if (state.key) askForKey('That API key was not accepted. Check it and save it again.');
    else askForKey('This collection is protected. Enter its API key (ask whoever runs this server) to search and upload.');
    return false;
  }
}

async function saveKey(event) {
  event.preventDefault();
  state.key = $('#key-input').value.trim();
  if (state.key) localStorage.setItem(KEY_STORAGE, state.key);
  else localStorage.removeItem(KEY_STORAGE);
  showKeyState();
  clearNotice();
  if (await checkAccess()) {
    $('#key-panel').open = false;
    notify(state.key ? 'API key saved.' : 'API key forgotten.', 'ok');
    if (state.view === 'duplicates') loadDuplicates(state.dupOffset);
  }
}

function forgetKey(event) {
  $('#key-input').value = '';
  saveKey(event);
}

// ---------- views ----------

const VIEWS = ['search', 'upload', 'duplicates'];

function route() {
  const wanted = location.hash.slice(1);
  state.view = VIEWS.includes(wanted) ? wanted : 'search';
  for (const section of document.querySelectorAll('main > section')) {
    section.hidden = section.dataset.view !== state.view;
  }
  for (const link of document.querySelectorAll('nav a[data-view]')) {
    if (link.dataset.view === state.view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (state.view === 'duplicates') loadDuplicates(state.dupOffset);
}

function dropZone(zone, onFiles) {
  zone.addEventListener('dragover', (event) => { event.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    if (event.dataTransfer.files.length) onFiles([...event.dataTransfer.files]);
  });
}

function onPaste(event) {
  const file = [...(event.clipboardData?.files || [])].find((f) => f.type.startsWith('image/'));
  if (!file) return;
  event.preventDefault();
  if (state.view === 'upload') chooseUploadFiles([...state.uploadFiles, file]);
  else {
    if (state.view !== 'search') location.hash = '#search';
    searchWithFile(file);
  }
}

// ---------- search ----------

function showQuery(src, name) {
  const preview = $('#query-preview');
  if (preview.src.startsWith('blob:')) URL.revokeObjectURL(preview.src);
  if (src) preview.src = src;
  else preview.removeAttribute('src');
  preview.hidden = !src;
  $('#query-name').textContent = name;
  $('#search-drop').classList.add('has-query');
}

function searchWithFile(file) {
  showQuery(URL.createObjectURL(file), file.name || 'pasted image');
  const form = new FormData();
  form.append('file', file);
  form.append('k', RESULTS_K);
  return runSearch(() => api('v1/search', { method: 'POST', body: form }));
}

function searchWithStored(image) {
  $('#viewer').close();
  location.hash = '#search';
  showQuery('', image.name);
  const ticket = state.searchTicket + 1; // the search below
  imageUrl(thumbnail(image, 480))
    .then((src) => { if (state.searchTicket === ticket) showQuery(src, image.name); })
    .catch(() => {});
  return runSearch(() => api('v1/search', { method: 'POST', json: { id: image.id, k: RESULTS_K } }));
}

async function runSearch(request) {
  const ticket = ++state.searchTicket; // a later search wins over a slower earlier one
  $('#results').setAttribute('aria-busy', 'true');
  $('#result-count').textContent = 'Searching…';
  try {
    const data = await request();
    if (ticket !== state.searchTicket) return;
    state.results = data.results;
    state.searchFailed = false;
    clearNotice();
  } catch (error) {
    if (ticket !== state.searchTicket) return;
    state.results = [];
    state.searchFailed = true;
    fail(error);
  }
  $('#results').removeAttribute('aria-busy');
  renderResults();
}

function renderResults() {
  $('#results').replaceChildren(...state.results.map(resultCard));
  applyThreshold();
}

function resultCard(match) {
  const image = match.image;
  const img = el('img', { alt: `Thumbnail of ${image.name}`, loading: 'lazy', width: 160, height: 160 });
  showImage(img, thumbnail(image));
  // a video frame: the thumbnail is that frame, the badge its time in the video
  const played = image.timestamp ? el('span', { class: 'badge video', title: 'A frame of this video, at this time' },
    `▶ ${image.timestamp}`) : null;
  return el('li', { class: 'result', dataset: { score: match.score } },
    el('button', {
      type: 'button', class: 'card', onclick: () => openViewer(image, match),
      'aria-label': `${image.name}, ${match.tier}, score ${formatScore(match.score)}. Open details.`,
    },
    el('span', { class: 'thumb' }, img, played),
    el('span', { class: 'card-text' },
      el('span', { class: 'name', title: image.name }, image.name),
      el('span', { class: 'row spread' },
        tierBadge(match.tier), el('span', { class: 'score' }, formatScore(match.score))),
      el('span', { class: `scorebar tier-${match.tier}`, style: `--score: ${match.score}` }),
      el('span', { class: 'label' }, image.label || 'no label'))));
}

function applyThreshold() {
  const min = Number($('#threshold').value);
  $('#threshold-value').value = min.toFixed(2);
  let shown = 0;
  for (const item of $('#results').children) {
    item.hidden = Number(item.dataset.score) < min;
    if (!item.hidden) shown += 1;
  }
  const total = state.results.length;
  const searched = $('#search-drop').classList.contains('has-query');
  let text = searched ? 'No matches: the collection is empty or has nothing like it.' : 'No search yet.';
  if (state.searchFailed) text = 'The search did not run: see the message above.';
  if (total) text = `Showing ${shown} of ${plural(total, 'match', 'matches')}${min > 0 ? ` scoring ${min.toFixed(2)} or more` : ''}.`;
  if (total && !shown) text += ' Lower the minimum score to see more.';
  $('#result-count').textContent = text;
  $('#results-empty').hidden = searched;
}

// ---------- the viewer ----------

function openViewer(image, match = null) {
  state.viewer = { image, match };
  const img = $('#viewer-img');
  img.removeAttribute('src');
  img.alt = `Full image: ${image.name}`;
  $('#viewer-open').removeAttribute('href');
  const keypoints = verifiedKeypoints(match);
  const querySrc = $('#query-preview').getAttribute('src') || '';
  const drawing = $('#viewer-matches');
  drawing.replaceChildren();
  drawing.toggleAttribute('hidden', !keypoints); // an SVG element has no .hidden property
  img.hidden = Boolean(keypoints);
  imageUrl(image.file_url)
    .then((src) => {
      if (state.viewer?.image !== image) return;
      img.src = src;
      $('#viewer-open').href = src;
      state.viewerBlob = src.startsWith('blob:') ? src : null;
      if (keypoints) drawMatches(drawing, keypoints, querySrc, src);
    })
    .catch(fail);
  $('#viewer-title').textContent = image.name;
  $('#viewer-match').replaceChildren(...(match ? [
    tierBadge(match.tier),
    el('span', { class: 'big-score' }, formatScore(match.score)),
    match.orientation && match.orientation !== 'original'
      ? el('span', { class: 'muted' }, `(query ${match.orientation})`) : null,
  ] : []).filter(Boolean)); // replaceChildren would print a null
  const found = match?.explanation?.keypoints;
  const region = match?.explanation?.region;
  $('#viewer-explanation').replaceChildren(...(found ? [
    el('strong', {}, found.kind ? plural(found.inliers, 'verified keypoint') : 'Keypoints not verified'),
    el('span', { class: 'muted' }, found.reason),
  ] : []), ...(region && !found?.kind ? [
    el('strong', {}, 'Matched a region'),
    el('span', { class: 'muted' }, region.reason),
  ] : []));
  $('#viewer-explanation').hidden = !found && !region;
  $('#viewer-meta').replaceChildren(...metadataRows(image));
  $('#viewer-evidence').replaceChildren(...evidenceRows(match?.evidence || {}));
  $('#viewer-evidence-box').hidden = !match?.evidence;
  $('#viewer').showModal();
}

// Keypoint evidence worth drawing: a verified match with point pairs.
function verifiedKeypoints(match) {
  const found = match?.explanation?.keypoints;
  return found && found.kind && found.pairs?.length ? found : null;
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

// The query (left) and the stored image (right) side by side at one height, a line joining
// each verified keypoint pair and a box round the region of each image they cover.
function drawMatches(drawing, found, querySrc, storedSrc) {
  const HEIGHT = 480, GAP = 16;
  const [queryWidth, queryHeight] = found.size.query;
  const [storedWidth, storedHeight] = found.size.candidate;
  const queryScale = HEIGHT / queryHeight, storedScale = HEIGHT / storedHeight;
  const offset = queryWidth * queryScale + GAP;
  const width = offset + storedWidth * storedScale;
  drawing.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
  drawing.setAttribute('aria-label', `The query and ${state.viewer.image.name} side by side, `
    + `${plural(found.pairs.length, 'line')} joining matched keypoints`);
  const picture = (href, x, w) => svg('image', { href, x, y: 0, width: w, height: HEIGHT, preserveAspectRatio: 'none' });
  if (querySrc) drawing.append(picture(querySrc, 0, queryWidth * queryScale));
  const stored = picture(storedSrc, offset, storedWidth * storedScale);
  stored.addEventListener('load', () => { drawing.dataset.loaded = 'true'; }, { once: true });
  delete drawing.dataset.loaded;
  drawing.append(stored);
  const box = (region, scale, x0, name) => svg('rect', {
    class: `match-region ${name}`, x: x0 + region[0] * scale, y: region[1] * scale,
    width: (region[2] - region[0]) * scale, height: (region[3] - region[1]) * scale,
  });
  if (found.region?.query) drawing.append(box(found.region.query, queryScale, 0, 'query-region'));
  if (found.region?.candidate) drawing.append(box(found.region.candidate, storedScale, offset, 'stored-region'));
  for (const [[qx, qy], [cx, cy]] of found.pairs) {
    drawing.append(svg('line', {
      class: 'match-line', x1: qx * queryScale, y1: qy * queryScale, x2: offset + cx * storedScale, y2: cy * storedScale,
    }));
  }
}

function metadataRows(image) {
  const rows = [
    ['Label', image.label || '—'],
    ['Size', `${formatSize(image)} px`],
    ['File size', formatBytes(image.bytes)],
    ['Format', image.format],
    ['Added', formatDate(image.added_at)],
    ['Image id', image.id],
  ];
  if (image.timestamp) rows.splice(1, 0, ['Video time', `${image.timestamp} (this frame)`]);
  if (image.copies > 1) rows.push(['Identical files', image.copies]);
  return rows.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, String(value))]);
}

function evidenceRows(evidence) {
  return Object.entries(evidence)
    .filter(([feature]) => !feature.startsWith('keypoint_')) // counts and fractions: told in words above
    .sort(([, a], [, b]) => b - a)
    .map(([feature, similarity]) => el('li', {},
      el('span', { title: feature }, FEATURE_NAMES[feature] || feature),
      el('span', { class: 'scorebar', style: `--score: ${similarity}` }),
      el('span', { class: 'score' }, similarity.toFixed(2))));
}

function closeViewer() {
  if (state.viewerBlob) URL.revokeObjectURL(state.viewerBlob);
  state.viewerBlob = null;
  state.viewer = null;
}

async function removeViewed() {
  const { image } = state.viewer;
  if (!confirm(`Remove "${image.name}" from the collection? Searches will no longer find it.`)) return;
  try {
    await api(`v1/images/${image.id}`, { method: 'DELETE' });
  } catch (error) {
    fail(error);
    return;
  }
  $('#viewer').close();
  state.results = state.results.filter((match) => match.image.id !== image.id);
  renderResults();
  notify(`Removed "${image.name}" from the collection.`, 'ok');
  refreshStatus();
  if (state.view === 'duplicates') loadDuplicates(state.dupOffset);
}

// ---------- upload ----------

function chooseUploadFiles(files) {
  state.uploadFiles = files;
  $('#upload-chosen').replaceChildren(...files.map((file) =>
    el('li', {}, el('span', { class: 'name' }, file.name || 'pasted image'),
      el('span', { class: 'muted' }, formatBytes(file.size)))));
  $('#upload-button').disabled = !files.length;
  $('#upload-button').textContent = files.length ? `Upload ${plural(files.length, 'file')}` : 'Upload';
}

function setProgress(fraction, text) {
  $('#upload-progress').value = Math.round(fraction * 100);
  $('#upload-status').textContent = text;
}

// One multipart request by XMLHttpRequest, the only browser API with upload progress.
// Resolves with the answer {images, errors}, also when the server refused every file.
function postFiles(files, label, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const file of files) form.append('files', file, file.name || 'pasted.png');
    if (label) form.append('labels', label);
    const request = new XMLHttpRequest();
    request.open('POST', 'v1/images');
    for (const [name, value] of Object.entries(authHeaders())) request.setRequestHeader(name, value);
    request.responseType = 'json';
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.onerror = () => reject(new ApiError(0, MESSAGES[0]));
    request.onload = () => {
      const data = request.response;
      if (Array.isArray(data?.errors)) resolve(data);
      else reject(new ApiError(request.status, explain(request.status, data)));
    };
    request.send(form);
  });
}

async function uploadAll(event) {
  event.preventDefault();
  const files = state.uploadFiles;
  if (!files.length) return;
  const label = $('#upload-label').value.trim();
  const run = {
    label, count: files.length, finished: 0, sentBytes: 0,
    totalBytes: files.reduce((sum, file) => sum + file.size, 0) || 1,
    images: [], errors: [],
  };
  $('#upload-button').disabled = true;
  $('#upload-progress-box').hidden = false;
  $('#upload-progress-box').classList.remove('failed');
  $('#upload-results').replaceChildren();
  clearNotice();
  for (let start = 0; start < files.length; start += UPLOAD_CHUNK) {
    if (!await sendBatch(files.slice(start, start + UPLOAD_CHUNK), run)) break;
  }
  finishUpload(run);
}

// Sends one batch; false when the rest is not worth trying (no key, no server).
async function sendBatch(batch, run) {
  const bytes = batch.reduce((sum, file) => sum + file.size, 0);
  const first = run.finished + 1;
  const which = batch.length > 1 ? `files ${first}–${run.finished + batch.length}` : `file ${first}`;
  // Sending counts for 80% of a batch, adding it to the collection for the rest.
  const progress = (sent) => setProgress((run.sentBytes + 0.8 * sent * bytes) / run.totalBytes,
    sent < 1 ? `Uploading ${which} of ${run.count}…` : `Adding ${which} of ${run.count} to the collection…`);
  progress(0);
  try {
    const answer = await postFiles(batch, run.label, progress);
    run.images.push(...answer.images);
    run.errors.push(...answer.errors);
    $('#upload-results').append(...answer.images.map(uploadedRow), ...answer.errors.map(refusedRow));
  } catch (error) {
    if (error.status === 413 && batch.length > 1) { // over the server's cap per request: halve
      const half = Math.ceil(batch.length / 2);
      return await sendBatch(batch.slice(0, half), run) && sendBatch(batch.slice(half), run);
    }
    fail(error);
    const refused = batch.map((file) => ({ filename: file.name, status: error.status, error: error.message }));
    run.errors.push(...refused);
    $('#upload-results').append(...refused.map(refusedRow));
    if (error.status === 401 || error.status === 0) return false;
  }
  run.sentBytes += bytes;
  run.finished += batch.length;
  return true;
}

function finishUpload({ images, errors, count }) {
  const summary = `Done: ${images.length} added${errors.length ? `, ${errors.length} refused` : ''}.`;
  setProgress(1, summary);
  $('#upload-progress-box').classList.toggle('failed', !images.length);
  if (errors.length && images.length) {
    notify(`${images.length} of ${plural(count, 'file')} added; ${errors.length} refused (see the list).`, 'warning');
  } else if (errors.length && $('#notice').hidden) {
    const status = errors[0].status;
    notify(count === 1 ? explain(status) : `No file was added. ${explain(status)}`);
  }
  $('#upload-files').value = '';
  chooseUploadFiles([]);
  refreshStatus();
}

function uploadedRow(image) {
  const img = el('img', { alt: '', width: 48, height: 48 });
  showImage(img, thumbnail(image, 96));
  return el('li', { class: 'uploaded' },
    el('button', { type: 'button', class: 'row-button', onclick: () => openViewer(image) },
      img,
      el('span', { class: 'row-text' },
        el('span', { class: 'name' }, image.filename),
        el('span', { class: 'muted' },
          `Added · ${formatSize(image)} · ${formatBytes(image.bytes)}${image.label ? ` · ${image.label}` : ''}`)),
      el('span', { class: 'badge ok' }, 'added')));
}

function refusedRow(error) {
  return el('li', { class: 'refused' },
    el('span', { class: 'mark', 'aria-hidden': 'true' }, '!'),
    el('span', { class: 'row-text' },
      el('span', { class: 'name' }, error.filename),
      el('span', { class: 'error-text' }, `${SHORT[error.status] || 'Refused'}: ${error.error}`)),
    el('span', { class: 'badge bad' }, 'refused'));
}

// ---------- duplicates ----------

async function loadDuplicates(offset) {
  $('#dup-groups').setAttribute('aria-busy', 'true');
  $('#dup-summary').textContent = 'Looking for duplicates…';
  try {
    const data = await api(`v1/duplicates?offset=${offset}&limit=${DUP_PAGE}`);
    if (!data.groups.length && offset > 0) return loadDuplicates(Math.max(0, offset - DUP_PAGE)); // page emptied
    renderDuplicates(data);
    state.dupOffset = offset;
  } catch (error) {
    $('#dup-summary').textContent = 'Could not load the duplicates.';
    $('#dup-groups').replaceChildren();
    fail(error);
  }
  $('#dup-groups').removeAttribute('aria-busy');
}

function renderDuplicates({ total, offset, groups }) {
  $('#dup-summary').textContent = total
    ? `${plural(total, 'group')} of copies. Compare each group's size and quality, then decide which copy to keep.`
    : 'No duplicates: every image in the collection is one of a kind.';
  $('#dup-groups').replaceChildren(...groups.map((group, i) => groupCard(group, offset + i + 1)));
  $('#dup-pager').hidden = total <= DUP_PAGE;
  $('#dup-range').textContent = `Groups ${offset + 1}–${offset + groups.length} of ${total}`;
  $('#dup-prev').disabled = offset === 0;
  $('#dup-next').disabled = offset + groups.length >= total;
}

// The copy the server's keeper rules keep (or the one a person clicked), marked with its reason.
const dedup = dedupTools({ $, el, api, notify, fail, plural, formatBytes,
  reload: () => loadDuplicates(state.dupOffset) });

function groupCard(group, number) {
  const files = group.files > group.size ? ` · ${plural(group.files, 'file')}` : '';
  const card = el('li', { class: 'group panel' });
  const render = () => {
    const keeper = group.size > 1 || group.files > 1 ? dedup.keeperOf(group) : null;
    card.replaceChildren(
      el('div', { class: 'group-head' },
        el('h2', {}, `Group ${number}`),
        el('span', { class: 'muted' }, `${plural(group.size, 'image')}${files} · `,
          el('span', { title: 'The lowest score that links this group together' },
            `weakest link ${formatScore(group.weakest_link)}`))),
      keeper != null ? el('p', { class: 'keep-reason' }, 'Keep: ', dedup.reasonOf(group)) : null,
      el('ul', { class: 'group-images' }, group.images.map((image) =>
        duplicateCard(image, image.id === keeper, dedup.reasonOf(group), dedup.keepButton(group, image, render)))),
      dedup.groupActions(group));
  };
  render();
  return card;
}

function duplicateCard(image, isKeeper, reason, keepButton) {
  const img = el('img', { alt: `Thumbnail of ${image.name}`, loading: 'lazy', width: 160, height: 160 });
  showImage(img, thumbnail(image));
  return el('li', {},
    el('button', { type: 'button', class: 'card', onclick: () => openViewer(image),
      'aria-label': `${image.name}, ${formatSize(image)}, ${formatBytes(image.bytes)}. Open details.` },
    el('span', { class: 'thumb' }, img,
      isKeeper ? el('span', { class: 'badge best', title: `Keep: ${reason}` }, 'keep') : null),
    el('span', { class: 'card-text' },
      el('span', { class: 'name', title: image.name }, image.name),
      el('span', { class: 'dims' }, formatSize(image)),
      el('span', { class: 'muted' }, `${formatBytes(image.bytes)} · ${image.format}`),
      el('span', { class: image.copies > 1 ? 'copies' : 'muted' },
        image.copies > 1 ? `${image.copies} identical files` : '1 file'))),
    keepButton);
}

// ---------- start ----------

function start() {
  showKeyState();
  $('#key-form').addEventListener('submit', saveKey);
  $('#key-forget').addEventListener('click', forgetKey);
  $('#notice-close').addEventListener('click', clearNotice);

  $('#search-file').addEventListener('change', (event) => {
    if (event.target.files.length) searchWithFile(event.target.files[0]);
    event.target.value = '';
  });
  dropZone($('#search-drop'), (files) => searchWithFile(files[0]));
  $('#threshold').addEventListener('input', applyThreshold);

  $('#upload-files').addEventListener('change', (event) => chooseUploadFiles([...event.target.files]));
  dropZone($('#upload-drop'), chooseUploadFiles);
  $('#upload-form').addEventListener('submit', uploadAll);

  $('#dup-refresh').addEventListener('click', () => loadDuplicates(state.dupOffset));
  dedup.bind();
  $('#dup-prev').addEventListener('click', () => loadDuplicates(Math.max(0, state.dupOffset - DUP_PAGE)));
  $('#dup-next').addEventListener('click', () => loadDuplicates(state.dupOffset + DUP_PAGE));

  const viewer = $('#viewer');
  viewer.addEventListener('close', closeViewer);
  viewer.addEventListener('click', (event) => { if (event.target === viewer) viewer.close(); });
  $('#viewer-close').addEventListener('click', () => viewer.close());
  $('#viewer-search').addEventListener('click', () => searchWithStored(state.viewer.image));
  $('#viewer-remove').addEventListener('click', removeViewed);

  // A file dropped outside a drop zone must not navigate away from the page.
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => event.preventDefault());
  document.addEventListener('paste', onPaste);
  window.addEventListener('hashchange', route);

  route();
  applyThreshold();
  refreshStatus();
  checkAccess();
}

start();
