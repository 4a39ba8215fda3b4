'use strict';
// Listens on $PORT (default 8080); on SIGTERM stops accepting connections and exits when the
// requests in flight are done, as an ECS task is stopped.

const { createServer } = require('./app');

const port = Number(process.env.PORT || 8080);
const server = createServer();
server.listen(port, () => console.log(`node-service listening on :${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
