'use strict';
// The face sign-in page: start an attempt, stream camera frames one request at a time, show
// the server's prompt and progress, and follow the redirect once the server grants the login.
import { openCamera, stopCamera, grabFrame, freshFrame, sleep } from './camera.js';
import { ScreenLight } from './screenlight.js';

const root = document.getElementById('login');
const form = document.getElementById('login-form');
const stage = document.getElementById('stage');
const video = document.getElementById('video');
const canvas = document.getElementById('canvas');
const promptEl = document.getElementById('prompt');
const progressEl = document.getElementById('progress');
const stepsEl = document.getElementById('steps');
const retryBtn = document.getElementById('retry');

const settings = {
  startUrl: root.dataset.startUrl,
  framesUrl: (id) => root.dataset.framesUrlTemplate.replace('ATTEMPT', encodeURIComponent(id)),
  frameWidth: Number(root.dataset.frameWidth) || 480,
  quality: Number(root.dataset.jpegQuality) || 0.85,
  defaultInterval: Number(root.dataset.defaultInterval) || 120,
};

const STEP_LABELS = { blink: 'blink', turn_left: 'turn left', turn_right: 'turn right', closer: 'come closer', screen_light: 'light check' };

let stream = null;

function say(text, kind) {
  promptEl.textContent = text;
  promptEl.dataset.kind = kind || 'info';
}

function showSteps(steps, current) {
  stepsEl.hidden = steps.length === 0;
  stepsEl.textContent = steps.length ? 'Steps: ' + steps.map((s) => (s === current ? '▶ ' : '') + (STEP_LABELS[s] || s)).join(' · ') : '';
}

async function postJson(url, body) {
  const resp = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify(body),
  });
  return { resp, data: await resp.json().catch(() => ({})) };
}

function finish(ok) {
  ScreenLight.clear();
  stopCamera(stream);
  stream = null;
  stage.hidden = !ok;
  retryBtn.hidden = ok;
  form.querySelector('button').disabled = false;
}

async function signIn(username) {
  say('Starting the camera…');
  stream = await openCamera(video);
  stage.hidden = false;

  const { resp, data } = await postJson(settings.startUrl, { username });
  if (resp.status !== 201) {
    say(data.message || 'Could not start sign-in.', 'error');
    return finish(false);
  }
  const attemptId = data.attempt_id;
  const steps = data.challenge.steps || [];
  let interval = Number(data.frame_interval_ms) || settings.defaultInterval;
  showSteps(steps, null);
  progressEl.hidden = false;
  say('Look straight at the camera.');

  let seq = 0;
  let lastFrameTime = null;
  for (;;) {
    const started = performance.now();
    lastFrameTime = (await freshFrame(video, lastFrameTime)) ?? lastFrameTime;
    const blob = await grabFrame(video, canvas, settings.frameWidth, settings.quality);
    if (!blob) {
      await sleep(interval);
      continue;
    }
    const body = new FormData();
    body.append('frame', blob, 'frame.jpg');
    body.append('seq', String(++seq));
    let r;
    try {
      r = await fetch(settings.framesUrl(attemptId), { method: 'POST', body, credentials: 'same-origin' });
    } catch (err) {
      say('The connection to the server failed. Check your network and try again.', 'error');
      return finish(false);
    }
    const result = await r.json().catch(() => ({}));
    if (!r.ok) {
      // 4xx on a frame ends this attempt from the user's point of view: expired, finished, throttled...
      say(result.message || 'Sign-in failed.', 'error');
      return finish(false);
    }
    ScreenLight.apply(result.light); // the screen-light step's colour for now, or none
    progressEl.value = result.progress || 0;
    showSteps(steps, result.step);
    root.dataset.state = result.state;
    if (result.state === 'granted') {
      say(result.prompt, 'ok');
      finish(true);
      window.location.assign(result.redirect || '/account');
      return;
    }
    if (result.state === 'denied') {
      root.dataset.reason = result.reason || '';
      say(result.prompt, 'error');
      return finish(false);
    }
    say(result.prompt);
    // The server may ask for a burst (e.g. while you blink) or a slower pace.
    if (Number.isFinite(Number(result.frame_interval_ms))) interval = Number(result.frame_interval_ms);
    // One request in flight: the next frame goes after this answer, paced by the server's hint.
    const wait = interval - (performance.now() - started);
    if (wait > 0) await sleep(wait);
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const username = form.username.value.trim();
  if (!username) return;
  form.querySelector('button').disabled = true;
  retryBtn.hidden = true;
  delete root.dataset.state;
  delete root.dataset.reason;
  progressEl.value = 0;
  signIn(username).catch((err) => {
    say(err && err.name === 'NotAllowedError' ? 'Camera permission was denied. Allow the camera to sign in.' : String(err.message || err), 'error');
    finish(false);
  });
});

retryBtn.addEventListener('click', () => form.requestSubmit());
