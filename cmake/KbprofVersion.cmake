# Generates kbprof_version.h at build time (not only at configure time), so
# the commit in `kbprof --version` follows every new commit without a rerun
# of cmake. The header is rewritten only when its contents change.
string(TOUPPER "${CMAKE_BUILD_TYPE}" KBPROF_BUILD_TYPE_UPPER)
set(KBPROF_GENERATED_DIR ${PROJECT_BINARY_DIR}/generated)
add_custom_target(kbprof_version_header
  COMMAND ${CMAKE_COMMAND}
    -DSRC=${PROJECT_SOURCE_DIR}
    -DOUT=${KBPROF_GENERATED_DIR}/kbprof_version.h
    -DVERSION=${PROJECT_VERSION}
    -DBUILD_TYPE=${CMAKE_BUILD_TYPE}
    -DCOMPILER=${CMAKE_C_COMPILER_ID}-${CMAKE_C_COMPILER_VERSION}
    "-DFLAGS=${CMAKE_C_FLAGS} ${CMAKE_C_FLAGS_${KBPROF_BUILD_TYPE_UPPER}}"
    -P ${PROJECT_SOURCE_DIR}/cmake/write_version.cmake
  BYPRODUCTS ${KBPROF_GENERATED_DIR}/kbprof_version.h
  COMMENT "Checking kbprof_version.h")
