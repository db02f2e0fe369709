'use strict';
// Camera capture shared by the login page and admin webcam enrollment: open the user-facing
// camera, and grab the current frame as a JPEG Blob scaled to a fixed width (the server's
// detector and the liveness models are tuned for ~480 px frames; smaller uploads are faster).

export async function openCamera(video) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error('This browser cannot use a camera here (a secure context — https or localhost — is required).');
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } },
  });
  video.srcObject = stream;
  // The video has no size until its metadata arrives; sizing the canvas earlier gives 0x0 frames.
  if (video.readyState < 1) {
    await new Promise((resolve) => video.addEventListener('loadedmetadata', resolve, { once: true }));
  }
  await video.play().catch(() => {});
  return stream;
}

export function stopCamera(stream) {
  if (stream) stream.getTracks().forEach((t) => t.stop());
}

export function grabFrame(video, canvas, width, quality) {
  const vw = video.videoWidth;
  const vh = video.videoHeight;
  if (!vw || !vh) return Promise.resolve(null);
  const w = Math.min(width, vw);
  const h = Math.round((vh * w) / vw);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  // Drawn unmirrored: the preview is mirrored for the user (CSS), the server gets the camera's view.
  canvas.getContext('2d').drawImage(video, 0, 0, w, h);
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Wait until the camera has presented a frame newer than `lastTime` (its media time), so the
// page never sends the same camera frame twice: a slow or busy camera would otherwise produce
// byte-identical frames, which the server rightly counts as a replay. Gives up after `maxWait`
// ms (a frozen camera is the server's to judge) and where requestVideoFrameCallback is missing.
export function freshFrame(video, lastTime, maxWait = 1000) {
  if (typeof video.requestVideoFrameCallback !== 'function') return Promise.resolve(null);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), maxWait);
    const check = (_now, meta) => {
      if (lastTime === null || meta.mediaTime !== lastTime) {
        clearTimeout(timer);
        resolve(meta.mediaTime);
      } else {
        video.requestVideoFrameCallback(check);
      }
    };
    video.requestVideoFrameCallback(check);
  });
}
