'use strict';
// Admin user page: enroll from uploaded photos or webcam frames, erase faces, delete the user.
// Every call goes to the admin JSON API with the session's CSRF token.
import { openCamera, stopCamera, grabFrame, sleep } from './camera.js';

const root = document.getElementById('user-admin');
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const resultEl = document.getElementById('enroll-result');
const minFrames = Number(root.dataset.minFrames) || 3;

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

document.getElementById('webcam-enroll').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  const video = document.getElementById('enroll-video');
  const canvas = document.getElementById('enroll-canvas');
  let stream = null;
  try {
    stream = await openCamera(video);
    document.getElementById('enroll-stage').hidden = false;
    show('Look at the camera…', false);
    await sleep(800);
    const frames = [];
    for (let i = 0; i < Math.max(5, minFrames); i++) {
      const blob = await grabFrame(video, canvas, 640, 0.92);
      if (blob) frames.push(blob);
      await sleep(400);
    }
    await enroll(frames, 'webcam');
  } catch (err) {
    show(String(err.message || err), true);
  } finally {
    stopCamera(stream);
    document.getElementById('enroll-stage').hidden = true;
    button.disabled = false;
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
