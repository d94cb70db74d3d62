# Read by ctest after the discovered tests (TEST_INCLUDE_FILES, tests/CMakeLists.txt).
# A test that loads the whole machine runs alone: beside 200 sandboxes starting at once,
# any other test's sandbox takes seconds to start (measured: bwrap 25 ms -> 1-6 s), and a
# test waiting a bounded time for its own work would fail for a reason not its own.
set_tests_properties("200 tasks created at once (the reference's breaking point) all reach idle"
                     PROPERTIES RUN_SERIAL TRUE)
