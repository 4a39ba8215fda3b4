'use strict';

const { createServer } = require('../src/app');

let server;
let base;

beforeAll(async () => {
  server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function get(path, method = 'GET') {
  const res = await fetch(base + path, { method });
  return { status: res.status, body: await res.json() };
}

describe('HTTP API', () => {
  test('GET /health answers ok', async () => {
    expect(await get('/health')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  test('GET /greeting greets by name', async () => {
    expect(await get('/greeting?name=Linus&lang=es')).toEqual({ status: 200, body: { greeting: 'Hola, Linus!' } });
  });

  test('GET /greeting with an unknown language is a 400', async () => {
    const { status, body } = await get('/greeting?lang=tlh');
    expect(status).toBe(400);
    expect(body.error).toMatch(/unsupported language/);
  });

  test('an unknown path is a 404 and a POST a 405', async () => {
    expect((await get('/nope')).status).toBe(404);
    expect((await get('/health', 'POST')).status).toBe(405);
  });
});
