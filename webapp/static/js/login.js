'use strict';
// The face sign-in page: instructions, then start an attempt, stream camera frames one request
// at a time, show the server's prompt, its guidance hints (oval, light, distance), the step's
// countdown and progress, and follow the redirect once the server grants the login. Every
// sentence comes from the text catalogue the server renders into the page (webapp/texts/).
import { openCamera, stopCamera, grabFrame, freshFrame, sleep } from './camera.js';
import { runHook } from './login-steps.js';
import { ScreenLight } from './screenlight.js';

const $ = (id) => document.getElementById(id);
const root = $('login');
const form = $('login-form');
const intro = $('intro');
const stage = $('stage');
const video = $('video');
const canvas = $('canvas');
const promptEl = $('prompt');
const hintEl = $('hint');
const progressEl = $('progress');
const stepsEl = $('steps');
const countdownEl = $('countdown');
const retryBtn = $('retry');
const cancelBtn = $('cancel');
const cameraError = $('camera-error');
const lockedEl = $('locked');

const TEXTS = JSON.parse($('texts').textContent || '{}');
const t = (key, vars) => {
  let text = TEXTS[key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) text = text.replace(`{${k}}`, v);
  return text;
};

const settings = {
  startUrl: root.dataset.startUrl,
  framesUrl: (id) => root.dataset.framesUrlTemplate.replace('ATTEMPT', encodeURIComponent(id)),
  frameWidth: Number(root.dataset.frameWidth) || 480,
  quality: Number(root.dataset.jpegQuality) || 0.85,
  defaultInterval: Number(root.dataset.defaultInterval) || 120,
};

let stream = null;
let run = 0; // the current sign-in's number: a cancelled loop sees a newer number and stops
let countdown = null; // { deadline (performance.now() ms), timer }
let lockTimer = null;
let current = null; // the running attempt's ctx (for the hooks' `finished`)

// --- what the page shows -------------------------------------------------------------------

function say(text, kind) {
  promptEl.textContent = text;
  promptEl.dataset.kind = kind || 'info';
}

function hint(codes, fits) {
  const first = (codes || [])[0];
  hintEl.dataset.hint = first || (fits ? 'fits' : '');
  hintEl.textContent = first ? t('hint.' + first) : fits ? t('hint.fits') : '';
  stage.dataset.fits = fits ? 'true' : 'false';
}

function showSteps(steps, current, done) {
  stepsEl.hidden = steps.length === 0;
  stepsEl.textContent = steps.length
    ? t('steps.label') + ': ' + steps.map((s, i) => (i < done ? '✓ ' : s === current ? '▶ ' : '') + t('step.' + s)).join(' · ')
    : '';
}

function setCountdown(seconds) {
  if (seconds === null || seconds === undefined) {
    stopCountdown();
    return;
  }
  const deadline = performance.now() + seconds * 1000;
  if (!countdown) {
    countdown = { deadline, timer: setInterval(tickCountdown, 200) };
  } else {
    countdown.deadline = deadline;
  }
  countdownEl.hidden = false;
  tickCountdown();
}

function tickCountdown() {
  if (!countdown) return;
  const left = Math.max(0, Math.ceil((countdown.deadline - performance.now()) / 1000));
  countdownEl.textContent = String(left);
  countdownEl.dataset.seconds = String(left);
  countdownEl.dataset.urgent = left <= 3 ? 'true' : 'false';
}

function stopCountdown() {
  if (countdown) clearInterval(countdown.timer);
  countdown = null;
  countdownEl.hidden = true;
  delete countdownEl.dataset.seconds;
}

function formatWait(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}:${String(s % 60).padStart(2, '0')}` : `${s} s`;
}

function showScreen(name) {
  intro.hidden = name !== 'intro';
  cameraError.hidden = name !== 'camera-error';
  lockedEl.hidden = name !== 'locked';
  stage.hidden = name !== 'stage';
}

// --- how a sign-in ends --------------------------------------------------------------------

function stopStream() {
  stopCamera(stream);
  stream = null;
  stopCountdown();
  cancelBtn.hidden = true;
  form.querySelector('button').disabled = false;
}

function finish(outcome, ctx) {
  ScreenLight.clear();
  stopStream();
  if (outcome !== 'granted') {
    showScreen(outcome === 'cancelled' ? 'intro' : 'result');
    retryBtn.hidden = outcome === 'cancelled';
  }
  if (ctx) runHook('finished', ctx, outcome).catch(() => {});
  current = null;
}

function showLocked(seconds, key) {
  stopStream();
  showScreen('locked');
  retryBtn.hidden = true; // no retry while locked: the wait is the answer
  root.dataset.state = 'locked';
  const until = performance.now() + seconds * 1000;
  const text = $('locked-text');
  const tick = () => {
    const left = (until - performance.now()) / 1000;
    if (left <= 0) {
      clearInterval(lockTimer);
      lockTimer = null;
      text.textContent = t('locked.over');
      retryBtn.hidden = false;
      return;
    }
    text.textContent = t(key, { wait: formatWait(left) });
  };
  clearInterval(lockTimer);
  lockTimer = setInterval(tick, 1000);
  tick();
  say(text.textContent, 'error');
}

function showCameraError(err) {
  stopStream();
  const name = err && err.name;
  const kind = name === 'NotAllowedError' || name === 'SecurityError'
    ? 'denied'
    : name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError'
      ? 'missing'
      : name === 'InsecureContext' ? 'insecure' : 'failed';
  $('camera-error-title').textContent = t(`camera.${kind}.title`);
  $('camera-error-text').textContent = t(`camera.${kind}.text`);
  root.dataset.cameraError = kind;
  showScreen('camera-error');
  say(t(`camera.${kind}.title`), 'error');
  hint([], false);
  retryBtn.hidden = false;
}

function denialText(result) {
  if (result.reason === 'challenge_failed' && result.missed_step) {
    return t('denied.challenge_failed_step', { step: t('step.' + result.missed_step) });
  }
  return TEXTS['denied.' + result.reason] || result.prompt || t('failed');
}

// --- the sign-in ---------------------------------------------------------------------------

async function postJson(url, body) {
  const resp = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify(body),
  });
  return { resp, data: await resp.json().catch(() => ({})) };
}

function retryAfter(resp) {
  const value = Number(resp.headers.get('Retry-After'));
  return Number.isFinite(value) && value > 0 ? value : 60;
}

// Admission control: while every attempt the server can carry is running, login/start answers
// 503 "busy" with Retry-After. Wait that long, counting down, and ask again (a few times).
const BUSY_RETRIES = 20;

async function startWhenAdmitted(username, mine) {
  for (let tries = 0; ; tries++) {
    const answer = await postJson(settings.startUrl, { username });
    if (answer.resp.status !== 503 || answer.data.error !== 'busy' || tries >= BUSY_RETRIES || mine !== run) return answer;
    root.dataset.busy = 'true';
    for (let left = Math.max(1, Number(answer.resp.headers.get('Retry-After')) || 3); left > 0 && mine === run; left--) {
      say(t('busy.retrying', { seconds: left }), 'wait');
      await sleep(1000);
    }
    delete root.dataset.busy;
    say(t('prompt.starting'));
  }
}

async function signIn(username, mine) {
  say(t('prompt.starting'));
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw Object.assign(new Error('insecure'), { name: 'InsecureContext' });
  }
  const opened = await openCamera(video);
  if (mine !== run) return stopCamera(opened); // cancelled meanwhile: the cancel cleaned up the rest
  stream = opened;
  showScreen('stage');
  cancelBtn.hidden = false;

  const { resp, data } = await startWhenAdmitted(username, mine);
  if (mine !== run) return;
  if (resp.status === 423) return showLocked(retryAfter(resp), 'locked.wait');
  if (resp.status === 429) return showLocked(retryAfter(resp), 'rate_limited.wait');
  if (resp.status !== 201) {
    say(data.message || t('start_failed'), 'error');
    return finish('error');
  }
  const ctx = { attemptId: data.attempt_id, start: data, video, root };
  current = ctx;
  const steps = data.challenge.steps || [];
  let interval = Number(data.frame_interval_ms) || settings.defaultInterval;
  showSteps(steps, null, 0);
  progressEl.hidden = false;
  say(t('prompt.look'));
  await runHook('started', ctx);

  let seq = 0;
  let lastFrameTime = null;
  let stepsDone = 0;
  let stepSeen = false;
  for (;;) {
    if (mine !== run) return;
    const started = performance.now();
    await runHook('beforeFrame', ctx);
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
      r = await fetch(settings.framesUrl(ctx.attemptId), { method: 'POST', body, credentials: 'same-origin' });
    } catch (err) {
      if (mine !== run) return;
      say(t('network'), 'error');
      return finish('error', ctx);
    }
    if (mine !== run) return;
    const result = await r.json().catch(() => ({}));
    if (mine !== run) return; // cancelled while the body was read: the answer is for a sign-in that ended
    if (!r.ok) {
      // 4xx on a frame ends this attempt from the user's point of view: expired, finished, throttled...
      say(result.message || t('failed'), 'error');
      hint([], false);
      return finish('error', ctx);
    }
    await runHook('afterFrame', ctx, result);
    if (mine !== run) return; // the hook may have waited across a cancel
    ScreenLight.apply(result.light); // the screen-light step's colour for now, or none
    progressEl.value = result.progress || 0;
    progressEl.setAttribute('aria-valuetext', `${Math.round((result.progress || 0) * 100)} %`);
    // Steps before the current one are done; once a step was seen and none runs, all are.
    if (result.step) {
      stepsDone = Math.max(stepsDone, steps.indexOf(result.step));
      stepSeen = true;
    } else if (stepSeen || result.state === 'granted') {
      stepsDone = steps.length;
    }
    showSteps(steps, result.step, stepsDone);
    root.dataset.state = result.state;
    root.dataset.step = result.step || '';
    if (result.state === 'granted') {
      hint([], true);
      hintEl.textContent = '';
      say(t('granted'), 'ok');
      finish('granted', ctx);
      window.location.assign(result.redirect || '/account');
      return;
    }
    if (result.state === 'denied') {
      root.dataset.reason = result.reason || '';
      root.dataset.missedStep = result.missed_step || '';
      hint([], false);
      say(denialText(result), 'error');
      return finish('denied', ctx);
    }
    say(result.prompt);
    hint(result.hints, result.face_fits);
    setCountdown(result.step_seconds_left);
    // The server may ask for a burst (e.g. while you blink) or a slower pace.
    if (Number.isFinite(Number(result.frame_interval_ms))) interval = Number(result.frame_interval_ms);
    // One request in flight: the next frame goes after this answer, paced by the server's hint.
    const wait = interval - (performance.now() - started);
    if (wait > 0) await sleep(wait);
  }
}

function begin() {
  const username = form.username.value.trim();
  if (!username) {
    showScreen('intro');
    form.username.focus();
    return;
  }
  const mine = ++run;
  form.querySelector('button').disabled = true;
  retryBtn.hidden = true;
  for (const key of ['state', 'reason', 'missedStep', 'cameraError', 'step']) delete root.dataset[key];
  progressEl.value = 0;
  hint([], false);
  signIn(username, mine).catch((err) => {
    if (mine !== run) return;
    if (err && (err.name === 'InsecureContext' || err instanceof DOMException || err.name === 'NotAllowedError')) {
      showCameraError(err);
    } else {
      say(String((err && err.message) || err), 'error');
      finish('error');
    }
  });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  begin();
});

retryBtn.addEventListener('click', begin);

cancelBtn.addEventListener('click', () => {
  run += 1; // the running loop stops at its next check; the camera stops now
  finish('cancelled', current);
  hint([], false);
  progressEl.hidden = true;
  stepsEl.hidden = true;
  root.dataset.state = 'cancelled';
  say(t('cancelled'));
  showScreen('intro');
  form.username.focus();
});

document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && !cancelBtn.hidden) cancelBtn.click();
});
