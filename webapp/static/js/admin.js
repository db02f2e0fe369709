'use strict';
// Admin user page: enroll from uploaded photos or webcam frames, erase faces, delete the user.
// Every call goes to the admin JSON API with the session's CSRF token.
import { openCamera, stopCamera, grabFrame, sleep } from './camera.js';

const root = document.getElementById('user-admin');
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const resultEl = document.getElementById('enroll-result');

// The last enrollment's result survives the reload that lists the new faces (sessionStorage,
// this tab only), so the admin can read which files were refused and why.
const SAVED = 'livegate-enroll-result:' + location.pathname;

function show(text, isError, lines) {
  resultEl.hidden = false;
  resultEl.className = 'flash' + (isError ? ' error' : '');
  resultEl.textContent = text;
  if (lines && lines.length) {
    const list = document.createElement('ul');
    list.className = 'enroll-list';
    for (const line of lines) {
      const item = document.createElement('li');
      item.textContent = line;
      list.appendChild(item);
    }
    resultEl.appendChild(list);
  }
}

function rejectedLines(data, names) {
  return (data.rejected || []).map((r) => {
    const who = r.index === null || r.index === undefined ? 'all' : names[r.index] || `#${r.index + 1}`;
    return `${who}: ${r.reason}` + (r.detail ? ` (${r.detail})` : '');
  });
}

function describe(data) {
  const rejected = (data.rejected || []).length;
  return `Enrolled ${data.enrolled || 0}.` + (rejected ? ` Rejected ${rejected}:` : '');
}

const saved = sessionStorage.getItem(SAVED);
if (saved) {
  sessionStorage.removeItem(SAVED);
  try {
    const { text, isError, lines } = JSON.parse(saved);
    show(text, isError, lines);
  } catch (err) {
    /* a stale entry: ignore it */
  }
}

async function api(method, url, body) {
  const resp = await fetch(url, { method, body, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf, Accept: 'application/json' } });
  const data = resp.status === 204 ? {} : await resp.json().catch(() => ({}));
  return { resp, data };
}

async function enroll(blobs, source) {
  const form = new FormData();
  const names = blobs.map((b, i) => b.name || `frame-${i + 1}.jpg`);
  blobs.forEach((b, i) => form.append('images', b, names[i]));
  form.append('source', source);
  const { resp, data } = await api('POST', root.dataset.facesUrl, form);
  const lines = rejectedLines(data, names);
  if (resp.status === 201) {
    show(describe(data), data.enrolled === 0, lines);
    if (data.enrolled > 0) {
      sessionStorage.setItem(SAVED, JSON.stringify({ text: describe(data), isError: false, lines }));
      setTimeout(() => window.location.reload(), 1200);
    }
  } else {
    show((data.message || `Error ${resp.status}`) + (data.rejected ? ' ' + describe(data) : ''), true, lines);
  }
}

document.getElementById('upload-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const files = Array.from(document.getElementById('upload-files').files);
  if (files.length) await enroll(files, 'upload');
});

// --- webcam enrollment: the sign-in's oval and hints, then a capture -----------------------
// While the camera runs, one preview frame at a time goes to the admin preview endpoint,
// which answers hint codes (the sign-in's, webapp/login/hints.py, at the enrollment's quality
// bars) and whether the face fits the oval; nothing is stored until "Capture".

const TEXTS = JSON.parse(document.getElementById('texts').textContent || '{}');
const t = (key, vars) => {
  let text = TEXTS[key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) text = text.replace(`{${k}}`, v);
  return text;
};
const stage = document.getElementById('enroll-stage');
const video = document.getElementById('enroll-video');
const canvas = document.getElementById('enroll-canvas');
const hintEl = document.getElementById('enroll-hint');
const startBtn = document.getElementById('webcam-start');
const captureBtn = document.getElementById('webcam-enroll');
const stopBtn = document.getElementById('webcam-stop');
const captureCount = Number(root.dataset.capture) || 5;
const PREVIEW_WIDTH = 640; // what a capture sends: the preview judges the frames it would take
const PREVIEW_PAUSE = 250; // ms between a preview answer and the next frame
let camera = null; // { stream, previewing }

function showHint(data) {
  const first = (data.hints || [])[0];
  const fits = Boolean(data.face_fits);
  stage.dataset.fits = fits ? 'true' : 'false';
  hintEl.dataset.hint = first || (data.ready ? 'fits' : '');
  hintEl.textContent = first ? t('hint.' + first) : data.ready ? t('enroll.ready') : '';
}

async function previewLoop(cam) {
  while (camera === cam && cam.previewing) {
    const blob = await grabFrame(video, canvas, PREVIEW_WIDTH, 0.92);
    if (blob && camera === cam && cam.previewing) {
      const form = new FormData();
      form.append('frame', blob, 'preview.jpg');
      try {
        const { resp, data } = await api('POST', root.dataset.previewUrl, form);
        if (camera === cam && cam.previewing) {
          if (resp.ok) showHint(data);
          else hintEl.textContent = data.message || `Error ${resp.status}`;
        }
      } catch (err) {
        if (camera === cam) hintEl.textContent = String(err.message || err);
      }
    }
    await sleep(PREVIEW_PAUSE);
  }
}

function stopWebcam() {
  if (camera) stopCamera(camera.stream);
  camera = null;
  stage.hidden = true;
  stage.dataset.fits = 'false';
  hintEl.textContent = '';
  delete hintEl.dataset.hint;
  startBtn.hidden = false;
  startBtn.disabled = false;
  captureBtn.hidden = true;
  stopBtn.hidden = true;
}

startBtn.addEventListener('click', async () => {
  startBtn.disabled = true;
  try {
    const stream = await openCamera(video);
    camera = { stream, previewing: true };
    stage.hidden = false;
    startBtn.hidden = true;
    captureBtn.hidden = false;
    captureBtn.disabled = false;
    stopBtn.hidden = false;
    hintEl.textContent = t('enroll.looking');
    previewLoop(camera);
  } catch (err) {
    stopWebcam();
    show(String(err.message || err), true);
  }
});

stopBtn.addEventListener('click', stopWebcam);

captureBtn.addEventListener('click', async () => {
  const cam = camera;
  if (!cam) return;
  cam.previewing = false; // the capture takes the camera: no preview frame in between
  captureBtn.disabled = true;
  hintEl.textContent = t('enroll.capturing');
  try {
    const frames = [];
    for (let i = 0; i < captureCount; i++) {
      const blob = await grabFrame(video, canvas, 640, 0.92);
      if (blob) frames.push(blob);
      await sleep(400);
    }
    hintEl.textContent = t('enroll.sending');
    await enroll(frames, 'webcam');
  } catch (err) {
    show(String(err.message || err), true);
  } finally {
    stopWebcam();
  }
});

document.getElementById('delete-faces').addEventListener('click', async () => {
  if (!window.confirm('Erase every enrolled face of this user? They will not be able to sign in.')) return;
  const { resp, data } = await api('DELETE', root.dataset.facesUrl);
  if (resp.status === 204) window.location.reload();
  else show(data.message || `Error ${resp.status}`, true);
});

document.getElementById('delete-user').addEventListener('click', async () => {
  if (!window.confirm('Delete this user and all their faces?')) return;
  const { resp, data } = await api('DELETE', root.dataset.userUrl);
  if (resp.status === 204) window.location.assign(root.dataset.usersPage);
  else show(data.message || `Error ${resp.status}`, true);
});
