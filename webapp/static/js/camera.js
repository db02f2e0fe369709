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
