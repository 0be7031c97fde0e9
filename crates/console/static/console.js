// armsledger console: the one script of the console (no inline script; the
// pages work without it). It pins the log's verifier key at sign-in and, on
// a trace page, checks in this browser, with WebCrypto only:
//   1. the checkpoint's Ed25519 signature against the pinned log key;
//   2. each event's inclusion proof (RFC 9162, SHA-256) up to the
//      checkpoint's root.
// So what the page shows as logged need not be taken on the server's word.
'use strict';

(function () {
  const PIN = 'armsledger.pinnedLogKey';
  document.documentElement.classList.add('js');

  const signIn = document.getElementById('sign-in-form');
  if (signIn) {
    signIn.addEventListener('submit', function () {
      const given = (document.getElementById('log_key').value || '').trim();
      try {
        localStorage.setItem(PIN, given || signIn.dataset.serverLogKey || '');
      } catch (e) { /* storage refused: the session's pin is used */ }
    });
  }


  function hexToBytes(hex) {
    if (hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) throw new Error('not hex');
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }
  function b64ToBytes(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function concat() {
    let n = 0;
    for (const a of arguments) n += a.length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const a of arguments) { out.set(a, o); o += a.length; }
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  }
  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  }
  const utf8 = new TextEncoder();

  // A C2SP verifier key: <name>+<key id hex>+<base64(0x01 || public key)>.
  function parseVkey(vkey) {
    // The name has no '+'; the base64 key may.
    const a = vkey.indexOf('+'), b = vkey.indexOf('+', a + 1);
    if (a < 1 || b < 0) throw new Error('the pinned log key is not a verifier key');
    const parts = [vkey.slice(0, a), vkey.slice(a + 1, b), vkey.slice(b + 1)];
    const raw = b64ToBytes(parts[2]);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error('the pinned log key is not an Ed25519 key');
    return { name: parts[0], id: hexToBytes(parts[1]), pub: raw.slice(1) };
  }

  // Verifies the signed note with `key`; returns {size, root} of its body.
  async function openCheckpoint(note, key) {
    const cut = note.indexOf('\n\n');
    if (cut < 0) throw new Error('the checkpoint is not a signed note');
    const body = note.slice(0, cut + 1);
    // origin, size, root, then any extension lines (the verifiable index's
    // root), then the empty string after the body's last newline.
    const lines = body.split('\n');
    if (lines.length < 4 || lines[0] !== key.name) {
      throw new Error('the checkpoint is not of the pinned log (origin "' + lines[0] + '")');
    }
    const idCheck = (await sha256(concat(utf8.encode(key.name), new Uint8Array([0x0a, 0x01]), key.pub))).slice(0, 4);
    if (!equal(idCheck, key.id)) throw new Error('the pinned key\'s id does not match its key');
    const pub = await crypto.subtle.importKey('raw', key.pub, { name: 'Ed25519' }, false, ['verify']);
    let checked = false;
    for (const line of note.slice(cut + 2).split('\n')) {
      if (!line.startsWith('\u2014 ')) continue;
      const sp = line.lastIndexOf(' ');
      const name = line.slice(2, sp);
      if (name !== key.name) continue;
      const sig = b64ToBytes(line.slice(sp + 1));
      if (sig.length !== 68 || !equal(sig.slice(0, 4), key.id)) continue;
      if (!(await crypto.subtle.verify({ name: 'Ed25519' }, pub, sig.slice(4), utf8.encode(body)))) {
        throw new Error('the log key\'s signature on the checkpoint does not verify');
      }
      checked = true;
    }
    if (!checked) throw new Error('the checkpoint carries no signature by the pinned log key');
    return { size: Number(lines[1]), root: b64ToBytes(lines[2]) };
  }

  // RFC 9162 section 2.1.3.2: the root an inclusion proof leads to.
  async function rootFromProof(index, size, leafHash, proof) {
    if (index >= size) throw new Error('index beyond the tree');
    let fn = index, sn = size - 1, r = leafHash;
    const one = new Uint8Array([1]);
    for (const p of proof) {
      if (sn === 0) throw new Error('proof too long');
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(concat(one, p, r));
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await sha256(concat(one, r, p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error('proof too short');
    return r;
  }

  function report(box, ok, text, pending) {
    const li = document.createElement('li');
    li.className = pending ? 'pending' : (ok ? 'pass' : 'fail');
    li.textContent = (pending ? '… ' : (ok ? '✓ passed: ' : '✗ FAILED: ')) + text;
    document.getElementById('check-list').appendChild(li);
  }
  function summary(box, ok, passed, total) {
    const p = document.createElement('p');
    p.id = 'proof-summary';
    p.dataset.result = ok ? 'pass' : 'fail';
    p.className = ok ? 'pass' : 'fail';
    p.textContent = ok
      ? 'All ' + total + ' checks passed in this browser.'
      : (total - passed) + ' of ' + total + ' checks FAILED in this browser: do not rely on this page.';
    box.appendChild(p);
  }

  async function runChecks(box) {
    if (!window.crypto || !crypto.subtle) throw new Error('this browser has no WebCrypto');
    let pinned = null, source = 'pinned in this browser at sign-in';
    try { pinned = localStorage.getItem(PIN); } catch (e) { pinned = null; }
    if (!pinned) { pinned = box.dataset.pinnedKey; source = 'pinned by the session at sign-in (this browser kept none)'; }
    let total = 1, passed = 0, cp = null;
    try {
      cp = await openCheckpoint(box.dataset.checkpoint || '', parseVkey(pinned));
      report(box, true, 'checkpoint of size ' + cp.size + ' signed by the log key ' + source);
      passed++;
    } catch (e) {
      report(box, false, 'checkpoint signature: ' + e.message);
    }
    const events = document.querySelectorAll('li.event');
    for (const ev of events) {
      const status = ev.querySelector('.proof-status');
      const idx = ev.dataset.index;
      if (idx === '' || idx === undefined || (cp && Number(idx) >= cp.size)) {
        status.textContent = 'Not yet under the checkpoint: nothing to check.';
        status.className = 'proof-status pending';
        continue;
      }
      total++;
      const label = 'log entry #' + idx + ' is in the log under the checkpoint';
      try {
        if (!cp) throw new Error('no verified checkpoint to check against');
        const leafHash = await sha256(concat(new Uint8Array([0]), hexToBytes(ev.dataset.leaf)));
        const proof = (ev.dataset.proof || '').split(' ').filter(Boolean).map(hexToBytes);
        const root = await rootFromProof(Number(idx), cp.size, leafHash, proof);
        if (!equal(root, cp.root)) throw new Error('the proof leads to another root');
        report(box, true, label);
        status.textContent = '✓ inclusion proof checked in this browser';
        status.className = 'proof-status pass';
        passed++;
      } catch (e) {
        report(box, false, label + ': ' + e.message);
        status.textContent = '✗ inclusion proof FAILED: ' + e.message;
        status.className = 'proof-status fail';
      }
    }
    summary(box, passed === total, passed, total);
  }

  const box = document.getElementById('proof-checks');
  if (box) {
    runChecks(box).catch(function (e) {
      report(box, false, 'The checks could not run: ' + e.message);
      summary(box, false, 0, 1);
    });
  }
})();
