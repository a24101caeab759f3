// The SMTP sender's thread, except that a message with the subject "die" ends the thread at once
// (as a crash would), with whatever else it holds unsent. For smtp-thread.e2e-spec.ts.
'use strict';
const { parentPort } = require('node:worker_threads');
const { join } = require('node:path');

parentPort.on('message', ({ mail }) => {
  if (mail.subject === 'die') process.exit(3);
});
require(join(__dirname, '../../src/notifications/email/smtp-sender.worker.cjs'));
