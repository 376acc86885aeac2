"""The Mini App: a web page opened from the bot's menu button, on the same services as the chat
(docs/miniapp.md)."""
