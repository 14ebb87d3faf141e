# Python 3.12 for the app (the Lambda runtime); 3.11 only for the one-off model build (PyTorch file).
find_python = $(firstword $(foreach p,$(1) $(wildcard $(HOME)/.pyenv/versions/$(2)*/bin/$(1)) $(wildcard /usr/bin/$(1)),$(shell $(p) -V >/dev/null 2>&1 && echo $(p))))
PYTHON ?= $(call find_python,python3.12,3.12)
BUILD_PYTHON ?= $(call find_python,python3.11,3.11)
VENV := .venv
BUILD_VENV := .venv-build

.PHONY: test run model bench-classify

$(VENV)/.installed: requirements.txt requirements-cli.txt requirements-test.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements-test.txt
	touch $@

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q

# The whole service on 127.0.0.1 with local stand-ins for Dropbox (./sandbox) and AWS.
run: $(VENV)/.installed
	$(VENV)/bin/python -m local.stack

$(BUILD_VENV)/.installed: model/requirements-build.txt
	test -x $(BUILD_VENV)/bin/python || $(BUILD_PYTHON) -m venv $(BUILD_VENV)
	$(BUILD_VENV)/bin/pip install --quiet torch==2.13.0
	$(BUILD_VENV)/bin/pip install --quiet -r model/requirements-build.txt
	# timm only for its ImageNet synset list; --no-deps keeps torchvision (and CUDA) out.
	$(BUILD_VENV)/bin/pip install --quiet --no-deps timm==1.0.31
	touch $@

model: $(BUILD_VENV)/.installed
	test -f /usr/share/wordnet/data.noun || apt-get install -y wordnet-base
	$(BUILD_VENV)/bin/python model/build.py

bench-classify: $(BUILD_VENV)/.installed
	$(BUILD_VENV)/bin/python bench/classify.py
