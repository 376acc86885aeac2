"""`/portfolio`: the owner's seven control points of a client base (seed 002).

periods: which days a report covers; compute: the rules as pure functions; service: loading,
access and assembly; cache: reports of ended periods. (No re-exports: `context` imports the
cache, and the service imports `context`.)"""
