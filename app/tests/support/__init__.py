"""Helpers the service's tests share; fixtures stay in conftest.py, which no test imports.

postgres_server, service_process and alembic_runner sit one level up: the monitoring and control-plane
suites import them from there too.
"""
