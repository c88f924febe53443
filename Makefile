# The two commands: `make run` (laptop, embedded defaults) and `make test` (real PostgreSQL and
# Redis, started and stopped by the test script). See README.md.
.PHONY: run test check lint format bench migrations schema

run:
	bash scripts/run.sh

# DB=sqlite for a quick local loop; extra pytest arguments with ARGS="-k something".
test:
	DB=$(DB) bash scripts/test.sh $(ARGS)

check:
	bash scripts/check.sh

# The benchmark (not part of make test): SMALL/LARGE=incidents,engineers,months; REPEAT=15.
bench:
	bash scripts/bench.sh

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

migrations:
	DEBUG=true .venv/bin/python manage.py makemigrations

# Regenerate the committed OpenAPI schema (tests/api/test_schema.py fails while it is stale).
schema:
	bash scripts/schema.sh
