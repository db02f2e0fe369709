'use strict';
const root = document.getElementById('account');
document.getElementById('logout').addEventListener('click', async () => {
  await fetch(root.dataset.logoutUrl, { method: 'POST', credentials: 'same-origin' });
  window.location.assign(root.dataset.loginUrl);
});
