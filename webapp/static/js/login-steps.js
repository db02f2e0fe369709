'use strict';
// Extension points of the sign-in page (login.js), so another module can add a step without
// editing the frame loop. A module imports `addLoginStep` and registers an object with any of:
//   started(ctx)           after the attempt started and the camera runs (may be async)
//   beforeFrame(ctx)       before each frame is grabbed (may be async: e.g. change the screen)
//   afterFrame(ctx, result) with each 200 answer of the frames endpoint
//   finished(ctx, outcome) once, with 'granted' | 'denied' | 'cancelled' | 'error'
// ctx = { attemptId, start (the login/start answer), video, root }.
const registered = [];

export function addLoginStep(step) {
  registered.push(step);
}

export async function runHook(name, ...args) {
  for (const step of registered) {
    if (typeof step[name] === 'function') await step[name](...args);
  }
}
