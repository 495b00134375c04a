#!/bin/sh
# Runs the steparc command under valgrind memcheck: any memory error or leak
# makes it exit 99 (make valgrind points STEPARC_BIN here).
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    "${STEPARC_REAL_BIN:-build/steparc}" "$@"
