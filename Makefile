# The two entry points of the README, each doing its own set-up (idempotent).
#   make recipe   # install, then run the default recipe end to end
#   make test     # install, then run the test suite (what CI runs)
#   make test-full  # the same plus the exhaustive checks (tests marked full; not in CI)
RECIPE ?= egs2/offline_mini/xling1
RUN_ARGS ?=
PYTEST_ARGS ?=

.PHONY: install recipe test test-full fast

install:
	bash tools/install.sh

recipe: install
	cd $(RECIPE) && ./run.sh $(RUN_ARGS)

fast: install
	cd $(RECIPE) && ./run.sh --fast true $(RUN_ARGS)

test: install
	tools/venv/bin/python -m pytest tests $(PYTEST_ARGS)

test-full: install
	XLING_TEST_FULL=1 tools/venv/bin/python -m pytest tests $(PYTEST_ARGS)
