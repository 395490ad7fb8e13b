// The official openai npm package over the proxy's TLS listener, with a
// self-signed certificate made here: the client trusts it through
// NODE_EXTRA_CA_CERTS (read at start, so the client runs as a child).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const build = process.env.ODP_BUILD || 'build';
const here = dirname(fileURLToPath(import.meta.url));
let dir, mock, proxy, proxyLog = '', baseURL;

// Poll fn until it returns a value, or fail after ms.
async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Wait for a child to exit; resolves with its exit code or signal.
function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve(child.exitCode ?? child.signalCode);
  return new Promise((r) => child.once('exit', (code, sig) => r(code ?? sig)));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'odp-node-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'),
    '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const portFile = join(dir, 'mock.port');
  mock = spawn(`${build}/mock-dify`, ['-p', '0', '--port-file', portFile, '-q'],
    { stdio: 'ignore' });
  const mockPort = await waitFor(() => {
    try { return Number(readFileSync(portFile, 'utf8')) || 0; } catch { return 0; }
  }, 10000, 'the Dify look-alike');
  const config = join(dir, 'proxy.json');
  writeFileSync(config, JSON.stringify({
    host: '127.0.0.1', port: 0, workers: 1, metrics_listen: 'off',
    dify_api_url: `http://127.0.0.1:${mockPort}/v1`,
    tls_cert_file: join(dir, 'cert.pem'), tls_key_file: join(dir, 'key.pem'),
  }));
  proxy = spawn(`${build}/openai-dify-proxy`, ['-c', config],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  proxy.stderr.on('data', (d) => { proxyLog += d; });
  const port = await waitFor(() => {
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(proxyLog);
    return m ? Number(m[1]) : 0;
  }, 10000, 'the proxy');
  baseURL = `https://127.0.0.1:${port}/v1`;
});

after(async () => {
  proxy.kill('SIGTERM');
  const code = await exited(proxy);
  mock.kill('SIGTERM');
  await exited(mock);
  rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, `proxy exit status; log:\n${proxyLog}`);
  assert.doesNotMatch(proxyLog, /AddressSanitizer|LeakSanitizer|runtime error:/);
});

// Run client code (an async function body using `client`) in a child
// node that trusts the test certificate; resolves with what it returns.
function runClient(body, trust = true) {
  const src = `import OpenAI from 'openai';
const client = new OpenAI({ apiKey: 'app-chat', baseURL: ${JSON.stringify(baseURL)},
  maxRetries: 0, timeout: 20000 });
try {
  const out = await (async () => { ${body} })();
  process.stdout.write(JSON.stringify({ ok: true, out }));
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e) }));
}`;
  const env = { ...process.env };
  if (trust) env.NODE_EXTRA_CA_CERTS = join(dir, 'cert.pem');
  else delete env.NODE_EXTRA_CA_CERTS;
  const child = spawn(process.execPath, ['--input-type=module', '-e', src],
    { cwd: here, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  return exited(child).then(() => JSON.parse(out));
}

test('create over TLS: the whole answer', async () => {
  const r = await runClient(`const r = await client.chat.completions.create({
    model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello over TLS' }] });
    return { object: r.object, content: r.choices[0].message.content };`);
  assert.equal(r.ok, true, r.error);
  assert.equal(r.out.object, 'chat.completion');
  assert.equal(r.out.content, 'Echo: Hello over TLS');
});

test('stream over TLS: every delta, then the end', async () => {
  const r = await runClient(`const s = await client.chat.completions.create({
    model: 'gpt-4o', stream: true,
    messages: [{ role: 'user', content: 'mock:events=6' }] });
    let text = '', finish = null, chunks = 0;
    for await (const c of s) {
      chunks++;
      text += c.choices[0]?.delta?.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    return { text, finish, chunks };`);
  assert.equal(r.ok, true, r.error);
  assert.equal(r.out.text, 'w0 w1 w2 w3 w4 w5 ');
  assert.equal(r.out.finish, 'stop');
});

test('a client that does not trust the certificate is refused', async () => {
  const r = await runClient(`await client.chat.completions.create({
    model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    return 'answered';`, false);
  assert.equal(r.ok, false);
  assert.match(r.error, /Connection error|certificate|self.signed/i);
});
