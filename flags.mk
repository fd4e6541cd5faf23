# The warning and preprocessor flags every C build of the project shares:
# pop3d and its test, fuzz, sanitizer and static builds (Makefile), the
# benchmark's tools (bench/Makefile) and static analysis (.ci/analyze, via
# make analyze).  -Werror is off in a packager's build, where a newer
# compiler's new warning must not break it; make check and CI turn it on
# with WERROR=-Werror.
WARN      = -Wall -Wextra -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wformat=2 \
            $(WERROR)
WERROR   ?=
# DEFS apart from CPPFLAGS: `make CPPFLAGS=-I...` (a cross build) must not
# drop them, or a 32-bit off_t could not reach past 2 GB.
DEFS      = -D_FILE_OFFSET_BITS=64 -D_DEFAULT_SOURCE
