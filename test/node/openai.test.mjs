// The official openai npm package against the proxy and the Dify
// look-alike: what real client code sees.  ODP_BUILD names the build
// directory holding openai-dify-proxy and mock-dify.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';

const build = process.env.ODP_BUILD || 'build';
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
  dir = mkdtempSync(join(tmpdir(), 'odp-node-'));
  const portFile = join(dir, 'mock.port');
  mock = spawn(`${build}/mock-dify`, ['-p', '0', '--port-file', portFile, '-q'],
    { stdio: 'ignore' });
  const mockPort = await waitFor(() => {
    try { return Number(readFileSync(portFile, 'utf8')) || 0; } catch { return 0; }
  }, 10000, 'the Dify look-alike');

  const config = join(dir, 'proxy.json');
  writeFileSync(config, JSON.stringify({
    host: '127.0.0.1', port: 0,
    dify_api_url: `http://127.0.0.1:${mockPort}/v1`,
  }));
  proxy = spawn(`${build}/openai-dify-proxy`, ['-c', config],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  proxy.stderr.on('data', (d) => { proxyLog += d; });
  const port = await waitFor(() => {
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(proxyLog);
    return m ? Number(m[1]) : 0;
  }, 10000, 'the proxy');
  baseURL = `http://127.0.0.1:${port}/v1`;
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

// A client for an app key, without retries (errors must surface once).
function client(apiKey = 'app-chat') {
  return new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 20000 });
}

const user = (content) => [{ role: 'user', content }];

test('create: one chat.completion with the whole answer and usage', async () => {
  const r = await client().chat.completions.create({
    model: 'gpt-4o', messages: user('Hello from node'),
  });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.model, 'gpt-4o');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, 'Echo: Hello from node');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage.prompt_tokens, 17);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  assert.ok(r._request_id, 'x-request-id reaches the SDK');
});

test('create stream: chunks add up to the answer', async () => {
  const stream = await client('app-agent').chat.completions.create({
    model: 'gpt-4o', messages: user('Stream to node 你好'), stream: true,
  });
  let text = '', finish = null, first = null, ids = new Set();
  for await (const chunk of stream) {
    first ??= chunk;
    ids.add(chunk.id);
    const c = chunk.choices[0];
    if (c?.delta?.content) text += c.delta.content;
    if (c?.finish_reason) finish = c.finish_reason;
  }
  assert.equal(first.choices[0].delta.role, 'assistant');
  // The image the agent's tool made comes first, as a Markdown link.
  assert.equal(text,
    '![image](https://files.example/mock/image-1.png)\n\nEcho: Stream to node 你好');
  assert.equal(finish, 'stop');
  assert.equal(ids.size, 1);
});

test('create stream with include_usage: a last chunk with usage', async () => {
  const stream = await client('app-chatflow').chat.completions.create({
    model: 'gpt-4o', messages: user('usage please mock:usage=40,2'),
    stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, { prompt_tokens: 40, completion_tokens: 2, total_tokens: 42 });
  for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
});

test('ChatCompletionStream: finalChatCompletion passes the SDK checks', async () => {
  const runner = client('app-chatflow-1130').chat.completions.stream({
    model: 'gpt-4o', messages: user('helper'),
  });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.content, 'Echo: helper');
  assert.equal(final.choices[0].finish_reason, 'stop');
});

test('a wrong key raises AuthenticationError, streaming or not', async () => {
  for (const stream of [false, true]) {
    await assert.rejects(
      client('app-wrong').chat.completions.create({
        model: 'gpt-4o', messages: user('hi'), stream,
      }),
      (e) => e instanceof OpenAI.AuthenticationError && e.status === 401
        && e.type === 'authentication_error',
    );
  }
});

test('a Dify rate limit raises RateLimitError with retry-after', async () => {
  await assert.rejects(
    client().chat.completions.create({
      model: 'gpt-4o', messages: user('x mock:http=429,too_many_requests'), stream: true,
    }),
    (e) => e instanceof OpenAI.RateLimitError && e.headers.get('retry-after') === '7',
  );
});

test('a Dify error mid-stream raises APIError from the iterator', async () => {
  const stream = await client().chat.completions.create({
    model: 'gpt-4o', messages: user('boom mock:error'), stream: true,
  });
  let text = '';
  await assert.rejects(async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  }, (e) => e instanceof OpenAI.APIError && /quota exceeded/.test(e.message));
  assert.equal(text, 'Echo: boom mock:', 'the two pieces before the error arrive');
});

test('models.list names the Dify app', async () => {
  const page = await client().models.list();
  assert.deepEqual(page.data.map((m) => m.id), ['Mock Chat']);
  const m = await client().models.retrieve('anything');
  assert.equal(m.id, 'anything');
});
