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
    // metrics_listen: any free port, never the fixed default 9464 (the
    // tests run proxies side by side, and 9464 may be taken).
    host: '127.0.0.1', port: 0, metrics_listen: '127.0.0.1:0',
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

// A reasoning model's <think> block, every byte its own Dify event: the SDK
// passes delta.reasoning_content through; content is the answer alone.
test('reasoning: a think block as reasoning_content, streamed and not', async () => {
  const q = 'Reason mock:think mock:split=1';
  const stream = await client('app-chat').chat.completions.create({
    model: 'gpt-4o', messages: user(q), stream: true,
  });
  let reasoning = '', text = '', finish = null, both = 0;
  for await (const chunk of stream) {
    const d = chunk.choices[0]?.delta ?? {};
    if (d.reasoning_content && d.content) both++;
    reasoning += d.reasoning_content ?? '';
    text += d.content ?? '';
    if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
  }
  assert.equal(reasoning, '\nThe user wants a mock answer.\n');
  assert.equal(text, `Echo: ${q}`);
  assert.equal(finish, 'stop');
  assert.equal(both, 0);

  const r = await client('app-chat').chat.completions.create({
    model: 'gpt-4o', messages: user(q),
  });
  assert.equal(r.choices[0].message.content, `Echo: ${q}`);
  assert.equal(r.choices[0].message.reasoning_content,
    '\nThe user wants a mock answer.\n');

  // The SDK's stream helper still assembles the answer.
  const runner = client('app-agent').chat.completions.stream({
    model: 'gpt-4o', messages: user('Reason mock:think'),
  });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.content,
    '![image](https://files.example/mock/image-1.png)\n\nEcho: Reason mock:think');
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

// Function calling in prompt mode: a second proxy whose app "tooly" has
// "tools": true, in front of the same look-alike.  mock:tool_call=NAME
// makes the app answer <tool_call>{"name": NAME, "arguments":
// {"city": "Paris"}}</tool_call>; otherwise it echoes the query it got.
let toolProxy, toolLog = '', toolURL;

before(async () => {
  // The hooks may run side by side: wait for the first one's look-alike.
  await waitFor(() => baseURL, 20000, 'the first proxy');
  const mockPort = Number(readFileSync(join(dir, 'mock.port'), 'utf8'));
  const config = join(dir, 'proxy-tools.json');
  writeFileSync(config, JSON.stringify({
    host: '127.0.0.1', port: 0, workers: 1, metrics_listen: '127.0.0.1:0',
    dify_api_url: `http://127.0.0.1:${mockPort}/v1`,
    apps: [{ model: 'tooly', key: 'app-chat', tools: true }],
  }));
  toolProxy = spawn(`${build}/openai-dify-proxy`, ['-c', config],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  toolProxy.stderr.on('data', (d) => { toolLog += d; });
  const port = await waitFor(() => {
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(toolLog);
    return m ? Number(m[1]) : 0;
  }, 10000, 'the tools proxy');
  toolURL = `http://127.0.0.1:${port}/v1`;
});

after(async () => {
  if (!toolProxy) return;
  toolProxy.kill('SIGTERM');
  const code = await exited(toolProxy);
  assert.equal(code, 0, `tools proxy exit status; log:\n${toolLog}`);
  assert.doesNotMatch(toolLog, /AddressSanitizer|LeakSanitizer|runtime error:/);
});

function toolClient() {
  return new OpenAI({ apiKey: 'sk-anything', baseURL: toolURL, maxRetries: 0, timeout: 20000 });
}

const getWeather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
};
const callQ = 'weather in Paris? mock:tool_call=get_weather';

// One well-formed call: content null, its id, type, name and arguments.
function assertParisCall(message) {
  assert.equal(message.role, 'assistant');
  assert.equal(message.content, null);
  assert.equal(message.tool_calls.length, 1);
  const tc = message.tool_calls[0];
  assert.match(tc.id, /^call_[A-Za-z0-9]{24}$/);
  assert.equal(tc.type, 'function');
  assert.equal(tc.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'Paris' });
  return tc;
}

test('tools: the app calls a function: tool_calls, finish_reason tool_calls', async () => {
  const r = await toolClient().chat.completions.create({
    model: 'tooly', tools: [getWeather], messages: user(callQ),
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assertParisCall(r.choices[0].message);
});

test('tools: the same call streamed, through ChatCompletionStream', async () => {
  const runner = toolClient().chat.completions.stream({
    model: 'tooly', tools: [getWeather], messages: user(callQ),
  });
  let content = '';
  const done = [];
  runner.on('content', (d) => { content += d; });
  runner.on('tool_calls.function.arguments.done', (e) => done.push(e));
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  // content null, as OpenAI's stream of a call has it (no "" delta).
  const tc = assertParisCall(final.choices[0].message);
  assert.equal(content, '', 'no text of the call is content');
  assert.equal(done.length, 1);
  assert.equal(done[0].name, 'get_weather');
  assert.deepEqual(done[0].parsed_arguments ?? JSON.parse(done[0].arguments), { city: 'Paris' });

  // The raw chunks: one tool_calls delta with index 0, nothing else.
  const stream = await toolClient().chat.completions.create({
    model: 'tooly', tools: [getWeather], messages: user(callQ), stream: true,
    stream_options: { include_usage: true },
  });
  const deltas = [];
  let finish = null, usage = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (c?.delta?.tool_calls) deltas.push(...c.delta.tool_calls);
    if (c?.delta?.content) content += c.delta.content;
    if (c?.finish_reason) finish = c.finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(content, '');
  assert.equal(finish, 'tool_calls');
  assert.ok(usage && usage.total_tokens > 0, 'the usage chunk follows');
  assert.equal(deltas.length, 1);
  assert.equal(deltas[0].index, 0);
  assert.notEqual(deltas[0].id, tc.id, 'each answer has its own call id');
  assert.equal(deltas[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(deltas[0].function.arguments), { city: 'Paris' });
});

test('tools: a call\'s result goes back to the app in the transcript', async () => {
  const first = await toolClient().chat.completions.create({
    model: 'tooly', tools: [getWeather], messages: user(callQ),
  });
  const call = assertParisCall(first.choices[0].message);
  const messages = [
    { role: 'user', content: 'weather in Paris?' },
    first.choices[0].message,
    { role: 'tool', tool_call_id: call.id, content: '22C' },
  ];
  for (const stream of [false, true]) {
    let text, finish;
    if (stream) {
      const final = await toolClient().chat.completions.stream({
        model: 'tooly', tools: [getWeather], messages,
      }).finalChatCompletion();
      text = final.choices[0].message.content;
      finish = final.choices[0].finish_reason;
      assert.ok(!final.choices[0].message.tool_calls?.length);
    } else {
      const r = await toolClient().chat.completions.create({
        model: 'tooly', tools: [getWeather], messages,
      });
      text = r.choices[0].message.content;
      finish = r.choices[0].finish_reason;
      assert.equal(r.choices[0].message.tool_calls, undefined);
    }
    assert.equal(finish, 'stop');
    assert.ok(text.startsWith('Echo: System: You can call these functions'), text);
    assert.ok(text.includes('\n\nUser: weather in Paris?\n\n'), text);
    assert.ok(text.includes('Assistant: <tool_call>{"name":"get_weather",'
      + '"arguments":{"city":"Paris"}}</tool_call>'), text);
    assert.ok(text.endsWith(`\n\nTool (${call.id}): 22C`), text);
  }
});

test('tools: offered but not called: the answer is plain content', async () => {
  const q = 'Just say hello';
  const r = await toolClient().chat.completions.create({
    model: 'tooly', tools: [getWeather], messages: user(q),
  });
  const m = r.choices[0].message;
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(m.tool_calls, undefined);
  assert.ok(m.content.startsWith('Echo: System: You can call these functions, '
    + 'described as JSON:\n[{"name":"get_weather","description":"The weather in a city",'
    + '"parameters":{'), m.content);
  assert.ok(m.content.includes('\nIf no function is needed, answer normally.'), m.content);
  assert.ok(m.content.endsWith(`\n\nUser: ${q}`), m.content);

  // Streamed, it is the same text in content chunks, and no tool_calls.
  const stream = await toolClient().chat.completions.create({
    model: 'tooly', tools: [getWeather], messages: user(q), stream: true,
  });
  let text = '', finish = null, calls = 0, chunks = 0;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (c?.delta?.content) { text += c.delta.content; chunks++; }
    if (c?.delta?.tool_calls) calls++;
    if (c?.finish_reason) finish = c.finish_reason;
  }
  assert.equal(text, m.content);
  assert.equal(finish, 'stop');
  assert.equal(calls, 0);
  assert.ok(chunks > 1, 'the text streams in pieces, not held to the end');

  // A named function: only it is offered, and a call is asked for.
  const forced = await toolClient().chat.completions.create({
    model: 'tooly', messages: user(q),
    tools: [getWeather, { type: 'function', function: { name: 'get_time' } }],
    tool_choice: { type: 'function', function: { name: 'get_time' } },
  });
  const f = forced.choices[0].message.content;
  assert.ok(f.includes('[{"name":"get_time"}]'), f);
  assert.ok(!f.includes('get_weather'), f);
  assert.ok(f.includes('\nYou must call a function now.'), f);
});

test('tools: "tooly" without tools, or tool_choice none, is a plain chat', async () => {
  const r = await toolClient().chat.completions.create({
    model: 'tooly', messages: user('Hello tooly'),
  });
  assert.equal(r.model, 'tooly');
  assert.equal(r.choices[0].message.content, 'Echo: Hello tooly');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].message.tool_calls, undefined);

  const final = await toolClient().chat.completions.stream({
    model: 'tooly', messages: user('Stream tooly'),
  }).finalChatCompletion();
  assert.equal(final.choices[0].message.content, 'Echo: Stream tooly');
  assert.equal(final.choices[0].finish_reason, 'stop');

  // tools with tool_choice "none": not offered, so even a call's text is text.
  const none = await toolClient().chat.completions.create({
    model: 'tooly', tools: [getWeather], tool_choice: 'none', messages: user(callQ),
  });
  assert.equal(none.choices[0].finish_reason, 'stop');
  assert.equal(none.choices[0].message.tool_calls, undefined);
  assert.equal(none.choices[0].message.content,
    '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>');
});

// What the look-alike's chat-messages calls received: [query, conversation_id].
async function difyCalls() {
  const mockPort = Number(readFileSync(join(dir, 'mock.port'), 'utf8'));
  const r = await fetch(`http://127.0.0.1:${mockPort}/mock/requests`);
  return (await r.json()).filter((x) => x.path === '/v1/chat-messages')
    .map((x) => [x.query, x.conversation_id]);
}

test('continuity: a chat over turns, as SDK code writes it, stays one Dify conversation', async () => {
  const c = client();
  const messages = [{ role: 'system', content: 'You are terse.' }];
  let conversation;
  for (let turn = 0; turn < 4; turn++) {
    const ask = `Node turn ${turn} mock:recall`;
    messages.push({ role: 'user', content: ask });
    let text;
    if (turn % 2) {
      const stream = c.chat.completions.stream({ model: 'gpt-4o', messages });
      const done = await stream.finalChatCompletion();
      text = done.choices[0].message.content;
    } else {
      const { data, response } = await c.chat.completions
        .create({ model: 'gpt-4o', messages }).withResponse();
      text = data.choices[0].message.content;
      const id = response.headers.get('x-dify-conversation-id');
      assert.equal(data.conversation_id, id, 'body and header name one conversation');
      if (turn === 0) conversation = id;
      else assert.equal(id, conversation);
    }
    assert.equal(text, `turns=${turn}`, 'Dify held every earlier turn');
    const [query, cid] = (await difyCalls()).at(-1);
    if (turn === 0) {
      assert.equal(cid, null);
    } else {
      assert.equal(query, ask, 'only the new message went to Dify');
      assert.equal(cid, conversation);
    }
    messages.push({ role: 'assistant', content: text });
  }
});
