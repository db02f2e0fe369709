'use strict';
// The screen-light check: while the server's `light` instruction is set, the screen around the
// camera view is filled with its colour, so the face reflects it (webapp/challenge/screenlight.py).
// The server tells one colour at a time, in each frame's answer; the page never knows the rest.
//
// Photosensitive safety: colours fade (never cut) over at least MIN_FADE_MS, and the page never
// changes colour more than 3 times a second, whatever it is told (the server draws 0.8-1.3 s per
// colour). Users who ask for reduced motion are warned before the colours start.

const MIN_FADE_MS = 300;
const MIN_GAP_MS = 334; // at most 3 changes a second

let backdrop = null;
let warning = null;
let current = null;
let lastChange = 0;
let pending = null;

function ensureBackdrop() {
  if (backdrop) return backdrop;
  backdrop = document.createElement('div');
  backdrop.id = 'screenlight';
  backdrop.setAttribute('aria-hidden', 'true');
  document.body.prepend(backdrop);
  return backdrop;
}

function warnReducedMotion() {
  if (warning || !window.matchMedia || !window.matchMedia('(prefers-reduced-motion: reduce)').matches) return;
  warning = document.createElement('p');
  warning.className = 'screenlight-warning';
  warning.setAttribute('role', 'alert');
  warning.textContent = 'Light check: your screen will slowly change colour for a few seconds. Look away if flashing colours bother you (the check will then fail; you can sign in with a password instead).';
  const stage = document.getElementById('stage');
  (stage && stage.parentNode ? stage.parentNode : document.body).insertBefore(warning, stage ? stage.nextSibling : null);
}

function paint(light) {
  const el = ensureBackdrop();
  el.style.transitionDuration = Math.max(MIN_FADE_MS, Number(light.transition_ms) || 0) + 'ms';
  el.style.backgroundColor = light.css;
  document.documentElement.classList.add('screenlight-on');
  current = light.css;
  lastChange = performance.now();
}

function clear() {
  if (pending) clearTimeout(pending);
  pending = null;
  current = null;
  document.documentElement.classList.remove('screenlight-on');
  if (backdrop) backdrop.style.backgroundColor = 'transparent';
  if (warning) warning.remove();
  warning = null;
}

// Called with each frame answer's `light` (null or absent: no backdrop).
function apply(light) {
  if (!light || typeof light.css !== 'string' || !/^#[0-9a-f]{6}$/i.test(light.css)) {
    clear();
    return;
  }
  warnReducedMotion();
  if (light.css === current) return;
  if (pending) clearTimeout(pending);
  const wait = MIN_GAP_MS - (performance.now() - lastChange);
  if (current !== null && wait > 0) {
    pending = setTimeout(() => { pending = null; paint(light); }, wait);
  } else {
    paint(light);
  }
}

export const ScreenLight = { apply, clear };
