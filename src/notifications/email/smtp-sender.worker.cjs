// The SMTP sender's thread (smtp-thread.ts): nodemailer composes and sends here, off the event loop
// that answers requests. Composing one approver e-mail is ~0.65 ms of CPU; on the main thread it
// held up every request behind it, and it used only one of the machine's cores.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createTransport } = require('nodemailer');

const transport = createTransport(workerData.transport);

parentPort.on('message', ({ id, mail }) => {
  transport.sendMail(mail).then(
    () => parentPort.postMessage({ id }),
    // Only what the channel reads of a failure crosses back (an Error does not survive the copy whole).
    (e) => parentPort.postMessage({ id, error: { message: String(e?.message ?? e), code: e?.code, responseCode: e?.responseCode } }),
  );
});
