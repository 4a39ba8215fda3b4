'use strict';
// The HTTP handler: GET /health, GET /version, GET /greeting?name=…&lang=….

const http = require('node:http');
const { greeting } = require('./greetings');

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handle(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (req.method !== 'GET') {
    return send(res, 405, { error: 'method not allowed' });
  }
  if (url.pathname === '/health') {
    return send(res, 200, { status: 'ok' });
  }
  if (url.pathname === '/version') {
    return send(res, 200, { version: process.env.APP_VERSION || 'dev', commit: process.env.COMMIT_SHA || '' });
  }
  if (url.pathname === '/greeting') {
    try {
      const text = greeting(url.searchParams.get('name'), url.searchParams.get('lang') || 'en');
      return send(res, 200, { greeting: text });
    } catch (err) {
      return send(res, 400, { error: err.message });
    }
  }
  return send(res, 404, { error: 'not found' });
}

function createServer() {
  return http.createServer(handle);
}

module.exports = { createServer, handle };
