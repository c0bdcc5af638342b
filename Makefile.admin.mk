# Make targets of the admin page (/admin), included from the Makefile.
#
#   make vendor         reinstall the front-end packages pinned in package-lock.json (npm ci) and copy
#                       their dist files into callflow/static/vendor/. The copies are committed, so the
#                       app needs neither npm nor the internet to run; run this only to upgrade them
#                       (edit the versions in package.json, `npm install`, then `make vendor`).
#   make browser-deps   install Debian's chromium (and a font) for tests/test_admin_browser.py if /usr/bin/chromium
#                       is missing (as root, as in CI; otherwise through sudo).
#   make test-browser   run only the end-to-end browser tests.

NPM ?= npm
VENDOR_DIR := callflow/static/vendor
CHROMIUM ?= /usr/bin/chromium
SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: vendor browser-deps test-browser

vendor:
	$(NPM) ci --ignore-scripts --no-audit --no-fund
	rm -rf $(VENDOR_DIR)
	mkdir -p $(VENDOR_DIR)/pico $(VENDOR_DIR)/chart.js
	cp node_modules/@picocss/pico/css/pico.min.css node_modules/@picocss/pico/LICENSE.md $(VENDOR_DIR)/pico/
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/LICENSE.md $(VENDOR_DIR)/chart.js/
	# drop the source-map comment: the map is not vendored
	sed -i '/^\/\/# sourceMappingURL=/d' $(VENDOR_DIR)/chart.js/chart.umd.min.js
	node -e 'for (const p of ["@picocss/pico", "chart.js"]) console.log(p + " " + require("./node_modules/" + p + "/package.json").version)' > $(VENDOR_DIR)/VERSIONS

browser-deps:
	@if [ -x $(CHROMIUM) ]; then \
		echo "browser-deps: $(CHROMIUM) is installed"; \
	else \
		$(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends chromium fonts-dejavu-core; \
	fi

test-browser: install browser-deps
	$(VENV)/bin/python -m pytest tests/test_admin_browser.py
