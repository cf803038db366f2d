// Vocalis playground: live transcription, file transcription, text to speech
// and server status, talking only to the server that served this page.
// The protocols are in docs/protocol.md.

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = 'vocalis.apiKey';
// Rates /ws/stt accepts for `linear` audio.
const STT_RATES = [8000, 16000, 22050, 24000, 44100, 48000];

const wsBase = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;

// ---------------------------------------------------------------- helpers

function setStatus(el, text, kind = '') {
  el.textContent = text;
  el.className = `status ${kind}`;
}

function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || '';
}

// WebSocket subprotocols that carry the key (browsers cannot set headers on
// a WebSocket): `bearer` is the one the server selects, `bearer.<key>` the key.
function keyProtocols(key) {
  return key ? ['bearer', `bearer.${key}`] : [];
}

// What an HTTP failure means for the person at the keyboard.
function describeFailure(status, body) {
  const detail = body && body.error && body.error.message ? ` (${body.error.message})` : '';
  switch (status) {
    case 401:
      return 'The server refused the API key (401): check the key above, or create one with `vocalis keys create --tenant <name>`.';
    case 402:
      return `This key's tenant has no credit left (402)${detail}.`;
    case 413:
      return `The file is larger than the server accepts (413)${detail}.`;
    case 415:
      return `The server cannot decode this kind of file (415)${detail}.`;
    case 429:
      return `Too many requests (429)${detail}; wait a moment.`;
    case 503:
      return `The server is busy (503): every worker is taken or the server is stopping; try again in a moment${detail}.`;
    default:
      return `The request failed with HTTP ${status}${detail}.`;
  }
}

class HttpError extends Error {
  constructor(status, body) {
    super(describeFailure(status, body));
    this.status = status;
  }
}

// fetch() against this server with the key; JSON errors become HttpError.
async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  const key = apiKey();
  if (key) headers.set('Authorization', `Bearer ${key}`);
  let response;
  try {
    response = await fetch(path, { ...options, headers, credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw new Error(`Cannot reach the server (${e.message}).`);
  }
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch { /* not JSON */ }
    throw new HttpError(response.status, body);
  }
  return response;
}

// Why a WebSocket failed before opening: the browser hides the HTTP status,
// so ask the server the same question over HTTP.
async function explainSocketFailure() {
  if (!apiKey()) return 'Enter an API key first.';
  try {
    await api('/v1/usage?limit=1');
    return 'The connection was refused; the server may be busy (too many sessions). Try again in a moment.';
  } catch (e) {
    return e.message;
  }
}

function closeMessage(event) {
  switch (event.code) {
    case 1000: case 1005: return '';
    case 1001: return 'The server is shutting down.';
    case 1008: return `The session was refused: ${event.reason || 'policy'}.`;
    case 1009: return 'A message was too big for the server.';
    case 1011: return event.reason === 'IDLE_TIMEOUT' ? 'The session timed out (no audio).' : 'The server failed (1011).';
    case 1013: return 'The server is busy (no worker free); try again in a moment.';
    default: return `The connection closed (${event.code}${event.reason ? ` ${event.reason}` : ''}).`;
  }
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const seconds = (s) => `${Number(s).toFixed(2)} s`;

// ---------------------------------------------------------------- API key

async function loadSetup() {
  try {
    const response = await fetch('/playground/setup.json', { cache: 'no-store', credentials: 'omit' });
    const setup = await response.json();
    $('version').textContent = setup.version || '';
    if (setup.dev_key_path) {
      const hint = $('dev-key-hint');
      hint.textContent = '';
      hint.append('This server made a developer key on its first start. It is in ');
      const code = document.createElement('code');
      code.textContent = setup.dev_key_path;
      hint.append(code, ' on the server\'s machine (e.g. ', Object.assign(document.createElement('code'), { textContent: `cat ${setup.dev_key_path}` }), ').');
      hint.hidden = false;
    }
  } catch { /* the hint is optional */ }
}

async function checkKey() {
  const status = $('key-status');
  if (!apiKey()) {
    setStatus(status, 'No API key yet: paste one above.', 'error');
    return false;
  }
  setStatus(status, 'Checking the key…');
  try {
    const usage = await (await api('/v1/usage?limit=1')).json();
    setStatus(status, `Key accepted: tenant “${usage.tenant}”.`, 'ok');
    showUsage(usage);
    loadVoices();
    connectHealth();
    return true;
  } catch (e) {
    setStatus(status, e.message, 'error');
    return false;
  }
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = $('api-key').value.trim();
  if (key) localStorage.setItem(KEY_STORAGE, key);
  checkKey();
});

$('key-forget').addEventListener('click', () => {
  localStorage.removeItem(KEY_STORAGE);
  $('api-key').value = '';
  setStatus($('key-status'), 'Key forgotten.');
});

// ---------------------------------------------------------------- live STT

const live = {
  ws: null,
  stream: null,
  ctx: null,
  node: null,
  rate: 0,
  sentSeconds: 0,
  // [audio seconds sent so far, performance.now() when sent]
  marks: [],
  transcript: [],
};

// When the audio at stream time `t` had been sent (wall clock, ms).
function sentAt(t) {
  for (const [s, when] of live.marks) if (s >= t) return when;
  return live.marks.length ? live.marks[live.marks.length - 1][1] : performance.now();
}

function renderFinal(message) {
  $('live-partial').textContent = '';
  const text = (message.text || '').trim();
  if (!text) return;
  const li = document.createElement('li');
  li.className = 'final';
  if (message.speaker !== undefined && message.speaker !== null) {
    const tag = document.createElement('span');
    tag.className = 'speaker';
    tag.textContent = typeof message.speaker === 'number' ? `Speaker ${message.speaker + 1}` : String(message.speaker);
    li.append(tag);
  }
  li.append(text);
  const latency = Math.max(0, Math.round(performance.now() - sentAt(message.end)));
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.dataset.latencyMs = String(latency);
  meta.textContent = `${seconds(message.start)}–${seconds(message.end)} · latency ${latency} ms (speech end → final)`;
  li.append(meta);
  const finals = $('live-finals');
  finals.append(li);
  finals.scrollTop = finals.scrollHeight;
  live.transcript.push(text);
  $('live-transcript').textContent = live.transcript.join(' ');
}

function liveMessage(event) {
  if (typeof event.data !== 'string') return;
  let message;
  try { message = JSON.parse(event.data); } catch { return; }
  const status = $('mic-status');
  switch (message.type) {
    case 'session_started':
      setStatus(status, `Listening (${live.rate} Hz, 16-bit PCM). Speak; finals appear after a pause.`, 'ok');
      break;
    case 'transcription':
      if (message.is_final) renderFinal(message);
      else $('live-partial').textContent = message.text || '';
      break;
    case 'error':
      setStatus(status, `Server: ${message.error || message.code}`, 'error');
      break;
    case 'session_stopped': {
      const bill = message.billing_summary || {};
      setStatus(status, `Stopped: ${seconds(bill.total_duration_seconds || 0)} of audio, cost $${(bill.total_cost || 0).toFixed(6)}.`, 'ok');
      refreshUsage();
      break;
    }
    default:
      break;
  }
}

const MIC_UNAVAILABLE = 'This page cannot use the microphone here: browsers allow it only on https or on localhost / 127.0.0.1.';

function micError(e) {
  if (e.name === 'NotAllowedError' || e.name === 'SecurityError') {
    return 'Microphone access was refused. Allow the microphone for this site (the icon in the address bar), then try again.';
  }
  return e.name === 'NotFoundError' ? 'No microphone was found.' : `The microphone could not be opened (${e.name}).`;
}

function releaseMic() {
  if (live.node) live.node.port.onmessage = null;
  if (live.stream) live.stream.getTracks().forEach((t) => t.stop());
  if (live.ctx) live.ctx.close().catch(() => {});
  live.stream = null;
  live.ctx = null;
  live.node = null;
  $('mic-start').disabled = false;
  $('mic-stop').disabled = true;
}

async function startMic() {
  const status = $('mic-status');
  if (!apiKey()) { setStatus(status, 'Enter an API key first.', 'error'); return; }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.AudioWorkletNode) {
    setStatus(status, MIC_UNAVAILABLE, 'error');
    return;
  }
  $('mic-start').disabled = true;
  setStatus(status, 'Asking for the microphone…');
  try {
    live.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (e) {
    releaseMic();
    setStatus(status, micError(e), 'error');
    return;
  }
  try {
    live.ctx = new AudioContext();
    if (!STT_RATES.includes(live.ctx.sampleRate)) {
      live.ctx.close();
      live.ctx = new AudioContext({ sampleRate: 48000 });
    }
    live.rate = live.ctx.sampleRate;
    await live.ctx.audioWorklet.addModule('/playground/pcm-worklet.js');
  } catch (e) {
    releaseMic();
    setStatus(status, `Audio capture could not start (${e.message}).`, 'error');
    return;
  }
  let ws;
  try {
    ws = new WebSocket(`${wsBase}/ws/stt`, keyProtocols(apiKey()));
  } catch (e) {
    releaseMic();
    setStatus(status, `The key cannot be sent to the server (${e.message}).`, 'error');
    return;
  }
  ws.binaryType = 'arraybuffer';
  live.ws = ws;
  live.sentSeconds = 0;
  live.marks = [];
  let opened = false;
  ws.onopen = () => {
    opened = true;
    ws.send(JSON.stringify({
      type: 'start',
      config: {
        encoding: 'linear', sample_rate: live.rate, interim_results: true, continuous_mode: true,
        // Speaker labels (diarization) only when asked: it costs an embedding per final.
        diarize: $('live-diarize').checked,
      },
    }));
    const source = live.ctx.createMediaStreamSource(live.stream);
    live.node = new AudioWorkletNode(live.ctx, 'pcm-capture', { processorOptions: { chunkMs: 40 } });
    const mute = live.ctx.createGain();
    mute.gain.value = 0;
    source.connect(live.node).connect(mute).connect(live.ctx.destination);
    live.node.port.onmessage = (m) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(m.data);
      live.sentSeconds += m.data.byteLength / 2 / live.rate;
      live.marks.push([live.sentSeconds, performance.now()]);
      if (live.marks.length > 3000) live.marks.splice(0, 1000);
    };
    $('mic-stop').disabled = false;
    setStatus(status, 'Connected; starting…');
  };
  ws.onmessage = liveMessage;
  ws.onclose = async (event) => {
    releaseMic();
    live.ws = null;
    if (!opened) setStatus(status, await explainSocketFailure(), 'error');
    else {
      const why = closeMessage(event);
      if (why) setStatus(status, why, 'error');
    }
  };
}

function stopMic() {
  if (live.node) live.node.port.onmessage = null;
  if (live.stream) live.stream.getTracks().forEach((t) => t.stop());
  if (live.ws && live.ws.readyState === WebSocket.OPEN) {
    live.ws.send(JSON.stringify({ type: 'stop' }));
    setStatus($('mic-status'), 'Finishing…');
  }
  $('mic-stop').disabled = true;
}

$('mic-start').addEventListener('click', startMic);
$('mic-stop').addEventListener('click', stopMic);
$('live-clear').addEventListener('click', () => {
  live.transcript = [];
  $('live-finals').textContent = '';
  $('live-transcript').textContent = '';
  $('live-partial').textContent = '';
});

// ---------------------------------------------------------------- files

let chosenFile = null;

function chooseFile(file) {
  chosenFile = file || null;
  $('file-go').disabled = !chosenFile;
  $('file-srt').disabled = !chosenFile;
  $('file-vtt').disabled = !chosenFile;
  if (chosenFile) setStatus($('file-status'), `${chosenFile.name} (${Math.round(chosenFile.size / 1024)} KiB) ready.`);
}

function transcriptionForm(format) {
  const form = new FormData();
  form.append('file', chosenFile, chosenFile.name || 'audio');
  form.append('model', 'whisper-1');
  form.append('response_format', format);
  if (format === 'verbose_json') {
    form.append('timestamp_granularities[]', 'segment');
    form.append('timestamp_granularities[]', 'word');
  }
  return form;
}

async function transcribeFile() {
  const status = $('file-status');
  if (!chosenFile) return;
  if (!apiKey()) { setStatus(status, 'Enter an API key first.', 'error'); return; }
  $('file-go').disabled = true;
  setStatus(status, `Transcribing ${chosenFile.name}…`);
  const started = performance.now();
  try {
    const result = await (await api('/v1/audio/transcriptions', { method: 'POST', body: transcriptionForm('verbose_json') })).json();
    const took = Math.round(performance.now() - started);
    $('file-text').textContent = result.text || '';
    const body = $('file-segments').tBodies[0];
    body.textContent = '';
    for (const segment of result.segments || []) {
      const row = body.insertRow();
      row.insertCell().textContent = seconds(segment.start);
      row.insertCell().textContent = seconds(segment.end);
      row.insertCell().textContent = (segment.text || '').trim();
    }
    const words = $('file-words');
    words.textContent = '';
    for (const w of result.words || []) {
      const span = document.createElement('span');
      span.append(w.word);
      const small = document.createElement('small');
      small.textContent = `${Number(w.start).toFixed(2)}–${Number(w.end).toFixed(2)}`;
      span.append(small);
      words.append(span);
    }
    $('file-result').hidden = false;
    setStatus(status, `Done: ${seconds(result.duration || 0)} of audio (${result.language || '?'}) in ${took} ms.`, 'ok');
    refreshUsage();
  } catch (e) {
    setStatus(status, e.message, 'error');
  } finally {
    $('file-go').disabled = !chosenFile;
  }
}

async function downloadSubtitles(format) {
  const status = $('file-status');
  if (!chosenFile) return;
  setStatus(status, `Making ${format.toUpperCase()}…`);
  try {
    const text = await (await api('/v1/audio/transcriptions', { method: 'POST', body: transcriptionForm(format) })).text();
    const base = (chosenFile.name || 'audio').replace(/\.[^.]*$/, '');
    download(new Blob([text], { type: format === 'vtt' ? 'text/vtt' : 'application/x-subrip' }), `${base}.${format}`);
    setStatus(status, `${format.toUpperCase()} downloaded.`, 'ok');
    refreshUsage();
  } catch (e) {
    setStatus(status, e.message, 'error');
  }
}

// The browser's own recorder (WebM or Ogg Opus), uploaded like any file.
const recorder = { media: null, stream: null, timer: null, started: 0 };

async function startRecording() {
  const status = $('file-status');
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.MediaRecorder) {
    setStatus(status, MIC_UNAVAILABLE, 'error');
    return;
  }
  $('rec-start').disabled = true;
  try {
    recorder.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    $('rec-start').disabled = false;
    setStatus(status, micError(e), 'error');
    return;
  }
  const type = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm']
    .find((t) => MediaRecorder.isTypeSupported(t));
  const media = new MediaRecorder(recorder.stream, type ? { mimeType: type } : {});
  const chunks = [];
  media.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
  media.onstop = () => {
    clearInterval(recorder.timer);
    recorder.stream.getTracks().forEach((t) => t.stop());
    const mime = media.mimeType || type || 'audio/webm';
    const ext = mime.includes('ogg') ? 'ogg' : 'webm';
    const file = new File(chunks, `recording.${ext}`, { type: mime });
    const preview = $('rec-preview');
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    $('file-input').value = '';
    chooseFile(file);
    $('rec-start').disabled = false;
    $('rec-stop').disabled = true;
  };
  recorder.media = media;
  recorder.started = performance.now();
  media.start(250);
  $('rec-stop').disabled = false;
  setStatus(status, 'Recording…');
  const tick = () => {
    const s = (performance.now() - recorder.started) / 1000;
    $('rec-time').textContent = `${s.toFixed(0)} s recorded`;
    $('rec-time').dataset.seconds = s.toFixed(1);
  };
  tick();
  recorder.timer = setInterval(tick, 250);
}

$('rec-start').addEventListener('click', startRecording);
$('rec-stop').addEventListener('click', () => {
  if (recorder.media && recorder.media.state !== 'inactive') recorder.media.stop();
});

$('file-input').addEventListener('change', (e) => chooseFile(e.target.files[0]));
$('file-go').addEventListener('click', transcribeFile);
$('file-srt').addEventListener('click', () => downloadSubtitles('srt'));
$('file-vtt').addEventListener('click', () => downloadSubtitles('vtt'));
const drop = $('drop-zone');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files.length) chooseFile(e.dataTransfer.files[0]);
});

// ---------------------------------------------------------------- TTS

const tts = { ws: null, ctx: null, sources: [] };

async function loadVoices() {
  try {
    const list = await (await api('/v1/voices')).json();
    const select = $('tts-voice');
    select.textContent = '';
    for (const voice of list.voices) {
      const option = document.createElement('option');
      option.value = voice.id;
      option.textContent = `${voice.id}${voice.language ? ` (${voice.language})` : ''}`;
      option.selected = voice.id === list.default;
      select.append(option);
    }
  } catch { /* keep "(server default)" */ }
}

function stopSpeech() {
  if (tts.ws && tts.ws.readyState === WebSocket.OPEN) tts.ws.send(JSON.stringify({ type: 'stop' }));
  for (const s of tts.sources) { try { s.stop(); } catch { /* not started */ } }
  tts.sources = [];
  $('tts-stop').disabled = true;
  $('tts-play').disabled = false;
}

async function speak() {
  const status = $('tts-status');
  const text = $('tts-text').value.trim();
  if (!text) { setStatus(status, 'Type some text first.', 'error'); return; }
  if (!apiKey()) { setStatus(status, 'Enter an API key first.', 'error'); return; }
  stopSpeech();
  if (!tts.ctx || tts.ctx.state === 'closed') tts.ctx = new AudioContext();
  await tts.ctx.resume();
  const ctx = tts.ctx;
  let ws;
  try {
    ws = new WebSocket(`${wsBase}/ws/tts`, keyProtocols(apiKey()));
  } catch (e) {
    setStatus(status, `The key cannot be sent to the server (${e.message}).`, 'error');
    return;
  }
  ws.binaryType = 'arraybuffer';
  tts.ws = ws;
  $('tts-play').disabled = true;
  $('tts-stop').disabled = false;
  $('tts-first').textContent = '…';
  $('tts-received').textContent = '–';
  $('tts-played').textContent = '–';
  $('tts-played').dataset.seconds = '0';
  setStatus(status, 'Connecting…');
  let opened = false;
  let sentAtMs = 0;
  let rate = 22050;
  let next = 0;
  let received = 0;
  let played = 0;
  let pending = 0;
  let flushed = false;
  const finishIfDone = () => {
    if (flushed && pending === 0) {
      setStatus(status, `Played ${seconds(played)} of audio.`, 'ok');
      $('tts-play').disabled = false;
      $('tts-stop').disabled = true;
    }
  };
  ws.onopen = () => {
    opened = true;
    const voice = $('tts-voice').value;
    ws.send(JSON.stringify({
      type: 'start',
      ...(voice ? { voice } : {}),
      config: { encoding: 'linear16', speed: Number($('tts-speed').value) },
    }));
    sentAtMs = performance.now();
    ws.send(JSON.stringify({ type: 'text', text: `${text} ` }));
    ws.send(JSON.stringify({ type: 'flush' }));
    setStatus(status, 'Synthesizing…');
  };
  ws.onmessage = (event) => {
    if (typeof event.data !== 'string') {
      const pcm = new Int16Array(event.data);
      if (!pcm.length) return;
      if (received === 0) {
        const first = Math.round(performance.now() - sentAtMs);
        $('tts-first').textContent = `${first} ms`;
        $('tts-first').dataset.ms = String(first);
        setStatus(status, 'Playing as it arrives…');
      }
      const buffer = ctx.createBuffer(1, pcm.length, rate);
      const channel = buffer.getChannelData(0);
      for (let i = 0; i < pcm.length; i++) channel[i] = pcm[i] / 32768;
      const source = ctx.createBufferSource();
      source.buffer = buffer;
      source.connect(ctx.destination);
      next = Math.max(next, ctx.currentTime + 0.05);
      source.start(next);
      next += buffer.duration;
      received += buffer.duration;
      pending += 1;
      $('tts-received').textContent = seconds(received);
      tts.sources.push(source);
      source.onended = () => {
        pending -= 1;
        played += buffer.duration;
        $('tts-played').textContent = seconds(played);
        $('tts-played').dataset.seconds = played.toFixed(3);
        tts.sources = tts.sources.filter((s) => s !== source);
        finishIfDone();
      };
      return;
    }
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    if (message.type === 'session_started') {
      rate = message.config.sample_rate;
      if (message.config.voice_fallback) {
        setStatus(status, `Voice “${message.config.requested_voice}” is not loaded; speaking with ${message.config.voice}.`);
      }
    } else if (message.type === 'flushed') {
      flushed = true;
      ws.send(JSON.stringify({ type: 'stop' }));
      finishIfDone();
    } else if (message.type === 'error') {
      setStatus(status, `Server: ${message.error || message.code}`, 'error');
    } else if (message.type === 'session_stopped') {
      refreshUsage();
    }
  };
  ws.onclose = async (event) => {
    if (tts.ws === ws) tts.ws = null;
    if (!opened) {
      setStatus(status, await explainSocketFailure(), 'error');
      $('tts-first').textContent = '–';
    } else {
      const why = closeMessage(event);
      if (why) setStatus(status, why, 'error');
    }
    if (!flushed || pending === 0) {
      $('tts-play').disabled = false;
      $('tts-stop').disabled = true;
    }
  };
}

async function downloadSpeech() {
  const status = $('tts-status');
  const text = $('tts-text').value.trim();
  if (!text) { setStatus(status, 'Type some text first.', 'error'); return; }
  setStatus(status, 'Making a WAV file…');
  try {
    const voice = $('tts-voice').value;
    const response = await api('/v1/audio/speech', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        model: 'tts-1', input: text, response_format: 'wav', speed: Number($('tts-speed').value),
        ...(voice ? { voice } : {}),
      }),
    });
    download(await response.blob(), 'speech.wav');
    setStatus(status, 'WAV downloaded.', 'ok');
    refreshUsage();
  } catch (e) {
    setStatus(status, e.message, 'error');
  }
}

$('tts-play').addEventListener('click', speak);
$('tts-stop').addEventListener('click', stopSpeech);
$('tts-download').addEventListener('click', downloadSpeech);
$('tts-speed').addEventListener('input', (e) => {
  $('tts-speed-out').textContent = `${Number(e.target.value).toFixed(1)}×`;
});

// ---------------------------------------------------------------- status

let health = null;
let healthRetry = null;

function showHealth(report) {
  $('h-status').textContent = report.status;
  $('h-version').textContent = report.version;
  $('h-uptime').textContent = `${Math.round(report.uptime_s)} s`;
  $('h-models').textContent = `STT ${report.models.stt.join(', ')} · TTS ${report.models.tts.join(', ')}${report.models.vad ? ' · VAD' : ''}`;
  $('h-sessions').textContent = `${report.sessions.stt} STT, ${report.sessions.tts} TTS`;
  $('h-workers').textContent = `${report.workers.busy} of ${report.workers.total} busy, ${report.workers.queued} queued`;
}

// /ws/health needs no key unless the server sets `metrics_auth`; a browser
// fails a handshake that offered subprotocols the server did not select, so
// connect without the key first and offer it only if that is refused.
let healthWithKey = false;

function connectHealth() {
  if (health && health.readyState <= WebSocket.OPEN) return;
  clearTimeout(healthRetry);
  let ws;
  try {
    ws = new WebSocket(`${wsBase}/ws/health`, healthWithKey ? keyProtocols(apiKey()) : []);
  } catch {
    healthWithKey = false;
    ws = new WebSocket(`${wsBase}/ws/health`);
  }
  health = ws;
  let opened = false;
  ws.onopen = () => { opened = true; };
  ws.onmessage = (event) => {
    try {
      const report = JSON.parse(event.data);
      if (report.type === 'health') showHealth(report);
    } catch { /* ignore */ }
  };
  ws.onclose = () => {
    if (!opened && apiKey()) healthWithKey = !healthWithKey;
    $('h-status').textContent = opened ? 'disconnected; reconnecting…' : 'unavailable; retrying…';
    // A refusal without the key is retried at once with it.
    healthRetry = setTimeout(connectHealth, !opened && healthWithKey ? 200 : 5000);
  };
}

function showUsage(usage) {
  const t = usage.totals || {};
  $('u-tenant').textContent = usage.tenant;
  $('u-sessions').textContent = String(t.sessions ?? 0);
  $('u-audio').textContent = seconds(t.audio_seconds || 0);
  $('u-chars').textContent = String(t.characters ?? 0);
  $('u-cost').textContent = `${(t.cost || 0).toFixed(6)} ${t.currency || 'USD'}`;
}

async function refreshUsage() {
  if (!apiKey()) return;
  try {
    showUsage(await (await api('/v1/usage?limit=1')).json());
    setStatus($('usage-status'), '');
  } catch (e) {
    setStatus($('usage-status'), e.message, 'error');
  }
}

$('usage-refresh').addEventListener('click', refreshUsage);

// ---------------------------------------------------------------- start

$('api-key').value = apiKey();
loadSetup();
connectHealth();
if (apiKey()) checkKey();
else setStatus($('key-status'), 'Paste an API key to start.');
