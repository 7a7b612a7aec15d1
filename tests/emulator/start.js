// The independent Bot API emulator (npm telegram-test-api 4.2.1, unmodified) on 127.0.0.1:<port>, for
// tests/channels/test_telegram_emulator.py. Prints "ready" once it listens.
//
// The emulator answers the methods it knows as it does; five gaps that stop python-telegram-bot itself are
// bridged here, in front of it, and nothing else (docs/telegram.md, "An independent Bot API emulator"):
//   1. getMe answers without `is_bot`, which the Bot API's User always has: PTB cannot decode it. Answered here
//      with the emulator's own bot (id 666, TestNameBot) and `is_bot: true`.
//   2. sendMessage returns `date` in milliseconds (the Bot API uses Unix seconds): PTB fails on year 58000.
//      The emulator still stores the message as sent; only the date of its answer is divided by 1000.
//   3. getUpdates answers at once even when empty (no long polling): an empty call waits here (up to its
//      `timeout`, at most 1 s) for a client message, so the bot's polling loop does not spin.
//   4. A callback_query update lacks `chat_instance`, which the Bot API's CallbackQuery always has: PTB cannot
//      decode it. The emulator's own update formatter is wrapped to add one (the chat's id, as a string).
//   5. editMessageText edits the stored message but answers `result: null`; the Bot API answers the edited
//      Message (or True for an inline message). The emulator edits as it does; the answer here is `true`.
'use strict';

const http = require('http');
const express = require('express');
const TelegramServer = require('telegram-test-api');

const port = Number(process.argv[2]);
if (!port) {
  console.error('usage: node start.js <port>');
  process.exit(2);
}
const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 600 });

const addBotMessage = server.addBotMessage.bind(server);
server.addBotMessage = (message, token) => {
  const sent = addBotMessage(message, token);
  return { ...sent, date: Math.floor(sent.date / 1000) };
};

const formatUpdate = TelegramServer.formatUpdate;
TelegramServer.formatUpdate = (update) => {
  const formatted = formatUpdate(update);
  const query = formatted.callback_query;
  if (query && query.chat_instance === undefined) {
    query.chat_instance = String((query.message && query.message.chat && query.message.chat.id) || 0);
  }
  return formatted;
};

const front = express();
front.use(express.json());
front.use(express.urlencoded({ extended: true }));
front.all('/bot:token/getMe', (_req, res) => {
  res.json({ ok: true, result: { id: 666, is_bot: true, first_name: 'Test First name', username: 'TestNameBot' } });
});
front.all('/bot:token/getUpdates', (req, res, next) => {
  const { token } = req.params;
  const waiting = () => server.storage.userMessages.some((u) => u.botToken === token && !u.isRead);
  const seconds = Math.min(Number((req.body && req.body.timeout) || req.query.timeout || 0), 1);
  if (waiting() || seconds <= 0) {
    next();
    return;
  }
  const done = () => {
    clearTimeout(timer);
    server.off('AddedUserMessage', done);
    next();
  };
  const timer = setTimeout(done, seconds * 1000);
  server.on('AddedUserMessage', done);
});
front.post('/bot:token/editMessageText', (req, res) => {
  server.editMessageText(req.body);
  res.json({ ok: true, result: true });
});
// Everything else, and the two calls above once they are let through, is the emulator's own Express app.
front.use(server.webServer);

http.createServer(front).listen(port, '127.0.0.1')
  .once('listening', () => console.log('ready'))
  .once('error', (error) => {
    console.error(String(error));
    process.exit(1);
  });
