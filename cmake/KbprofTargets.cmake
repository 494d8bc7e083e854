# Helpers that give every kbprof target the same flags.

# Warnings are errors on our own targets only, never on the global flags,
# so third-party headers and user flags cannot break the build.
set(KBPROF_WARNINGS
  -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes
  -Wmissing-prototypes -Wvla -Wformat=2 -Wundef -Wno-unused-parameter)

function(kbprof_target_defaults target)
  target_compile_options(${target} PRIVATE ${KBPROF_WARNINGS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
  if(KBPROF_ARENA_DEBUG)
    target_compile_definitions(${target} PUBLIC KBPROF_ARENA_DEBUG=1)
  endif()
endfunction()

# kbprof_library(NAME SOURCES... [LIBS ...]): one static library per part.
function(kbprof_library name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  kbprof_target_defaults(${name})
  target_link_libraries(${name} PUBLIC ${A_LIBS})
endfunction()

# kbprof_test(MODULE SOURCES... LIBS ...): one Criterion executable per
# module, registered with ctest. A sanitizer or LeakSanitizer report fails
# the test even when Criterion itself reports success (its workers are
# forked, and a leak report does not change their exit status).
function(kbprof_test module)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  set(exe test_${module})
  add_executable(${exe} ${A_SOURCES})
  kbprof_target_defaults(${exe})
  target_compile_definitions(${exe} PRIVATE
    KBPROF_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    KBPROF_BINARY_DIR="${PROJECT_BINARY_DIR}")
  target_link_libraries(${exe} PRIVATE ${A_LIBS} PkgConfig::CRITERION)
  add_test(NAME ${module} COMMAND ${exe} --jobs 2 --full-stats)
  set_tests_properties(${module} PROPERTIES
    TIMEOUT 900
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1;KBPROF_BIN=$<TARGET_FILE:kbprof>"
    FAIL_REGULAR_EXPRESSION "ERROR: AddressSanitizer;ERROR: LeakSanitizer;runtime error:;WARNING: ThreadSanitizer")
endfunction()
