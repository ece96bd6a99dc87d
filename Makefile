# The two commands of the README. Both create .venv on first use (scripts/setup_venv.sh).
PROFILE ?= quick
PY := .venv/bin/python
TEST_ENV := SRN_PROFILE=smoke TQDM_DISABLE=1 MPLBACKEND=Agg

.PHONY: setup reproduce test lab clean-outputs

setup:
	@bash scripts/setup_venv.sh

## Run every notebook headless at $(PROFILE) (default quick): figures/, results/, results/SUMMARY.$(PROFILE).md.
## Exits non-zero when a notebook fails; a paper's claim that does not hold is a ✗ in the summary (ARGS=--strict: an error)
ARGS ?=
reproduce: setup
	$(PY) -m srnlib.run --profile $(PROFILE) $(ARGS)

## The whole test suite: unit tests + nbval over every notebook at the smoke profile
test: setup
	$(TEST_ENV) $(PY) -m pytest --nbval-lax tests notebooks

## Open the notebooks in JupyterLab
lab: setup
	.venv/bin/jupyter lab notebooks

## Strip outputs from the notebooks before committing (keeps cell tags)
clean-outputs: setup
	$(PY) -m srnlib.notebook_hygiene notebooks
