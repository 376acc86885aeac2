"""The production runtime: webhook or polling, probes and metrics, graceful shutdown.

`Runtime(build(settings))` (or `Runtime.create(settings, ...)`) wraps the application that the
composition root (bot/app.py) wired; `runtime.web_app()` is the aiohttp application (webhook
route, /health, /ready, /metrics); `serve(settings)` runs it all until SIGTERM/SIGINT. Tests
drive `web_app(lifecycle=True)` with aiohttp's TestServer, which calls `start()` and `stop()`.

The parts, one screen each:
  lifecycle.py  Runtime: start, the sweep tick, the shutdown order, close
  inflight.py   updates being handled: webhook slots, their tasks and aiogram's polling ones
  webhook.py    POST WEBHOOK_PATH: secret, body, slot, answered before handling
  polling.py    long polling as a task of ours
  bot_api.py    setWebhook, the command menu and deleteWebhook, each bounded in time
  probes.py     /health, /ready, /metrics
  http.py       the aiohttp application that routes to them
  instances.py  the instance registry (the last one to stop deletes the webhook) and pruning
  serve.py      the process: signals, the HTTP listener, start and stop
"""

from bot.runtime.lifecycle import Runtime
from bot.runtime.serve import serve
from bot.runtime.webhook import SECRET_HEADER

__all__ = ["SECRET_HEADER", "Runtime", "serve"]
