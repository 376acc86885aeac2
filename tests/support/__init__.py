"""What tests, benchmarks (bench/) and the fault tests' bot processes share: the harness that
drives the real Dispatcher, builders of teams and rows, a Bot API over HTTP (`telegram_api`),
real bot processes, and PostgreSQL and Redis names of one's own (`services`).

Importing this package imports no fixture and no test module: the fixtures are registered in
tests/conftest.py, built from what is here. The in-memory Bot API the console plays on stays in
the product, `bot/telegram/local_session.py`, as the harness uses it too.
"""
