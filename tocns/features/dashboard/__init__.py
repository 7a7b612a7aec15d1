"""The department's dashboard: server-rendered pages under /dashboard/, signed in from the bot."""
